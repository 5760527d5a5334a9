package web

import (
	"html/template"
	"strings"
)

// templateFuncs are the functions every page template may call besides the
// methods of pageData (.T). They are part of the template API that
// overrides rely on (docs/ui.md).
var templateFuncs = template.FuncMap{
	"imageURL": imageURL,
}

// imageURL lets an image address of the kinds ThemeConfig.LogoURL accepts
// (an https URL, a path on this host, a data:image URL) through
// html/template, which otherwise replaces every data: URL with
// "#ZgotmplZ": {{imageURL .LogoURL}} in an img src. Anything else becomes
// "about:invalid", so the function cannot turn a javascript: or other
// data: URL into markup.
func imageURL(s string) template.URL {
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "https://"),
		strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.HasPrefix(s, `/\`),
		strings.HasPrefix(lower, "data:image/"):
		return template.URL(s)
	}
	return "about:invalid"
}
