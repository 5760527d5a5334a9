package web

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/catalog"
)

// The OpenID Connect provider's pages. The protocol lives in the core
// (ParseAuthorizationRequest, NextAuthorizationStep, Approve,
// ParseLogoutRequest…); these handlers only carry a request between it and
// the browser: to the sign-in page and back, through the consent page, and
// on to the client's redirect URI.
//
// Two rules hold throughout. An error is sent to a redirect URI only once
// the core found the client and the URI valid (Redirectable); before that it
// is shown on a page, so that Gatehouse is never an open redirector. And
// every answer is Cache-Control: no-store: a cached authorization response
// would replay a code.

// oauthPageRoutes registers the OpenID Connect provider's browser routes:
// authorization (sign-in and consent), RP-initiated logout, and the
// account page's connected apps.
func (h *Handler) oauthPageRoutes(page, api func(pattern string, fn http.Handler)) {
	// A relying party on another site may send its authorization or logout
	// request as a form POST (OpenID Connect Core §3.1.2.1, RP-Initiated
	// Logout §2). Such a POST can do nothing the same request as a GET —
	// which any site can make — cannot, so it is let past the cross-origin
	// refusal, and the handlers turn it into that GET (a 303 to the same
	// URL with the request's parameters): the browser sends the SameSite=Lax
	// session cookie with a top-level GET, never with another site's POST.
	// The consent form and the logout confirmation stay same-origin only.
	h.csrf.AddInsecureBypassPattern("POST " + h.path("/oauth2/authorize"))
	h.csrf.AddInsecureBypassPattern("POST " + h.path("/oauth2/logout"))
	sameOrigin := http.NewCrossOriginProtection()
	sameOrigin.AddTrustedOrigin(h.cfg.PublicURL)

	page("GET /oauth2/authorize", h.public(h.oauthAuthorize(sameOrigin)))
	page("POST /oauth2/authorize", h.public(h.oauthAuthorize(sameOrigin)))
	page("POST /oauth2/authorize/consent", h.public(h.oauthConsent))
	page("GET /oauth2/logout", h.public(h.oauthLogout(sameOrigin)))
	page("POST /oauth2/logout", h.public(h.oauthLogout(sameOrigin)))
	page("POST /account/apps/{client_id}/revoke", h.private(h.pageRevokeApp))
}

// consentView is the consent page's request.
type consentView struct {
	// App is the client's name (escaped by the template like any text).
	App string
	// Scopes says what the client asks for, one translated line a scope.
	Scopes []string
	// Params are the request's parameters, for the form's hidden fields.
	Params []hiddenField
}

// logoutView is the RP-initiated logout confirmation's request.
type logoutView struct {
	// App is the client's name, or "" when the request named none.
	App    string
	Params []hiddenField
}

// appView is one row of the account page's connected apps.
type appView struct {
	ClientID, Name string
	// Access says what the app may see, as on the consent page.
	Access    []string
	GrantedAt string
}

// hiddenField is a hidden form field carrying a request parameter.
type hiddenField struct{ Name, Value string }

// hiddenFields lists q's parameters in a stable order.
func hiddenFields(q url.Values) []hiddenField {
	var out []hiddenField
	for _, k := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[k] {
			out = append(out, hiddenField{k, v})
		}
	}
	return out
}

// scopeKeys are the catalogue texts of the scopes with a meaning to users;
// any other scope is shown by its name.
var scopeKeys = map[string]string{
	gatehouse.ScopeOpenID:        "scope.openid",
	gatehouse.ScopeProfile:       "scope.profile",
	gatehouse.ScopeEmail:         "scope.email",
	gatehouse.ScopeOfflineAccess: "scope.offline_access",
}

// scopeTexts words scopes for the consent and account pages.
func scopeTexts(loc *catalog.Locale, scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if k, ok := scopeKeys[s]; ok {
			out = append(out, loc.T(k))
		} else {
			out = append(out, loc.T("scope.other", "scope", s))
		}
	}
	return out
}

// oauthPrincipal is the browser's signed-in principal, or nil. A principal
// authenticated by an access token is not a session: it cannot authorize
// an application, any more than it can mint a token.
func oauthPrincipal(r *http.Request) *gatehouse.Principal {
	p, ok := gatehouse.PrincipalFrom(r.Context())
	if !ok || p.Bearer {
		return nil
	}
	return &p
}

// seeOther sends the browser on with a 303 that no cache may keep.
func seeOther(w http.ResponseWriter, r *http.Request, target string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// oauthRequestValues reads a request's parameters: the query of a GET, the
// form body (at most 64 KiB) of a POST.
func oauthRequestValues(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return r.URL.Query(), nil
	}
	if err := parseForm(w, r); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

// oauthAuthorize serves the authorization endpoint (RFC 6749 §3.1, OpenID
// Connect Core §3.1.2): it validates the request, then sends the browser to
// sign in, shows the consent page, or issues the code, as the core decides.
func (h *Handler) oauthAuthorize(sameOrigin *http.CrossOriginProtection) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		q, err := oauthRequestValues(w, r)
		if err != nil {
			h.renderError(w, r, err)
			return
		}
		ctx := r.Context()
		req, err := h.auth.ParseAuthorizationRequest(ctx, q)
		if err != nil {
			h.authorizationFailed(w, r, req, err)
			return
		}
		if r.Method == http.MethodPost && sameOrigin.Check(r) != nil {
			seeOther(w, r, h.path("/oauth2/authorize")+"?"+req.Params.Encode())
			return
		}
		p := oauthPrincipal(r)
		step, err := h.auth.NextAuthorizationStep(ctx, req, p)
		switch {
		case err != nil:
			h.authorizationFailed(w, r, req, err)
		case step == gatehouse.StepSignIn:
			h.authorizeSignIn(w, r, req, p != nil)
		case step == gatehouse.StepConsent:
			h.renderConsent(w, r, req)
		default:
			h.approve(w, r, req, *p, false)
		}
	}
}

// oauthConsent handles the consent form. The hidden fields are only a
// request like any other: they are validated again, and the browser must
// still be signed in (recently enough) for Allow to issue a code. Deny
// needs no session: it only sends the client an error any request could
// provoke.
func (h *Handler) oauthConsent(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := parseForm(w, r); err != nil {
		h.renderError(w, r, err)
		return
	}
	ctx := r.Context()
	req, err := h.auth.ParseAuthorizationRequest(ctx, r.PostForm)
	if err != nil {
		h.authorizationFailed(w, r, req, err)
		return
	}
	switch r.PostForm.Get("decision") {
	case "deny":
		seeOther(w, r, h.auth.Deny(req))
		return
	case "allow":
	default:
		h.renderError(w, r, errNoDecision)
		return
	}
	p := oauthPrincipal(r)
	step, err := h.auth.NextAuthorizationStep(ctx, req, p)
	switch {
	case err != nil:
		h.authorizationFailed(w, r, req, err)
	case step == gatehouse.StepSignIn:
		h.authorizeSignIn(w, r, req, p != nil)
	default:
		h.approve(w, r, req, *p, true)
	}
}

var errNoDecision = &gatehouse.Error{Code: gatehouse.CodeInvalidRequest, Message: "Choose Allow or Deny."}

// authorizationFailed answers a request the core refused: on a page while
// the client or its redirect URI is not known good (RFC 6749 §4.1.2.1),
// otherwise at the redirect URI with error, state and iss.
func (h *Handler) authorizationFailed(w http.ResponseWriter, r *http.Request, req gatehouse.AuthorizationRequest, err error) {
	var oe *gatehouse.OAuthError
	isOAuth := errors.As(err, &oe)
	switch {
	case !req.Redirectable() && isOAuth:
		h.renderOAuthError(w, r, "oauth.authorize_invalid", oe)
	case !req.Redirectable():
		h.renderError(w, r, err)
	default:
		if !isOAuth {
			h.log.ErrorContext(r.Context(), "authorization failed", "client_id", req.Client.ID, "err", err)
		}
		seeOther(w, r, h.auth.AuthorizationErrorURL(req, err))
	}
}

// renderOAuthError shows a protocol error on the error page (400): the
// translated text of key for the user, the core's description for the
// application's developer.
func (h *Handler) renderOAuthError(w http.ResponseWriter, r *http.Request, key string, oe *gatehouse.OAuthError) {
	d := h.data(r, "error")
	d.Error, d.ErrorCode, d.ErrorDetail = d.loc.T(key), gatehouse.CodeInvalidRequest, oe.Description
	h.render(w, r, http.StatusBadRequest, "error", d)
}

// authorizeSignIn sends the browser to the sign-in page, which brings it
// back to the request — rewritten by SignInContinuation so that the fresh
// sign-in satisfies prompt=login and max_age instead of asking again. A
// browser that is signed in already (prompt=login, max_age) gets the form
// all the same (prompt=login on the sign-in page).
func (h *Handler) authorizeSignIn(w http.ResponseWriter, r *http.Request, req gatehouse.AuthorizationRequest, again bool) {
	target := h.path("/oauth2/authorize") + "?" + h.auth.SignInContinuation(req).Encode()
	if _, ok := h.safeRedirect(target); !ok {
		// Too long for the sign-in page to carry (a huge state or
		// login_hint): say so to the client rather than lose the request.
		seeOther(w, r, h.auth.AuthorizationErrorURL(req, &gatehouse.OAuthError{
			Code: "invalid_request", Description: "The request is too long to carry through the sign-in page.",
		}))
		return
	}
	q := url.Values{"redirect_to": {target}}
	if again {
		q.Set("prompt", "login")
	}
	if req.LoginHint != "" {
		q.Set("login_hint", req.LoginHint)
	}
	seeOther(w, r, h.path("/sign-in")+"?"+q.Encode())
}

// renderConsent asks the signed-in user whether to allow the client.
func (h *Handler) renderConsent(w http.ResponseWriter, r *http.Request, req gatehouse.AuthorizationRequest) {
	d := h.data(r, "consent")
	d.Consent = &consentView{App: req.Client.Name, Scopes: scopeTexts(d.loc, req.Scopes), Params: hiddenFields(req.Params)}
	d.ReturnTo = h.requestReturnTo("/oauth2/authorize", req.Params, d.ReturnTo)
	d.formTargets = []string{req.RedirectURI}
	h.render(w, r, http.StatusOK, "consent", d)
}

// requestReturnTo is where the language picker returns on a page that
// shows a request: the request again, when it is short enough to carry.
func (h *Handler) requestReturnTo(path string, params url.Values, fallback string) string {
	if t, ok := h.safeRedirect(h.path(path) + "?" + params.Encode()); ok {
		return t
	}
	return fallback
}

// approve issues the code and sends the browser to the client.
func (h *Handler) approve(w http.ResponseWriter, r *http.Request, req gatehouse.AuthorizationRequest, p gatehouse.Principal, remember bool) {
	u, err := h.auth.Approve(r.Context(), req, p, remember)
	if err != nil {
		h.authorizationFailed(w, r, req, err)
		return
	}
	seeOther(w, r, u)
}

// oauthLogout serves RP-initiated logout (OpenID Connect RP-Initiated
// Logout 1.0): a request with an id_token_hint of the browser's session signs
// out at once; any other asks first, with a form that posts the request
// back with confirm=1. An invalid request is shown on a page, never
// redirected.
func (h *Handler) oauthLogout(sameOrigin *http.CrossOriginProtection) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		q, err := oauthRequestValues(w, r)
		if err != nil {
			h.renderError(w, r, err)
			return
		}
		ctx := r.Context()
		p := oauthPrincipal(r)
		req, err := h.auth.ParseLogoutRequest(ctx, q, p)
		var oe *gatehouse.OAuthError
		switch {
		case errors.As(err, &oe):
			h.renderOAuthError(w, r, "oauth.logout_invalid", oe)
			return
		case err != nil:
			h.renderError(w, r, err)
			return
		}
		post := r.Method == http.MethodPost
		if post && sameOrigin.Check(r) != nil {
			// Another site's page: as a GET, without its confirm=1,
			// which only our own confirmation form may send.
			seeOther(w, r, h.path("/oauth2/logout")+"?"+req.Params.Encode())
			return
		}
		after := req.RedirectURI
		if after == "" {
			after = h.path("/sign-in?notice=signed_out")
		}
		switch {
		case p == nil:
			seeOther(w, r, after)
		case req.Confirmed || post && q.Get("confirm") == "1":
			if err := h.auth.SignOut(ctx, *p); err != nil {
				h.renderError(w, r, err)
				return
			}
			h.clearSessionCookie(w)
			seeOther(w, r, after)
		default:
			d := h.data(r, "logout")
			d.Logout = &logoutView{Params: hiddenFields(req.Params)}
			if req.Client != nil {
				d.Logout.App = req.Client.Name
			}
			d.ReturnTo = h.requestReturnTo("/oauth2/logout", req.Params, d.ReturnTo)
			d.formTargets = []string{req.RedirectURI}
			h.render(w, r, http.StatusOK, "logout", d)
		}
	}
}

// accountApps fills the account page's connected apps.
func (h *Handler) accountApps(r *http.Request, d *pageData) error {
	apps, err := h.auth.ConnectedApps(r.Context(), principal(r))
	if err != nil {
		return err
	}
	for _, a := range apps {
		d.Apps = append(d.Apps, appView{
			ClientID: a.ClientID, Name: a.Name, Access: scopeTexts(d.loc, a.Scopes),
			GrantedAt: a.GrantedAt.UTC().Format(sessionTime),
		})
	}
	return nil
}

// pageRevokeApp handles the account page's Remove access button: the
// consent goes, and with it every token the app holds for the user.
func (h *Handler) pageRevokeApp(w http.ResponseWriter, r *http.Request) {
	if err := h.auth.RevokeConnectedApp(r.Context(), principal(r), r.PathValue("client_id")); err != nil {
		h.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, h.path("/account?notice=app_revoked#apps"), http.StatusSeeOther)
}

// continuationTarget is the application's redirect URI when target (a
// page's redirect_to) continues an authorization request, else "". Signing
// in there ends, through redirects, at the application.
func (h *Handler) continuationTarget(r *http.Request, target string) string {
	u, err := url.Parse(target)
	if err != nil || u.Path != h.path("/oauth2/authorize") || u.Host != "" {
		return ""
	}
	req, _ := h.auth.ParseAuthorizationRequest(r.Context(), u.Query())
	return req.RedirectURI
}

// cspWithFormTargets returns the page's Content-Security-Policy with the
// origins of targets added to form-action, and whether there were any.
// Browsers apply form-action to every redirect that follows a form's
// submission (CSP Level 3 §6.3.1), so a consent, a logout confirmation or a
// sign-in that ends at an application needs the application's origin
// there; other origins stay refused.
func (h *Handler) cspWithFormTargets(targets []string) (string, bool) {
	var sources []string
	for _, t := range targets {
		if src := cspSource(t); src != "" && !slices.Contains(sources, src) {
			sources = append(sources, src)
		}
	}
	if len(sources) == 0 {
		return "", false
	}
	return strings.Replace(h.csp, "form-action ", "form-action "+strings.Join(sources, " ")+" ", 1), true
}

// cspSource is a CSP source expression for a URI: scheme://host[:port] for
// http(s), "scheme:" for a native app's private-use scheme; "" for anything
// that is not plainly one of those (nothing may break out of the header).
func cspSource(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return ""
	}
	src := u.Scheme + ":"
	if u.Scheme == "http" || u.Scheme == "https" {
		src = u.Scheme + "://" + u.Host
	}
	for _, c := range src {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-+:/[]", c)) {
			return ""
		}
	}
	return src
}
