package web

import (
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// Wire shapes of the JSON API (DESIGN.md, "HTTP contract"). Times are
// RFC 3339 in UTC; field names snake_case.

type userJSON struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	Roles         []string  `json:"roles"`
	CreatedAt     time.Time `json:"created_at"`
}

type sessionJSON struct {
	ID              string    `json:"id"`
	CreatedAt       time.Time `json:"created_at"`
	LastSeenAt      time.Time `json:"last_seen_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	AuthenticatedAt time.Time `json:"authenticated_at"`
	AMR             []string  `json:"amr"`
	AAL             int       `json:"aal"`
	IP              string    `json:"ip"`
	UserAgent       string    `json:"user_agent"`
	Current         bool      `json:"current"`
}

type signedInJSON struct {
	Status  gatehouse.Status `json:"status"`
	User    *userJSON        `json:"user,omitempty"`
	Session *sessionJSON     `json:"session,omitempty"`
	Methods []string         `json:"methods,omitempty"`
}

type sessionStateJSON struct {
	User    userJSON    `json:"user"`
	Session sessionJSON `json:"session"`
}

func toUserJSON(u gatehouse.User) userJSON {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userJSON{ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name, Roles: roles, CreatedAt: u.CreatedAt.UTC().Truncate(time.Second)}
}

func (h *Handler) toSessionJSON(s gatehouse.Session, current bool) sessionJSON {
	amr := s.AMR
	if amr == nil {
		amr = []string{}
	}
	sec := func(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }
	return sessionJSON{
		ID: s.ID, CreatedAt: sec(s.CreatedAt), LastSeenAt: sec(s.LastSeenAt),
		ExpiresAt: sec(s.ExpiresAt(h.cfg.SessionIdleTimeout)), AuthenticatedAt: sec(s.AuthenticatedAt),
		AMR: amr, AAL: s.AAL, IP: s.IP, UserAgent: s.UserAgent, Current: current,
	}
}

// signedIn writes the outcome of a sign-up or sign-in, setting the cookie
// when a session was issued.
func (h *Handler) signedIn(w http.ResponseWriter, st int, res gatehouse.Result) {
	switch res.Status {
	case gatehouse.StatusSignedIn:
	case gatehouse.StatusVerificationRequired:
		// Identical for a new and a taken address: no user, no session.
		writeJSON(w, st, signedInJSON{Status: res.Status})
		return
	default:
		writeJSON(w, http.StatusOK, signedInJSON{Status: res.Status, Methods: res.Methods})
		return
	}
	h.setSessionCookie(w, res.Token, res.Session)
	u, s := toUserJSON(res.User), h.toSessionJSON(res.Session, true)
	writeJSON(w, st, signedInJSON{Status: res.Status, User: &u, Session: &s})
}

func principal(r *http.Request) gatehouse.Principal {
	p, _ := gatehouse.PrincipalFrom(r.Context())
	return p
}

func (h *Handler) apiSignUp(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Name     string `json:"name"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	c := h.signInClient(r)
	res, err := h.auth.SignUp(r.Context(), gatehouse.SignUpInput{Email: in.Email, Password: in.Password, Name: in.Name, Client: c, Replaces: h.presentedSessionID(r)})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.keepDevice(w, r, c, res)
	h.signedIn(w, http.StatusCreated, res)
}

func (h *Handler) apiSignIn(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	c := h.signInClient(r)
	res, err := h.auth.SignIn(r.Context(), gatehouse.SignInInput{Email: in.Email, Password: in.Password, Client: c, Replaces: h.presentedSessionID(r)})
	h.metrics.signIn(err)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.keepDevice(w, r, c, res)
	h.signedIn(w, http.StatusOK, res)
}

func (h *Handler) apiSignOut(w http.ResponseWriter, r *http.Request) {
	if p, ok := gatehouse.PrincipalFrom(r.Context()); ok {
		if err := h.auth.SignOut(r.Context(), p); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	h.clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) apiSession(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	writeJSON(w, http.StatusOK, sessionStateJSON{User: toUserJSON(p.User), Session: h.toSessionJSON(p.Session, true)})
}

func (h *Handler) apiReauthenticate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.auth.Reauthenticate(r.Context(), principal(r), in.Password, h.client(r))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.setSessionCookie(w, res.Token, res.Session)
	writeJSON(w, http.StatusOK, sessionStateJSON{User: toUserJSON(res.User), Session: h.toSessionJSON(res.Session, true)})
}

func (h *Handler) apiSessions(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	ss, err := h.auth.Sessions(r.Context(), p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := make([]sessionJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, h.toSessionJSON(s, s.ID == p.Session.ID))
	}
	writeJSON(w, http.StatusOK, struct {
		Sessions []sessionJSON `json:"sessions"`
	}{out})
}

func (h *Handler) apiRevokeSession(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	id := r.PathValue("id")
	if err := h.auth.RevokeSession(r.Context(), p, id); err != nil {
		h.writeError(w, r, err)
		return
	}
	if id == p.Session.ID {
		h.clearSessionCookie(w)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) apiRevokeOtherSessions(w http.ResponseWriter, r *http.Request) {
	if _, err := h.auth.RevokeOtherSessions(r.Context(), principal(r)); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) apiChangePassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.auth.ChangePassword(r.Context(), principal(r), in.CurrentPassword, in.NewPassword, h.client(r))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.signedIn(w, http.StatusOK, res)
}

type userBody struct {
	User userJSON `json:"user"`
}

func (h *Handler) apiUser(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, userBody{toUserJSON(principal(r).User)})
}

func (h *Handler) apiUpdateUser(w http.ResponseWriter, r *http.Request) {
	// Only the fields listed here can change; anything else in the body
	// (email_verified, roles, id…) is refused by strict decoding.
	var in struct {
		Name *string `json:"name"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	p := principal(r)
	u := p.User
	if in.Name != nil {
		var err error
		if u, err = h.auth.UpdateProfile(r.Context(), p, *in.Name); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, userBody{toUserJSON(u)})
}

func (h *Handler) apiDeleteUser(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		var in struct{}
		if err := decodeJSON(w, r, &in); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if err := h.auth.DeleteAccount(r.Context(), principal(r)); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
}
