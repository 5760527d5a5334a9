package gatehouse

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// CodeTTL is how long an authorization code can be redeemed (RFC 9700
// §4.5.3 asks for short; OAuth 2.1 for at most a minute).
const CodeTTL = time.Minute

// OAuthError is an error of the OAuth protocol, sent to the client in the
// shape of RFC 6749 §4.1.2.1 and §5.2. Description is safe to show and never
// carries internal error text.
type OAuthError struct {
	// Code is the registered error code ("invalid_request", "invalid_grant"…).
	Code        string
	Description string
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

func oauthErr(code, description string) *OAuthError {
	return &OAuthError{Code: code, Description: description}
}

// AuthorizationRequest is a validated authorization request (RFC 6749
// §4.1.1, OpenID Connect Core §3.1.2.1).
type AuthorizationRequest struct {
	// Client and RedirectURI are set once both were found valid; only then
	// may an error be sent back to the client (Redirectable).
	Client      OAuthClient
	RedirectURI string
	Scopes      []string
	State       string
	Nonce       string
	// CodeChallenge is the S256 PKCE challenge, required of every client.
	CodeChallenge string
	// Prompt is "", "none", "login" or "consent".
	Prompt string
	// MaxAge is the max_age parameter; negative when absent.
	MaxAge time.Duration
	// LoginAfter, when set, asks for a sign-in at or after it: Gatehouse
	// sets it when it sends the browser to sign in for prompt=login or an
	// exceeded max_age, so the request it returns to does not ask again.
	LoginAfter time.Time
	LoginHint  string
	// HintSubject is the sub of a valid id_token_hint: the user the client
	// expects. Another signed-in user must sign in as that one first.
	HintSubject string
	// Params are the request's parameters, to carry it through the
	// sign-in and consent pages.
	Params url.Values
}

// Redirectable reports whether an error may be sent to the redirect URI:
// never before the client and the URI were validated (RFC 6749 §4.1.2.1).
func (r AuthorizationRequest) Redirectable() bool { return r.RedirectURI != "" }

// authorizationParams are the parameters ParseAuthorizationRequest reads;
// each may appear at most once (RFC 6749 §3.1).
var authorizationParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint", "response_mode",
	"request", "request_uri", "login_after", "ui_locales", "display", "claims", "id_token_hint", "acr_values", "registration"}

// ParseAuthorizationRequest validates an authorization request. The error
// is an *OAuthError, or an internal *Error; when the returned request is not
// Redirectable the error must be shown on a page, never sent to the
// redirect URI, so an unregistered URI cannot be used as an open redirect.
func (a *Auth) ParseAuthorizationRequest(ctx context.Context, q url.Values) (AuthorizationRequest, error) {
	req := AuthorizationRequest{MaxAge: -1, Params: url.Values{}}
	for _, k := range authorizationParams {
		if vs, ok := q[k]; ok {
			req.Params[k] = vs
		}
	}
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			return req, oauthErr("invalid_request", "The "+k+" parameter is repeated.")
		}
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		return req, oauthErr("invalid_request", "The client_id parameter is missing.")
	}
	if !plausibleClientID(clientID) {
		return req, oauthErr("invalid_client", "No application is registered with this client_id.")
	}
	client, err := a.store.OAuthClientByID(ctx, clientID)
	switch {
	case errors.Is(err, ErrNotFound):
		return req, oauthErr("invalid_client", "No application is registered with this client_id.")
	case err != nil:
		return req, internalError("load client", err)
	}
	req.Client = client
	redirect := q.Get("redirect_uri")
	if redirect == "" {
		return req, oauthErr("invalid_request", "The redirect_uri parameter is missing.")
	}
	if !client.matchRedirectURI(redirect) {
		return req, oauthErr("invalid_request", "The redirect_uri is not registered for this application.")
	}
	// From here on errors go back to the client.
	req.RedirectURI = redirect
	for k, vs := range q {
		if len(vs) > 1 && slices.Contains(authorizationParams, k) {
			return req, oauthErr("invalid_request", "The "+k+" parameter is repeated.")
		}
	}
	req.State = q.Get("state")
	if len(req.State) > 2000 || !utf8.ValidString(req.State) || strings.ContainsFunc(req.State, isControl) {
		// Not echoed: a state a browser's form would alter (CR LF) or that
		// could not travel back intact.
		req.State = ""
		return req, oauthErr("invalid_request", "The state parameter must be at most 2000 printable characters.")
	}
	switch {
	case q.Get("request") != "":
		return req, oauthErr("request_not_supported", "Request objects are not supported.")
	case q.Get("request_uri") != "":
		return req, oauthErr("request_uri_not_supported", "request_uri is not supported.")
	case q.Get("registration") != "":
		return req, oauthErr("registration_not_supported", "Dynamic registration is not supported.")
	case q.Get("response_type") == "":
		return req, oauthErr("invalid_request", "The response_type parameter is missing.")
	case q.Get("response_type") != "code":
		return req, oauthErr("unsupported_response_type", "Only response_type=code is supported (authorization code with PKCE).")
	case !slices.Contains(client.GrantTypes, GrantAuthorizationCode):
		return req, oauthErr("unauthorized_client", "This application may not use the authorization code flow.")
	case q.Get("response_mode") != "" && q.Get("response_mode") != "query":
		return req, oauthErr("invalid_request", "Only response_mode=query is supported.")
	}
	scopes, oerr := parseScopes(q.Get("scope"), client)
	if oerr != nil {
		return req, oerr
	}
	req.Scopes = scopes
	req.Nonce = q.Get("nonce")
	if len(req.Nonce) > 500 || !utf8.ValidString(req.Nonce) || strings.ContainsFunc(req.Nonce, isControl) {
		return req, oauthErr("invalid_request", "The nonce parameter must be at most 500 printable characters.")
	}
	switch method := q.Get("code_challenge_method"); {
	case q.Get("code_challenge") == "":
		return req, oauthErr("invalid_request", "PKCE is required: send code_challenge and code_challenge_method=S256.")
	case method != "S256":
		return req, oauthErr("invalid_request", "code_challenge_method must be S256.")
	case !validChallenge(q.Get("code_challenge")):
		return req, oauthErr("invalid_request", "code_challenge must be the base64url SHA-256 of the code verifier (43 characters).")
	}
	req.CodeChallenge = q.Get("code_challenge")
	switch p := q.Get("prompt"); p {
	case "", "none", "login", "consent":
		req.Prompt = p
	case "select_account":
		// One account per browser: nothing to select.
	default:
		if strings.Contains(p, "none") {
			return req, oauthErr("invalid_request", "prompt=none cannot be combined with other values.")
		}
		return req, oauthErr("invalid_request", "prompt must be none, login or consent.")
	}
	if s := q.Get("max_age"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 1<<31 {
			return req, oauthErr("invalid_request", "max_age must be a number of seconds.")
		}
		req.MaxAge = time.Duration(n) * time.Second
	}
	// A login_after this server did not write (wrong MAC) is ignored:
	// the request then asks for its sign-in again.
	req.LoginAfter = a.openLoginAfter(client.ID, q.Get("login_after"))
	if h := q.Get("id_token_hint"); h != "" {
		var hint idTokenClaims
		ok, err := a.parseOwnJWT(ctx, h, "jwt", &hint)
		if err != nil {
			return req, err
		}
		if !ok || hint.Subject == "" {
			return req, oauthErr("invalid_request", "The id_token_hint is not an ID token this server issued.")
		}
		req.HintSubject = hint.Subject
	}
	req.LoginHint = q.Get("login_hint")
	return req, nil
}

// parseScopes checks the requested scopes against the client's; the
// default is openid when the client may ask for it.
func parseScopes(raw string, c OAuthClient) ([]string, *OAuthError) {
	if len(raw) > 2000 {
		return nil, oauthErr("invalid_scope", "The scope parameter is too long.")
	}
	var scopes []string
	for _, s := range dedupe(strings.Fields(raw)) {
		// Standard scopes whose claims Gatehouse does not hold are
		// ignored, as OpenID Connect Core §5.4 asks; others are refused.
		if s != "address" && s != "phone" {
			scopes = append(scopes, s)
		}
	}
	if len(scopes) == 0 {
		if !slices.Contains(c.Scopes, ScopeOpenID) {
			return nil, oauthErr("invalid_scope", "Request at least one scope.")
		}
		scopes = []string{ScopeOpenID}
	}
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return nil, oauthErr("invalid_scope", "This application may not request the scope "+strconv.Quote(s)+".")
		}
	}
	return scopes, nil
}

func validChallenge(s string) bool {
	_, ok := secret.ParseDigest(s)
	return ok
}

// matchRedirectURI is exact string comparison (RFC 9700 §4.1.3), with one
// exception: a public client's loopback IP redirect URI matches any port
// (RFC 8252 §7.3), since a native app listens on whatever port is free.
func (c OAuthClient) matchRedirectURI(got string) bool {
	if slices.Contains(c.RedirectURIs, got) {
		return true
	}
	if !c.Public() {
		return false
	}
	g, err := url.Parse(got)
	if err != nil || g.Scheme != "http" || g.User != nil || g.Fragment != "" || strings.Contains(got, "#") || !isLoopbackIP(g.Hostname()) {
		return false
	}
	for _, r := range c.RedirectURIs {
		u, err := url.Parse(r)
		if err != nil || u.Scheme != "http" || !isLoopbackIP(u.Hostname()) {
			continue
		}
		if u.Hostname() == g.Hostname() && u.EscapedPath() == g.EscapedPath() && u.RawQuery == g.RawQuery &&
			g.Host == hostWithPort(g.Hostname(), g.Port()) {
			return true
		}
	}
	return false
}

// isLoopbackIP accepts the literal loopback addresses RFC 8252 §7.3 names;
// "localhost" is not one (it may resolve elsewhere).
func isLoopbackIP(host string) bool {
	return host == "127.0.0.1" || host == "::1"
}

func hostWithPort(host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" {
		return host
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
		return "\x00" // never equal to a host
	}
	return host + ":" + port
}

// AuthorizationStep is what an authorization request needs next.
type AuthorizationStep int

const (
	// StepSignIn: send the browser to the sign-in page, then back.
	StepSignIn AuthorizationStep = iota + 1
	// StepConsent: ask the user to allow the client.
	StepConsent
	// StepIssue: issue the code (Approve).
	StepIssue
)

// NextAuthorizationStep decides what the request needs, for the principal
// of the browser (nil when signed out). With prompt=none it never asks for
// a page: it returns login_required or consent_required instead (OpenID
// Connect Core §3.1.2.6), which are Redirectable.
func (a *Auth) NextAuthorizationStep(ctx context.Context, req AuthorizationRequest, p *Principal) (AuthorizationStep, error) {
	if a.needsSignIn(req, p) {
		if req.Prompt == "none" {
			return 0, oauthErr("login_required", "The user must sign in.")
		}
		return StepSignIn, nil
	}
	if req.Client.FirstParty {
		return StepIssue, nil
	}
	if req.Prompt != "consent" {
		switch ok, err := a.consented(ctx, p.User.ID, req); {
		case err != nil:
			return 0, err
		case ok:
			return StepIssue, nil
		}
	}
	if req.Prompt == "none" {
		return 0, oauthErr("consent_required", "The user must allow this application first.")
	}
	return StepConsent, nil
}

// needsSignIn: signed out, prompt=login, or a sign-in older than max_age.
// Once Gatehouse sent the browser to sign in (LoginAfter), any sign-in since
// satisfies both prompt=login and max_age.
func (a *Auth) needsSignIn(req AuthorizationRequest, p *Principal) bool {
	if p == nil {
		return true
	}
	at := p.Session.AuthenticatedAt
	switch {
	case req.HintSubject != "" && req.HintSubject != p.User.ID:
		return true
	case !req.LoginAfter.IsZero():
		return at.Before(req.LoginAfter)
	case req.Prompt == "login":
		return true
	default:
		return req.MaxAge >= 0 && a.Now().Sub(at) > req.MaxAge
	}
}

// consented reports whether the user allowed the client every requested
// scope before.
func (a *Auth) consented(ctx context.Context, userID string, req AuthorizationRequest) (bool, error) {
	c, err := a.store.Consent(ctx, userID, req.Client.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, internalError("load consent", err)
	}
	for _, s := range req.Scopes {
		if !slices.Contains(c.Scopes, s) {
			return false, nil
		}
	}
	return true, nil
}

// SignInContinuation returns the query of the authorization request to come
// back to after signing in: the same request, with prompt=login removed and
// login_after set to now (sealed with a MAC, so a URL cannot carry one of
// its own making), so that a fresh sign-in satisfies prompt=login and
// max_age and the browser does not loop.
func (a *Auth) SignInContinuation(req AuthorizationRequest) url.Values {
	q := url.Values{}
	for k, vs := range req.Params {
		q[k] = slices.Clone(vs)
	}
	if req.Prompt == "login" {
		q.Del("prompt")
	}
	q.Set("login_after", a.sealLoginAfter(req.Client.ID, a.Now()))
	return q
}

// sealLoginAfter writes "unix-milliseconds.MAC", the MAC binding the time to
// the client.
func (a *Auth) sealLoginAfter(clientID string, t time.Time) string {
	ms := strconv.FormatInt(t.UnixMilli(), 10)
	return ms + "." + a.keyedHash(hashLoginAfter, clientID+"\x00"+ms)
}

// openLoginAfter reads what sealLoginAfter wrote; zero for anything else.
func (a *Auth) openLoginAfter(clientID, v string) time.Time {
	ms, mac, ok := strings.Cut(v, ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || n <= 0 || !secret.Equal(mac, a.keyedHash(hashLoginAfter, clientID+"\x00"+ms)) {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// Approve issues an authorization code for the principal and returns the
// URL to send the browser to: the redirect URI with code, state and iss
// (RFC 9207). remember records the user's consent (ignored for first-party
// clients, which need none).
func (a *Auth) Approve(ctx context.Context, req AuthorizationRequest, p Principal, remember bool) (string, error) {
	now := a.Now()
	if remember && !req.Client.FirstParty {
		scopes := req.Scopes
		if old, err := a.store.Consent(ctx, p.User.ID, req.Client.ID); err == nil {
			scopes = dedupe(append(slices.Clone(old.Scopes), req.Scopes...))
		}
		if err := a.store.SaveConsent(ctx, OAuthConsent{UserID: p.User.ID, ClientID: req.Client.ID, Scopes: scopes, GrantedAt: now, UpdatedAt: now}); err != nil {
			return "", internalError("save consent", err)
		}
		a.audit(ctx, AuditEvent{Type: EventAppAuthorized, ActorID: p.User.ID, SubjectID: p.User.ID, Reason: req.Client.ID})
	}
	code := secret.NewToken()
	err := a.store.CreateAuthorizationCode(ctx, AuthorizationCode{
		Hash: secret.HashToken(code), ClientID: req.Client.ID, UserID: p.User.ID, SessionID: p.Session.ID,
		RedirectURI: req.RedirectURI, Scopes: req.Scopes, Nonce: req.Nonce, CodeChallenge: req.CodeChallenge,
		CreatedAt: now, ExpiresAt: now.Add(CodeTTL),
	})
	if err != nil {
		return "", storeError("create authorization code", err, errUnauthenticated)
	}
	return a.authorizationResponse(req, url.Values{"code": {code}}), nil
}

// AuthorizationErrorURL is where an error of a Redirectable request sends
// the browser: the redirect URI with error, error_description, state and
// iss. Internal errors become server_error without detail.
func (a *Auth) AuthorizationErrorURL(req AuthorizationRequest, err error) string {
	var oe *OAuthError
	if !errors.As(err, &oe) {
		oe = oauthErr("server_error", "The server could not complete the request.")
	}
	return a.authorizationResponse(req, url.Values{"error": {oe.Code}, "error_description": {oe.Description}})
}

// Deny is the URL for a user who refused the consent.
func (a *Auth) Deny(req AuthorizationRequest) string {
	return a.AuthorizationErrorURL(req, oauthErr("access_denied", "The user did not allow the application."))
}

// authorizationResponse adds the response parameters, state and iss to the
// redirect URI's own query.
func (a *Auth) authorizationResponse(req AuthorizationRequest, params url.Values) string {
	u, err := url.Parse(req.RedirectURI)
	if err != nil { // registered URIs parse; matched loopback URIs parsed
		return req.RedirectURI
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if req.State != "" {
		q.Set("state", req.State)
	}
	q.Set("iss", a.Issuer())
	u.RawQuery = q.Encode()
	return u.String()
}
