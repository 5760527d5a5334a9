package gatehouse

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// IDTokenTTL is how long an ID token is good for: the relying party checks
// it once, when it receives it (OpenID Connect Core §3.1.3.7).
const IDTokenTTL = 10 * time.Minute

// assertionAlgorithms are those a private_key_jwt assertion may use.
var assertionAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA}

// ownAlgorithms are those Gatehouse signs with.
var ownAlgorithms = []jose.SignatureAlgorithm{jose.EdDSA, jose.RS256, jose.ES256}

// ClientAuthentication is what a request to the token, introspection or
// revocation endpoint presented to authenticate its client. The web edge
// fills it from the Authorization header and the form; Method says which
// way the client chose, and must be its registered one.
type ClientAuthentication struct {
	ClientID      string
	Secret        string
	Method        string
	Assertion     string
	AssertionType string
}

// ClientAssertionType is the client_assertion_type of private_key_jwt.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

var errInvalidClient = oauthErr("invalid_client", "Client authentication failed.")

// AuthenticateClient checks the client's credentials by its registered
// method (client_secret_basic and client_secret_post are one method here): a secret compared by hash in constant time, a private_key_jwt
// assertion (aud exactly the issuer, jti used once), or none for a public
// client. Every failure is the same invalid_client.
func (a *Auth) AuthenticateClient(ctx context.Context, in ClientAuthentication) (OAuthClient, error) {
	if !plausibleClientID(in.ClientID) {
		return OAuthClient{}, errInvalidClient
	}
	c, err := a.store.OAuthClientByID(ctx, in.ClientID)
	switch {
	case errors.Is(err, ErrNotFound):
		return OAuthClient{}, errInvalidClient
	case err != nil:
		return OAuthClient{}, internalError("load client", err)
	case in.Method != c.AuthMethod && !(needsSecret(in.Method) && needsSecret(c.AuthMethod)):
		// The two secret methods carry the same secret, and relying-party
		// libraries pick one by default (openid-client: post; Auth.js:
		// basic), so a secret client may use either. Nothing else mixes.
		return OAuthClient{}, errInvalidClient
	}
	switch c.AuthMethod {
	case ClientAuthSecretBasic, ClientAuthSecretPost:
		if c.SecretHash == "" || !secret.Equal(secret.HashToken(in.Secret), c.SecretHash) {
			return OAuthClient{}, errInvalidClient
		}
	case ClientAuthPrivateKeyJWT:
		if in.AssertionType != ClientAssertionType {
			return OAuthClient{}, errInvalidClient
		}
		if err := a.checkClientAssertion(ctx, c, in.Assertion); err != nil {
			return OAuthClient{}, err
		}
	case ClientAuthNone:
		if in.Secret != "" || in.Assertion != "" {
			return OAuthClient{}, errInvalidClient
		}
	default:
		return OAuthClient{}, errInvalidClient
	}
	return c, nil
}

// maxAssertionLife bounds how far in the future an assertion's exp may be,
// which bounds how long its jti must be remembered.
const maxAssertionLife = 10 * time.Minute

// checkClientAssertion verifies a private_key_jwt assertion (RFC 7523 §3):
// signed by one of the client's keys, iss and sub the client, aud exactly
// the issuer, unexpired, and a jti not seen before.
func (a *Auth) checkClientAssertion(ctx context.Context, c OAuthClient, assertion string) error {
	keys, err := parseClientJWKS(c.JWKS)
	if err != nil || len(assertion) > 8<<10 || strings.Count(assertion, ".") != 2 {
		return errInvalidClient
	}
	tok, err := jwt.ParseSigned(assertion, assertionAlgorithms)
	if err != nil || len(tok.Headers) != 1 {
		return errInvalidClient
	}
	h := tok.Headers[0]
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return errInvalidClient
	}
	var claims struct {
		jwt.Claims
		Audience json.RawMessage `json:"aud"`
	}
	verified := false
	for _, k := range keys.Keys {
		if h.KeyID != "" && k.KeyID != h.KeyID || k.Algorithm != "" && k.Algorithm != h.Algorithm || !keyFitsAlgorithm(h.Algorithm, k.Key) {
			continue
		}
		if tok.Claims(k.Key, &claims) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return errInvalidClient
	}
	now := a.Now()
	var aud string
	if json.Unmarshal(claims.Audience, &aud) != nil {
		var list []string
		if json.Unmarshal(claims.Audience, &list) != nil || len(list) != 1 {
			return errInvalidClient
		}
		aud = list[0]
	}
	switch {
	case claims.Issuer != c.ID || claims.Subject != c.ID || aud != a.Issuer():
		return errInvalidClient
	case claims.Expiry == nil || !now.Before(claims.Expiry.Time().Add(leeway)) || claims.Expiry.Time().After(now.Add(maxAssertionLife)):
		return errInvalidClient
	case claims.NotBefore != nil && now.Add(leeway).Before(claims.NotBefore.Time()):
		return errInvalidClient
	case claims.ID == "" || len(claims.ID) > 200:
		return errInvalidClient
	}
	err = a.store.UseClientAssertion(ctx, c.ID, claims.ID, claims.Expiry.Time().Add(leeway))
	switch {
	case errors.Is(err, ErrConflict):
		return errInvalidClient // replayed
	case err != nil:
		return internalError("record client assertion", err)
	}
	return nil
}

// leeway tolerates clock skew in the times of tokens from other parties.
const leeway = 30 * time.Second

func keyFitsAlgorithm(alg string, key any) bool {
	switch key := key.(type) {
	case *rsa.PublicKey:
		return alg == string(jose.RS256) || alg == string(jose.PS256)
	case *ecdsa.PublicKey:
		return alg == string(jose.ES256) && key.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}

// TokenResponse is a successful token endpoint response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// TokenRequest is a token endpoint request's parameters (RFC 6749 §4.1.3,
// §6, §4.4.2).
type TokenRequest struct {
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Scope        string
}

// Exchange answers a token request of an authenticated client. Errors are
// *OAuthError (invalid_grant, unauthorized_client, invalid_scope,
// unsupported_grant_type…) or an internal *Error.
func (a *Auth) Exchange(ctx context.Context, c OAuthClient, req TokenRequest) (TokenResponse, error) {
	switch req.GrantType {
	case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials:
		if !slices.Contains(c.GrantTypes, req.GrantType) {
			return TokenResponse{}, oauthErr("unauthorized_client", "This application may not use the "+req.GrantType+" grant.")
		}
	case "":
		return TokenResponse{}, oauthErr("invalid_request", "The grant_type parameter is missing.")
	default:
		return TokenResponse{}, oauthErr("unsupported_grant_type", "Use authorization_code, refresh_token or client_credentials.")
	}
	switch req.GrantType {
	case GrantAuthorizationCode:
		return a.exchangeCode(ctx, c, req)
	case GrantRefreshToken:
		return a.refresh(ctx, c, req)
	default:
		return a.clientCredentials(ctx, c, req)
	}
}

var errBadGrant = oauthErr("invalid_grant", "The authorization code or refresh token is invalid, expired, revoked or was issued to another client.")

func (a *Auth) exchangeCode(ctx context.Context, c OAuthClient, req TokenRequest) (TokenResponse, error) {
	switch {
	case req.Code == "" || len(req.Code) > 100:
		return TokenResponse{}, oauthErr("invalid_request", "The code parameter is missing.")
	case req.RedirectURI == "":
		return TokenResponse{}, oauthErr("invalid_request", "The redirect_uri parameter is missing.")
	case !validVerifier(req.CodeVerifier):
		return TokenResponse{}, oauthErr("invalid_request", "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~' (PKCE).")
	}
	now := a.Now()
	refresh := ""
	fam := RefreshFamily{ID: secret.NewID(familyIDPrefix), CreatedAt: now, ExpiresAt: now.Add(a.cfg.OAuth.RefreshLifetime)}
	if slices.Contains(c.GrantTypes, GrantRefreshToken) {
		refresh = secret.NewToken()
		fam.RefreshHash = secret.HashToken(refresh)
	}
	code, err := a.store.RedeemAuthorizationCode(ctx, secret.HashToken(req.Code), fam, now)
	switch {
	case errors.Is(err, ErrCodeReused):
		a.audit(ctx, AuditEvent{Type: EventCodeReused, Reason: c.ID})
		return TokenResponse{}, errBadGrant
	case errors.Is(err, ErrNotFound):
		return TokenResponse{}, errBadGrant
	case err != nil:
		return TokenResponse{}, internalError("redeem authorization code", err)
	}
	fam.ClientID, fam.UserID, fam.SessionID, fam.Scopes, fam.CodeHash = code.ClientID, code.UserID, code.SessionID, code.Scopes, code.Hash
	// The code is spent whatever happens next: a wrong verifier or client
	// burns it and what it issued, so neither can be guessed at leisure.
	bad := code.ClientID != c.ID || code.RedirectURI != req.RedirectURI ||
		!secret.Equal(pkceChallenge(req.CodeVerifier), code.CodeChallenge)
	var p Principal
	if !bad {
		p, err = a.familySession(ctx, fam)
		if err != nil && ErrorCode(err) != CodeUnauthenticated {
			return TokenResponse{}, err
		}
		bad = err != nil
	}
	if bad {
		if err := a.store.DeleteRefreshFamily(ctx, fam.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return TokenResponse{}, internalError("revoke grant", err)
		}
		return TokenResponse{}, errBadGrant
	}
	return a.issueTokens(ctx, c, p, fam, code.Nonce, refresh)
}

// familySession is the live session a family hangs off, checked as a
// cookie would be (timeouts, disabled user); CodeUnauthenticated when it
// ended.
func (a *Auth) familySession(ctx context.Context, fam RefreshFamily) (Principal, error) {
	p, err := a.authenticate(ctx, sessionKey{id: fam.SessionID})
	if err != nil {
		return Principal{}, err
	}
	if p.User.ID != fam.UserID {
		return Principal{}, errUnauthenticated
	}
	return p, nil
}

// validVerifier is RFC 7636 §4.1's code_verifier.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (a *Auth) refresh(ctx context.Context, c OAuthClient, req TokenRequest) (TokenResponse, error) {
	if req.RefreshToken == "" || len(req.RefreshToken) > 100 {
		return TokenResponse{}, oauthErr("invalid_request", "The refresh_token parameter is missing.")
	}
	now := a.Now()
	presented := secret.HashToken(req.RefreshToken)
	// Another client's token is refused before it can rotate anything.
	fam, err := a.store.RefreshFamilyByToken(ctx, presented, now)
	switch {
	case errors.Is(err, ErrNotFound):
		return TokenResponse{}, errBadGrant
	case err != nil:
		return TokenResponse{}, internalError("load refresh token", err)
	case fam.ClientID != c.ID:
		return TokenResponse{}, errBadGrant
	}
	scopes := fam.Scopes
	if req.Scope != "" {
		// A narrower scope for this access token (RFC 6749 §6); the family
		// keeps what was granted.
		scopes = dedupe(strings.Fields(req.Scope))
		for _, s := range scopes {
			if !slices.Contains(fam.Scopes, s) {
				return TokenResponse{}, oauthErr("invalid_scope", "The scope "+s+" was not granted.")
			}
		}
	}
	next := a.keyedHash(hashRefreshSuccessor, req.RefreshToken)
	grace := max(a.cfg.OAuth.RefreshGrace, 0)
	rotated, err := a.store.RotateRefreshToken(ctx, presented, secret.HashToken(next), now, grace)
	switch {
	case errors.Is(err, ErrRefreshReused):
		a.log.WarnContext(ctx, "refresh token reused: its family was revoked", "client_id", c.ID, "grant_id", fam.ID)
		a.audit(ctx, AuditEvent{Type: EventRefreshReused, SubjectID: fam.UserID, Reason: c.ID})
		return TokenResponse{}, errBadGrant
	case errors.Is(err, ErrNotFound):
		return TokenResponse{}, errBadGrant
	case err != nil:
		return TokenResponse{}, internalError("rotate refresh token", err)
	}
	fam = rotated
	p, err := a.familySession(ctx, fam)
	if err != nil {
		if ErrorCode(err) != CodeUnauthenticated {
			return TokenResponse{}, err
		}
		if err := a.store.DeleteRefreshFamily(ctx, fam.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return TokenResponse{}, internalError("revoke grant", err)
		}
		return TokenResponse{}, errBadGrant
	}
	fam.Scopes = scopes
	return a.issueTokens(ctx, c, p, fam, "", next)
}

func (a *Auth) clientCredentials(ctx context.Context, c OAuthClient, req TokenRequest) (TokenResponse, error) {
	scopes := dedupe(strings.Fields(req.Scope))
	for _, s := range scopes {
		switch {
		case s == ScopeOpenID || s == ScopeOfflineAccess || s == ScopeProfile || s == ScopeEmail:
			return TokenResponse{}, oauthErr("invalid_scope", "The scope "+s+" is about a user; client_credentials has none.")
		case !slices.Contains(c.Scopes, s):
			return TokenResponse{}, oauthErr("invalid_scope", "This application may not request the scope "+s+".")
		}
	}
	now := a.Now()
	// The subject is the client id ("cli_…"), which no user id can equal.
	tok, exp, err := a.signAccessToken(ctx, accessGrant{subject: c.ID, clientID: c.ID, scopes: scopes}, now)
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(exp.Sub(now) / time.Second), Scope: strings.Join(scopes, " ")}, nil
}

// oauthAccessClaims are the claims of an access token issued to an OAuth
// client (RFC 9068 §2.2): aud is the client, so it is never good at
// Gatehouse's own API, whose audience is Tokens.Audience.
type oauthAccessClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
	SID      string `json:"sid,omitempty"`
	// GrantID is the family the token came from: revoking it (code reuse,
	// refresh reuse, the user revoking the app) ends the token at userinfo
	// and introspection at once.
	GrantID  string   `json:"grant_id,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	AMR      []string `json:"amr,omitempty"`
}

type accessGrant struct {
	subject, clientID, sid, grantID string
	scopes                          []string
	session                         *Session
}

func (a *Auth) signAccessToken(ctx context.Context, g accessGrant, now time.Time) (string, time.Time, error) {
	key, err := a.signing.signer(ctx, a.cfg.Tokens.Algorithm)
	if err != nil {
		return "", time.Time{}, internalError("sign token", err)
	}
	exp := now.Add(a.cfg.Tokens.TTL)
	claims := oauthAccessClaims{
		Claims: jwt.Claims{Issuer: a.Issuer(), Subject: g.subject, Audience: jwt.Audience{g.clientID},
			Expiry: jwt.NewNumericDate(exp), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now), ID: rand.Text()},
		ClientID: g.clientID, Scope: strings.Join(g.scopes, " "), SID: g.sid, GrantID: g.grantID,
	}
	if g.session != nil {
		if end := g.session.ExpiresAt(a.cfg.SessionIdleTimeout); end.Before(exp) {
			exp = end
			claims.Expiry = jwt.NewNumericDate(exp)
		}
		claims.AuthTime, claims.AMR = g.session.AuthenticatedAt.Unix(), g.session.AMR
	}
	tok, err := signJWT(key, AccessTokenType, claims)
	if err != nil {
		return "", time.Time{}, internalError("sign token", err)
	}
	return tok, exp, nil
}

// idTokenClaims are OpenID Connect Core §2's, plus the scope claims.
type idTokenClaims struct {
	jwt.Claims
	AuthorizedParty string   `json:"azp"`
	Nonce           string   `json:"nonce,omitempty"`
	AuthTime        int64    `json:"auth_time"`
	AccessTokenHash string   `json:"at_hash,omitempty"`
	AMR             []string `json:"amr,omitempty"`
	ACR             string   `json:"acr"`
	SID             string   `json:"sid"`
	userClaims
}

// userClaims are the claims the profile and email scopes release
// (OpenID Connect Core §5.4).
type userClaims struct {
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
	Name          string `json:"name,omitempty"`
	UpdatedAt     int64  `json:"updated_at,omitempty"`
}

func claimsFor(u User, scopes []string) userClaims {
	var c userClaims
	if slices.Contains(scopes, ScopeEmail) {
		v := u.EmailVerified
		c.Email, c.EmailVerified = u.Email, &v
	}
	if slices.Contains(scopes, ScopeProfile) {
		c.Name, c.UpdatedAt = u.Name, u.UpdatedAt.Unix()
	}
	return c
}

// ACR returns the acr claim for an authenticator assurance level.
func ACR(aal int) string {
	if aal >= 2 {
		return "urn:gatehouse:aal2"
	}
	return "urn:gatehouse:aal1"
}

// issueTokens mints the access token, the ID token (scope openid) and
// passes on the refresh token, if any, of a family.
func (a *Auth) issueTokens(ctx context.Context, c OAuthClient, p Principal, fam RefreshFamily, nonce, refresh string) (TokenResponse, error) {
	now := a.Now()
	s := p.Session
	access, exp, err := a.signAccessToken(ctx, accessGrant{subject: p.User.ID, clientID: c.ID, sid: s.ID, grantID: fam.ID, scopes: fam.Scopes, session: &s}, now)
	if err != nil {
		return TokenResponse{}, err
	}
	res := TokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(exp.Sub(now) / time.Second), RefreshToken: refresh, Scope: strings.Join(fam.Scopes, " ")}
	if !slices.Contains(fam.Scopes, ScopeOpenID) {
		return res, nil
	}
	key, err := a.signing.signer(ctx, c.IDTokenAlgorithm)
	if err != nil {
		return TokenResponse{}, internalError("sign ID token", err)
	}
	idExp := now.Add(IDTokenTTL)
	claims := idTokenClaims{
		Claims: jwt.Claims{Issuer: a.Issuer(), Subject: p.User.ID, Audience: jwt.Audience{c.ID},
			Expiry: jwt.NewNumericDate(idExp), IssuedAt: jwt.NewNumericDate(now), ID: rand.Text()},
		AuthorizedParty: c.ID, Nonce: nonce, AuthTime: s.AuthenticatedAt.Unix(),
		AccessTokenHash: halfHash(c.IDTokenAlgorithm, access), AMR: s.AMR, ACR: ACR(s.AAL), SID: s.ID,
		userClaims: claimsFor(p.User, fam.Scopes),
	}
	if res.IDToken, err = signJWT(key, "JWT", claims); err != nil {
		return TokenResponse{}, internalError("sign ID token", err)
	}
	return res, nil
}

// halfHash is at_hash (OpenID Connect Core §3.1.3.6): the left half of the
// token's hash under the signing algorithm's hash function (SHA-512 for
// Ed25519).
func halfHash(alg, token string) string {
	var h hash.Hash = sha256.New()
	if alg == AlgEdDSA {
		h = sha512.New()
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
