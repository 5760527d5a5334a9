package web

import (
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/internal/catalog"
)

// languageCookieAge keeps a language choice for a year.
const languageCookieAge = 365 * 24 * 60 * 60

// locale picks the language of a page: ?lang= when it names one we speak
// (a link can ask for a language, as OIDC's ui_locales does), then the
// choice stored by the language picker, then Accept-Language.
func (h *Handler) locale(r *http.Request) *catalog.Locale {
	return h.theme.catalog.Match(h.languageChoice(r), r.Header.Get("Accept-Language"))
}

// languageChoice is the language the request explicitly asks for, if any
// and if we speak it.
func (h *Handler) languageChoice(r *http.Request) string {
	if q := r.URL.Query().Get("lang"); q != "" {
		if _, ok := h.theme.catalog.Locale(q); ok {
			return q
		}
	}
	if c, err := r.Cookie(h.langCookie); err == nil {
		if _, ok := h.theme.catalog.Locale(c.Value); ok {
			return c.Value
		}
	}
	return ""
}

// languages is the Accept-Language to use for mail triggered by r: the
// explicit choice first, so mail speaks the language the pages do.
func (h *Handler) languages(r *http.Request) string {
	al := r.Header.Get("Accept-Language")
	if choice := h.languageChoice(r); choice != "" {
		if len(al) > 256 {
			return choice
		}
		return strings.TrimSuffix(choice+", "+al, ", ")
	}
	return al
}

// pageLanguage stores the language picked on a page and returns the
// browser to the page it came from (a path on this host only).
func (h *Handler) pageLanguage(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.renderError(w, r, err)
		return
	}
	tag := r.PostForm.Get("lang")
	if _, ok := h.theme.catalog.Locale(tag); ok {
		http.SetCookie(w, &http.Cookie{
			Name: h.langCookie, Value: tag, Path: "/", MaxAge: languageCookieAge,
			HttpOnly: true, Secure: !h.dev, SameSite: http.SameSiteLaxMode,
		})
	}
	back := h.path("/account")
	if t, ok := h.safeRedirect(r.PostForm.Get("return_to")); ok && strings.HasPrefix(t, "/") {
		back = t
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
