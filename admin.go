package gatehouse

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// Administrative operations, used by the CLI and the admin API. They act on
// any user and bypass nothing but self-service checks: passwords still obey
// the policy, and every change that reduces access revokes sessions.

// NewUser is an account created by an administrator.
type NewUser struct {
	Email         string
	Password      string
	Name          string
	Roles         []string
	EmailVerified bool
}

// CreateUser creates an account with a password checked against the policy.
func (a *Auth) CreateUser(ctx context.Context, in NewUser) (User, error) {
	u, err := a.newUser(in.Email, in.Name, in.Roles, in.EmailVerified)
	if err != nil {
		return User{}, err
	}
	pw, err := a.newPassword(ctx, in.Password, u.Email, "password")
	if err != nil {
		return User{}, err
	}
	hash, err := a.hasher.Hash(ctx, pw)
	if err != nil {
		return User{}, hashError(err)
	}
	if err := a.insertUser(ctx, u, hash); err != nil {
		return User{}, err
	}
	a.adminEvent(ctx, EventUserCreated, u.ID, "")
	return u, nil
}

// adminEvent audits an administrative action. The actor is the signed-in
// administrator, or "cli" for the command line.
func (a *Auth) adminEvent(ctx context.Context, typ, subjectID, reason string) {
	actor := "cli"
	if p, ok := PrincipalFrom(ctx); ok {
		actor = p.User.ID
	}
	a.audit(ctx, AuditEvent{Type: typ, ActorID: actor, SubjectID: subjectID, Reason: reason})
}

// newUser validates an account's fields and returns the user to insert.
func (a *Auth) newUser(email, name string, roles []string, verified bool) (User, error) {
	display, norm, err := parseEmail(email)
	if err != nil {
		return User{}, err
	}
	name, err = parseName(name)
	if err != nil {
		return User{}, err
	}
	roles, err = parseRoles(roles)
	if err != nil {
		return User{}, err
	}
	now := a.Now()
	return User{ID: secret.NewID("usr"), Email: display, EmailNormalized: norm, EmailVerified: verified, Name: name, Roles: roles, CreatedAt: now, UpdatedAt: now}, nil
}

// ImportedUser is an account migrated from another system with its existing
// password hash (argon2id in PHC format, or bcrypt $2a$/$2b$/$2y$). The hash
// is upgraded to the current argon2id cost at the user's next sign-in.
type ImportedUser struct {
	Email         string
	PasswordHash  string
	Name          string
	Roles         []string
	EmailVerified bool
	// CreatedAt keeps the original account's age; zero means now.
	CreatedAt time.Time
}

// ImportUser creates an account from an existing password hash.
func (a *Auth) ImportUser(ctx context.Context, in ImportedUser) (User, error) {
	u, err := a.newUser(in.Email, in.Name, in.Roles, in.EmailVerified)
	if err != nil {
		return User{}, err
	}
	if err := secret.IsSupportedHash(in.PasswordHash); err != nil {
		return User{}, &Error{Code: CodeInvalidRequest, Field: "password_hash", Message: "The password hash must be argon2id (PHC format) or bcrypt.", Err: err}
	}
	if created := in.CreatedAt.UTC(); !created.IsZero() && created.Before(u.CreatedAt) {
		u.CreatedAt = created
	}
	if err := a.insertUser(ctx, u, in.PasswordHash); err != nil {
		return User{}, err
	}
	a.adminEvent(ctx, EventUserCreated, u.ID, "import")
	return u, nil
}

func (a *Auth) insertUser(ctx context.Context, u User, hash string) error {
	if err := a.store.CreateUser(ctx, u, hash); err != nil {
		if errors.Is(err, ErrConflict) {
			return &Error{Code: CodeEmailTaken, Field: "email", Message: "An account with this email already exists. Sign in instead."}
		}
		return storeError("create user", err, nil)
	}
	a.log.InfoContext(ctx, "user created", "user_id", u.ID)
	return nil
}

// FindUser looks a user up by ID (usr_…) or by email.
func (a *Auth) FindUser(ctx context.Context, idOrEmail string) (User, error) {
	if strings.HasPrefix(idOrEmail, "usr_") {
		if err := checkUserID(idOrEmail); err != nil {
			return User{}, err
		}
		u, err := a.store.UserByID(ctx, idOrEmail)
		if err != nil {
			return User{}, storeError("find user", err, errNoSuchUser)
		}
		return u, nil
	}
	_, norm, err := parseEmail(idOrEmail)
	if err != nil {
		return User{}, err
	}
	u, _, err := a.store.UserCredentials(ctx, norm)
	if err != nil {
		return User{}, storeError("find user", err, errNoSuchUser)
	}
	return u, nil
}

// ListUsers returns up to limit users (1–1000) ordered by ID after afterID.
func (a *Auth) ListUsers(ctx context.Context, afterID string, limit int) ([]User, error) {
	limit = min(max(limit, 1), 1000)
	us, err := a.store.ListUsers(ctx, afterID, limit)
	if err != nil {
		return nil, storeError("list users", err, nil)
	}
	return us, nil
}

// SetDisabled disables (revoking every session at once) or re-enables a user.
func (a *Auth) SetDisabled(ctx context.Context, userID string, disabled bool) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	err := a.store.SetUserDisabled(ctx, userID, disabled, a.Now())
	a.invalidateUser(userID)
	if err != nil {
		return storeError("set disabled", err, errNoSuchUser)
	}
	a.log.InfoContext(ctx, "user disabled state changed", "user_id", userID, "disabled", disabled)
	if disabled {
		a.adminEvent(ctx, EventUserDisabled, userID, "")
	} else {
		a.adminEvent(ctx, EventUserEnabled, userID, "")
	}
	return nil
}

// SetRoles replaces a user's global roles. The change reaches this node's
// session checks at once and other nodes within the cache TTL.
func (a *Auth) SetRoles(ctx context.Context, userID string, roles []string) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	roles, err := parseRoles(roles)
	if err != nil {
		return err
	}
	err = a.store.SetUserRoles(ctx, userID, roles, a.Now())
	a.invalidateUser(userID)
	if err != nil {
		return storeError("set roles", err, errNoSuchUser)
	}
	a.log.InfoContext(ctx, "user roles changed", "user_id", userID, "roles", roles)
	a.adminEvent(ctx, EventRoleChanged, userID, strings.Join(roles, ","))
	return nil
}

// DeleteUser deletes a user and all their sessions.
func (a *Auth) DeleteUser(ctx context.Context, userID string) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	err := a.store.DeleteUser(ctx, userID)
	a.invalidateUser(userID)
	if err != nil {
		return storeError("delete user", err, errNoSuchUser)
	}
	a.log.InfoContext(ctx, "user deleted", "user_id", userID)
	a.adminEvent(ctx, EventUserDeleted, userID, "")
	return nil
}

// RevokeUserSessions revokes every session of a user and returns how many.
func (a *Auth) RevokeUserSessions(ctx context.Context, userID string) (int, error) {
	if err := checkUserID(userID); err != nil {
		return 0, err
	}
	n, err := a.store.RevokeSessions(ctx, userID, "")
	a.invalidateUser(userID)
	if err != nil {
		return 0, storeError("revoke sessions", err, nil)
	}
	a.adminEvent(ctx, EventSessionRevoked, userID, "all")
	return n, nil
}

var errNoSuchUser = &Error{Code: CodeNotFound, Message: "No such user."}

// checkUserID refuses an id that NewID cannot have made, before it reaches a
// query (PostgreSQL rejects NUL and invalid UTF-8 in text with an error).
func checkUserID(id string) error {
	if !secret.IsID("usr", id) {
		return errNoSuchUser
	}
	return nil
}

var roleName = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)

func parseRoles(roles []string) ([]string, error) {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		if !roleName.MatchString(r) {
			return nil, &Error{Code: CodeInvalidRequest, Field: "roles", Message: "Role names are lower-case letters, digits and _ . : - (at most 64)."}
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out, nil
}
