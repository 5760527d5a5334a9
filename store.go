package gatehouse

import (
	"context"
	"time"
)

// Store is the core's storage contract. Every method is safe for concurrent
// use; every method that changes security state is atomic (one transaction)
// and named for its intent, so that no caller composes a read-modify-write
// that a concurrent request could interleave with.
//
// Errors: ErrNotFound (possibly wrapped) when the record does not exist or is
// not the given user's; ErrConflict when a uniqueness rule refuses a write;
// anything else is a storage failure, which the core turns into a 5xx
// (fail closed). Times are stored and returned in UTC with at least
// millisecond precision. Slices returned are never nil for "none".
//
// store/storetest holds the conformance suite every implementation must pass.
type Store interface {
	UserStore
	SessionStore
	TokenStore
	DeviceStore
	MailStore
	ThrottleStore
	AuditStore
	KeyStore
	OAuthStore
	// Ping checks the database answers (readiness).
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}

// UserStore holds accounts and their password hashes.
type UserStore interface {
	// CreateUser inserts u with its password hash ("" for an account without
	// a password). ErrConflict when u.EmailNormalized is taken, whatever the
	// concurrency: of N parallel creations with one email exactly one wins.
	CreateUser(ctx context.Context, u User, passwordHash string) error
	// UserByID returns the user or ErrNotFound.
	UserByID(ctx context.Context, id string) (User, error)
	// UserCredentials returns the user with this normalized email and their
	// password hash, or ErrNotFound.
	UserCredentials(ctx context.Context, emailNormalized string) (User, string, error)
	// ListUsers returns up to limit users ordered by ID, starting after the
	// given ID ("" for the first page).
	ListUsers(ctx context.Context, afterID string, limit int) ([]User, error)
	// UpdateUserName sets the display name and UpdatedAt and returns the
	// updated user, or ErrNotFound.
	UpdateUserName(ctx context.Context, userID, name string, now time.Time) (User, error)
	// UpgradePasswordHash replaces the hash only if it still equals oldHash
	// (compare-and-swap), so a rehash after sign-in never overwrites a
	// password changed meanwhile. It reports whether it replaced it.
	UpgradePasswordHash(ctx context.Context, userID, oldHash, newHash string) (bool, error)
	// ChangePassword sets a new hash, deletes every session of the user but
	// currentID and every password-reset token of the user, and replaces
	// session currentID with next (same user) — all or nothing. ErrNotFound, with nothing changed, when currentID is not a
	// live session of the user (it was revoked or already rotated).
	ChangePassword(ctx context.Context, userID, newHash, currentID string, next Session, now time.Time) error
	// SetUserDisabled disables or enables the user; disabling deletes all of
	// the user's sessions in the same transaction. ErrNotFound for no user.
	SetUserDisabled(ctx context.Context, userID string, disabled bool, now time.Time) error
	// SetUserRoles replaces the user's global roles. ErrNotFound for no user.
	SetUserRoles(ctx context.Context, userID string, roles []string, now time.Time) error
	// DeleteUser deletes the user and everything that hangs off them
	// (sessions included). ErrNotFound for no user.
	DeleteUser(ctx context.Context, userID string) error
}

// SessionStore holds sessions, looked up by the SHA-256 of their token.
type SessionStore interface {
	// CreateSession inserts s. When replaces is not empty, the session with
	// that ID (whoever's it is — the browser presenting it is leaving it) is
	// deleted in the same transaction if it exists; if it was s.UserID's, its
	// OAuth codes and refresh-token families move to s (the same user
	// signing in again keeps their apps), else they go with it. ErrNotFound
	// if s.UserID does not exist.
	CreateSession(ctx context.Context, s Session, replaces string) error
	// RotateSession atomically deletes session oldID and inserts next, which
	// must belong to the same user (re-authentication and other privilege
	// changes issue a new token this way), moving the old session's OAuth
	// codes and refresh-token families to next. Exactly one of N concurrent
	// rotations of one session succeeds; the others get ErrNotFound and
	// change nothing.
	RotateSession(ctx context.Context, oldID string, next Session) error
	// SessionByTokenHash returns the session and its user (with roles and
	// disabled state), or ErrNotFound. It does not check expiry.
	SessionByTokenHash(ctx context.Context, tokenHash string) (Session, User, error)
	// SessionByID is SessionByTokenHash by session id (the sid of an
	// access token).
	SessionByID(ctx context.Context, id string) (Session, User, error)
	// TouchSession sets LastSeenAt (never moving it backwards).
	TouchSession(ctx context.Context, sessionID string, at time.Time) error
	// ListSessions returns the user's sessions, newest first. Expiry is the
	// caller's business.
	ListSessions(ctx context.Context, userID string) ([]Session, error)
	// RevokeSession deletes one session of the user. Exactly one of N
	// concurrent revocations succeeds; the rest, and any attempt on another
	// user's session, get ErrNotFound.
	RevokeSession(ctx context.Context, userID, sessionID string) error
	// RevokeSessions deletes all of the user's sessions except exceptID
	// ("" for none) and returns how many it deleted.
	RevokeSessions(ctx context.Context, userID, exceptID string) (int, error)
	// DeleteExpiredSessions removes sessions whose absolute expiry is before
	// now or that were last seen before idleBefore; it returns how many.
	DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error)
}

// TokenStore holds one-time email tokens, looked up by the SHA-256 of the
// token. Each consuming method is one transaction that deletes the token
// first and goes on only if it deleted it, so of N concurrent uses of one
// token exactly one succeeds. An expired token, a token whose bound address
// is no longer the user's (verification, reset), or an unknown one is
// ErrNotFound, and nothing changes.
type TokenStore interface {
	// IssueEmailToken inserts t and deletes the user's other tokens of the
	// same purpose: a newer link invalidates older ones. ErrNotFound if the
	// user does not exist.
	IssueEmailToken(ctx context.Context, t EmailToken) error
	// EmailTokenByHash returns the live token (not expired at now) with this
	// purpose and hash, and its user, without consuming it.
	EmailTokenByHash(ctx context.Context, purpose TokenPurpose, tokenHash string, now time.Time) (EmailToken, User, error)
	// ConsumeVerification uses a verify_email token: the user's address is
	// marked verified and their verify_email tokens are deleted. It returns
	// the updated user.
	ConsumeVerification(ctx context.Context, tokenHash string, now time.Time) (User, error)
	// ResetPassword uses a reset_password token: it sets newHash, marks the
	// address verified (the link proved control of it), deletes every
	// session of the user and their reset_password and verify_email tokens.
	// It returns the updated user.
	ResetPassword(ctx context.Context, tokenHash, newHash string, now time.Time) (User, error)
	// ConfirmEmailChange uses a change_email token: the user's address
	// becomes the token's (verified), and every other email token of the
	// user is deleted. ErrConflict, with nothing changed and the token
	// kept, when another account holds that address. It returns the user
	// before and after.
	ConfirmEmailChange(ctx context.Context, tokenHash string, now time.Time) (before, after User, err error)
	// DeleteExpiredEmailTokens removes tokens expired before now and returns
	// how many.
	DeleteExpiredEmailTokens(ctx context.Context, now time.Time) (int, error)
}

// DeviceStore remembers the devices each user signed in from, by keyed
// hashes of device identifiers (never the identifiers themselves).
type DeviceStore interface {
	// RememberDevice records a sign-in of userID from a device known by any
	// of keys (one device may be known by several: a cookie and a
	// fingerprint). seen reports whether any key was already recorded for
	// the user; others whether the user had any other device recorded
	// before. Every key is recorded (or refreshed) at now. ErrNotFound if
	// the user does not exist.
	RememberDevice(ctx context.Context, userID string, keys []string, now time.Time) (seen, others bool, err error)
	// DeviceKnown reports whether key is recorded for userID. It costs the
	// same whether or not the user exists ("" matches nothing).
	DeviceKnown(ctx context.Context, userID, key string) (bool, error)
	// ForgetDevicesBefore deletes devices last seen before t; it returns how
	// many.
	ForgetDevicesBefore(ctx context.Context, t time.Time) (int, error)
}

// KeyStore holds the token signing keys, their private halves sealed under
// the master secret.
type KeyStore interface {
	// SigningKeys returns every stored key, oldest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey inserts k and, in the same transaction, sets the
	// expiry of every other key of k.Algorithm that has none to
	// retireOthersAt. ErrConflict, with nothing changed, when a key of
	// k.Algorithm already has k.Generation: of N nodes rotating at once
	// exactly one succeeds.
	AddSigningKey(ctx context.Context, k SigningKey, retireOthersAt time.Time) error
	// ResealSigningKey replaces the sealed private key of id if it still
	// equals old (compare-and-swap), after a master-secret rotation. It
	// reports whether it replaced it.
	ResealSigningKey(ctx context.Context, id string, old, new []byte) (bool, error)
	// DeleteExpiredSigningKeys removes keys whose expiry is set and before
	// now, and returns how many.
	DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error)
}
