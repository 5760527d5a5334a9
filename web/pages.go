package web

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/style.css
var stylesheet []byte

// pageNames are the templates that render a whole page inside the layout.
var pageNames = []string{"sign-in", "sign-up", "account", "error"}

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
	Title       string
	Product     string
	Dev         bool
	Base        string
	State       gatehouse.AuthState
	Error       string
	FieldErrors map[string]string
	Email       string
	Name        string
	RedirectTo  string
	MinPassword int
	Sessions    []sessionView
}

type sessionView struct {
	ID, Device, IP, CreatedAt, LastSeenAt string
	Current                               bool
}

func (h *Handler) data(r *http.Request, title string) *pageData {
	return &pageData{
		Title: title, Product: h.cfg.ProductName, Dev: h.dev, Base: h.base,
		State: h.auth.State(r.Context()), FieldErrors: map[string]string{}, MinPassword: h.cfg.PasswordMinLength,
	}
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
func (h *Handler) formPost(name, title string, submit func(r *http.Request, d *pageData) (gatehouse.Result, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d := h.data(r, title)
		if err := parseForm(w, r); err != nil {
			h.formError(w, r, name, d, err)
			return
		}
		d.Email = r.PostForm.Get("email")
		d.RedirectTo, _ = h.safeRedirect(r.Form.Get("redirect_to")) // body first, then the query
		res, err := submit(r, d)
		if err != nil {
			h.formError(w, r, name, d, err)
			return
		}
		h.finishPageSignIn(w, r, res, d.RedirectTo)
	}
}

func (h *Handler) submitSignIn(r *http.Request, d *pageData) (gatehouse.Result, error) {
	res, err := h.auth.SignIn(r.Context(), gatehouse.SignInInput{
		Email: d.Email, Password: r.PostForm.Get("password"), Client: h.client(r), Replaces: h.presentedSessionID(r),
	})
	h.metrics.signIn(err)
	return res, err
}

func (h *Handler) submitSignUp(r *http.Request, d *pageData) (gatehouse.Result, error) {
	d.Name = r.PostForm.Get("name")
	return h.auth.SignUp(r.Context(), gatehouse.SignUpInput{
		Email: d.Email, Password: r.PostForm.Get("password"), Name: d.Name, Client: h.client(r), Replaces: h.presentedSessionID(r),
	})
}

// finishPageSignIn sets the cookie and sends the browser on with a 303.
func (h *Handler) finishPageSignIn(w http.ResponseWriter, r *http.Request, res gatehouse.Result, target string) {
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
	p := principal(r)
	ss, err := h.auth.Sessions(r.Context(), p)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	d := h.data(r, "Your account")
	for _, s := range ss {
		d.Sessions = append(d.Sessions, sessionView{
			ID: s.ID, Device: describeDevice(s.UserAgent), IP: s.IP,
			CreatedAt: s.CreatedAt.UTC().Format(time.DateTime + " UTC"), LastSeenAt: s.LastSeenAt.UTC().Format(time.DateTime + " UTC"),
			Current: s.ID == p.Session.ID,
		})
	}
	h.render(w, r, http.StatusOK, "account", d)
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

// describeDevice turns a User-Agent into a short, human label.
func describeDevice(ua string) string {
	browser := "Unknown browser"
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return browser + " on " + o.name
		}
	}
	return browser
}
