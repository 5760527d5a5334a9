package web

import (
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
)

// routes registers every route of the edge, relative to the base path.
func (h *Handler) routes() {
	api := func(pattern string, fn http.Handler) {
		method, path, _ := strings.Cut(pattern, " ")
		h.mux.Handle(method+" "+h.path("/api"+path), fn)
	}
	page := func(pattern string, fn http.Handler) {
		method, path, _ := strings.Cut(pattern, " ")
		h.mux.Handle(method+" "+h.path(path), fn)
	}

	api("POST /sign-up", h.public(h.apiSignUp))
	api("POST /sign-in", h.public(h.apiSignIn))
	api("POST /sign-out", h.public(h.apiSignOut))
	api("GET /session", h.private(h.apiSession))
	api("POST /token", h.private(h.apiToken))
	api("POST /reauthenticate", h.private(h.apiReauthenticate))
	api("GET /sessions", h.private(h.apiSessions))
	api("DELETE /sessions/{id}", h.private(h.apiRevokeSession))
	api("DELETE /sessions", h.private(h.apiRevokeOtherSessions))
	api("POST /password/change", h.private(h.apiChangePassword))
	api("GET /user", h.private(h.apiUser))
	api("PATCH /user", h.private(h.apiUpdateUser))
	api("POST /user/delete", h.private(h.apiDeleteUser))
	api("POST /email/verify", h.public(h.apiVerifyEmail))
	api("POST /email/verify/send", h.public(h.apiSendVerification))
	api("POST /password/forgot", h.public(h.apiForgotPassword))
	api("POST /password/reset", h.public(h.apiResetPassword))
	api("POST /email/change", h.private(h.apiChangeEmail))
	api("POST /email/change/confirm", h.public(h.apiConfirmEmailChange))
	api("GET /admin/mail", h.private(h.apiAdminMail))
	api("GET /admin/audit", h.private(h.apiAdminAudit))

	page("GET /sign-in", h.public(h.formPage("sign-in")))
	page("POST /sign-in", h.public(h.formPost("sign-in", h.submitSignIn)))
	page("GET /sign-up", h.public(h.formPage("sign-up")))
	page("POST /sign-up", h.public(h.formPost("sign-up", h.submitSignUp)))
	page("GET /sign-out", h.public(h.pageSignOutConfirm))
	page("POST /sign-out", h.public(h.pageSignOut))
	page("POST /language", h.public(h.pageLanguage))
	page("GET /account", h.private(h.pageAccount))
	page("POST /account/profile", h.private(h.pageUpdateProfile))
	page("POST /account/password", h.private(h.pageChangePassword))
	page("POST /account/delete", h.private(h.pageDeleteAccount))
	page("POST /account/sessions/{id}/revoke", h.private(h.pageRevokeSession))
	page("POST /account/sessions/revoke-others", h.private(h.pageRevokeOthers))
	page("POST /account/email", h.private(h.pageChangeEmail))
	page("GET /check-email", h.public(h.pageCheckEmail))
	forgotGet, forgotPost := h.emailForm("forgot-password", "reset", func(r *http.Request, email string) error {
		return h.auth.ForgotPassword(r.Context(), email, h.client(r))
	})
	page("GET /forgot-password", h.public(forgotGet))
	page("POST /forgot-password", h.public(forgotPost))
	resendGet, resendPost := h.emailForm("resend-verification", "verify", func(r *http.Request, email string) error {
		return h.auth.ResendVerification(r.Context(), email, h.client(r))
	})
	page("GET /verify-email/send", h.public(resendGet))
	page("POST /verify-email/send", h.public(resendPost))
	page("GET /verify-email", h.public(h.linkPage("verify-email", gatehouse.PurposeVerifyEmail)))
	page("POST /verify-email", h.public(h.linkPost("verify-email", h.useVerification)))
	page("GET /reset-password", h.public(h.linkPage("reset-password", gatehouse.PurposeResetPassword)))
	page("POST /reset-password", h.public(h.linkPost("reset-password", h.useReset)))
	page("GET /confirm-email-change", h.public(h.linkPage("confirm-email-change", gatehouse.PurposeChangeEmail)))
	page("POST /confirm-email-change", h.public(h.linkPost("confirm-email-change", h.useEmailChange)))
	if h.mailbox != nil {
		page("GET /dev/mailbox", http.HandlerFunc(h.pageMailbox))
		page("GET /dev/mailbox/{id}", http.HandlerFunc(h.pageMailboxMessage))
	}
	page("GET /assets/{file}", http.HandlerFunc(h.stylesheet))
	page("GET /.well-known/jwks.json", http.HandlerFunc(h.jwks))
	page("GET /{$}", http.RedirectHandler(h.path("/account"), http.StatusSeeOther))
	h.oauthEndpointRoutes(page, api)
	h.oauthPageRoutes(page, api)

	for _, p := range h.auth.Plugins() {
		if p.Routes != nil {
			p.Routes(prefixRouter{h})
		}
	}
}

// prefixRouter registers plugin routes under the base path.
type prefixRouter struct{ h *Handler }

func (pr prefixRouter) Handle(pattern string, handler http.Handler) {
	if method, path, ok := strings.Cut(pattern, " "); ok {
		pr.h.mux.Handle(method+" "+pr.h.path(path), handler)
		return
	}
	pr.h.mux.Handle(pr.h.path(pattern), handler)
}

// public wraps a route that works signed in or not: the principal, when
// there is one, is in the context.
func (h *Handler) public(fn http.HandlerFunc) http.Handler { return h.Load(fn) }

// private wraps a route that needs a session: pages redirect to sign-in,
// the API answers 401.
func (h *Handler) private(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		privateHeaders(w)
		p, ok, err := h.authenticate(r)
		switch {
		case err != nil:
			h.refuse(w, r, err)
		case !ok && wantsHTML(r):
			http.Redirect(w, r, h.signInURL(r.URL.RequestURI()), http.StatusSeeOther)
		case !ok:
			h.refuse(w, r, errUnauthenticated)
		default:
			fn(w, withPrincipal(r, p))
		}
	}
}

var errUnauthenticated = &gatehouse.Error{Code: gatehouse.CodeUnauthenticated, Message: "Sign in to continue."}
