package gatehouse

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/verify"
)

// AccessTokenType is the typ header of first-party access tokens (RFC 9068
// §2.1).
const AccessTokenType = "at+jwt"

// FirstPartyClientID is the client_id claim of access tokens minted from a
// session: no OAuth client asked for them.
const FirstPartyClientID = "first_party"

// AccessToken is a short-lived JWT minted from a session.
type AccessToken struct {
	Token     string
	ExpiresAt time.Time
}

// accessClaims are the claims of a first-party access token (RFC 9068 §2.2).
type accessClaims struct {
	jwt.Claims
	ClientID string   `json:"client_id"`
	SID      string   `json:"sid"`
	AuthTime int64    `json:"auth_time"`
	AMR      []string `json:"amr"`
	AAL      int      `json:"aal"`
	Roles    []string `json:"roles"`
}

// Issuer is the iss of every token Gatehouse signs: the public URL and the
// base path ("https://auth.example.com/auth").
func (a *Auth) Issuer() string { return a.cfg.PublicURL + a.cfg.BasePath }

// Token mints an access token for the principal in ctx (a session checked by
// the middleware): a JWT of at most five minutes, typ at+jwt, signed with
// the current key of Tokens.Algorithm, carrying the session id (sid), so
// revoking the session makes Gatehouse refuse it at once. Services that
// verify it themselves (package verify) accept it until it expires.
//
// There is no refresh token: call Token again, from the session, when it
// nears expiry. CodeUnauthenticated without a principal; CodeForbidden when
// the principal was itself authenticated by a token.
func (a *Auth) Token(ctx context.Context) (AccessToken, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return AccessToken{}, errUnauthenticated
	}
	if p.Bearer {
		// Minting from a token would make tokens refresh themselves
		// forever, outliving the short lifetime that bounds a leak.
		return AccessToken{}, errTokenFromToken
	}
	st, err := a.signing.current(ctx)
	if err != nil {
		return AccessToken{}, internalError("load signing keys", err)
	}
	now := a.Now()
	key, ok := st.signingKey(a.cfg.Tokens.Algorithm, now)
	if !ok {
		return AccessToken{}, internalError("sign token", errNoKey)
	}
	exp := now.Add(a.cfg.Tokens.TTL)
	// A session never yields a token that outlives it.
	if end := p.Session.ExpiresAt(a.cfg.SessionIdleTimeout); end.Before(exp) {
		exp = end
	}
	claims := accessClaims{
		Claims: jwt.Claims{
			Issuer: a.Issuer(), Subject: p.User.ID, Audience: jwt.Audience{a.cfg.Tokens.Audience},
			Expiry: jwt.NewNumericDate(exp), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now),
			ID: rand.Text(),
		},
		ClientID: FirstPartyClientID, SID: p.Session.ID, AuthTime: p.Session.AuthenticatedAt.Unix(),
		AMR: p.Session.AMR, AAL: p.Session.AAL, Roles: p.User.Roles,
	}
	if claims.Roles == nil {
		claims.Roles = []string{}
	}
	tok, err := signJWT(key, AccessTokenType, claims)
	if err != nil {
		return AccessToken{}, internalError("sign token", err)
	}
	return AccessToken{Token: tok, ExpiresAt: exp}, nil
}

// signJWT signs claims with key as a compact JWS with typ and kid headers.
func signJWT(key liveKey, typ string, claims any) (string, error) {
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: jose.JSONWebKey{Key: key.signer, KeyID: key.ID}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// localKeys lets package verify check tokens against this node's keys;
// an unknown kid rereads the store (at most every keyMissReload), so a key
// rotated on another node is found.
type localKeys struct{ k *keySet }

func (l localKeys) Key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	st, err := l.k.current(ctx)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	if jwk, ok := st.publicKey(kid); ok {
		return jwk, nil
	}
	if st, err = l.k.reloadForMiss(ctx); err != nil {
		return jose.JSONWebKey{}, err
	}
	if jwk, ok := st.publicKey(kid); ok {
		return jwk, nil
	}
	return jose.JSONWebKey{}, verify.ErrUnknownKey
}

// newTokenVerifier checks first-party access tokens: this issuer, the
// first-party audience, typ at+jwt, and only the access-token algorithm.
func (a *Auth) newTokenVerifier() (*verify.Verifier, error) {
	return verify.New(verify.Config{
		Issuer: a.Issuer(), Audience: a.cfg.Tokens.Audience, Algorithms: []string{a.cfg.Tokens.Algorithm},
		TokenType: AccessTokenType, Clock: a.clock.Now, Leeway: 30 * time.Second,
	}, localKeys{a.signing})
}

// AuthenticateBearer checks a first-party access token and then its
// session, exactly as Authenticate checks a cookie: a token whose session
// was revoked, expired or whose user was disabled is refused at once, even
// before the token's exp. Tokens for other audiences (OIDC clients), ID
// tokens and tokens signed by anything but this deployment's keys are
// CodeUnauthenticated; a storage failure is an error, never a principal.
func (a *Auth) AuthenticateBearer(ctx context.Context, token string) (Principal, error) {
	claims, err := a.verifyAccessToken(ctx, token)
	if err != nil {
		// Keys that cannot be loaded (database down, a master secret that
		// does not open them) say nothing about the token: fail closed with
		// a 5xx, never a 401 that tells the client to drop a good token.
		var ve *verify.Error
		if errors.As(err, &ve) && ve.Reason != verify.ReasonKeysUnavailable {
			return Principal{}, errBadAccessToken
		}
		return Principal{}, internalError("verify token", err)
	}
	if claims.SessionID == "" || claims.ClientID != FirstPartyClientID {
		return Principal{}, errBadAccessToken
	}
	p, err := a.authenticate(ctx, sessionKey{id: claims.SessionID})
	if err != nil {
		if ErrorCode(err) == CodeUnauthenticated {
			return Principal{}, errBadAccessToken
		}
		return Principal{}, err
	}
	if p.User.ID != claims.Subject {
		return Principal{}, errBadAccessToken
	}
	p.Bearer = true
	return p, nil
}

// verifiedTokens remembers tokens whose signature and claims were checked,
// until they expire, so a client sending the same token on every request
// pays for one signature check, not one per request. Only the token's own
// validity is cached: its session is checked on every request.
type verifiedTokens struct {
	mu  sync.Mutex
	max int
	m   map[[sha256.Size]byte]*verify.Claims
}

// verifyAccessToken is a.tokens.Verify through the verified-token cache.
func (a *Auth) verifyAccessToken(ctx context.Context, token string) (*verify.Claims, error) {
	if len(token) > verify.MaxTokenSize {
		return a.tokens.Verify(ctx, token)
	}
	sum := sha256.Sum256([]byte(token))
	now := a.Now()
	c := &a.verified
	c.mu.Lock()
	claims, ok := c.m[sum]
	if ok && !now.Before(claims.Expiry) {
		delete(c.m, sum)
		ok = false
	}
	c.mu.Unlock()
	if ok {
		return claims, nil
	}
	claims, err := a.tokens.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[[sha256.Size]byte]*verify.Claims)
	}
	if len(c.m) >= c.max {
		// Full: drop expired entries, else any one (map order is random).
		for k, v := range c.m {
			if !now.Before(v.Expiry) || len(c.m) >= c.max {
				delete(c.m, k)
			}
			if len(c.m) < c.max/2 {
				break
			}
		}
	}
	c.m[sum] = claims
	c.mu.Unlock()
	return claims, nil
}

var errTokenFromToken = &Error{Code: CodeForbidden, Message: "Access tokens come from the session cookie, not from another token."}

var errBadAccessToken = &Error{Code: CodeInvalidAccessToken, Message: "The access token is not valid. Get a new one."}
