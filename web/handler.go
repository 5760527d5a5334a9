// Package web is the net/http edge of Gatehouse: the JSON API and hosted
// pages under the base path, the Require / RequirePermission middleware that
// protect an application's routes, cookie handling, cross-origin refusal,
// security headers, client-IP resolution and the one error writer.
//
// It holds no business logic: handlers decode, call the core (package
// gatehouse) and encode. It never imports a store or a plugin.
package web

import (
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
	"github.com/prometheus/client_golang/prometheus"
)

// Handler serves the JSON API and the hosted pages under the base path and
// provides the middleware that protects an application's own routes. Create
// it with New; it is safe for concurrent use.
type Handler struct {
	auth   *gatehouse.Auth
	cfg    gatehouse.Config
	log    *slog.Logger
	base   string
	dev    bool
	cookie string
	// deviceCookie remembers a device across sessions (new-sign-in
	// notices); linkCookie carries an emailed link's token from the URL
	// to the page's form.
	deviceCookie string
	linkCookie   string
	// langCookie keeps the language picked on a page.
	langCookie string
	mailbox    *mailbox.Mailbox
	// publicHost is the public URL's host[:port], the only Host the
	// development mailbox answers.
	publicHost string
	mux        *http.ServeMux
	csrf       *http.CrossOriginProtection
	trusted    []netip.Prefix
	cors       map[string]bool
	allowlist  map[string]bool
	theme      *Theme
	csp        string
	security   []headerField // set on every response, see securityHeaders
	metrics    *metrics
}

// Option configures a Handler.
type Option func(*Handler)

// WithMetrics registers the handler's Prometheus metrics (requests by route
// and status, latency, the password-hashing pool) on reg. Without it no
// metrics are collected.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(h *Handler) { h.metrics = newMetrics(reg, h.auth) }
}

// WithDevMailbox serves the development mailbox — every message mb
// received, with its links — at {base}/dev/mailbox. It takes effect only in
// development mode; in production the page does not exist.
func WithDevMailbox(mb *mailbox.Mailbox) Option {
	return func(h *Handler) {
		if h.dev {
			h.mailbox = mb
		}
	}
}

// New returns the HTTP edge for auth. Mount it at the base path:
//
//	mux.Handle("/auth/", h)
func New(auth *gatehouse.Auth, opts ...Option) *Handler {
	cfg := auth.Config()
	h := &Handler{
		auth:      auth,
		cfg:       cfg,
		log:       auth.Logger(),
		base:      cfg.BasePath,
		dev:       cfg.Development(),
		mux:       http.NewServeMux(),
		csrf:      http.NewCrossOriginProtection(),
		cors:      map[string]bool{},
		allowlist: map[string]bool{},
	}
	h.cookie, h.deviceCookie, h.linkCookie, h.langCookie = "__Host-gatehouse_session", "__Host-gatehouse_device", "__Secure-gatehouse_link", "__Host-gatehouse_lang"
	if h.dev {
		h.cookie, h.deviceCookie, h.linkCookie, h.langCookie = "gatehouse_session", "gatehouse_device", "gatehouse_link", "gatehouse_lang"
	}
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		h.publicHost = u.Host
	}
	for _, p := range cfg.TrustedProxies {
		if pr, err := netip.ParsePrefix(p); err == nil {
			h.trusted = append(h.trusted, pr.Masked())
		} else if a, err := netip.ParseAddr(p); err == nil {
			h.trusted = append(h.trusted, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	// Our own public origin counts as same-origin even when a proxy rewrote
	// Host; CORS origins may make credentialed state changes by design.
	h.csrf.AddTrustedOrigin(cfg.PublicURL)
	for _, o := range cfg.CORSAllowedOrigins {
		h.cors[o] = true
		h.csrf.AddTrustedOrigin(o)
	}
	formAction := []string{"'self'"}
	for _, o := range cfg.RedirectAllowlist {
		h.allowlist[o] = true
		formAction = append(formAction, o)
	}
	h.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.refuse(w, r, errCrossOrigin)
	}))
	for _, o := range opts {
		o(h)
	}
	if h.theme == nil {
		h.theme = builtinTheme()
	}
	imgSrc := "'self' data:"
	if h.theme.logoSrc != "" {
		imgSrc += " " + h.theme.logoSrc
	}
	h.csp = "default-src 'none'; style-src 'self'; img-src " + imgSrc + "; form-action " + strings.Join(formAction, " ") +
		"; frame-ancestors 'none'; base-uri 'none'"
	h.security = []headerField{
		{"Content-Security-Policy", []string{h.csp}},
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"Referrer-Policy", []string{"no-referrer"}},
		{"X-Frame-Options", []string{"DENY"}},
		{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
		{"Cross-Origin-Resource-Policy", []string{"same-origin"}},
	}
	if !h.dev {
		h.security = append(h.security, headerField{"Strict-Transport-Security", []string{"max-age=63072000; includeSubDomains"}})
	}
	h.routes()
	return h
}

// ServeHTTP serves the API and pages under the base path, with security
// headers and a request id on every response.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = h.begin(w, r)
	h.securityHeaders(w)
	if h.corsPreflight(w, r) {
		return
	}
	// Every state change under the base path, sign-in and sign-up included
	// (login CSRF), must come from this origin or an allowed CORS origin.
	if !isSafeMethod(r.Method) {
		if err := h.csrf.Check(r); err != nil {
			h.refuse(w, r, errCrossOrigin)
			return
		}
	}
	// Handler only finds the route; ServeHTTP below routes again so that
	// path values are set on the request.
	handler, pattern := h.mux.Handler(r)
	if pattern == "" {
		h.unrouted(w, r, handler)
		return
	}
	if h.metrics != nil {
		h.metrics.serve(w, r, pattern, h.mux)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// corsPreflight adds CORS headers for allowed origins on the JSON API and
// answers preflight requests. It reports whether the request is done.
func (h *Handler) corsPreflight(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, h.base+"/api/") || h.isTokenRoute(r) {
		return false
	}
	origin := r.Header.Get("Origin")
	if hd := w.Header(); hd["Vary"] == nil {
		hd["Vary"] = varyOrigin
	} else {
		addVary(w, "Origin")
	}
	if origin == "" || !h.cors[origin] {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// unrouted answers a path or method we do not serve with the JSON error shape
// under the API and an HTML page elsewhere.
func (h *Handler) unrouted(w http.ResponseWriter, r *http.Request, mux http.Handler) {
	probe := &statusProbe{header: http.Header{}}
	mux.ServeHTTP(probe, r)
	if loc := probe.header.Get("Location"); loc != "" && probe.status >= 300 && probe.status < 400 {
		// ServeMux's own redirect to a cleaned path; the target is a path on
		// this host.
		http.Redirect(w, r, loc, probe.status)
		return
	}
	code, msg := gatehouse.CodeNotFound, "There is nothing here."
	if probe.status == http.StatusMethodNotAllowed {
		code, msg = gatehouse.CodeMethodNotAllowed, "This method is not allowed here."
		w.Header().Set("Allow", probe.header.Get("Allow"))
	}
	e := &gatehouse.Error{Code: code, Message: msg}
	if strings.HasPrefix(r.URL.Path, h.base+"/api/") || !wantsHTML(r) {
		h.writeError(w, r, e)
		return
	}
	h.renderError(w, r, e)
}

// statusProbe captures what ServeMux's not-found / method-not-allowed handler
// would write, so we can answer in our own shape.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }
func (p *statusProbe) WriteHeader(st int) {
	if p.status == 0 {
		p.status = st
	}
}
func (p *statusProbe) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}

// securityHeaders sets the headers every Gatehouse response carries.
func (h *Handler) securityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	for _, f := range h.security {
		hd[f.name] = f.value
	}
}

// headerField is a response header field whose value slice is shared by
// every response, so setting it costs no allocation. That is safe because
// nothing writes into a header's value slice in place: Set and Del replace
// it, and Add appends to a slice with no spare capacity, which copies it.
type headerField struct {
	name  string // in canonical form
	value []string
}

// Shared header values (see headerField).
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
	varyOrigin      = []string{"Origin"}
)

// path returns the absolute path of a route under the base path.
func (h *Handler) path(p string) string { return h.base + p }

// wantsHTML reports whether r is a browser navigation: GET or HEAD with
// Accept including text/html, or Sec-Fetch-Mode: navigate.
func wantsHTML(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return r.Header.Get("Sec-Fetch-Mode") == "navigate" || strings.Contains(r.Header.Get("Accept"), "text/html")
}

// isSafeMethod reports whether the method cannot change state (RFC 9110 §9.2.1).
func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
