package web

import (
	"crypto/rand"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var errCrossOrigin = &gatehouse.Error{Code: gatehouse.CodeCrossOrigin, Message: "Cross-origin requests cannot change anything here."}

// authenticate resolves the request's session cookie. It returns ok=false
// with a nil error when there is no valid session, and an error only when
// the check itself failed (storage down): callers must then refuse, never
// treat the request as signed in or as anonymous-and-fine.
func (h *Handler) authenticate(r *http.Request) (gatehouse.Principal, bool, error) {
	if tok, ok := bearerToken(r); ok {
		// A Bearer token is authoritative: an invalid one is refused, not
		// ignored in favour of a cookie. It cannot be sent by another
		// site's page, so it needs no cross-origin check.
		p, err := h.auth.AuthenticateBearer(r.Context(), tok)
		if err != nil {
			return gatehouse.Principal{}, false, err
		}
		return p, true, nil
	}
	tok, ok := cookieValue(r.Header, h.cookie)
	if !ok || tok == "" {
		return gatehouse.Principal{}, false, nil
	}
	p, err := h.auth.Authenticate(r.Context(), tok)
	if err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.CodeUnauthenticated {
			return gatehouse.Principal{}, false, nil
		}
		return gatehouse.Principal{}, false, err
	}
	if !isSafeMethod(r.Method) && h.csrf.Check(r) != nil {
		p.CrossOrigin = true
	}
	return p, true, nil
}

// bearerToken returns the token of an Authorization: Bearer header (RFC 6750
// §2.1; the scheme is case-insensitive). Other schemes (Basic from a proxy
// in front) are not ours and are ignored. A malformed Bearer value is
// returned as is, for the verifier to refuse, and so are several Bearer
// headers. Tokens are never read from the query string or a form.
func bearerToken(r *http.Request) (string, bool) {
	found, token := 0, ""
	for _, v := range r.Header.Values("Authorization") {
		if len(v) < 6 || !strings.EqualFold(v[:6], "bearer") || (len(v) > 6 && v[6] != ' ') {
			continue
		}
		found++
		token = strings.TrimSpace(v[6:])
	}
	if found > 1 {
		return "", true // two Bearer credentials: refused, whichever is good
	}
	return token, found == 1
}

// cookieValue returns the value of the first cookie called name in the
// Cookie fields of h, exactly as http.Request.Cookie reports it (names
// compared exactly, spaces around a pair and one pair of double quotes
// around a value removed, a cookie whose value holds a byte net/http
// refuses skipped, nothing when the fields hold more than net/http's
// default 3000 cookies), without allocating: it runs on every request.
// name must be a valid cookie name (an RFC 9110 token). Unlike net/http it
// ignores GODEBUG=httpcookiemaxnum.
func cookieValue(h http.Header, name string) (string, bool) {
	if name == "" {
		return "", false
	}
	lines := h["Cookie"]
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > maxCookies {
		return "", false
	}
	for _, line := range lines {
		for line != "" {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			k, v, _ := strings.Cut(textproto.TrimString(pair), "=")
			if textproto.TrimString(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v, true
			}
		}
	}
	return "", false
}

// maxCookies is net/http's default limit on the cookies of a request
// (GODEBUG httpcookiemaxnum); beyond it, it reads none.
const maxCookies = 3000

// validCookieValue reports whether net/http accepts v (unquoted) as a
// cookie value.
func validCookieValue(v string) bool {
	for _, b := range []byte(v) {
		if b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// privateHeaders marks a response as depending on the credentials (Vary:
// Cookie, Authorization) and holding user data (Cache-Control: private,
// no-store, replacing any other Cache-Control).
func privateHeaders(w http.ResponseWriter) {
	hd := w.Header()
	if v := hd["Vary"]; len(v) == 1 && &v[0] == &varyOrigin[0] {
		// The JSON API's usual case: Vary: Origin from the CORS check.
		hd["Vary"], hd["Cache-Control"] = varyOriginCredentials, privateNoStore
		return
	}
	if _, ok := hd["Vary"]; !ok {
		// The usual case, on every protected request: one allocation for
		// both fields. The capacities are exact, so appending to either
		// field copies instead of overwriting the other.
		v := []string{"Cookie", "Authorization", "private, no-store"}
		hd["Vary"], hd["Cache-Control"] = v[0:2:2], v[2:3:3]
		return
	}
	addVary(w, "Cookie")
	addVary(w, "Authorization")
	hd.Set("Cache-Control", "private, no-store")
}

// Shared header values of privateHeaders (see headerField).
var (
	varyOriginCredentials = []string{"Origin", "Cookie", "Authorization"}
	privateNoStore        = []string{"private, no-store"}
)

// withPrincipal returns r carrying p: recorded in r's own request context
// when r has one (no allocation; see gatehouse.RecordPrincipal), otherwise
// in a new context.
func withPrincipal(r *http.Request, p gatehouse.Principal) *http.Request {
	if gatehouse.RecordPrincipal(r.Context(), p) {
		return r
	}
	return r.WithContext(gatehouse.WithPrincipal(r.Context(), p))
}

// Load puts the signed-in principal, if any, in the request context and calls
// next either way: for public pages that render differently when signed in
// (gatehouse.UserFrom, Handler.State). A storage failure answers 503/500.
func (h *Handler) Load(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = h.begin(w, r)
		addVary(w, "Cookie")
		addVary(w, "Authorization")
		p, ok, err := h.authenticate(r)
		if err != nil {
			h.refuse(w, r, err)
			return
		}
		if ok {
			w.Header().Set("Cache-Control", "private, no-store")
			r = withPrincipal(r, p)
		} else {
			// A request served again with this context (a retry) must
			// not keep what an earlier pass recorded.
			gatehouse.ForgetPrincipal(r.Context())
		}
		next.ServeHTTP(w, r)
	})
}

// Require protects a whole subtree: only signed-in requests reach next. A
// browser navigation (GET/HEAD wanting HTML, or Sec-Fetch-Mode: navigate)
// without a session is redirected (303) to the sign-in page with
// redirect_to set to the requested path; anything else gets 401 JSON with
// WWW-Authenticate. A state-changing request from another origin carrying the
// cookie is refused with 403 (CSRF). Responses get Vary: Cookie and
// Cache-Control: private, no-store.
func (h *Handler) Require(next http.Handler) http.Handler {
	return h.guard("", next)
}

// RequirePermission is Require plus an authorization check: a signed-in user
// without permission gets 403 forbidden. Use it on "server functions"; it
// is the security boundary whatever the UI shows.
func (h *Handler) RequirePermission(permission string, next http.Handler) http.Handler {
	return h.guard(permission, next)
}

func (h *Handler) guard(permission string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = h.begin(w, r)
		privateHeaders(w)
		p, ok, err := h.authenticate(r)
		switch {
		case err != nil:
			h.refuse(w, r, err)
			return
		case !ok && wantsHTML(r):
			http.Redirect(w, r, h.signInURL(r.URL.RequestURI()), http.StatusSeeOther)
			return
		case !ok:
			h.refuse(w, r, &gatehouse.Error{Code: gatehouse.CodeUnauthenticated, Message: "Sign in to continue."})
			return
		case p.CrossOrigin:
			h.refuse(w, r, errCrossOrigin)
			return
		case permission != "" && !p.Can(permission):
			h.refuse(w, r, &gatehouse.Error{Code: gatehouse.CodeForbidden, Message: "You do not have permission to do this."})
			return
		}
		next.ServeHTTP(w, withPrincipal(r, p))
	})
}

// refuse answers an error from middleware or the cross-origin check: HTML
// for a browser navigation, JSON otherwise.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	api := strings.HasPrefix(r.URL.Path, h.base+"/api/")
	if !api && (wantsHTML(r) || (r.Method == http.MethodPost && isFormPost(r))) {
		h.renderError(w, r, err)
		return
	}
	h.writeError(w, r, err)
}

// signInURL is the sign-in page with a redirect_to back to target when
// target is safe.
func (h *Handler) signInURL(target string) string {
	u := h.path("/sign-in")
	if t, ok := h.safeRedirect(target); ok {
		u += "?redirect_to=" + url.QueryEscape(t)
	}
	return u
}

// State returns the AuthState of r for templates; r must have passed through
// Load, Require or RequirePermission.
func (h *Handler) State(r *http.Request) gatehouse.AuthState {
	return h.auth.State(r.Context())
}

// setSessionCookie hands the browser its session token. The cookie is
// HttpOnly, SameSite=Lax, Path=/, Secure and __Host- prefixed in production;
// it lives as long as the session's absolute lifetime, while the server
// enforces the idle timeout.
func (h *Handler) setSessionCookie(w http.ResponseWriter, token string, s gatehouse.Session) {
	http.SetCookie(w, &http.Cookie{
		Name:     h.cookie,
		Value:    token,
		Path:     "/",
		MaxAge:   max(int(s.AbsoluteExpiresAt.Sub(h.auth.Now())/time.Second), 1),
		HttpOnly: true,
		Secure:   !h.dev,
		SameSite: http.SameSiteLaxMode,
	})
	addVary(w, "Cookie")
	w.Header().Set("Cache-Control", "no-store")
}

// clearSessionCookie removes the session cookie from the browser.
func (h *Handler) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: h.cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: !h.dev, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
}

// presentedSessionID returns the id of the valid session the request
// carries, if any, so a new sign-in replaces it.
func (h *Handler) presentedSessionID(r *http.Request) string {
	if p, ok := gatehouse.PrincipalFrom(r.Context()); ok {
		return p.Session.ID
	}
	return ""
}

// client describes the device behind r.
func (h *Handler) client(r *http.Request) gatehouse.Client {
	c := gatehouse.Client{IP: ClientIP(r, h.trusted), UserAgent: r.UserAgent(), Languages: h.languages(r)}
	if v, ok := cookieValue(r.Header, h.deviceCookie); ok && validToken(v) {
		c.Device = v
	}
	return c
}

// signInClient is client for a request that may create a session: a
// device without a device cookie gets a new id, which keepDevice stores in
// the browser once a session was issued, so the next sign-in from it is
// recognized (no "new sign-in" notice).
func (h *Handler) signInClient(r *http.Request) gatehouse.Client {
	c := h.client(r)
	if c.Device == "" {
		c.Device = rand.Text() + rand.Text()
	}
	return c
}

// keepDevice sets the device cookie after a sign-in that issued a session,
// unless the request already carried it.
func (h *Handler) keepDevice(w http.ResponseWriter, r *http.Request, c gatehouse.Client, res gatehouse.Result) {
	if res.Status != gatehouse.StatusSignedIn || h.client(r).Device == c.Device {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: h.deviceCookie, Value: c.Device, Path: "/", MaxAge: deviceCookieAge,
		HttpOnly: true, Secure: !h.dev, SameSite: http.SameSiteLaxMode,
	})
}

// deviceCookieAge is the device cookie's lifetime: 400 days, the most
// browsers keep a cookie.
const deviceCookieAge = 400 * 24 * 60 * 60

// validToken reports whether s looks like a value we issue for a cookie
// (device ids: 52 base32 characters) or a one-time token (43 base64url
// characters), so junk never reaches a lookup.
func validToken(s string) bool {
	if len(s) != 52 && len(s) != 43 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// addVary adds a field to Vary unless it is already there.
func addVary(w http.ResponseWriter, field string) {
	for _, v := range w.Header().Values("Vary") {
		for v != "" {
			var f string
			f, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(f), field) {
				return
			}
		}
	}
	w.Header().Add("Vary", field)
}
