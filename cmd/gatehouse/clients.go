package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/web"
)

// clientsCmd administers the applications registered with the OpenID
// Connect provider. Like users, the commands open the store and the core
// directly; the rules (redirect URIs, grants, secrets) are the core's.
type clientsCmd struct {
	Create       clientsCreateCmd `cmd:"" help:"Register an application and print its client ID, its secret (once) and the issuer to configure it with."`
	List         clientsListCmd   `cmd:"" help:"List the registered applications."`
	Show         clientsShowCmd   `cmd:"" help:"Show everything about one application (never its secret)."`
	Update       clientsUpdateCmd `cmd:"" help:"Change an application: only the flags given change, and a repeated flag replaces that whole list."`
	Delete       clientsDeleteCmd `cmd:"" help:"Delete an application with its users' consents and every token it holds. This cannot be undone."`
	RotateSecret clientsRotateCmd `cmd:"" name:"rotate-secret" help:"Give an application a new secret (printed once); the old one stops working at once."`
}

// clientFlags are the settings create and update share. A list flag left
// out is nil, which create turns into the core's default and update into
// "unchanged".
type clientFlags struct {
	RedirectURI           []string `name:"redirect-uri" sep:"none" placeholder:"URI" help:"Where the application receives the authorization code, matched exactly: https, or http on localhost/127.0.0.1/[::1], or a native app's com.example.app:/path. A public client's http://127.0.0.1/… matches any port. Repeat for several."`
	PostLogoutRedirectURI []string `name:"post-logout-redirect-uri" sep:"none" placeholder:"URI" help:"Where sign-out (/oauth2/logout) may return to, matched exactly. Repeat for several."`
	Grant                 []string `name:"grant" placeholder:"GRANT" help:"authorization_code, refresh_token or client_credentials; repeat for several (default: authorization_code and refresh_token)."`
	Scope                 []string `name:"scope" placeholder:"SCOPE" help:"A scope the application may ask for; repeat for several (default: openid, profile, email, offline_access). Custom scopes appear in access tokens."`
	AuthMethod            string   `name:"auth-method" placeholder:"METHOD" help:"How it authenticates at the token endpoint: client_secret_basic (default), client_secret_post, private_key_jwt or none (a public client)."`
	Public                bool     `name:"public" help:"A public client (native or single-page app) that cannot keep a secret: the same as --auth-method none."`
	JWKSFile              string   `name:"jwks-file" type:"path" placeholder:"PATH" help:"A JSON file with the application's public keys ({\"keys\": […]}), for private_key_jwt."`
	IDTokenAlgorithm      string   `name:"id-token-algorithm" placeholder:"ALG" help:"Sign its ID tokens with RS256 (default) or the token_algorithm setting's algorithm."`
	FirstParty            bool     `name:"first-party" help:"The application belongs to this deployment: users are not asked to consent."`
}

// apply merges the flags that were given onto spec.
func (f *clientFlags) apply(spec *gatehouse.ClientSpec) error {
	if f.RedirectURI != nil {
		spec.RedirectURIs = f.RedirectURI
	}
	if f.PostLogoutRedirectURI != nil {
		spec.PostLogoutRedirectURIs = f.PostLogoutRedirectURI
	}
	if f.Grant != nil {
		spec.GrantTypes = f.Grant
	}
	if f.Scope != nil {
		spec.Scopes = f.Scope
	}
	method := f.AuthMethod
	if f.Public {
		if method != "" && method != gatehouse.ClientAuthNone {
			return &exitError{code: 2, err: fmt.Errorf("--public means --auth-method none; it cannot be combined with --auth-method %s", method)}
		}
		method = gatehouse.ClientAuthNone
	}
	if method != "" {
		spec.AuthMethod = method
		if method != gatehouse.ClientAuthPrivateKeyJWT {
			// Keys belong to private_key_jwt only; a client leaving it
			// leaves them.
			spec.JWKS = ""
		}
	}
	if f.JWKSFile != "" {
		jwks, err := readJWKSFile(f.JWKSFile)
		if err != nil {
			return err
		}
		spec.JWKS = jwks
	}
	if f.IDTokenAlgorithm != "" {
		spec.IDTokenAlgorithm = f.IDTokenAlgorithm
	}
	if f.FirstParty {
		spec.FirstParty = true
	}
	return nil
}

// given reports whether any flag was given.
func (f *clientFlags) given() bool {
	return f.RedirectURI != nil || f.PostLogoutRedirectURI != nil || f.Grant != nil || f.Scope != nil ||
		f.AuthMethod != "" || f.Public || f.JWKSFile != "" || f.IDTokenAlgorithm != "" || f.FirstParty
}

// maxJWKSFile bounds what --jwks-file reads; the core refuses more than
// 16 KiB anyway, with a message saying so.
const maxJWKSFile = 1 << 20

func readJWKSFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--jwks-file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJWKSFile))
	if err != nil {
		return "", fmt.Errorf("--jwks-file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// clientsCreateCmd registers a client.
type clientsCreateCmd struct {
	Name string `required:"" help:"The application's name, shown to users on the consent page and on their account page."`
	clientFlags
	JSON bool `name:"json" help:"Print the new client as JSON, with client_secret and issuer."`
}

// clientSecretJSON is create's --json output: the client as the admin API
// shows it, plus what is shown only now.
type clientSecretJSON struct {
	web.ClientJSON
	ClientSecret string `json:"client_secret,omitempty"`
	Issuer       string `json:"issuer"`
}

// Run registers the client.
func (c *clientsCreateCmd) Run(ctx context.Context, ce *commandEnv) error {
	spec := gatehouse.ClientSpec{Name: c.Name}
	if err := c.apply(&spec); err != nil {
		return err
	}
	return withAuth(ctx, ce, func(sess *adminEnv) error {
		cl, secret, err := sess.auth.CreateClient(ctx, spec)
		if err != nil {
			return err
		}
		if c.JSON {
			return writeJSON(ce.stdout, clientSecretJSON{ClientJSON: web.NewClientJSON(cl), ClientSecret: secret, Issuer: sess.auth.Issuer()})
		}
		fmt.Fprintf(ce.stdout, "Created client %s (%s), %s.\n\n", cl.ID, cl.Name, clientType(cl))
		fmt.Fprintf(ce.stdout, "  Client ID:     %s\n", cl.ID)
		if secret != "" {
			fmt.Fprintf(ce.stdout, "  Client secret: %s\n\n", secret)
			fmt.Fprintf(ce.stdout, "The secret will not be shown again: Gatehouse keeps only a hash of it. Put it in the application's secret store now; if it is lost, replace it with: gatehouse clients rotate-secret %s\n\n", cl.ID)
		} else {
			fmt.Fprintln(ce.stdout)
		}
		printCredentialNote(ce.stdout, cl, sess.auth.Issuer())
		printIssuer(ce.stdout, sess.auth.Issuer())
		return nil
	})
}

// printCredentialNote says how a client without a secret proves itself.
func printCredentialNote(w io.Writer, cl gatehouse.OAuthClient, issuer string) {
	switch cl.AuthMethod {
	case gatehouse.ClientAuthNone:
		fmt.Fprintln(w, "This is a public client: it has no secret, and PKCE (S256) binds each code to the app that asked for it.")
		for _, u := range cl.RedirectURIs {
			if strings.HasPrefix(u, "http://127.0.0.1") || strings.HasPrefix(u, "http://[::1]") {
				fmt.Fprintln(w, "Its loopback redirect URIs match any port, so a native app can listen on whichever port is free.")
				break
			}
		}
		fmt.Fprintln(w)
	case gatehouse.ClientAuthPrivateKeyJWT:
		fmt.Fprintf(w, "It authenticates with a JWT signed by one of its registered keys (private_key_jwt): iss and sub %s, aud exactly %s, a unique jti, exp at most 10 minutes ahead.\n\n", cl.ID, issuer)
	}
}

// printIssuer tells the operator what to paste into the application.
func printIssuer(w io.Writer, issuer string) {
	fmt.Fprintf(w, "Configure the application with:\n")
	fmt.Fprintf(w, "  Issuer:    %s\n", issuer)
	fmt.Fprintf(w, "  Discovery: %s/.well-known/openid-configuration\n", issuer)
}

// clientType is "confidential (client_secret_basic)" or "public".
func clientType(cl gatehouse.OAuthClient) string {
	if cl.Public() {
		return "public"
	}
	return "confidential (" + cl.AuthMethod + ")"
}

// clientsListCmd lists the clients.
type clientsListCmd struct {
	JSON bool `name:"json" help:"Print a JSON array instead of a table."`
}

// Run prints every client, ordered by ID.
func (c *clientsListCmd) Run(ctx context.Context, ce *commandEnv) error {
	return withAuth(ctx, ce, func(sess *adminEnv) error {
		cls, err := sess.auth.Clients(ctx)
		if err != nil {
			return err
		}
		if c.JSON {
			out := make([]web.ClientJSON, 0, len(cls))
			for _, cl := range cls {
				out = append(out, web.NewClientJSON(cl))
			}
			return writeJSON(ce.stdout, out)
		}
		if len(cls) == 0 {
			fmt.Fprintln(ce.stderr, "No applications are registered yet: gatehouse clients create --name NAME --redirect-uri URI registers one.")
		}
		tw := tabwriter.NewWriter(ce.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTYPE\tGRANTS\tFIRST-PARTY")
		for _, cl := range cls {
			typ := "confidential"
			if cl.Public() {
				typ = "public"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cl.ID, cl.Name, typ, strings.Join(cl.GrantTypes, ","), yesNo(cl.FirstParty))
		}
		return tw.Flush()
	})
}

// clientArg names the client a command acts on.
type clientArg struct {
	ID string `arg:"" name:"client-id" help:"The application's client ID (cli_…); gatehouse clients list shows them."`
}

// withClient opens the core, loads the client and calls fn.
func withClient(ctx context.Context, ce *commandEnv, id string, fn func(*adminEnv, gatehouse.OAuthClient) error) error {
	return withAuth(ctx, ce, func(sess *adminEnv) error {
		cl, err := sess.auth.Client(ctx, id)
		if err != nil {
			return clientError(err, id)
		}
		return fn(sess, cl)
	})
}

// clientError names the ID the operator gave when there is no such client.
func clientError(err error, id string) error {
	if gatehouse.ErrorCode(err) == gatehouse.CodeNotFound {
		return &gatehouse.Error{Code: gatehouse.CodeNotFound, Message: fmt.Sprintf("No application has the client ID %q (gatehouse clients list shows them).", id), Err: err}
	}
	return err
}

// clientsShowCmd shows one client.
type clientsShowCmd struct {
	clientArg
	JSON bool `name:"json" help:"Print the client as JSON."`
}

// Run prints the client.
func (c *clientsShowCmd) Run(ctx context.Context, ce *commandEnv) error {
	return withClient(ctx, ce, c.ID, func(sess *adminEnv, cl gatehouse.OAuthClient) error {
		if c.JSON {
			return writeJSON(ce.stdout, web.NewClientJSON(cl))
		}
		return printClient(ce.stdout, cl, sess.auth.Issuer())
	})
}

// printClient prints every field of cl but its secret hash, one per line
// and one line per list item.
func printClient(w io.Writer, cl gatehouse.OAuthClient, issuer string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(key string, vals ...string) {
		if len(vals) == 0 {
			vals = []string{"-"}
		}
		for i, v := range vals {
			if i > 0 {
				key = ""
			}
			fmt.Fprintf(tw, "%s\t%s\n", key, v)
		}
	}
	row("ID:", cl.ID)
	row("Name:", cl.Name)
	row("Type:", clientType(cl))
	switch {
	case cl.SecretHash != "":
		row("Secret:", "set (only its hash is stored; gatehouse clients rotate-secret "+cl.ID+" replaces it)")
	case cl.AuthMethod == gatehouse.ClientAuthPrivateKeyJWT:
		row("Secret:", "none (authenticates with its keys)")
	default:
		row("Secret:", "none")
	}
	if cl.AuthMethod == gatehouse.ClientAuthPrivateKeyJWT || cl.JWKS != "" {
		row("Keys:", describeJWKS(cl.JWKS)...)
	}
	row("Redirect URIs:", cl.RedirectURIs...)
	row("Post-logout URIs:", cl.PostLogoutRedirectURIs...)
	row("Grants:", strings.Join(cl.GrantTypes, ", "))
	row("Scopes:", strings.Join(cl.Scopes, " "))
	row("ID token algorithm:", cl.IDTokenAlgorithm)
	if cl.FirstParty {
		row("First party:", "yes (users are not asked to consent)")
	} else {
		row("First party:", "no (users are asked to consent)")
	}
	row("Created:", cl.CreatedAt.UTC().Format(time.RFC3339))
	row("Updated:", cl.UpdatedAt.UTC().Format(time.RFC3339))
	row("Issuer:", issuer)
	return tw.Flush()
}

// describeJWKS lists a registered JWKS's keys as "kid (kty alg)".
func describeJWKS(raw string) []string {
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			Kty string `json:"kty"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if raw == "" || json.Unmarshal([]byte(raw), &set) != nil {
		return nil
	}
	var out []string
	for _, k := range set.Keys {
		d := strings.TrimSpace(k.Kty + " " + k.Alg)
		if k.KID != "" {
			d = k.KID + " (" + d + ")"
		}
		out = append(out, d)
	}
	return out
}

// clientsUpdateCmd changes a client.
type clientsUpdateCmd struct {
	clientArg
	Name string `help:"A new name, shown to users on the consent page and on their account page."`
	clientFlags
	NoFirstParty bool `name:"no-first-party" help:"Users are asked to consent (undoes --first-party)."`
	JSON         bool `name:"json" help:"Print the updated client as JSON."`
}

// Run merges the given flags onto the client's current settings.
func (c *clientsUpdateCmd) Run(ctx context.Context, ce *commandEnv) error {
	switch {
	case c.FirstParty && c.NoFirstParty:
		return &exitError{code: 2, err: errors.New("give --first-party or --no-first-party, not both")}
	case c.Name == "" && !c.NoFirstParty && !c.given():
		return &exitError{code: 2, err: errors.New("nothing to change: give the flags to change (gatehouse clients update --help lists them)")}
	}
	return withClient(ctx, ce, c.ID, func(sess *adminEnv, old gatehouse.OAuthClient) error {
		spec := old.Spec()
		if c.Name != "" {
			spec.Name = c.Name
		}
		if err := c.apply(&spec); err != nil {
			return err
		}
		if c.NoFirstParty {
			spec.FirstParty = false
		}
		cl, secret, err := sess.auth.UpdateClient(ctx, old.ID, spec)
		if err != nil {
			return clientError(err, old.ID)
		}
		if c.JSON {
			return writeJSON(ce.stdout, clientSecretJSON{ClientJSON: web.NewClientJSON(cl), ClientSecret: secret, Issuer: sess.auth.Issuer()})
		}
		fmt.Fprintf(ce.stdout, "Updated client %s (%s).\n", cl.ID, cl.Name)
		switch {
		case secret != "":
			fmt.Fprintf(ce.stdout, "It now authenticates with a secret:\n\n  Client secret: %s\n\nThe secret will not be shown again: Gatehouse keeps only a hash of it.\n", secret)
		case old.SecretHash != "" && cl.SecretHash == "":
			fmt.Fprintln(ce.stdout, "Its secret was deleted: it no longer authenticates with one.")
		}
		fmt.Fprintln(ce.stdout)
		return printClient(ce.stdout, cl, sess.auth.Issuer())
	})
}

// clientsDeleteCmd deletes a client.
type clientsDeleteCmd struct{ clientArg }

// Run deletes the client and everything it was granted.
func (c *clientsDeleteCmd) Run(ctx context.Context, ce *commandEnv) error {
	return withClient(ctx, ce, c.ID, func(sess *adminEnv, cl gatehouse.OAuthClient) error {
		if err := sess.auth.DeleteClient(ctx, cl.ID); err != nil {
			return clientError(err, cl.ID)
		}
		fmt.Fprintf(ce.stdout, "Deleted client %s (%s) with its users' consents, its authorization codes and its refresh tokens. Its access tokens are refused at userinfo and introspection from now on; an API that verifies them itself accepts them until they expire (token_ttl).\n", cl.ID, cl.Name)
		return nil
	})
}

// clientsRotateCmd replaces a client's secret.
type clientsRotateCmd struct{ clientArg }

// Run rotates the secret.
func (c *clientsRotateCmd) Run(ctx context.Context, ce *commandEnv) error {
	return withClient(ctx, ce, c.ID, func(sess *adminEnv, cl gatehouse.OAuthClient) error {
		secret, err := sess.auth.RotateClientSecret(ctx, cl.ID)
		if err != nil {
			return clientError(err, cl.ID)
		}
		fmt.Fprintf(ce.stdout, "New secret for %s (%s):\n\n  Client secret: %s\n\nThe secret will not be shown again: Gatehouse keeps only a hash of it. The old secret stopped working just now, so update the application's configuration.\n", cl.ID, cl.Name, secret)
		return nil
	})
}
