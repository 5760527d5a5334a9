package web

import "html/template"

// templateFuncs are the functions every page template may call besides the
// methods of pageData (.T). They are part of the template API that
// overrides rely on (docs/ui.md).
var templateFuncs = template.FuncMap{}
