package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/catalog"
	"github.com/gatehouse-auth/gatehouse/internal/useragent"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/style.css
var stylesheet []byte

// pageNames are the templates that render a whole page inside the layout.
var pageNames = []string{
	"sign-in", "sign-up", "sign-out", "account", "error", "not-found", "check-email", "forgot-password",
	"resend-verification", "verify-email", "reset-password", "confirm-email-change", "mailbox", "mailbox-message",
	"consent", "logout",
}

// pageData is what every page template receives: the template API that
// overrides rely on, documented field by field in docs/ui.md and versioned
// by PageDataVersion. Add fields freely; renaming or removing one is a new
// version.
type pageData struct {
	// Version is PageDataVersion.
	Version int
	// Page is the template's name ("sign-in").
	Page string
	// Title is the page's translated title (the h1 and <title>).
	Title      string
	Product    string
	LogoURL    string
	Stylesheet string
	// Lang is the language the page is in (for <html lang>); Languages
	// lists every language for the picker, which posts to
	// {Base}/language with ReturnTo.
	Lang      string
	Languages []languageOption
	ReturnTo  string
	Dev       bool
	Base      string
	State     gatehouse.AuthState
	// Notice is a confirmation shown above the content, from a fixed list.
	Notice string
	// Error is shown above the form; FieldErrors next to their field, by
	// field name. Form names the form on a page with several (the account
	// page: profile, email, password, delete) that the errors belong to.
	Error       string
	ErrorCode   gatehouse.Code
	FieldErrors map[string]string
	Form        string
	Email       string
	Name        string
	RedirectTo  string
	MinPassword int
	Sessions    []sessionView
	// CheckFor says which mail the check-email page is about: verify,
	// reset or change.
	CheckFor string
	// LinkValid tells a page opened from an emailed link that the link is
	// still good, so it shows its form.
	LinkValid bool
	// Mail is the development mailbox's content.
	Mail    []mailbox.Entry
	Message mailbox.Entry
	// ErrorDetail is the protocol's own description of an OpenID Connect
	// request's error, in English, for the application's developer; Error
	// holds the translated text for the user.
	ErrorDetail string
	// Consent is the consent page's request; Logout the logout
	// confirmation's; Apps the account page's connected apps.
	Consent *consentView
	Logout  *logoutView
	Apps    []appView

	loc *catalog.Locale
	// formTargets are origins a form on the page may end up at through
	// redirects (an application's redirect URI), for form-action.
	formTargets []string
}

// languageOption is one entry of the language picker.
type languageOption struct {
	Tag, Name string
	Current   bool
}

// sessionView is one row of the account page's session list.
type sessionView struct {
	ID, Device, IP, CreatedAt, LastSeenAt string
	Current                               bool
}

// T returns the text for key in the page's language, placeholders filled
// from name, value pairs: {{.T "account.signed_in" "when" .CreatedAt}}. An
// unknown key is an error, which fails the render (and NewTheme's check).
func (d *pageData) T(key string, args ...any) (string, error) {
	if !d.loc.Has(key) {
		return "", fmt.Errorf("no text %q in the catalogue", key)
	}
	ss := make([]string, len(args))
	for i, a := range args {
		ss[i] = fmt.Sprint(a)
	}
	return d.loc.T(key, ss...), nil
}

func languageOptions(c *catalog.Catalog, current *catalog.Locale) []languageOption {
	var out []languageOption
	for _, l := range c.Locales() {
		out = append(out, languageOption{Tag: l.Tag, Name: l.Name, Current: l == current})
	}
	return out
}

// data starts the data of page for r, in the request's language.
func (h *Handler) data(r *http.Request, page string) *pageData {
	loc := h.locale(r)
	d := &pageData{
		Version: PageDataVersion, Page: page, Product: h.cfg.ProductName, LogoURL: h.theme.logo,
		Stylesheet: h.path(h.theme.cssPath), Lang: loc.Tag, Languages: languageOptions(h.theme.catalog, loc),
		Dev: h.dev, Base: h.base, State: h.auth.State(r.Context()), FieldErrors: map[string]string{},
		MinPassword: h.cfg.PasswordMinLength, loc: loc,
	}
	d.Title = loc.T(page + ".title")
	d.ReturnTo = h.returnTo(r)
	if n := r.URL.Query().Get("notice"); notices[n] {
		d.Notice = loc.T("notice." + n)
	}
	return d
}

// returnTo is where the language picker brings the browser back: this
// page, keeping only the query parameters a page reads and only when they
// are valid — a safe redirect_to (the flow must survive), a known
// check-email topic — and never lang, which would override the choice just
// made. Nothing else from the URL is reflected.
func (h *Handler) returnTo(r *http.Request) string {
	if r.Method != http.MethodGet || r.URL.RawQuery == "" || len(r.URL.RawQuery) > 2048 {
		return r.URL.Path
	}
	in, out := r.URL.Query(), url.Values{}
	if t, ok := h.safeRedirect(in.Get("redirect_to")); ok {
		out.Set("redirect_to", t)
	}
	if f := in.Get("for"); checkEmailTopics[f] {
		out.Set("for", f)
	}
	if in.Get("prompt") == "login" { // the sign-in page that signs in again
		out.Set("prompt", "login")
	}
	if len(out) == 0 {
		return r.URL.Path
	}
	return r.URL.Path + "?" + out.Encode()
}

// notices are the confirmations a redirect can ask a page to show
// (?notice=key, text notice.key). Only these texts can appear: nothing from
// the URL is reflected.
var notices = map[string]bool{
	"email_verified": true, "password_reset": true, "email_changed": true, "signed_out": true,
	"password_changed": true, "profile_saved": true, "account_deleted": true, "sessions_revoked": true,
	"app_revoked": true,
}

// render writes a page with status st. Pages are never cached: they carry
// user data or forms.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, st int, name string, d *pageData) {
	var buf bytes.Buffer
	if err := h.theme.pages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		h.log.ErrorContext(r.Context(), "page render failed", "page", name, "err", err)
		http.Error(w, d.loc.Message("Something went wrong on our side."), http.StatusInternalServerError)
		return
	}
	if d.RedirectTo != "" {
		d.formTargets = append(d.formTargets, h.continuationTarget(r, d.RedirectTo))
	}
	if csp, ok := h.cspWithFormTargets(d.formTargets); ok {
		w.Header().Set("Content-Security-Policy", csp)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", d.Lang)
	w.Header().Set("Cache-Control", "no-store")
	addVary(w, "Accept-Language")
	w.WriteHeader(st)
	w.Write(buf.Bytes())
}

// renderError renders err as an HTML page with its status.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, err error) {
	e := publicError(r.Context(), h.log, err)
	st := status(e.Code)
	setErrorHeaders(w, e, st)
	page := "error"
	if st == http.StatusNotFound {
		page = "not-found"
	}
	d := h.data(r, page)
	d.Error, d.ErrorCode = d.loc.Message(e.Message), e.Code
	h.render(w, r, st, page, d)
}

// formError puts err next to its field (or at the top) and re-renders the
// form with the status the error maps to.
func (h *Handler) formError(w http.ResponseWriter, r *http.Request, name string, d *pageData, err error) {
	e := publicError(r.Context(), h.log, err)
	st := status(e.Code)
	setErrorHeaders(w, e, st)
	d.ErrorCode = e.Code
	if e.Field != "" {
		d.FieldErrors[e.Field] = d.loc.Message(e.Message)
		d.Error = d.loc.T("form.correct_field")
	} else {
		d.Error = d.loc.Message(e.Message)
	}
	h.render(w, r, st, name, d)
}

func isFormPost(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded"
}

// parseForm reads a urlencoded form of at most 64 KiB.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	if !isFormPost(r) {
		return &gatehouse.Error{Code: gatehouse.CodeUnsupportedMediaType, Message: "Submit the form from the page."}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &gatehouse.Error{Code: gatehouse.CodeBodyTooLarge, Message: "The form is too large."}
		}
		return &gatehouse.Error{Code: gatehouse.CodeInvalidRequest, Message: "The form could not be read."}
	}
	return nil
}

// formPage serves the GET of a sign-in or sign-up form; a browser that is
// already signed in is sent on to its destination, unless the sign-in page
// was asked to sign in again (prompt=login: an application asked for a
// fresh sign-in, which then replaces the session).
func (h *Handler) formPage(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		target, _ := h.safeRedirect(r.URL.Query().Get("redirect_to"))
		again := name == "sign-in" && r.URL.Query().Get("prompt") == "login"
		p, ok := gatehouse.PrincipalFrom(r.Context())
		if ok && !again {
			http.Redirect(w, r, h.redirectTarget(target), http.StatusSeeOther)
			return
		}
		d := h.data(r, name)
		d.RedirectTo = target
		switch hint := r.URL.Query().Get("login_hint"); {
		case ok:
			d.Email = p.User.Email
			d.Notice = d.loc.T("sign-in.again")
		case name == "sign-in" && len(hint) <= 254 && strings.Contains(hint, "@"):
			// An application's login_hint (OpenID Connect Core §3.1.2.1)
			// fills in the address; the template escapes it.
			d.Email = hint
		}
		h.render(w, r, http.StatusOK, name, d)
	}
}

// formPost serves the POST of a sign-in or sign-up form: submit turns the
// form into a Result; errors re-render the form next to their field.
func (h *Handler) formPost(name string, submit func(w http.ResponseWriter, r *http.Request, d *pageData) (gatehouse.Result, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d := h.data(r, name)
		if err := parseForm(w, r); err != nil {
			h.formError(w, r, name, d, err)
			return
		}
		d.Email = r.PostForm.Get("email")
		d.RedirectTo, _ = h.safeRedirect(r.Form.Get("redirect_to")) // body first, then the query
		res, err := submit(w, r, d)
		if err != nil {
			h.formError(w, r, name, d, err)
			return
		}
		h.finishPageSignIn(w, r, res, d.RedirectTo)
	}
}

func (h *Handler) submitSignIn(w http.ResponseWriter, r *http.Request, d *pageData) (gatehouse.Result, error) {
	c := h.signInClient(r)
	res, err := h.auth.SignIn(r.Context(), gatehouse.SignInInput{
		Email: d.Email, Password: r.PostForm.Get("password"), Client: c, Replaces: h.presentedSessionID(r),
	})
	h.metrics.signIn(err)
	h.keepDevice(w, r, c, res)
	return res, err
}

func (h *Handler) submitSignUp(w http.ResponseWriter, r *http.Request, d *pageData) (gatehouse.Result, error) {
	d.Name = r.PostForm.Get("name")
	c := h.signInClient(r)
	res, err := h.auth.SignUp(r.Context(), gatehouse.SignUpInput{
		Email: d.Email, Password: r.PostForm.Get("password"), Name: d.Name, Client: c, Replaces: h.presentedSessionID(r),
	})
	h.keepDevice(w, r, c, res)
	return res, err
}

// finishPageSignIn sets the cookie and sends the browser on with a 303.
func (h *Handler) finishPageSignIn(w http.ResponseWriter, r *http.Request, res gatehouse.Result, target string) {
	if res.Status == gatehouse.StatusVerificationRequired {
		http.Redirect(w, r, h.path("/check-email?for=verify"), http.StatusSeeOther)
		return
	}
	if res.Status != gatehouse.StatusSignedIn {
		// Further steps (MFA) have their own pages; until one is
		// installed, nothing else can be completed here.
		h.renderError(w, r, &gatehouse.Error{Code: gatehouse.CodeForbidden, Message: "Another sign-in step is required that this server does not offer."})
		return
	}
	h.setSessionCookie(w, res.Token, res.Session)
	http.Redirect(w, r, h.redirectTarget(target), http.StatusSeeOther)
}

// pageSignOutConfirm asks a signed-in browser to confirm signing out (a
// link can lead here; only the POST signs out). A signed-out one goes to
// sign-in.
func (h *Handler) pageSignOutConfirm(w http.ResponseWriter, r *http.Request) {
	if _, ok := gatehouse.PrincipalFrom(r.Context()); !ok {
		http.Redirect(w, r, h.path("/sign-in"), http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "sign-out", h.data(r, "sign-out"))
}

func (h *Handler) pageSignOut(w http.ResponseWriter, r *http.Request) {
	if p, ok := gatehouse.PrincipalFrom(r.Context()); ok {
		if err := h.auth.SignOut(r.Context(), p); err != nil {
			h.renderError(w, r, err)
			return
		}
	}
	h.clearSessionCookie(w)
	http.Redirect(w, r, h.path("/sign-in?notice=signed_out"), http.StatusSeeOther)
}

func (h *Handler) pageAccount(w http.ResponseWriter, r *http.Request) {
	d := h.data(r, "account")
	if err := h.accountLists(r, d); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "account", d)
}

// accountError re-renders the account page with err next to the fields of
// form (profile, email, password or delete).
func (h *Handler) accountError(w http.ResponseWriter, r *http.Request, form string, err error) {
	d := h.data(r, "account")
	d.Form = form
	if form == "email" {
		d.Email = r.PostForm.Get("email")
	}
	if form == "profile" {
		d.Name = r.PostForm.Get("name")
	}
	if serr := h.accountLists(r, d); serr != nil {
		h.renderError(w, r, serr)
		return
	}
	h.formError(w, r, "account", d, err)
}

// accountLists fills the account page's lists: sessions and connected
// apps.
func (h *Handler) accountLists(r *http.Request, d *pageData) error {
	if err := h.accountSessions(r, d); err != nil {
		return err
	}
	return h.accountApps(r, d)
}

// accountSessions fills the account page's list of sessions.
func (h *Handler) accountSessions(r *http.Request, d *pageData) error {
	p := principal(r)
	ss, err := h.auth.Sessions(r.Context(), p)
	if err != nil {
		return err
	}
	for _, s := range ss {
		v := sessionView{
			ID: s.ID, Device: deviceName(d.loc, s.UserAgent), IP: s.IP,
			CreatedAt: s.CreatedAt.UTC().Format(sessionTime), LastSeenAt: s.LastSeenAt.UTC().Format(sessionTime),
			Current: s.ID == p.Session.ID,
		}
		if v.Current { // this device first
			d.Sessions = append([]sessionView{v}, d.Sessions...)
		} else {
			d.Sessions = append(d.Sessions, v)
		}
	}
	return nil
}

// sessionTime is how the account page writes times: the same in every
// language.
const sessionTime = "2006-01-02 15:04 UTC"

// deviceName names a session's device in the page's language.
func deviceName(loc *catalog.Locale, userAgent string) string {
	browser, platform := useragent.Parse(userAgent)
	if browser == "" {
		browser = loc.T("device.unknown_browser")
	}
	if platform == "" {
		return browser
	}
	return loc.T("device.on", "browser", browser, "platform", platform)
}

// pageUpdateProfile handles the account page's profile form.
func (h *Handler) pageUpdateProfile(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.renderError(w, r, err)
		return
	}
	if _, err := h.auth.UpdateProfile(r.Context(), principal(r), r.PostForm.Get("name")); err != nil {
		h.accountError(w, r, "profile", err)
		return
	}
	http.Redirect(w, r, h.path("/account?notice=profile_saved"), http.StatusSeeOther)
}

// pageChangePassword handles the account page's password form: every
// other session ends, and this browser gets a new session cookie.
func (h *Handler) pageChangePassword(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.renderError(w, r, err)
		return
	}
	res, err := h.auth.ChangePassword(r.Context(), principal(r), r.PostForm.Get("current_password"), r.PostForm.Get("new_password"), h.client(r))
	if err != nil {
		h.accountError(w, r, "password", err)
		return
	}
	h.setSessionCookie(w, res.Token, res.Session)
	http.Redirect(w, r, h.path("/account?notice=password_changed"), http.StatusSeeOther)
}

// pageDeleteAccount handles the account page's delete form: the password
// re-authenticates, then the account and all its sessions go.
func (h *Handler) pageDeleteAccount(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.renderError(w, r, err)
		return
	}
	p := principal(r)
	res, err := h.auth.Reauthenticate(r.Context(), p, r.PostForm.Get("password"), h.client(r))
	if err != nil {
		h.accountError(w, r, "delete", err)
		return
	}
	p.Session = res.Session
	if err := h.auth.DeleteAccount(r.Context(), p); err != nil {
		h.setSessionCookie(w, res.Token, res.Session) // the old session was replaced
		h.accountError(w, r, "delete", err)
		return
	}
	h.clearSessionCookie(w)
	http.Redirect(w, r, h.path("/sign-in?notice=account_deleted"), http.StatusSeeOther)
}

func (h *Handler) pageRevokeSession(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	id := r.PathValue("id")
	if err := h.auth.RevokeSession(r.Context(), p, id); err != nil {
		h.renderError(w, r, err)
		return
	}
	if id == p.Session.ID {
		h.clearSessionCookie(w)
		http.Redirect(w, r, h.path("/sign-in?notice=signed_out"), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, h.path("/account?notice=sessions_revoked#sessions"), http.StatusSeeOther)
}

func (h *Handler) pageRevokeOthers(w http.ResponseWriter, r *http.Request) {
	if _, err := h.auth.RevokeOtherSessions(r.Context(), principal(r)); err != nil {
		h.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, h.path("/account?notice=sessions_revoked#sessions"), http.StatusSeeOther)
}

// stylesheet serves the theme's stylesheet. Its path carries a hash of its
// content, so it can be cached for good.
func (h *Handler) stylesheet(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("file") != strings.TrimPrefix(h.theme.cssPath, "/assets/") {
		h.unrouted(w, r, http.NotFoundHandler())
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(h.theme.css)
}
