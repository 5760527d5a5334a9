// Package useragent turns a User-Agent header into a short label from a
// fixed vocabulary ("Firefox on Linux"). The label never contains text from
// the header itself, so it is safe to show to someone other than the client
// that sent it (a new-sign-in notice).
package useragent

import "strings"

// Describe returns "<browser> on <system>", "<browser>", or "Unknown
// browser", every word taken from a fixed list.
func Describe(ua string) string {
	browser, platform := Parse(ua)
	if browser == "" {
		browser = "Unknown browser"
	}
	if platform == "" {
		return browser
	}
	return browser + " on " + platform
}

// Parse returns the browser and the platform named by ua, each from a fixed
// vocabulary ("Firefox", "macOS"), or "" when unknown, for callers that put
// them in words of another language.
func Parse(ua string) (browser, platform string) {
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
			return browser, o.name
		}
	}
	return browser, ""
}
