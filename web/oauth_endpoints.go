package web

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse"
)

// oauthEndpointRoutes registers the OpenID Connect provider's machine
// endpoints: discovery, token, userinfo, introspection, revocation, and the
// clients admin API.
//
// None of the OAuth endpoints reads the session cookie: the token,
// introspection and revocation endpoints authenticate the client, userinfo
// only the Bearer access token. That is why the token, revocation and
// userinfo endpoints may be called from any origin (CORS with "*", and the
// cross-origin check bypassed for them): a browser-based public client on
// another origin must reach them, and no ambient credential of a user
// travels with such a request. Introspection is for confidential clients,
// which call it from their servers, so it keeps the check.
func (h *Handler) oauthEndpointRoutes(page, api func(pattern string, fn http.Handler)) {
	page("GET /.well-known/openid-configuration", http.HandlerFunc(h.openIDConfiguration))

	page("POST /oauth2/token", http.HandlerFunc(h.oauthToken))
	page("GET /oauth2/userinfo", http.HandlerFunc(h.oauthUserInfo))
	page("POST /oauth2/userinfo", http.HandlerFunc(h.oauthUserInfo))
	page("POST /oauth2/introspect", http.HandlerFunc(h.oauthIntrospect))
	page("POST /oauth2/revoke", http.HandlerFunc(h.oauthRevoke))
	for _, p := range []string{"/oauth2/token", "/oauth2/userinfo", "/oauth2/revoke"} {
		page("OPTIONS "+p, http.HandlerFunc(oauthPreflight))
		h.csrf.AddInsecureBypassPattern("POST " + h.path(p))
	}

	api("GET /admin/clients", h.admin(h.apiAdminClients))
	api("POST /admin/clients", h.admin(h.apiAdminCreateClient))
	api("GET /admin/clients/{id}", h.admin(h.apiAdminClient))
	api("PATCH /admin/clients/{id}", h.admin(h.apiAdminUpdateClient))
	api("POST /admin/clients/{id}/secret", h.admin(h.apiAdminRotateClientSecret))
	api("DELETE /admin/clients/{id}", h.admin(h.apiAdminDeleteClient))
}

// discoveryMaxAge is how long caches may keep the discovery document. It
// changes only with the configuration.
const discoveryMaxAge = 10 * time.Minute

// openIDConfiguration serves the discovery document (OpenID Connect
// Discovery 1.0 §4, RFC 8414 §3). Its URLs come from the configured public
// URL, never from the request's Host or X-Forwarded-* headers, so a spoofed
// header cannot poison a cache with another issuer. Like the JWKS it is
// public: any origin may read it.
func (h *Handler) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	body, err := json.Marshal(h.auth.ProviderMetadata())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hd := w.Header()
	hd["Content-Type"] = jsonContentType
	hd.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(discoveryMaxAge.Seconds())))
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	w.Write(append(body, '\n'))
}

// oauthToken is the token endpoint (RFC 6749 §3.2): the client
// authenticates, then exchanges a code, a refresh token or its own
// credentials for tokens.
func (h *Handler) oauthToken(w http.ResponseWriter, r *http.Request) {
	allowAnyOrigin(w)
	c, form, scheme, ok := h.oauthClientRequest(w, r)
	if !ok {
		return
	}
	res, err := h.auth.Exchange(r.Context(), c, gatehouse.TokenRequest{
		GrantType: form.Get("grant_type"), Code: form.Get("code"), RedirectURI: form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"), RefreshToken: form.Get("refresh_token"), Scope: form.Get("scope"),
	})
	if err != nil {
		h.writeOAuthError(w, r, err, scheme)
		return
	}
	w.Header().Set("Pragma", "no-cache") // RFC 6749 §5.1, for HTTP/1.0 caches
	writeJSON(w, http.StatusOK, res)
}

// oauthIntrospect answers RFC 7662 for a confidential client about one of
// its own tokens.
func (h *Handler) oauthIntrospect(w http.ResponseWriter, r *http.Request) {
	c, form, scheme, ok := h.oauthClientRequest(w, r)
	if !ok {
		return
	}
	out, err := h.auth.Introspect(r.Context(), c, form.Get("token"))
	if err != nil {
		h.writeOAuthError(w, r, err, scheme)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// oauthRevoke answers RFC 7009: 200 with an empty body whether or not the
// token was known (§2.2). token_type_hint is ignored, whatever its value:
// the token's form tells which kind it is.
func (h *Handler) oauthRevoke(w http.ResponseWriter, r *http.Request) {
	allowAnyOrigin(w)
	c, form, scheme, ok := h.oauthClientRequest(w, r)
	if !ok {
		return
	}
	if err := h.auth.RevokeToken(r.Context(), c, form.Get("token")); err != nil {
		h.writeOAuthError(w, r, err, scheme)
		return
	}
	w.Header()["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
}

// oauthUserInfo is the userinfo endpoint (OpenID Connect Core §5.3). The
// access token comes from the Authorization header only: never from the
// query (RFC 6750 §2.3, it would land in logs) and, though RFC 6750 §2.2
// allows it, never from a form body. The session cookie is not read at
// all, so a page on another origin cannot use a signed-in browser here.
func (h *Handler) oauthUserInfo(w http.ResponseWriter, r *http.Request) {
	allowAnyOrigin(w)
	tok, ok := bearerToken(r)
	if !ok {
		// No credentials: a bare challenge, no error code (RFC 6750 §3.1).
		hd := w.Header()
		hd.Set("WWW-Authenticate", "Bearer")
		hd["Cache-Control"] = noStore
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	claims, err := h.auth.UserInfo(r.Context(), tok)
	if err != nil {
		h.writeOAuthError(w, r, err, "Bearer")
		return
	}
	writeJSON(w, http.StatusOK, claims)
}

// allowAnyOrigin lets pages of any origin read the response of an
// endpoint that authenticates without cookies. "*" also makes browsers
// refuse it to a request sent with credentials (cookies), so it can never
// expose what a cookie unlocked.
func allowAnyOrigin(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
}

// oauthPreflight answers the CORS preflight of the endpoints allowAnyOrigin
// opens; Authorization is allowed for Bearer tokens and HTTP Basic client
// authentication. Without Access-Control-Request-Method it is a plain
// OPTIONS request.
func oauthPreflight(w http.ResponseWriter, r *http.Request) {
	allowAnyOrigin(w)
	hd := w.Header()
	if r.Header.Get("Access-Control-Request-Method") != "" {
		hd.Set("Access-Control-Allow-Methods", "GET, POST")
		hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		hd.Set("Access-Control-Max-Age", "600")
	}
	if strings.HasSuffix(r.URL.Path, "/userinfo") {
		hd.Set("Allow", "GET, POST, OPTIONS")
	} else {
		hd.Set("Allow", "POST, OPTIONS")
	}
	w.WriteHeader(http.StatusNoContent)
}

// oauthClientRequest reads the form of a token, introspection or
// revocation request and authenticates its client. scheme is "Basic" when
// the client tried HTTP Basic, for the challenge of a 401. When ok is
// false the error was written.
func (h *Handler) oauthClientRequest(w http.ResponseWriter, r *http.Request) (c gatehouse.OAuthClient, form url.Values, scheme string, ok bool) {
	form, err := oauthForm(w, r)
	if err != nil {
		h.writeOAuthError(w, r, err, "")
		return c, nil, "", false
	}
	in, basic, err := clientAuthentication(r, form)
	if basic {
		scheme = "Basic"
	}
	if err == nil {
		c, err = h.auth.AuthenticateClient(r.Context(), in)
	}
	if err != nil {
		h.writeOAuthError(w, r, err, scheme)
		return c, nil, scheme, false
	}
	return c, form, scheme, true
}

func invalidOAuthRequest(description string) *gatehouse.OAuthError {
	return &gatehouse.OAuthError{Code: "invalid_request", Description: description}
}

// oauthForm reads the form body of an OAuth endpoint (RFC 6749 §3.2): an
// application/x-www-form-urlencoded body of at most 64 KiB; parameters in
// the query string are not read. Every parameter may appear once (RFC 6749
// §3.1, §3.2). Values must be UTF-8 without NUL, which no parameter of
// ours can hold and which some databases refuse. Errors are invalid_request.
func oauthForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		return nil, invalidOAuthRequest("Send the parameters as a form body with Content-Type: application/x-www-form-urlencoded.")
	}
	body, err := readBody(w, r)
	if err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.CodeBodyTooLarge {
			return nil, invalidOAuthRequest("The request body is too large (at most 64 KiB).")
		}
		return nil, invalidOAuthRequest("The request body could not be read.")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalidOAuthRequest("The form body is malformed.")
	}
	for k, vs := range form {
		if !usableParam(k) || !usableParam(vs[0]) || len(vs) > 1 && !usableParam(vs[1]) {
			return nil, invalidOAuthRequest("Parameters must be UTF-8 text without NUL characters.")
		}
		if len(vs) > 1 {
			if len(k) > 64 {
				return nil, invalidOAuthRequest("A parameter is repeated.")
			}
			return nil, invalidOAuthRequest("The " + k + " parameter is repeated.")
		}
	}
	return form, nil
}

func usableParam(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// clientAuthentication reads what the request presents to authenticate
// its client (RFC 6749 §2.3): HTTP Basic with the URL-encoded client_id and
// secret (§2.3.1), client_secret in the form, a private_key_jwt assertion
// (RFC 7523 §2.2), or client_id alone for a public client. A client may use
// one method only: two are invalid_request. Which client it is is
// AuthenticateClient's decision; basic reports whether HTTP Basic was tried.
func clientAuthentication(r *http.Request, form url.Values) (in gatehouse.ClientAuthentication, basic bool, err error) {
	var basics []string
	for _, v := range r.Header.Values("Authorization") {
		if scheme, cred, _ := strings.Cut(strings.TrimSpace(v), " "); strings.EqualFold(scheme, "Basic") {
			basics = append(basics, cred)
		}
	}
	basic = len(basics) > 0
	post := form.Get("client_secret") != ""
	assertion := form.Get("client_assertion") != "" || form.Get("client_assertion_type") != ""
	methods := 0
	for _, used := range []bool{basic, post, assertion} {
		if used {
			methods++
		}
	}
	switch {
	case len(basics) > 1:
		return in, basic, invalidOAuthRequest("Send one Authorization header.")
	case methods > 1:
		return in, basic, invalidOAuthRequest("Use one client authentication method, not several.")
	case basic:
		id, secret, ok := parseBasic(basics[0])
		if !ok {
			return in, basic, &gatehouse.OAuthError{Code: "invalid_client", Description: "Client authentication failed."}
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return in, basic, invalidOAuthRequest("The client_id parameter differs from the client of the Authorization header.")
		}
		return gatehouse.ClientAuthentication{ClientID: id, Secret: secret, Method: gatehouse.ClientAuthSecretBasic}, basic, nil
	case post:
		return gatehouse.ClientAuthentication{ClientID: form.Get("client_id"), Secret: form.Get("client_secret"), Method: gatehouse.ClientAuthSecretPost}, false, nil
	case assertion:
		in = gatehouse.ClientAuthentication{ClientID: form.Get("client_id"), Method: gatehouse.ClientAuthPrivateKeyJWT,
			Assertion: form.Get("client_assertion"), AssertionType: form.Get("client_assertion_type")}
		if in.ClientID == "" {
			// RFC 7521 §4.2: client_id may be left out; the assertion's
			// subject names the client. Only a hint: AuthenticateClient
			// verifies the signature and that iss and sub are this client.
			in.ClientID = unverifiedSubject(in.Assertion)
		}
		return in, false, nil
	default:
		return gatehouse.ClientAuthentication{ClientID: form.Get("client_id"), Method: gatehouse.ClientAuthNone}, false, nil
	}
}

// parseBasic decodes HTTP Basic credentials whose user and password are
// the form-urlencoded client_id and secret (RFC 6749 §2.3.1).
func parseBasic(cred string) (id, secret string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	u, p, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = url.QueryUnescape(u); err != nil || id == "" || !usableParam(id) {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(p); err != nil || !usableParam(secret) {
		return "", "", false
	}
	return id, secret, true
}

// unverifiedSubject returns the sub claim of a compact JWT without
// checking anything, or "".
func unverifiedSubject(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || len(parts[1]) > 8<<10 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Subject string `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil || !usableParam(claims.Subject) {
		return ""
	}
	return claims.Subject
}

// oauthErrorJSON is the error shape of the OAuth endpoints (RFC 6749 §5.2).
type oauthErrorJSON struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// writeOAuthError writes err in the shape of RFC 6749 §5.2, the one place
// the OAuth endpoints do. The status is 400, but 401 for invalid_client
// and invalid_token and 403 for insufficient_scope. scheme is the
// authentication scheme the request tried: "Basic" adds its challenge to a
// 401 (§5.2), "Bearer" puts the error in a Bearer challenge (RFC 6750 §3).
// Anything but an *gatehouse.OAuthError is an internal error: logged by
// publicError, answered 500 server_error without its text.
func (h *Handler) writeOAuthError(w http.ResponseWriter, r *http.Request, err error, scheme string) {
	var oe *gatehouse.OAuthError
	if !errors.As(err, &oe) {
		if e := publicError(r.Context(), h.log, err); status(e.Code) < 500 {
			// publicError logs only what it hides; a client error of the
			// JSON API has no OAuth code and is hidden here too.
			h.log.ErrorContext(r.Context(), "request failed", "err", err)
		}
		oe = &gatehouse.OAuthError{Code: "server_error", Description: "The server could not complete the request."}
	}
	body := oauthErrorJSON{Error: oauthText(oe.Code), ErrorDescription: oauthText(oe.Description)}
	st := http.StatusBadRequest
	switch oe.Code {
	case "server_error":
		st = http.StatusInternalServerError
	case "invalid_client", "invalid_token":
		st = http.StatusUnauthorized
	case "insufficient_scope":
		st = http.StatusForbidden
	}
	switch {
	case scheme == "Basic" && st == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
	case scheme == "Bearer" && (st == http.StatusUnauthorized || st == http.StatusForbidden):
		w.Header().Set("WWW-Authenticate", `Bearer error="`+body.Error+`", error_description="`+body.ErrorDescription+`"`)
	}
	writeJSON(w, st, body)
}

// oauthText keeps the characters RFC 6749 §5.2 allows in error and
// error_description (printable ASCII but '"' and '\'), so the text is
// also safe in a quoted-string of WWW-Authenticate: a double quote becomes
// a single one, anything else outside the set a '?'.
func oauthText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r < 0x20 || r > 0x7e || r == '\\':
			return '?'
		}
		return r
	}, s)
}
