package gatehouse

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/internal/secret"
	"github.com/gatehouse-auth/gatehouse/verify"
)

// parseOwnJWT verifies a JWT Gatehouse signed: one of its published keys,
// the key's own algorithm, the expected typ and iss. Times are the caller's
// business. A key-loading failure is an internal error; anything else
// about the token is ok=false.
func (a *Auth) parseOwnJWT(ctx context.Context, token, typ string, claims any) (ok bool, err error) {
	if len(token) > verify.MaxTokenSize || strings.Count(token, ".") != 2 {
		return false, nil
	}
	tok, err := jwt.ParseSigned(token, ownAlgorithms)
	if err != nil || len(tok.Headers) != 1 {
		return false, nil
	}
	h := tok.Headers[0]
	if got, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(strings.TrimPrefix(strings.ToLower(got), "application/"), typ) {
		return false, nil
	}
	if _, crit := h.ExtraHeaders["crit"]; crit {
		return false, nil
	}
	key, err := localKeys{a.signing}.Key(ctx, h.KeyID)
	switch {
	case errors.Is(err, verify.ErrUnknownKey):
		return false, nil
	case err != nil:
		return false, internalError("load signing keys", err)
	case key.Algorithm != h.Algorithm:
		return false, nil
	}
	var iss struct {
		Issuer string `json:"iss"`
	}
	if tok.Claims(key.Key, claims, &iss) != nil || iss.Issuer != a.Issuer() {
		return false, nil
	}
	return true, nil
}

// OAuthAccess is a verified access token issued to an OAuth client, with
// the grant still live.
type OAuthAccess struct {
	Claims oauthAccessClaims
	// User is set for tokens of a user (not client_credentials).
	User *User
}

var errBadOAuthAccess = oauthErr("invalid_token", "The access token is invalid, expired or revoked.")

// verifyOAuthAccess checks an access token of an OAuth client: signature,
// typ at+jwt, iss, exp; for a user's token, that its family and session are
// live and the user not disabled.
func (a *Auth) verifyOAuthAccess(ctx context.Context, token string) (OAuthAccess, error) {
	var c oauthAccessClaims
	ok, err := a.parseOwnJWT(ctx, token, AccessTokenType, &c)
	if err != nil {
		return OAuthAccess{}, err
	}
	now := a.Now()
	if !ok || c.ClientID == "" || c.ClientID == FirstPartyClientID || c.Expiry == nil ||
		!now.Before(c.Expiry.Time()) || len(c.Audience) != 1 || c.Audience[0] != c.ClientID {
		return OAuthAccess{}, errBadOAuthAccess
	}
	if c.GrantID == "" {
		// client_credentials: the client must still exist.
		if c.Subject != c.ClientID {
			return OAuthAccess{}, errBadOAuthAccess
		}
		if _, err := a.store.OAuthClientByID(ctx, c.ClientID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return OAuthAccess{}, errBadOAuthAccess
			}
			return OAuthAccess{}, internalError("load client", err)
		}
		return OAuthAccess{Claims: c}, nil
	}
	fam, err := a.store.RefreshFamilyByID(ctx, c.GrantID, now)
	switch {
	case errors.Is(err, ErrNotFound):
		return OAuthAccess{}, errBadOAuthAccess
	case err != nil:
		return OAuthAccess{}, internalError("load grant", err)
	case fam.ClientID != c.ClientID || fam.UserID != c.Subject || fam.SessionID != c.SID:
		return OAuthAccess{}, errBadOAuthAccess
	}
	p, err := a.familySession(ctx, fam)
	if err != nil {
		if ErrorCode(err) == CodeUnauthenticated {
			return OAuthAccess{}, errBadOAuthAccess
		}
		return OAuthAccess{}, err
	}
	return OAuthAccess{Claims: c, User: &p.User}, nil
}

// UserInfo answers the userinfo endpoint (OpenID Connect Core §5.3) for an
// access token: sub, and the claims its scopes release. invalid_token for
// a bad or revoked token; insufficient_scope without openid.
func (a *Auth) UserInfo(ctx context.Context, token string) (map[string]any, error) {
	acc, err := a.verifyOAuthAccess(ctx, token)
	if err != nil {
		return nil, err
	}
	scopes := strings.Fields(acc.Claims.Scope)
	if acc.User == nil || !slices.Contains(scopes, ScopeOpenID) {
		return nil, oauthErr("insufficient_scope", "The access token lacks the openid scope.")
	}
	out := map[string]any{"sub": acc.User.ID}
	uc := claimsFor(*acc.User, scopes)
	if uc.EmailVerified != nil {
		out["email"], out["email_verified"] = uc.Email, *uc.EmailVerified
	}
	if slices.Contains(scopes, ScopeProfile) {
		out["name"], out["updated_at"] = uc.Name, uc.UpdatedAt
	}
	return out, nil
}

// Introspect answers RFC 7662 for a confidential client about one of its
// own tokens: an access token or a current refresh token. Anything else —
// unknown, expired, revoked, retired, another client's — is
// {"active": false}, so the endpoint tells no client about others' tokens.
func (a *Auth) Introspect(ctx context.Context, c OAuthClient, token string) (map[string]any, error) {
	inactive := map[string]any{"active": false}
	if c.Public() {
		return nil, oauthErr("unauthorized_client", "Only confidential clients may introspect tokens.")
	}
	if token == "" {
		return nil, oauthErr("invalid_request", "The token parameter is missing.")
	}
	if strings.Count(token, ".") == 2 {
		acc, err := a.verifyOAuthAccess(ctx, token)
		var oe *OAuthError
		switch {
		case errors.As(err, &oe):
			return inactive, nil
		case err != nil:
			return nil, err
		case acc.Claims.ClientID != c.ID:
			return inactive, nil
		}
		cl := acc.Claims
		out := map[string]any{"active": true, "token_type": "Bearer", "client_id": cl.ClientID, "sub": cl.Subject,
			"iss": cl.Issuer, "aud": []string(cl.Audience), "exp": cl.Expiry.Time().Unix(), "iat": cl.IssuedAt.Time().Unix(), "jti": cl.ID}
		if cl.Scope != "" {
			out["scope"] = cl.Scope
		}
		if cl.SID != "" {
			out["sid"] = cl.SID
		}
		return out, nil
	}
	if len(token) > 100 {
		return inactive, nil
	}
	now := a.Now()
	hash := secret.HashToken(token)
	fam, err := a.store.RefreshFamilyByToken(ctx, hash, now)
	switch {
	case errors.Is(err, ErrNotFound):
		return inactive, nil
	case err != nil:
		return nil, internalError("load refresh token", err)
	case fam.ClientID != c.ID || !secret.Equal(fam.RefreshHash, hash):
		return inactive, nil
	}
	if _, err := a.familySession(ctx, fam); err != nil {
		if ErrorCode(err) == CodeUnauthenticated {
			return inactive, nil
		}
		return nil, err
	}
	return map[string]any{"active": true, "client_id": fam.ClientID, "sub": fam.UserID, "iss": a.Issuer(),
		"scope": strings.Join(fam.Scopes, " "), "exp": fam.ExpiresAt.Unix(), "iat": fam.CreatedAt.Unix()}, nil
}

// RevokeToken answers RFC 7009 for a client: a refresh token or an access
// token of a user revokes the whole family it belongs to. An unknown or
// invalid token is not an error (§2.2). A client_credentials access token
// cannot be revoked (it lives at most Tokens.TTL): unsupported_token_type,
// never a false "revoked". Another client's token: unauthorized_client.
func (a *Auth) RevokeToken(ctx context.Context, c OAuthClient, token string) error {
	if token == "" {
		return oauthErr("invalid_request", "The token parameter is missing.")
	}
	now := a.Now()
	var fam RefreshFamily
	if strings.Count(token, ".") == 2 {
		var cl oauthAccessClaims
		ok, err := a.parseOwnJWT(ctx, token, AccessTokenType, &cl)
		switch {
		case err != nil:
			return err
		case !ok || cl.ClientID == "" || cl.ClientID == FirstPartyClientID:
			return nil
		case cl.ClientID != c.ID:
			return oauthErr("unauthorized_client", "The token was issued to another client.")
		case cl.GrantID == "":
			return oauthErr("unsupported_token_type", "client_credentials access tokens cannot be revoked; they expire within minutes.")
		}
		if fam, err = a.store.RefreshFamilyByID(ctx, cl.GrantID, now); errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return internalError("load grant", err)
		}
	} else {
		if len(token) > 100 {
			return nil
		}
		var err error
		if fam, err = a.store.RefreshFamilyByToken(ctx, secret.HashToken(token), now); errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return internalError("load refresh token", err)
		}
	}
	if fam.ClientID != c.ID {
		return oauthErr("unauthorized_client", "The token was issued to another client.")
	}
	if err := a.store.DeleteRefreshFamily(ctx, fam.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return internalError("revoke grant", err)
	}
	return nil
}

// LogoutRequest is a validated RP-initiated logout request (OpenID Connect
// RP-Initiated Logout 1.0 §2).
type LogoutRequest struct {
	// Client is the relying party, when client_id or id_token_hint named one.
	Client *OAuthClient
	// RedirectURI is the registered post_logout_redirect_uri with state
	// added, or "" to show Gatehouse's signed-out page.
	RedirectURI string
	// Confirmed: a valid id_token_hint was issued from the browser's
	// current session, so the logout needs no confirmation page.
	Confirmed bool
	// Params carry the request through the confirmation page.
	Params url.Values
}

var logoutParams = []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "logout_hint", "ui_locales"}

// ParseLogoutRequest validates a logout request for the principal (nil
// when signed out). An invalid id_token_hint, an unknown client or an
// unregistered post_logout_redirect_uri is an *OAuthError to show on a
// page: Gatehouse never redirects to an unregistered URI. An expired hint
// is accepted: it still proves which client and user it was issued for.
func (a *Auth) ParseLogoutRequest(ctx context.Context, q url.Values, p *Principal) (LogoutRequest, error) {
	req := LogoutRequest{Params: url.Values{}}
	for _, k := range logoutParams {
		if vs, ok := q[k]; ok {
			if len(vs) > 1 {
				return req, oauthErr("invalid_request", "The "+k+" parameter is repeated.")
			}
			req.Params[k] = vs
		}
	}
	clientID := q.Get("client_id")
	var hint idTokenClaims
	if h := q.Get("id_token_hint"); h != "" {
		ok, err := a.parseOwnJWT(ctx, h, "jwt", &hint)
		if err != nil {
			return req, err
		}
		if !ok || len(hint.Audience) != 1 {
			return req, oauthErr("invalid_request", "The id_token_hint is not an ID token this server issued.")
		}
		if clientID != "" && clientID != hint.Audience[0] {
			return req, oauthErr("invalid_request", "The id_token_hint was issued to another client than client_id.")
		}
		clientID = hint.Audience[0]
		// Only the ID token of this very session confirms: an old one (a
		// leaked token stays valid as a hint forever) gets the page.
		req.Confirmed = p != nil && hint.Subject == p.User.ID && hint.SID == p.Session.ID
	}
	if clientID != "" {
		c, err := OAuthClient{}, error(ErrNotFound)
		if plausibleClientID(clientID) {
			c, err = a.store.OAuthClientByID(ctx, clientID)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			return req, oauthErr("invalid_client", "No application is registered with this client_id.")
		case err != nil:
			return req, internalError("load client", err)
		}
		req.Client = &c
	}
	if uri := q.Get("post_logout_redirect_uri"); uri != "" {
		if req.Client == nil {
			return req, oauthErr("invalid_request", "post_logout_redirect_uri needs client_id or id_token_hint.")
		}
		if !slices.Contains(req.Client.PostLogoutRedirectURIs, uri) {
			return req, oauthErr("invalid_request", "The post_logout_redirect_uri is not registered for this application.")
		}
		u, err := url.Parse(uri)
		if err != nil {
			return req, oauthErr("invalid_request", "The post_logout_redirect_uri is not registered for this application.")
		}
		if s := q.Get("state"); s != "" {
			qq := u.Query()
			qq.Set("state", s)
			u.RawQuery = qq.Encode()
		}
		req.RedirectURI = u.String()
	}
	return req, nil
}

// ConnectedApp is a client a user allowed, for the account page.
type ConnectedApp struct {
	ClientID  string
	Name      string
	Scopes    []string
	GrantedAt time.Time
}

// ConnectedApps lists the applications the principal's user allowed.
func (a *Auth) ConnectedApps(ctx context.Context, p Principal) ([]ConnectedApp, error) {
	cs, err := a.store.Consents(ctx, p.User.ID)
	if err != nil {
		return nil, internalError("list consents", err)
	}
	out := []ConnectedApp{}
	for _, c := range cs {
		cl, err := a.store.OAuthClientByID(ctx, c.ClientID)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // deleted meanwhile
			}
			return nil, internalError("load client", err)
		}
		out = append(out, ConnectedApp{ClientID: c.ClientID, Name: cl.Name, Scopes: c.Scopes, GrantedAt: c.GrantedAt})
	}
	return out, nil
}

// RevokeConnectedApp withdraws the user's consent to the client and
// revokes every token the client holds for the user. CodeNotFound when the
// user had not allowed it.
func (a *Auth) RevokeConnectedApp(ctx context.Context, p Principal, clientID string) error {
	if !plausibleClientID(clientID) {
		return errNoSuchApp
	}
	if err := a.store.RevokeConsent(ctx, p.User.ID, clientID); err != nil {
		return storeError("revoke consent", err, errNoSuchApp)
	}
	a.audit(ctx, AuditEvent{Type: EventAppRevoked, ActorID: p.User.ID, SubjectID: p.User.ID, Reason: clientID})
	return nil
}

var errNoSuchApp = &Error{Code: CodeNotFound, Message: "This application has no access to your account."}
