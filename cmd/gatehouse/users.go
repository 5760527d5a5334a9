package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// usersCmd groups the account administration commands. They open the
// store and the core directly (no HTTP), so run them where the server's
// configuration and database are reachable.
type usersCmd struct {
	Create         usersCreateCmd  `cmd:"" help:"Create an account with a password (prompted on the terminal, or read with --password-stdin)."`
	List           usersListCmd    `cmd:"" help:"List accounts, oldest ID first."`
	Disable        usersDisableCmd `cmd:"" help:"Disable an account: its sessions end at once and it cannot sign in."`
	Enable         usersEnableCmd  `cmd:"" help:"Re-enable a disabled account."`
	Delete         usersDeleteCmd  `cmd:"" help:"Delete an account and everything that belongs to it. This cannot be undone."`
	SetRole        usersSetRoleCmd `cmd:"" name:"set-role" help:"Replace an account's global roles (role admin holds the gatehouse:admin permission)."`
	RevokeSessions usersRevokeCmd  `cmd:"" name:"revoke-sessions" help:"Sign an account out everywhere by revoking all its sessions."`
	Import         usersImportCmd  `cmd:"" help:"Import accounts with existing bcrypt or argon2id password hashes from JSON lines."`
}

// userJSON is a user in --json output, shaped like the HTTP API's.
type userJSON struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	Roles         []string  `json:"roles"`
	Disabled      bool      `json:"disabled"`
	CreatedAt     time.Time `json:"created_at"`
}

func toUserJSON(u gatehouse.User) userJSON {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userJSON{ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name, Roles: roles, Disabled: u.Disabled, CreatedAt: u.CreatedAt.UTC()}
}

// usersCreateCmd creates one account.
type usersCreateCmd struct {
	Email         string   `required:"" help:"Email address of the new account."`
	Name          string   `help:"Display name."`
	Role          []string `name:"role" placeholder:"ROLE" help:"Give the account this global role; repeat for several."`
	Verified      bool     `help:"Mark the email address as already verified."`
	PasswordStdin bool     `name:"password-stdin" help:"Read the password from the first line of standard input instead of prompting (for scripts). The password is never accepted as an argument."`
	JSON          bool     `name:"json" help:"Print the new account as JSON."`
}

// Run creates the account.
func (c *usersCreateCmd) Run(ctx context.Context, ce *commandEnv) error {
	// Check the configuration and open the database before prompting, so a
	// mistake there does not cost the operator a typed password.
	sess, err := openAuth(ctx, ce)
	if err != nil {
		return err
	}
	defer sess.close()
	pw, err := readPassword(ce, c.PasswordStdin)
	if err != nil {
		return err
	}
	u, err := sess.auth.CreateUser(ctx, gatehouse.NewUser{Email: c.Email, Password: pw, Name: c.Name, Roles: c.Role, EmailVerified: c.Verified})
	if err != nil {
		return err
	}
	warnUnknownRoles(ce, sess.settings, u.Roles)
	if c.JSON {
		return writeJSON(ce.stdout, toUserJSON(u))
	}
	fmt.Fprintf(ce.stdout, "Created %s (%s).\n", u.ID, u.Email)
	if cfg := sess.auth.Config(); !u.EmailVerified && cfg.EmailVerification == gatehouse.VerificationRequired {
		base := cfg.PublicURL + cfg.BasePath
		fmt.Fprintf(ce.stdout, "The address is not verified, and this server requires it: the user signs in after following a link from %s/verify-email/send or %s/forgot-password (or create the account with --verified).\n", base, base)
	}
	return nil
}

// usersListCmd lists accounts.
type usersListCmd struct {
	JSON  bool   `name:"json" help:"Print a JSON array instead of a table."`
	Limit int    `default:"100" help:"Print at most this many accounts (1-1000)."`
	After string `placeholder:"ID" help:"Start after this account ID (the last ID of the previous page)."`
}

// Run prints one page of accounts.
func (c *usersListCmd) Run(ctx context.Context, ce *commandEnv) error {
	if c.Limit < 1 || c.Limit > 1000 {
		return &exitError{code: 2, err: fmt.Errorf("--limit must be between 1 and 1000, not %d", c.Limit)}
	}
	sess, err := openAuth(ctx, ce)
	if err != nil {
		return err
	}
	defer sess.close()
	users, err := sess.auth.ListUsers(ctx, c.After, c.Limit)
	if err != nil {
		return err
	}
	if len(users) == c.Limit {
		fmt.Fprintf(ce.stderr, "More accounts may follow: gatehouse users list --after %s\n", users[len(users)-1].ID)
	}
	if c.JSON {
		out := make([]userJSON, 0, len(users))
		for _, u := range users {
			out = append(out, toUserJSON(u))
		}
		return writeJSON(ce.stdout, out)
	}
	tw := tabwriter.NewWriter(ce.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tVERIFIED\tROLES\tDISABLED\tCREATED")
	for _, u := range users {
		roles := strings.Join(u.Roles, ",")
		if roles == "" {
			roles = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, yesNo(u.EmailVerified), roles, yesNo(u.Disabled), u.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// userArg names the account a command acts on.
type userArg struct {
	User string `arg:"" name:"id-or-email" help:"The account: its ID (usr_…) or its email address."`
}

// withUser opens the core, finds the account and calls fn.
func withUser(ctx context.Context, ce *commandEnv, idOrEmail string, fn func(*adminEnv, gatehouse.User) error) error {
	return withAuth(ctx, ce, func(sess *adminEnv) error {
		u, err := sess.auth.FindUser(ctx, idOrEmail)
		if err != nil {
			return err
		}
		return fn(sess, u)
	})
}

// usersDisableCmd disables an account.
type usersDisableCmd struct{ userArg }

// Run disables the account.
func (c *usersDisableCmd) Run(ctx context.Context, ce *commandEnv) error {
	return withUser(ctx, ce, c.User, func(sess *adminEnv, u gatehouse.User) error {
		if err := sess.auth.SetDisabled(ctx, u.ID, true); err != nil {
			return err
		}
		fmt.Fprintf(ce.stdout, "Disabled %s (%s); its sessions were revoked.\n", u.ID, u.Email)
		return nil
	})
}

// usersEnableCmd re-enables an account.
type usersEnableCmd struct{ userArg }

// Run enables the account.
func (c *usersEnableCmd) Run(ctx context.Context, ce *commandEnv) error {
	return withUser(ctx, ce, c.User, func(sess *adminEnv, u gatehouse.User) error {
		if err := sess.auth.SetDisabled(ctx, u.ID, false); err != nil {
			return err
		}
		fmt.Fprintf(ce.stdout, "Enabled %s (%s).\n", u.ID, u.Email)
		return nil
	})
}

// usersDeleteCmd deletes an account.
type usersDeleteCmd struct{ userArg }

// Run deletes the account.
func (c *usersDeleteCmd) Run(ctx context.Context, ce *commandEnv) error {
	return withUser(ctx, ce, c.User, func(sess *adminEnv, u gatehouse.User) error {
		if err := sess.auth.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(ce.stdout, "Deleted %s (%s).\n", u.ID, u.Email)
		return nil
	})
}

// usersRevokeCmd revokes every session of an account.
type usersRevokeCmd struct{ userArg }

// Run revokes the sessions.
func (c *usersRevokeCmd) Run(ctx context.Context, ce *commandEnv) error {
	return withUser(ctx, ce, c.User, func(sess *adminEnv, u gatehouse.User) error {
		n, err := sess.auth.RevokeUserSessions(ctx, u.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(ce.stdout, "Revoked %d sessions of %s (%s).\n", n, u.ID, u.Email)
		return nil
	})
}

// usersSetRoleCmd replaces an account's roles.
type usersSetRoleCmd struct {
	userArg
	Roles []string `arg:"" optional:"" name:"role" help:"The roles the account will hold (replacing the current ones)."`
	None  bool     `help:"Remove every role instead."`
}

// Run replaces the roles.
func (c *usersSetRoleCmd) Run(ctx context.Context, ce *commandEnv) error {
	switch {
	case c.None && len(c.Roles) > 0:
		return &exitError{code: 2, err: errors.New("give roles or --none, not both")}
	case !c.None && len(c.Roles) == 0:
		return &exitError{code: 2, err: errors.New("name the roles the account should hold, or pass --none to remove them all")}
	}
	roles := c.Roles
	if c.None {
		roles = []string{}
	}
	return withUser(ctx, ce, c.User, func(sess *adminEnv, u gatehouse.User) error {
		if err := sess.auth.SetRoles(ctx, u.ID, roles); err != nil {
			return err
		}
		warnUnknownRoles(ce, sess.settings, roles)
		if len(roles) == 0 {
			fmt.Fprintf(ce.stdout, "%s (%s) now has no roles.\n", u.ID, u.Email)
			return nil
		}
		fmt.Fprintf(ce.stdout, "%s (%s) now has roles: %s.\n", u.ID, u.Email, strings.Join(roles, ", "))
		return nil
	})
}

// warnUnknownRoles tells the operator about roles the configuration does
// not define: they are stored, but grant no permissions.
func warnUnknownRoles(ce *commandEnv, s *settings, roles []string) {
	for _, r := range roles {
		if _, ok := s.core.Roles[r]; !ok && r != "admin" {
			defined := make([]string, 0, len(s.core.Roles)+1)
			defined = append(defined, "admin")
			for k := range s.core.Roles {
				defined = append(defined, k)
			}
			slices.Sort(defined)
			fmt.Fprintf(ce.stderr, "Note: role %q is not defined in the configuration (roles:), so it grants no permissions yet. Defined roles: %s.\n", r, strings.Join(defined, ", "))
		}
	}
}

// usersImportCmd imports accounts with their existing password hashes.
type usersImportCmd struct {
	File string `arg:"" optional:"" default:"-" placeholder:"FILE" help:"JSON-lines file, one account per line: {\"email\": …, \"password_hash\": \"$2b$…\" or \"$argon2id$…\", \"name\": …, \"email_verified\": …, \"roles\": […], \"created_at\": \"RFC 3339\"}. - (the default) reads standard input."`
	JSON bool   `name:"json" help:"Print the results as JSON."`
}

// importRecord is one line of an import file. Unknown fields are refused,
// so a misspelt field is an error, not silently dropped data.
type importRecord struct {
	Email         string     `json:"email"`
	PasswordHash  string     `json:"password_hash"`
	Name          string     `json:"name"`
	EmailVerified bool       `json:"email_verified"`
	Roles         []string   `json:"roles"`
	CreatedAt     *time.Time `json:"created_at"`
}

// importResult is one line's outcome in --json output.
type importResult struct {
	Line  int          `json:"line"`
	ID    string       `json:"id,omitempty"`
	Email string       `json:"email,omitempty"`
	Error *importError `json:"error,omitempty"`
}

type importError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// maxImportLine bounds one line of an import file.
const maxImportLine = 1 << 20

// Run imports every line, reporting each failure with its line number and
// carrying on; it fails (exit status 1) if any line failed.
func (c *usersImportCmd) Run(ctx context.Context, ce *commandEnv) error {
	in := ce.stdin
	if c.File != "-" {
		f, err := os.Open(c.File)
		if err != nil {
			return fmt.Errorf("opening the import file: %w", err)
		}
		defer f.Close()
		in = f
	}
	sess, err := openAuth(ctx, ce)
	if err != nil {
		return err
	}
	defer sess.close()

	var (
		results          []importResult
		imported, failed int
		stopErr          error
		sc               = bufio.NewScanner(in)
		line             = 0
	)
	sc.Buffer(make([]byte, 0, 64*1024), maxImportLine)
	for sc.Scan() {
		line++
		if err := ctx.Err(); err != nil {
			stopErr = fmt.Errorf("interrupted before line %d: %w", line, err)
			break
		}
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		res := importResult{Line: line}
		u, err := importLine(ctx, sess.auth, text)
		if err != nil {
			failed++
			res.Error = importErrorOf(err)
			if !c.JSON {
				msg := res.Error.Message
				if res.Error.Field != "" {
					msg = res.Error.Field + ": " + msg
				}
				fmt.Fprintf(ce.stderr, "line %d: %s\n", line, msg)
			}
		} else {
			imported++
			res.ID, res.Email = u.ID, u.Email
		}
		results = append(results, res)
	}
	if err := sc.Err(); err != nil && stopErr == nil {
		if errors.Is(err, bufio.ErrTooLong) {
			stopErr = fmt.Errorf("line %d is longer than %d bytes; stopped there", line+1, maxImportLine)
		} else {
			stopErr = fmt.Errorf("reading the import file: %w", err)
		}
	}

	if c.JSON {
		if results == nil {
			results = []importResult{}
		}
		if err := writeJSON(ce.stdout, map[string]any{"imported": imported, "failed": failed, "results": results}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(ce.stdout, "imported %d, failed %d\n", imported, failed)
	}
	if stopErr != nil {
		return stopErr
	}
	if failed > 0 {
		return &exitError{code: 1, reported: true, err: fmt.Errorf("%d of %d accounts failed to import", failed, failed+imported)}
	}
	return nil
}

// importLine decodes one line strictly and imports it.
func importLine(ctx context.Context, a *gatehouse.Auth, text string) (gatehouse.User, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	var rec importRecord
	if err := dec.Decode(&rec); err != nil {
		return gatehouse.User{}, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return gatehouse.User{}, &gatehouse.Error{Code: gatehouse.CodeInvalidRequest, Message: "Each line must hold exactly one JSON object."}
	}
	in := gatehouse.ImportedUser{Email: rec.Email, PasswordHash: rec.PasswordHash, Name: rec.Name, Roles: rec.Roles, EmailVerified: rec.EmailVerified}
	if rec.CreatedAt != nil {
		in.CreatedAt = *rec.CreatedAt
	}
	return a.ImportUser(ctx, in)
}

// decodeError explains a JSON decoding failure without quoting the input
// (it may hold a password hash).
func decodeError(err error) error {
	const fields = "email, password_hash, name, email_verified, roles, created_at"
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	msg := "Not a JSON object."
	field := ""
	switch {
	case errors.As(err, &syn):
		msg = fmt.Sprintf("Not valid JSON (at byte %d).", syn.Offset)
	case errors.As(err, &typ):
		field = typ.Field
		want := typ.Type.String()
		switch want {
		case "[]string":
			want = "a list of strings"
		case "bool":
			want = "true or false"
		case "string":
			want = "a string"
		}
		msg = fmt.Sprintf("Must be %s, not a JSON %s.", want, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		msg = fmt.Sprintf("Unknown field %s; the fields are %s.", strings.TrimPrefix(err.Error(), "json: unknown field "), fields)
	case strings.Contains(err.Error(), "parsing time"):
		field = "created_at"
		msg = "Must be an RFC 3339 time like 2024-05-01T12:00:00Z."
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		msg = "Incomplete JSON object."
	}
	return &gatehouse.Error{Code: gatehouse.CodeInvalidRequest, Field: field, Message: msg, Err: err}
}

// importErrorOf renders an import failure: the safe message of a
// gatehouse error (plus the cause of an internal one, for the operator).
func importErrorOf(err error) *importError {
	var ge *gatehouse.Error
	if errors.As(err, &ge) {
		return &importError{Code: string(ge.Code), Message: describeMessage(ge), Field: ge.Field}
	}
	return &importError{Code: string(gatehouse.CodeInternal), Message: err.Error()}
}

// describeMessage is describe without the field prefix.
func describeMessage(ge *gatehouse.Error) string {
	if (ge.Code == gatehouse.CodeInternal || ge.Code == gatehouse.CodeUnavailable) && ge.Err != nil {
		return fmt.Sprintf("%s (cause: %v)", ge.Message, ge.Err)
	}
	return ge.Message
}
