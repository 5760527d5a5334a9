package web

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"mime"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/useragent"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/style.css
var stylesheet []byte

// pageNames are the templates that render a whole page inside the layout.
var pageNames = []string{
	"sign-in", "sign-up", "account", "error", "check-email", "forgot-password", "resend-verification",
	"verify-email", "reset-password", "confirm-email-change", "mailbox", "mailbox-message",
}

// parsePages parses the embedded templates. They are compiled into the
// binary and covered by tests, so a parse error is a build defect.
func parsePages() map[string]*template.Template {
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		pages[name] = template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

// pageData is what every page template receives.
type pageData struct {
	Title   string
	Product string
	Dev     bool
	Base    string
	State   gatehouse.AuthState
	// Notice is a confirmation shown above the content, from a fixed list.
	Notice string
	Error  string
	// ErrorCode lets a page offer the way out of an error (a resend link
	// for email_not_verified).
	ErrorCode   gatehouse.Code
	FieldErrors map[string]string
	Email       string
	Name        string
	RedirectTo  string
	MinPassword int
	Sessions    []sessionView
	// CheckFor says which mail the check-email page is about.
	CheckFor string
	// LinkValid tells a page opened from an emailed link that the link is
	// still good, so it shows its form.
	LinkValid bool
	// Mail is the development mailbox's content.
	Mail    []mailbox.Entry
	Message mailbox.Entry
}

type sessionView struct {
	ID, Device, IP, CreatedAt, LastSeenAt string
	Current                               bool
}

func (h *Handler) data(r *http.Request, title string) *pageData {
	return &pageData{
		Title: title, Product: h.cfg.ProductName, Dev: h.dev, Base: h.base,
		State: h.auth.State(r.Context()), FieldErrors: map[string]string{}, MinPassword: h.cfg.PasswordMinLength,
		Notice: notices[r.URL.Query().Get("notice")],
	}
}

// notices are the confirmations a redirect can ask a page to show
// (?notice=key). Only these texts can appear: nothing from the URL is
// reflected.
var notices = map[string]string{
	"email_verified": "Your email address is verified.",
	"password_reset": "Your password was changed. Sign in with your new password.",
	"email_changed":  "Your email address was changed.",
}

// render writes a page with status st. Pages are never cached: they carry
// user data or forms.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, st int, name string, d *pageData) {
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		h.log.ErrorContext(r.Context(), "page render failed", "page", name, "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(st)
	w.Write(buf.Bytes())
}

// renderError renders err as an HTML page with its status.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, err error) {
	e := publicError(r.Context(), h.log, err)
	st := status(e.Code)
	setErrorHeaders(w, e, st)
	d := h.data(r, "Something is not right")
	if st == http.StatusNotFound {
		d.Title = "Page not found"
	}
	d.Error = e.Message
	h.render(w, r, st, "error", d)
}

// formError puts err next to its field (or at the top) and re-renders the
// form with the status the error maps to.
func (h *Handler) formError(w http.ResponseWriter, r *http.Request, name string, d *pageData, err error) {
	e := publicError(r.Context(), h.log, err)
	st := status(e.Code)
	setErrorHeaders(w, e, st)
	d.ErrorCode = e.Code
	if e.Field != "" {
		d.FieldErrors[e.Field] = e.Message
		d.Error = "Please correct the highlighted field."
	} else {
		d.Error = e.Message
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
// already signed in is sent on to its destination.
func (h *Handler) formPage(name, title string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		target, _ := h.safeRedirect(r.URL.Query().Get("redirect_to"))
		if _, ok := gatehouse.PrincipalFrom(r.Context()); ok {
			http.Redirect(w, r, h.redirectTarget(target), http.StatusSeeOther)
			return
		}
		d := h.data(r, title)
		d.RedirectTo = target
		h.render(w, r, http.StatusOK, name, d)
	}
}

// formPost serves the POST of a sign-in or sign-up form: submit turns the
// form into a Result; errors re-render the form next to their field.
func (h *Handler) formPost(name, title string, submit func(w http.ResponseWriter, r *http.Request, d *pageData) (gatehouse.Result, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d := h.data(r, title)
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

func (h *Handler) pageSignOut(w http.ResponseWriter, r *http.Request) {
	if p, ok := gatehouse.PrincipalFrom(r.Context()); ok {
		if err := h.auth.SignOut(r.Context(), p); err != nil {
			h.renderError(w, r, err)
			return
		}
	}
	h.clearSessionCookie(w)
	http.Redirect(w, r, h.path("/sign-in"), http.StatusSeeOther)
}

func (h *Handler) pageAccount(w http.ResponseWriter, r *http.Request) {
	d := h.data(r, "Your account")
	if err := h.accountSessions(r, d); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "account", d)
}

// accountSessions fills the account page's list of sessions.
func (h *Handler) accountSessions(r *http.Request, d *pageData) error {
	p := principal(r)
	ss, err := h.auth.Sessions(r.Context(), p)
	if err != nil {
		return err
	}
	for _, s := range ss {
		d.Sessions = append(d.Sessions, sessionView{
			ID: s.ID, Device: useragent.Describe(s.UserAgent), IP: s.IP,
			CreatedAt: s.CreatedAt.UTC().Format(time.DateTime + " UTC"), LastSeenAt: s.LastSeenAt.UTC().Format(time.DateTime + " UTC"),
			Current: s.ID == p.Session.ID,
		})
	}
	return nil
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
		http.Redirect(w, r, h.path("/sign-in"), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, h.path("/account"), http.StatusSeeOther)
}

func (h *Handler) pageRevokeOthers(w http.ResponseWriter, r *http.Request) {
	if _, err := h.auth.RevokeOtherSessions(r.Context(), principal(r)); err != nil {
		h.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, h.path("/account"), http.StatusSeeOther)
}

func (h *Handler) stylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(stylesheet)
}
