package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
)

// tokenJSON is the answer of POST {base}/api/token (the shape of RFC 6749
// §5.1, without a refresh token).
type tokenJSON struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// apiToken mints a short-lived access token from the session cookie. Only a
// same-origin request may: the token is readable by the page's JavaScript,
// so no other origin — not even an allowed CORS origin — may obtain one
// with the user's cookie.
func (h *Handler) apiToken(w http.ResponseWriter, r *http.Request) {
	if !h.sameOrigin(r) {
		h.writeError(w, r, errCrossOrigin)
		return
	}
	tok, err := h.auth.Token(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenJSON{
		AccessToken: tok.Token, TokenType: "Bearer",
		ExpiresIn: max(int(tok.ExpiresAt.Sub(h.auth.Now()).Seconds()), 0),
	})
}

// sameOrigin reports whether a browser sent r from our own origin. A
// request without Sec-Fetch-Site and Origin is not from a browser page (a
// server or curl holding the cookie) and cannot be cross-origin.
func (h *Handler) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	origin := r.Header.Get("Origin")
	return origin == "" || origin == h.cfg.PublicURL
}

// jwks serves the public signing keys. They are public by nature: any
// origin may read them, and caches may keep them for JWKSMaxAge.
func (h *Handler) jwks(w http.ResponseWriter, r *http.Request) {
	body, err := h.auth.JWKS(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(gatehouse.JWKSMaxAge.Seconds())))
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	w.Write(body)
}

// isTokenRoute reports whether r asks for an access token; it never gets
// CORS headers.
func (h *Handler) isTokenRoute(r *http.Request) bool {
	return strings.TrimSuffix(r.URL.Path, "/") == h.path("/api/token")
}
