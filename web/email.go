package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// The email flows at the edge: verification, password reset and email
// change, as JSON endpoints and as pages.
//
// A page opened from an emailed link never uses the link on GET (mail
// scanners fetch links): the GET moves the token from the URL into a
// short-lived cookie scoped to that page and redirects to the bare page, so
// the token leaves the address bar, the history and any Referer; the page's
// form POST, same-origin only, uses it.

// accepted is the body of every "we will send a mail if there is anyone to
// send it to" answer: the same whether or not an account exists.
type accepted struct {
	Status string `json:"status"`
}

func (h *Handler) apiSendVerification(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.auth.ResendVerification(r.Context(), in.Email, h.client(r)); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, accepted{"accepted"})
}

func (h *Handler) apiVerifyEmail(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	u, err := h.auth.VerifyEmail(r.Context(), in.Token)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userBody{toUserJSON(u)})
}

func (h *Handler) apiForgotPassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.auth.ForgotPassword(r.Context(), in.Email, h.client(r)); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, accepted{"accepted"})
}

func (h *Handler) apiResetPassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	if _, err := h.auth.ResetPassword(r.Context(), in.Token, in.Password, h.client(r)); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, accepted{"password_reset"})
}

func (h *Handler) apiChangeEmail(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.auth.RequestEmailChange(r.Context(), principal(r), in.Email, h.client(r)); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, accepted{"accepted"})
}

func (h *Handler) apiConfirmEmailChange(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	u, err := h.auth.ConfirmEmailChange(r.Context(), in.Token, h.client(r))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userBody{toUserJSON(u)})
}

// MailReportJSON is the wire shape of a mail report, shared by the admin
// endpoint and `gatehouse mail status --json`: counts, and problems with
// masked recipients — no address, no body.
type MailReportJSON struct {
	Pending       int             `json:"pending"`
	Sent          int             `json:"sent"`
	Skipped       int             `json:"skipped"`
	Failed        int             `json:"failed"`
	OldestPending *time.Time      `json:"oldest_pending_at"`
	Problems      []MailEntryJSON `json:"problems"`
}

// MailEntryJSON is one problem mail of a MailReportJSON.
type MailEntryJSON struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Recipient string    `json:"recipient"`
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	CreatedAt time.Time `json:"created_at"`
	// NextAttemptAt is set for pending mail only.
	NextAttemptAt *time.Time `json:"next_attempt_at"`
}

// NewMailReportJSON converts a report to its wire shape (times in UTC, to
// the second).
func NewMailReportJSON(rep gatehouse.MailReport) MailReportJSON {
	sec := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC().Truncate(time.Second)
		return &t
	}
	out := MailReportJSON{Pending: rep.Pending, Sent: rep.Sent, Skipped: rep.Skipped, Failed: rep.Failed, OldestPending: sec(rep.OldestPending), Problems: []MailEntryJSON{}}
	for _, m := range rep.Problems {
		e := MailEntryJSON{ID: m.ID, Kind: m.Kind, Recipient: m.RecipientHint, State: string(m.State), Attempts: m.Attempts, LastError: m.LastError, CreatedAt: m.CreatedAt.UTC().Truncate(time.Second)}
		if m.State == gatehouse.MailPending {
			e.NextAttemptAt = sec(m.NextAttemptAt)
		}
		out.Problems = append(out.Problems, e)
	}
	return out
}

func (h *Handler) apiAdminMail(w http.ResponseWriter, r *http.Request) {
	if err := gatehouse.Authorize(r.Context(), gatehouse.PermissionAdmin); err != nil {
		h.writeError(w, r, err)
		return
	}
	rep, err := h.auth.MailReport(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewMailReportJSON(rep))
}

// Pages.

// checkEmailTopics are the variants of the check-email page.
var checkEmailTopics = map[string]bool{"verify": true, "reset": true, "change": true}

func (h *Handler) pageCheckEmail(w http.ResponseWriter, r *http.Request) {
	d := h.data(r, "check-email")
	d.CheckFor = r.URL.Query().Get("for")
	if !checkEmailTopics[d.CheckFor] {
		d.CheckFor = "verify"
	}
	h.render(w, r, http.StatusOK, "check-email", d)
}

// emailForm serves GET and POST of a page whose form asks for an address
// and sends a mail (forgot-password, resend verification); success always
// lands on the check-email page, whatever the address.
func (h *Handler) emailForm(name, topic string, send func(r *http.Request, email string) error) (get, post http.HandlerFunc) {
	get = func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, http.StatusOK, name, h.data(r, name))
	}
	post = func(w http.ResponseWriter, r *http.Request) {
		d := h.data(r, name)
		if err := parseForm(w, r); err != nil {
			h.formError(w, r, name, d, err)
			return
		}
		d.Email = r.PostForm.Get("email")
		if err := send(r, d.Email); err != nil {
			h.formError(w, r, name, d, err)
			return
		}
		http.Redirect(w, r, h.path("/check-email?for="+topic), http.StatusSeeOther)
	}
	return get, post
}

// linkPage serves the GET of a page opened from an emailed link. A token in
// the query moves into the page's link cookie and the browser comes back
// without it; then the page shows its form if the link is still good.
func (h *Handler) linkPage(name string, purpose gatehouse.TokenPurpose) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("token"); tok != "" {
			http.SetCookie(w, &http.Cookie{
				Name: h.linkCookie, Value: tok, Path: h.path("/" + name), MaxAge: int((30 * time.Minute).Seconds()),
				HttpOnly: true, Secure: !h.dev, SameSite: http.SameSiteLaxMode,
			})
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, h.path("/"+name), http.StatusSeeOther)
			return
		}
		d := h.data(r, name)
		if err := h.auth.CheckLink(r.Context(), purpose, h.linkToken(r)); err != nil {
			h.formError(w, r, name, d, aboveForm(err))
			return
		}
		d.LinkValid = true
		h.render(w, r, http.StatusOK, name, d)
	}
}

// linkToken returns the token the page's link cookie holds ("" if none).
func (h *Handler) linkToken(r *http.Request) string {
	if c, err := r.Cookie(h.linkCookie); err == nil && validToken(c.Value) {
		return c.Value
	}
	return ""
}

// linkPost serves the POST of a link page: use the link, drop the cookie,
// and send the browser on. Errors re-render the page.
func (h *Handler) linkPost(name string, use func(w http.ResponseWriter, r *http.Request, token string) (next string, err error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d := h.data(r, name)
		if err := parseForm(w, r); err != nil {
			h.formError(w, r, name, d, err)
			return
		}
		next, err := use(w, r, h.linkToken(r))
		if err != nil {
			if gatehouse.ErrorCode(err) != gatehouse.CodeInvalidToken {
				d.LinkValid = true // the link is fine; show the form again
			}
			h.formError(w, r, name, d, aboveForm(err))
			return
		}
		http.SetCookie(w, &http.Cookie{Name: h.linkCookie, Value: "", Path: h.path("/" + name), MaxAge: -1, HttpOnly: true, Secure: !h.dev, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}

// aboveForm shows a link's error above the form: the token travels in a
// cookie, so it is no field of the page to put the message next to.
func aboveForm(err error) error {
	var e *gatehouse.Error
	if errors.As(err, &e) && e.Field == "token" {
		top := *e
		top.Field = ""
		return &top
	}
	return err
}

// landing is where a browser goes after a link did its work: the account
// page when signed in, else sign-in, with a notice.
func (h *Handler) landing(r *http.Request, notice string) string {
	if _, ok := gatehouse.PrincipalFrom(r.Context()); ok {
		return h.path("/account?notice=" + notice)
	}
	return h.path("/sign-in?notice=" + notice)
}

func (h *Handler) useVerification(w http.ResponseWriter, r *http.Request, token string) (string, error) {
	if _, err := h.auth.VerifyEmail(r.Context(), token); err != nil {
		return "", err
	}
	return h.landing(r, "email_verified"), nil
}

func (h *Handler) useReset(w http.ResponseWriter, r *http.Request, token string) (string, error) {
	if _, err := h.auth.ResetPassword(r.Context(), token, r.PostForm.Get("password"), h.client(r)); err != nil {
		return "", err
	}
	// Every session of the user is gone; so is this browser's, if it had one.
	h.clearSessionCookie(w)
	return h.path("/sign-in?notice=password_reset"), nil
}

func (h *Handler) useEmailChange(w http.ResponseWriter, r *http.Request, token string) (string, error) {
	if _, err := h.auth.ConfirmEmailChange(r.Context(), token, h.client(r)); err != nil {
		return "", err
	}
	return h.landing(r, "email_changed"), nil
}

// pageChangeEmail handles the account page's email-change form: the
// current password re-authenticates (rotating the session), then the
// confirmation link goes to the new address.
func (h *Handler) pageChangeEmail(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.renderError(w, r, err)
		return
	}
	p := principal(r)
	res, err := h.auth.Reauthenticate(r.Context(), p, r.PostForm.Get("password"), h.client(r))
	if err == nil {
		h.setSessionCookie(w, res.Token, res.Session)
		p.Session = res.Session
		err = h.auth.RequestEmailChange(r.Context(), p, r.PostForm.Get("email"), h.client(r))
	}
	if err != nil {
		h.accountError(w, r, "email", err)
		return
	}
	http.Redirect(w, r, h.path("/check-email?for=change"), http.StatusSeeOther)
}
