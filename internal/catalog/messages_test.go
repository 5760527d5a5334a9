package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The error-message catalogue must be exact: every message the core (the
// root package) or package web can put in a gatehouse.Error is in
// locales/en/errors.json (mapped to itself) and translated in
// locales/fr/errors.json, and en/errors.json holds nothing the code no
// longer produces. The messages are found by reading the source, so a new
// message cannot ship untranslated.

// modulePath is stripped from import paths to find a package's directory.
const modulePath = "github.com/gatehouse-auth/gatehouse/"

// messageDirs are the packages whose errors reach a client, relative to this
// package. Packages they call into (internal/normalize, for the password
// policy's sentences) are read when a message is followed there.
var messageDirs = []string{"../..", "../../web"}

// dynamicMessages are the messages built at run time, by shape (the fmt
// format, or a concatenation with the variable part in braces), each with
// the catalogue entries that translate it: a message with placeholders
// that matches it, and the texts of the values it can hold (Locale.Message
// translates those in turn). An empty list means no language can translate
// it, and why. A new shape makes the test fail: prefer a fixed sentence.
var dynamicMessages = map[string][]string{
	// abuse.go, rateLimited: the wait, spelled by humanDuration.
	"Too many attempts. Try again in %s.": {"Too many attempts. Try again in {wait}.",
		"1 second", "{n} seconds", "1 minute", "{n} minutes", "1 hour", "{n} hours"},
	// breach.go, checkBreached: the breach count, spelled by timesSeen.
	"This password has appeared in a data breach (%s), so attackers try it first. Choose another one.": {
		"This password has appeared in a data breach ({seen}), so attackers try it first. Choose another one.",
		"seen once", "seen {n} times"},
	// internal/normalize, (*PolicyError).Error: the configured minimum
	// length (Policy.MinLength, 8 to 64), reached through passwordError.
	"Use at least %d characters.": {"Use at least {min} characters."},
	// web/json.go, decodeError: the client's own JSON field name, shown by
	// the JSON API only, which answers in English.
	"The field {fld} has the wrong type.":   nil,
	"The field {fld} is not accepted here.": nil,
	// oauth_client.go, checkClientURI: the administrator's own URI, quoted
	// for the CLI and the admin API, which answer in English.
	"%q is not an absolute URI.":                                                    nil,
	"%q must not have a fragment (#).":                                              nil,
	"%q must not contain wildcards: URIs are matched exactly.":                      nil,
	"%q must not carry a user name or password.":                                    nil,
	"%q must be printable ASCII without spaces.":                                    nil,
	"%q has no host.":                                                               nil,
	"%q uses http on a host other than localhost, 127.0.0.1 or [::1]: use https.":   nil,
	"%q uses a scheme that cannot receive a redirect.":                              nil,
	"%q: a native app's scheme must be a reverse domain name like com.example.app.": nil,
}

// patternSource marks, in the produced messages, an entry that a
// dynamicMessages shape needs; its French may equal its English ("{n}
// minutes").
const patternSource = "pattern for "

func TestErrorMessagesCatalogued(t *testing.T) {
	c := newCollector()
	for _, dir := range messageDirs {
		p, err := c.load(dir)
		if err != nil {
			t.Fatal(err)
		}
		c.collect(p)
	}
	if len(c.problems) > 0 {
		t.Errorf("cannot tell which text these Messages hold; make it a string literal, or teach this test the construction:\n\t%s",
			strings.Join(c.problems, "\n\t"))
	}
	if len(c.found) == 0 {
		t.Fatal("no message found: the collector is broken")
	}

	for shape, where := range c.dynamic {
		if _, ok := dynamicMessages[shape]; !ok {
			t.Errorf("%s: message %q is built at run time, so no language can translate it; use a fixed sentence (or, if it cannot be, list it in dynamicMessages with the reason)",
				strings.Join(where, ", "), shape)
		}
	}
	for shape := range dynamicMessages {
		if _, ok := c.dynamic[shape]; !ok {
			t.Errorf("dynamicMessages lists %q, which no code builds any more; remove it", shape)
		}
	}

	for shape, keys := range dynamicMessages {
		for _, k := range keys {
			c.found[k] = append(c.found[k], patternSource+strconv.Quote(shape))
		}
	}
	en, err := readStrict("locales/en/errors.json")
	if err != nil {
		t.Fatal(err)
	}
	fr, err := readStrict("locales/fr/errors.json")
	if err != nil {
		t.Fatal(err)
	}
	if ps := catalogueProblems(c.found, en, fr); len(ps) > 0 {
		t.Errorf("the error catalogue does not match the code (%d messages produced):\n\t%s", len(c.found), strings.Join(ps, "\n\t"))
	}
}

// TestCatalogueProblems shows the completeness check can fail, whatever the
// state of the real files.
func TestCatalogueProblems(t *testing.T) {
	produced := map[string][]string{
		"Sign in to continue.": {"errors.go:1"},
		"No such user.":        {"admin.go:2"},
	}
	tests := []struct {
		name   string
		en, fr map[string]string
		want   []string // substrings, one per expected problem
	}{
		{"exact",
			map[string]string{"Sign in to continue.": "Sign in to continue.", "No such user.": "No such user."},
			map[string]string{"Sign in to continue.": "Connectez-vous pour continuer.", "No such user.": "Utilisateur inconnu."},
			nil},
		{"missing everywhere",
			map[string]string{"Sign in to continue.": "Sign in to continue."},
			map[string]string{"Sign in to continue.": "Connectez-vous pour continuer."},
			[]string{`en/errors.json lacks "No such user." (admin.go:2)`, `fr/errors.json lacks "No such user." (admin.go:2)`}},
		{"stale and untranslated",
			map[string]string{"Sign in to continue.": "Sign in to continue.", "No such user.": "No such user.", "Gone.": "Gone."},
			map[string]string{"Sign in to continue.": "Sign in to continue.", "No such user.": "", "Gone.": "Parti."},
			[]string{`fr/errors.json leaves "No such user." empty`, `fr/errors.json leaves "Sign in to continue." in English`,
				`en/errors.json holds "Gone.", which no code produces any more`}},
		{"not identity, unknown French",
			map[string]string{"Sign in to continue.": "Please sign in.", "No such user.": "No such user."},
			map[string]string{"Sign in to continue.": "Connectez-vous pour continuer.", "No such user.": "Utilisateur inconnu.", "Extra.": "En trop."},
			[]string{`en/errors.json maps "Sign in to continue." to "Please sign in."`, `fr/errors.json holds "Extra.", which is not in en/errors.json`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := catalogueProblems(produced, tt.en, tt.fr)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n\t%s", len(got), len(tt.want), strings.Join(got, "\n\t"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// catalogueProblems compares the produced messages (text → where) with the
// English and French error catalogues, in a stable order: what the English
// file lacks or misstates, what the French one lacks, then stale entries.
func catalogueProblems(produced map[string][]string, en, fr map[string]string) []string {
	var ps []string
	for _, m := range sortedKeys(produced) {
		where := strings.Join(produced[m], ", ")
		switch v, ok := en[m]; {
		case !ok:
			ps = append(ps, fmt.Sprintf("en/errors.json lacks %q (%s)", m, where))
		case v != m:
			ps = append(ps, fmt.Sprintf("en/errors.json maps %q to %q; it must map it to itself (deployments reword through overrides)", m, v))
		}
	}
	for _, m := range sortedKeys(produced) {
		where := strings.Join(produced[m], ", ")
		switch v, ok := fr[m]; {
		case !ok:
			ps = append(ps, fmt.Sprintf("fr/errors.json lacks %q (%s)", m, where))
		case strings.TrimSpace(v) == "":
			ps = append(ps, fmt.Sprintf("fr/errors.json leaves %q empty", m))
		case v == m && !strings.HasPrefix(where, patternSource):
			ps = append(ps, fmt.Sprintf("fr/errors.json leaves %q in English", m))
		}
	}
	for _, m := range sortedKeys(en) {
		if _, ok := produced[m]; !ok {
			ps = append(ps, fmt.Sprintf("en/errors.json holds %q, which no code produces any more; remove it (and its translations)", m))
		}
	}
	for _, m := range sortedKeys(fr) {
		if _, ok := en[m]; !ok {
			ps = append(ps, fmt.Sprintf("fr/errors.json holds %q, which is not in en/errors.json", m))
		}
	}
	return ps
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// readStrict reads a flat JSON object of strings, refusing a key given
// twice (encoding/json would silently keep the last).
func readStrict(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%s: not a JSON object", path)
	}
	m := map[string]string{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		k := tok.(string)
		var v string
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, k, err)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%s: %q is given twice", path, k)
		}
		m[k] = v
	}
	if _, err := d.Token(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// collector finds the texts that reach gatehouse.Error.Message by reading
// source. It follows, by name and within a package:
//   - the Message field of an Error / gatehouse.Error composite literal
//     (keyed, or second when unkeyed);
//   - a local variable, through every assignment to it in the function
//     (msg := "…"; code, msg = …, "…"; var (msg = "…"));
//   - a parameter, through the matching argument at every call of the
//     function or of the func literal assigned to that name (passwordError's
//     callers, the audit filters' bad(field, msg) helpers);
//   - a package-level constant;
//   - fmt.Sprintf whose arguments are all constants, evaluated (the audit
//     "Name at most %d event types."); any other Sprintf is dynamic;
//   - a concatenation whose variable parts are a field of the value of a range
//     loop over a literal table, expanded to every row ("The "+f.name+"
//     filter…"); any other concatenation is dynamic;
//   - x.Method() where x is declared with a named type, through the method's
//     return statements, in whatever package of this module declares it
//     ((*normalize.PolicyError).Error);
//   - a literal passed to a .Message method (loc.Message("Something went
//     wrong on our side.")), which web shows as a last resort.
//
// It copies nothing from another Error's Message field (e.Message): that is
// a message produced elsewhere.
type collector struct {
	fset     *token.FileSet
	pkgs     map[string]*srcPkg
	found    map[string][]string // message → positions
	dynamic  map[string][]string // shape → positions
	problems []string
	visited  map[token.Pos]bool // expressions already followed
}

type srcPkg struct {
	dir   string
	root  bool // the gatehouse package: Error is unqualified there
	files []*ast.File
}

func newCollector() *collector {
	return &collector{
		fset:    token.NewFileSet(),
		pkgs:    map[string]*srcPkg{},
		found:   map[string][]string{},
		dynamic: map[string][]string{},
		visited: map[token.Pos]bool{},
	}
}

// load parses the non-test Go files of dir.
func (c *collector) load(dir string) (*srcPkg, error) {
	dir = filepath.Clean(dir)
	if p, ok := c.pkgs[dir]; ok {
		return p, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	p := &srcPkg{dir: dir, root: dir == filepath.Clean("../..")}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(c.fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		p.files = append(p.files, f)
	}
	if len(p.files) == 0 {
		return nil, fmt.Errorf("%s: no Go files", dir)
	}
	c.pkgs[dir] = p
	return p, nil
}

func (c *collector) pos(p token.Pos) string {
	ps := c.fset.Position(p)
	rel, err := filepath.Rel("../..", ps.Filename)
	if err != nil {
		rel = ps.Filename
	}
	return fmt.Sprintf("%s:%d", filepath.ToSlash(rel), ps.Line)
}

func (c *collector) add(m string, at token.Pos) {
	where := c.pos(at)
	if !slices.Contains(c.found[m], where) {
		c.found[m] = append(c.found[m], where)
	}
}

func (c *collector) addDynamic(shape string, at token.Pos) {
	c.dynamic[shape] = append(c.dynamic[shape], c.pos(at))
}

func (c *collector) problem(at token.Pos, format string, args ...any) {
	c.problems = append(c.problems, c.pos(at)+": "+fmt.Sprintf(format, args...))
}

// walk calls fn for every node under root with the chain of its ancestors,
// root first, the node itself last.
func walk(root ast.Node, fn func(stack []ast.Node)) {
	var stack []ast.Node
	ast.Inspect(root, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		stack = append(stack, n)
		fn(stack)
		return true
	})
}

// collect finds the messages of every file of p.
func (c *collector) collect(p *srcPkg) {
	for _, f := range p.files {
		walk(f, func(stack []ast.Node) {
			switch n := stack[len(stack)-1].(type) {
			case *ast.CompositeLit:
				if c.isError(p, n.Type) {
					c.errorLit(p, stack, n)
				} else if elt := elemType(n.Type); elt != nil && c.isError(p, elt) {
					for _, e := range n.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							e = kv.Value
						}
						if u, ok := e.(*ast.UnaryExpr); ok {
							e = u.X
						}
						if cl, ok := e.(*ast.CompositeLit); ok && cl.Type == nil {
							c.errorLit(p, append(slices.Clone(stack), cl), cl)
						}
					}
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Message" && len(n.Args) == 1 {
					if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						c.resolve(p, stack, lit, 0)
					}
				}
			}
		})
	}
}

// isError reports whether typ names gatehouse.Error (or a pointer to it).
func (c *collector) isError(p *srcPkg, typ ast.Expr) bool {
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	switch t := typ.(type) {
	case *ast.Ident:
		return p.root && t.Name == "Error"
	case *ast.SelectorExpr:
		x, ok := t.X.(*ast.Ident)
		return ok && x.Name == "gatehouse" && t.Sel.Name == "Error"
	}
	return false
}

func elemType(typ ast.Expr) ast.Expr {
	switch t := typ.(type) {
	case *ast.ArrayType:
		return t.Elt
	case *ast.MapType:
		return t.Value
	}
	return nil
}

// errorLit follows the Message of one Error literal.
func (c *collector) errorLit(p *srcPkg, stack []ast.Node, cl *ast.CompositeLit) {
	for i, e := range cl.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			if i == 1 { // Error{Code, Message, …}
				c.resolve(p, stack, e, 0)
			}
			continue
		}
		if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Message" {
			c.resolve(p, stack, kv.Value, 0)
		}
	}
}

// resolve records the texts e can hold; stack is the chain of ancestors of
// the node e appears under (within p), used to find what names mean.
func (c *collector) resolve(p *srcPkg, stack []ast.Node, e ast.Expr, depth int) {
	if depth > 12 {
		c.problem(e.Pos(), "gave up following %s", types.ExprString(e))
		return
	}
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind != token.STRING {
			c.problem(x.Pos(), "Message is %s, not a string", x.Value)
			return
		}
		s, err := strconv.Unquote(x.Value)
		if err != nil {
			c.problem(x.Pos(), "%v", err)
			return
		}
		c.add(s, x.Pos())
	case *ast.ParenExpr:
		c.resolve(p, stack, x.X, depth+1)
	case *ast.SelectorExpr:
		if x.Sel.Name == "Message" {
			return // copied from another Error, whose literal is collected there
		}
		c.problem(x.Pos(), "cannot follow %s", types.ExprString(x))
	case *ast.Ident:
		c.ident(p, stack, x, depth)
	case *ast.CallExpr:
		c.call(p, stack, x, depth)
	case *ast.BinaryExpr:
		c.concat(p, stack, x)
	default:
		c.problem(e.Pos(), "cannot follow %s", types.ExprString(e))
	}
}

// ident follows a name: a parameter to its callers' arguments, a local
// variable to its assignments, a package-level constant or variable to its
// value.
func (c *collector) ident(p *srcPkg, stack []ast.Node, id *ast.Ident, depth int) {
	if c.visited[id.Pos()] {
		return
	}
	c.visited[id.Pos()] = true
	defer delete(c.visited, id.Pos())

	for i := len(stack) - 1; i >= 0; i-- {
		var ft *ast.FuncType
		switch f := stack[i].(type) {
		case *ast.FuncDecl:
			ft = f.Type
		case *ast.FuncLit:
			ft = f.Type
		default:
			continue
		}
		idx := paramIndex(ft, id.Name)
		if idx < 0 {
			continue
		}
		c.callers(p, stack[:i+1], idx, id, depth)
		return
	}

	// A local: every assignment in the outermost function.
	var fn ast.Node
	for _, n := range stack {
		if fd, ok := n.(*ast.FuncDecl); ok {
			fn = fd
			break
		}
	}
	if fn != nil && c.assignments(p, stack[:slices.Index(stack, fn)], fn, id.Name, depth) {
		return
	}
	// A package-level constant or variable.
	for _, f := range p.files {
		for _, d := range f.Decls {
			if gd, ok := d.(*ast.GenDecl); ok && c.assignments(p, []ast.Node{f}, gd, id.Name, depth) {
				return
			}
		}
	}
	c.problem(id.Pos(), "cannot find what %s holds", id.Name)
}

// paramIndex is the position of the parameter named name, or -1.
func paramIndex(ft *ast.FuncType, name string) int {
	i := 0
	for _, f := range ft.Params.List {
		if len(f.Names) == 0 {
			i++
			continue
		}
		for _, n := range f.Names {
			if n.Name == name {
				return i
			}
			i++
		}
	}
	return -1
}

// assignments resolves every value given to name under root (prefix is the
// chain of root's ancestors) and reports whether there was one.
func (c *collector) assignments(p *srcPkg, prefix []ast.Node, root ast.Node, name string, depth int) bool {
	found := false
	walk(root, func(s []ast.Node) {
		stack := append(slices.Clone(prefix), s...)
		switch n := s[len(s)-1].(type) {
		case *ast.AssignStmt:
			if len(n.Lhs) != len(n.Rhs) {
				return
			}
			for i, l := range n.Lhs {
				if id, ok := l.(*ast.Ident); ok && id.Name == name {
					found = true
					c.resolve(p, stack, n.Rhs[i], depth+1)
				}
			}
		case *ast.ValueSpec:
			for i, id := range n.Names {
				if id.Name == name && i < len(n.Values) && len(n.Names) == len(n.Values) {
					found = true
					c.resolve(p, stack, n.Values[i], depth+1)
				}
			}
		}
	})
	return found
}

// callers resolves argument idx at every call of the function that ends
// stack (a FuncDecl, or a FuncLit assigned to a name).
func (c *collector) callers(p *srcPkg, stack []ast.Node, idx int, param *ast.Ident, depth int) {
	var name string
	scope := []ast.Node{} // where the calls can be
	method := false
	switch f := stack[len(stack)-1].(type) {
	case *ast.FuncDecl:
		name, method = f.Name.Name, f.Recv != nil
		for _, file := range p.files {
			scope = append(scope, file)
		}
	case *ast.FuncLit:
		if len(stack) >= 2 {
			if as, ok := stack[len(stack)-2].(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
				for i, r := range as.Rhs {
					if r == f {
						if id, ok := as.Lhs[i].(*ast.Ident); ok {
							name = id.Name
						}
					}
				}
			}
		}
		for i := len(stack) - 2; i >= 0; i-- {
			if fd, ok := stack[i].(*ast.FuncDecl); ok {
				scope = []ast.Node{fd}
				break
			}
		}
	}
	if name == "" || len(scope) == 0 {
		c.problem(param.Pos(), "cannot find the callers of the function whose parameter %s becomes a Message", param.Name)
		return
	}
	calls := 0
	for _, root := range scope {
		var prefix []ast.Node
		if fd, ok := root.(*ast.FuncDecl); ok {
			prefix = c.fileOf(p, fd)
		}
		walk(root, func(s []ast.Node) {
			call, ok := s[len(s)-1].(*ast.CallExpr)
			if !ok {
				return
			}
			match := false
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				match = !method && fn.Name == name
			case *ast.SelectorExpr:
				match = method && fn.Sel.Name == name
			}
			if !match || idx >= len(call.Args) {
				return
			}
			calls++
			c.resolve(p, append(slices.Clone(prefix), s...), call.Args[idx], depth+1)
		})
	}
	if calls == 0 {
		c.problem(param.Pos(), "%s is never called, so its parameter %s holds nothing", name, param.Name)
	}
}

// fileOf is the file declaring n, as an ancestor chain.
func (c *collector) fileOf(p *srcPkg, n ast.Node) []ast.Node {
	for _, f := range p.files {
		if f.Pos() <= n.Pos() && n.End() <= f.End() {
			return []ast.Node{f}
		}
	}
	return nil
}

// call follows fmt.Sprintf and zero-argument methods of named types.
func (c *collector) call(p *srcPkg, stack []ast.Node, call *ast.CallExpr, depth int) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		c.problem(call.Pos(), "cannot follow %s", types.ExprString(call))
		return
	}
	if x, ok := sel.X.(*ast.Ident); ok && x.Name == "fmt" && sel.Sel.Name == "Sprintf" && len(call.Args) > 0 {
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			c.problem(call.Pos(), "fmt.Sprintf with a format that is not a literal")
			return
		}
		format, _ := strconv.Unquote(lit.Value)
		var args []any
		for _, a := range call.Args[1:] {
			v, ok := c.constant(p, a)
			if !ok {
				c.addDynamic(format, call.Pos())
				return
			}
			args = append(args, v)
		}
		c.add(fmt.Sprintf(format, args...), call.Pos())
		return
	}
	if len(call.Args) != 0 {
		c.problem(call.Pos(), "cannot follow %s", types.ExprString(call))
		return
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok {
		c.problem(call.Pos(), "cannot follow %s", types.ExprString(call))
		return
	}
	typ := c.declaredType(stack, x.Name)
	if typ == nil {
		c.problem(call.Pos(), "cannot find the type of %s", x.Name)
		return
	}
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	target, typeName := p, ""
	switch t := typ.(type) {
	case *ast.Ident:
		typeName = t.Name
	case *ast.SelectorExpr:
		pkgName, ok := t.X.(*ast.Ident)
		file, _ := stack[0].(*ast.File)
		if !ok || file == nil {
			break
		}
		dir := importDir(file, pkgName.Name)
		if dir == "" {
			c.problem(call.Pos(), "%s is not a package of this module", pkgName.Name)
			return
		}
		tp, err := c.load(dir)
		if err != nil {
			c.problem(call.Pos(), "%v", err)
			return
		}
		target, typeName = tp, t.Sel.Name
	}
	if typeName == "" {
		c.problem(call.Pos(), "cannot follow %s", types.ExprString(call))
		return
	}
	m := findMethod(target, typeName, sel.Sel.Name)
	if m == nil {
		c.problem(call.Pos(), "cannot find method %s.%s", typeName, sel.Sel.Name)
		return
	}
	prefix := c.fileOf(target, m)
	walk(m.Body, func(s []ast.Node) {
		ret, ok := s[len(s)-1].(*ast.ReturnStmt)
		if !ok || len(ret.Results) != 1 || slices.ContainsFunc(s, func(n ast.Node) bool { _, lit := n.(*ast.FuncLit); return lit }) {
			return
		}
		stack := append(append(slices.Clone(prefix), m), s...)
		c.resolve(target, stack, ret.Results[0], depth+1)
	})
}

// declaredType finds `var name T` in the enclosing functions.
func (c *collector) declaredType(stack []ast.Node, name string) ast.Expr {
	for i := len(stack) - 1; i >= 0; i-- {
		var typ ast.Expr
		switch f := stack[i].(type) {
		case *ast.FuncDecl, *ast.FuncLit:
			walk(f, func(s []ast.Node) {
				if vs, ok := s[len(s)-1].(*ast.ValueSpec); ok && vs.Type != nil && typ == nil {
					for _, n := range vs.Names {
						if n.Name == name {
							typ = vs.Type
						}
					}
				}
			})
		}
		if typ != nil {
			return typ
		}
	}
	return nil
}

// importDir is the directory, relative to this package, of the module
// package file imports as name; "" for other modules.
func importDir(file *ast.File, name string) string {
	for _, im := range file.Imports {
		path, _ := strconv.Unquote(im.Path.Value)
		local := path[strings.LastIndex(path, "/")+1:]
		if im.Name != nil {
			local = im.Name.Name
		}
		if local == name && strings.HasPrefix(path, modulePath) {
			return filepath.Join("../..", filepath.FromSlash(strings.TrimPrefix(path, modulePath)))
		}
	}
	return ""
}

func findMethod(p *srcPkg, typeName, method string) *ast.FuncDecl {
	for _, f := range p.files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || fd.Name.Name != method || len(fd.Recv.List) != 1 {
				continue
			}
			rt := fd.Recv.List[0].Type
			if s, ok := rt.(*ast.StarExpr); ok {
				rt = s.X
			}
			if id, ok := rt.(*ast.Ident); ok && id.Name == typeName {
				return fd
			}
		}
	}
	return nil
}

// constant evaluates a literal or a package-level constant of p.
func (c *collector) constant(p *srcPkg, e ast.Expr) (any, bool) {
	if id, ok := e.(*ast.Ident); ok {
		for _, f := range p.files {
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, s := range gd.Specs {
					vs := s.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if n.Name == id.Name && i < len(vs.Values) {
							return c.constant(p, vs.Values[i])
						}
					}
				}
			}
		}
		return nil, false
	}
	lit, ok := e.(*ast.BasicLit)
	if !ok {
		return nil, false
	}
	switch lit.Kind {
	case token.INT:
		n, err := strconv.ParseInt(lit.Value, 0, 64)
		return n, err == nil
	case token.STRING:
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	return nil, false
}

// concat expands "a" + v.f + "b" over the rows of the literal table a range
// loop takes v from; anything else is dynamic, named with its variable parts
// in braces.
func (c *collector) concat(p *srcPkg, stack []ast.Node, e *ast.BinaryExpr) {
	var parts []ast.Expr
	var flatten func(ast.Expr) bool
	flatten = func(x ast.Expr) bool {
		if b, ok := x.(*ast.BinaryExpr); ok {
			if b.Op != token.ADD {
				return false
			}
			return flatten(b.X) && flatten(b.Y)
		}
		parts = append(parts, x)
		return true
	}
	if !flatten(e) {
		c.problem(e.Pos(), "cannot follow %s", types.ExprString(e))
		return
	}
	texts := []string{""}
	shape := ""
	expanded := true
	for _, x := range parts {
		if lit, ok := x.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, _ := strconv.Unquote(lit.Value)
			shape += s
			for i := range texts {
				texts[i] += s
			}
			continue
		}
		shape += "{" + types.ExprString(x) + "}"
		rows := rangeRows(stack, x)
		if rows == nil {
			expanded = false
			continue
		}
		var next []string
		for _, t := range texts {
			for _, r := range rows {
				next = append(next, t+r)
			}
		}
		texts = next
	}
	if !expanded {
		c.addDynamic(shape, e.Pos())
		return
	}
	for _, t := range texts {
		c.add(t, e.Pos())
	}
}

// rangeRows returns the values of v.field when v is the value of an
// enclosing `for _, v := range []struct{…}{{…}, …}` whose rows give field
// as string literals; nil otherwise.
func rangeRows(stack []ast.Node, x ast.Expr) []string {
	sel, ok := x.(*ast.SelectorExpr)
	if !ok {
		return nil
	}
	v, ok := sel.X.(*ast.Ident)
	if !ok {
		return nil
	}
	for i := len(stack) - 1; i >= 0; i-- {
		rs, ok := stack[i].(*ast.RangeStmt)
		if !ok {
			continue
		}
		val, ok := rs.Value.(*ast.Ident)
		if !ok || val.Name != v.Name {
			continue
		}
		table, ok := rs.X.(*ast.CompositeLit)
		if !ok {
			return nil
		}
		at, ok := table.Type.(*ast.ArrayType)
		if !ok {
			return nil
		}
		st, ok := at.Elt.(*ast.StructType)
		if !ok {
			return nil
		}
		idx, n := -1, 0
		for _, f := range st.Fields.List {
			for _, name := range f.Names {
				if name.Name == sel.Sel.Name {
					idx = n
				}
				n++
			}
		}
		if idx < 0 {
			return nil
		}
		var rows []string
		for _, el := range table.Elts {
			row, ok := el.(*ast.CompositeLit)
			if !ok {
				return nil
			}
			var val ast.Expr
			for j, f := range row.Elts {
				if kv, ok := f.(*ast.KeyValueExpr); ok {
					if k, ok := kv.Key.(*ast.Ident); ok && k.Name == sel.Sel.Name {
						val = kv.Value
					}
				} else if j == idx {
					val = f
				}
			}
			lit, ok := val.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return nil
			}
			s, _ := strconv.Unquote(lit.Value)
			rows = append(rows, s)
		}
		return rows
	}
	return nil
}
