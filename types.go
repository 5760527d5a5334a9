package gatehouse

import (
	"slices"
	"time"
)

// User is an account. Email is the display form (domain as an IDNA A-label);
// EmailNormalized is the lower-cased uniqueness key. The password hash is not
// part of User: it travels only between the store and the core.
type User struct {
	ID              string
	Email           string
	EmailNormalized string
	EmailVerified   bool
	Name            string
	// Roles are global role names; Config.Roles maps them to permissions.
	Roles     []string
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// HasRole reports whether the user holds the named global role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// Authentication methods recorded in a session's AMR (RFC 8176 values).
const (
	AMRPassword = "pwd"
)

// Session is a signed-in browser or device. Only the SHA-256 of its token is
// stored (TokenHash); the token itself exists once, in the Set-Cookie header.
type Session struct {
	ID        string
	UserID    string
	TokenHash string
	CreatedAt time.Time
	// LastSeenAt is refreshed at most once a minute (Config.TouchInterval).
	LastSeenAt time.Time
	// AbsoluteExpiresAt is CreatedAt + Config.SessionLifetime: the session
	// ends then however active it is.
	AbsoluteExpiresAt time.Time
	// AuthenticatedAt is when the user last proved who they are (sign-in or
	// re-authentication); sensitive actions require it to be recent.
	AuthenticatedAt time.Time
	// AMR lists the methods used (RFC 8176), AAL the assurance level (1 or 2).
	AMR       []string
	AAL       int
	IP        string
	UserAgent string
}

// ExpiresAt is when the session ends if nothing happens: the earlier of the
// idle deadline (last seen + idle timeout) and the absolute deadline.
func (s Session) ExpiresAt(idle time.Duration) time.Time {
	t := s.LastSeenAt.Add(idle)
	if s.AbsoluteExpiresAt.Before(t) {
		return s.AbsoluteExpiresAt
	}
	return t
}

// Principal is who a request acts as: the user, the session that
// authenticated it, and the permissions their roles grant. The web edge puts
// it in the request context; UserFrom and Authorize read it.
type Principal struct {
	User    User
	Session Session
	// Permissions is the set granted by User.Roles under Config.Roles. It
	// may be shared between requests: read it, never modify it.
	Permissions map[string]bool
	// CrossOrigin is set by the web edge on a state-changing request from
	// another origin authenticated by the cookie; Authorize refuses it.
	CrossOrigin bool
	// Bearer is set when an access token, not the session cookie,
	// authenticated the request. Such a principal cannot mint tokens or
	// change the account's credentials: a token is not a session.
	Bearer bool
}

// Can reports whether the principal holds permission.
func (p Principal) Can(permission string) bool { return p.Permissions[permission] }

// TokenPurpose says what a one-time email token is good for.
type TokenPurpose string

// Purposes of one-time email tokens.
const (
	PurposeVerifyEmail   TokenPurpose = "verify_email"
	PurposeResetPassword TokenPurpose = "reset_password"
	PurposeChangeEmail   TokenPurpose = "change_email"
)

// EmailToken is a one-time link sent by email. Only the SHA-256 of the
// token is stored. The token is bound to its user and to the address it
// was sent to (Email, EmailNormalized): verification and reset work only
// while that is still the user's address; an email change sets it.
type EmailToken struct {
	ID              string
	UserID          string
	Purpose         TokenPurpose
	TokenHash       string
	Email           string
	EmailNormalized string
	CreatedAt       time.Time
	ExpiresAt       time.Time
}

// SigningKey is a token signing key as stored: its private half sealed
// under the master secret. A key is published (JWKS) from CreatedAt, signs
// from ActiveAt until a newer key of its algorithm is active, and leaves the
// JWKS at ExpiresAt (zero while it has no successor), once every token it
// signed has expired.
type SigningKey struct {
	// ID is the kid of the tokens it signs.
	ID        string
	Algorithm string // EdDSA, RS256 or ES256
	// Generation numbers the keys of one algorithm: 1, 2, …
	Generation int
	// Sealed is the PKCS #8 private key sealed with the master keyring,
	// bound to ID.
	Sealed    []byte
	CreatedAt time.Time
	ActiveAt  time.Time
	ExpiresAt time.Time
}
