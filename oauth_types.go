package gatehouse

import (
	"context"
	"errors"
	"time"
)

// Client authentication methods at the token endpoint (RFC 7591 §2).
const (
	// ClientAuthSecretBasic: client_id and secret in HTTP Basic (RFC 6749 §2.3.1).
	ClientAuthSecretBasic = "client_secret_basic"
	// ClientAuthSecretPost: client_id and client_secret in the form body.
	ClientAuthSecretPost = "client_secret_post"
	// ClientAuthPrivateKeyJWT: a JWT signed with the client's registered key
	// (RFC 7523 §2.2, OpenID Connect Core §9).
	ClientAuthPrivateKeyJWT = "private_key_jwt"
	// ClientAuthNone: a public client (native app, SPA) that cannot keep a
	// secret; PKCE alone binds its code to it.
	ClientAuthNone = "none"
)

// Grant types a client may be allowed (RFC 6749).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Scopes with a meaning to the provider (OpenID Connect Core §5.4, §11).
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

// OAuthClient is an application registered with the OpenID Connect provider.
// Only the hash of its secret is stored; the secret is shown once, when it is
// created or rotated.
type OAuthClient struct {
	// ID is the client_id: "cli_" and 26 random characters. Subjects of
	// client_credentials tokens are client ids, so they can never equal a
	// user id ("usr_…").
	ID   string
	Name string
	// AuthMethod is how the client authenticates at the token endpoint,
	// one of the ClientAuth* constants; ClientAuthNone makes it public.
	AuthMethod string
	// SecretHash is HashToken of the secret for client_secret_basic/post,
	// "" otherwise.
	SecretHash string
	// JWKS is the client's public keys (RFC 7517 JSON) for private_key_jwt,
	// "" otherwise. Keys are registered, never fetched from a URL.
	JWKS string
	// RedirectURIs are matched exactly (RFC 9700 §4.1.3), except that a
	// public client's loopback URI (http://127.0.0.1 or http://[::1])
	// matches any port (RFC 8252 §7.3).
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-initiated logout may return,
	// matched exactly.
	PostLogoutRedirectURIs []string
	// GrantTypes are the Grant* constants the client may use.
	GrantTypes []string
	// Scopes are the scopes the client may request; others are refused.
	Scopes []string
	// IDTokenAlgorithm signs the client's ID tokens (default AlgRS256).
	IDTokenAlgorithm string
	// FirstParty clients belong to this deployment: users are not asked to
	// consent to them.
	FirstParty bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Public reports whether the client cannot keep a secret.
func (c OAuthClient) Public() bool { return c.AuthMethod == ClientAuthNone }

// OAuthConsent records that a user allowed a client the listed scopes.
type OAuthConsent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
	UpdatedAt time.Time
}

// AuthorizationCode is an issued authorization code, stored by the hash of
// the code. It is redeemed once, within CodeTTL.
type AuthorizationCode struct {
	Hash        string
	ClientID    string
	UserID      string
	SessionID   string
	RedirectURI string
	Scopes      []string
	Nonce       string
	// CodeChallenge is the S256 PKCE challenge (RFC 7636 §4.2).
	CodeChallenge string
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// RefreshFamily is everything one authorization (one code redemption)
// issued: access tokens carry its ID, and its refresh tokens rotate within
// it. It hangs off the session the user authorized from, so signing out,
// revoking that session, resetting the password, disabling or deleting the
// user ends it in the same transaction. Deleting it revokes all of it.
type RefreshFamily struct {
	// ID is "grt_…", the grant_id claim of the access tokens it issued.
	ID        string
	ClientID  string
	UserID    string
	SessionID string
	Scopes    []string
	// CodeHash is the hash of the authorization code it was created from.
	CodeHash string
	// RefreshHash is the hash of the current refresh token; "" when the
	// client may not refresh.
	RefreshHash string
	// PreviousHash is the hash of the token RefreshHash replaced, and
	// RotatedAt when; a retry of it within the grace window is answered with
	// the same successor.
	PreviousHash string
	RotatedAt    time.Time
	CreatedAt    time.Time
	// ExpiresAt is the family's absolute end, however often it rotates.
	ExpiresAt time.Time
}

// ErrCodeReused is returned by RedeemAuthorizationCode for a code already
// redeemed; the store has revoked what the first redemption issued.
var ErrCodeReused = errors.New("gatehouse: authorization code reused")

// ErrRefreshReused is returned by RotateRefreshToken for a retired refresh
// token presented again (outside the grace window); the store has revoked
// its family.
var ErrRefreshReused = errors.New("gatehouse: refresh token reused")

// OAuthStore holds the OpenID Connect provider's state: clients, consents,
// authorization codes, refresh-token families and used client assertions.
// Families reference their session (deleted with it) and every row of a
// user or client is deleted with the user or client.
type OAuthStore interface {
	// CreateOAuthClient inserts c; ErrConflict when the id exists.
	CreateOAuthClient(ctx context.Context, c OAuthClient) error
	// OAuthClientByID returns the client or ErrNotFound.
	OAuthClientByID(ctx context.Context, id string) (OAuthClient, error)
	// ListOAuthClients returns every client ordered by ID.
	ListOAuthClients(ctx context.Context) ([]OAuthClient, error)
	// UpdateOAuthClient replaces every field of the client with c.ID but ID
	// and CreatedAt. ErrNotFound when there is none.
	UpdateOAuthClient(ctx context.Context, c OAuthClient) error
	// DeleteOAuthClient deletes the client and its consents, codes and
	// families. ErrNotFound when there is none.
	DeleteOAuthClient(ctx context.Context, id string) error

	// SaveConsent inserts or replaces the user's consent to the client
	// (GrantedAt is kept on replacement).
	SaveConsent(ctx context.Context, c OAuthConsent) error
	// Consent returns the user's consent to the client, or ErrNotFound.
	Consent(ctx context.Context, userID, clientID string) (OAuthConsent, error)
	// Consents returns the user's consents, oldest first.
	Consents(ctx context.Context, userID string) ([]OAuthConsent, error)
	// RevokeConsent deletes the user's consent to the client, every family
	// of that user and client and their unredeemed codes, in one
	// transaction. ErrNotFound when there was none of these.
	RevokeConsent(ctx context.Context, userID, clientID string) error

	// CreateAuthorizationCode inserts c. ErrNotFound when its session no
	// longer exists or is not c.UserID's, or the client is gone.
	CreateAuthorizationCode(ctx context.Context, c AuthorizationCode) error
	// RedeemAuthorizationCode marks the code with this hash redeemed and
	// inserts fam, in one transaction, and returns the code. The store
	// fills fam's ClientID, UserID, SessionID, Scopes and CodeHash from the
	// code; the caller sets ID, RefreshHash, CreatedAt and ExpiresAt (a
	// filled field that differs from the code's is ErrNotFound, nothing
	// changed). A redeemed code counts as reused until DeleteExpiredOAuth
	// removes it after its expiry. Of N concurrent redemptions exactly one succeeds.
	// A code already redeemed: the family the first redemption created is
	// deleted and ErrCodeReused returned. Unknown, or expired at now:
	// ErrNotFound. The session gone: ErrNotFound, nothing changed.
	RedeemAuthorizationCode(ctx context.Context, codeHash string, fam RefreshFamily, now time.Time) (AuthorizationCode, error)
	// RefreshFamilyByID returns the family, or ErrNotFound when it was
	// revoked or expired at now.
	RefreshFamilyByID(ctx context.Context, id string, now time.Time) (RefreshFamily, error)
	// RefreshFamilyByToken returns the family that issued the refresh token
	// with this hash (current or retired), or ErrNotFound.
	RefreshFamilyByToken(ctx context.Context, tokenHash string, now time.Time) (RefreshFamily, error)
	// RotateRefreshToken replaces the family's current refresh token,
	// presented by hash, with nextHash and returns the updated family.
	// When presentedHash is the token just replaced, RotatedAt is within
	// grace of now and the current token is nextHash, it changes nothing and
	// returns the family (a retry of a lost response gets the same
	// successor). Any other retired token: the family is deleted and
	// ErrRefreshReused returned. Unknown token, or family expired at now:
	// ErrNotFound. Of N concurrent rotations of one token exactly one
	// rotates.
	RotateRefreshToken(ctx context.Context, presentedHash, nextHash string, now time.Time, grace time.Duration) (RefreshFamily, error)
	// DeleteRefreshFamily revokes the family; ErrNotFound when there is none.
	DeleteRefreshFamily(ctx context.Context, id string) error

	// UseClientAssertion records the jti of a client's private_key_jwt
	// assertion until expiresAt; ErrConflict when it was already used.
	UseClientAssertion(ctx context.Context, clientID, jti string, expiresAt time.Time) error
	// DeleteExpiredOAuth removes codes, families and assertion records
	// that ended before now and returns how many.
	DeleteExpiredOAuth(ctx context.Context, now time.Time) (int, error)
}
