package web

import (
	"net/url"
	"strings"
)

// safeRedirect returns target when it is a safe place to send a browser after
// sign-in, and ok=false otherwise. Safe means a path on this site ("/x", not
// "//x" nor "/\x", no scheme, no host, no control characters), or an
// absolute http(s) URL whose origin is exactly one of the allowlisted ones
// (no userinfo). Everything else — protocol-relative URLs, backslashes,
// javascript: and data: URLs, encoded tricks, look-alike hosts — is refused;
// the caller then uses the default landing page.
func (h *Handler) safeRedirect(target string) (string, bool) {
	if target == "" || len(target) > 2048 {
		return "", false
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c < 0x20 || c == 0x7f || c == '\\' || c == ' ' {
			return "", false
		}
	}
	u, err := url.Parse(target)
	if err != nil || u.User != nil || u.Opaque != "" {
		return "", false
	}
	if strings.HasPrefix(target, "/") {
		if strings.HasPrefix(target, "//") || u.Scheme != "" || u.Host != "" {
			return "", false
		}
		// Refuse paths whose decoded form a lenient server or browser could
		// read as protocol-relative or backslashed.
		if dec, err := url.PathUnescape(u.EscapedPath()); err != nil || strings.HasPrefix(dec, "//") || strings.Contains(dec, "\\") {
			return "", false
		}
		return u.String(), true
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	origin := u.Scheme + "://" + u.Host
	if !h.allowlist[origin] && origin != h.cfg.PublicURL {
		return "", false
	}
	return u.String(), true
}

// redirectTarget returns the safe target or the configured landing page.
func (h *Handler) redirectTarget(target string) string {
	if t, ok := h.safeRedirect(target); ok {
		return t
	}
	return h.cfg.AfterSignInPath
}
