// Package catalog holds every user-facing string of the hosted pages — page
// text under dotted keys ("sign_in.title") and the core's error messages
// under their English text — for every supported language, and picks a
// language for a request.
//
// What lives here: the embedded catalogues (locales/{tag}/pages.json and
// locales/{tag}/errors.json), per-string overrides and their validation
// (New), language choice (Catalog.Match) and lookup (Locale.T,
// Locale.Message). A Catalog is immutable once New returns and safe for
// concurrent use.
//
// What must not live here: HTTP, templates, users or mail. The mails have
// their own per-language templates in internal/mailtext.
//
// # Placeholders
//
// A text may name values in braces: "Signed in {when}". Every language must
// use exactly the placeholders English uses for that key; New refuses a
// catalogue or an override that drops or invents one, so a translation can
// never lose a value or print a literal "{when}".
package catalog

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"golang.org/x/text/language"
)

//go:embed locales
var builtin embed.FS

// Fallback is the language every other one falls back to, string by
// string. It is complete by construction: a key unknown to it is a defect.
const Fallback = "en"

// maxAcceptLanguage bounds the header we parse; browsers send a few dozen
// bytes.
const maxAcceptLanguage = 512

// NameKey is the key under which each language gives its own name
// ("Français"), shown in the language picker.
const NameKey = "language.name"

// Catalog is the set of languages the pages speak.
type Catalog struct {
	locales map[string]*Locale
	order   []*Locale // Fallback first, then by tag
	matcher language.Matcher
}

// pattern is an English message with placeholders ("Use at least {min}
// characters."), matched against messages the core builds at run time.
type pattern struct {
	key   string
	re    *regexp.Regexp
	names []string
}

// Locale is one language's strings. Missing strings come from Fallback.
type Locale struct {
	// Tag is the canonical BCP 47 tag ("en", "fr", "pt-BR").
	Tag string
	// patterns are Fallback's messages with placeholders, shared.
	patterns []pattern
	// Name is the language's name in itself ("Français").
	Name     string
	texts    map[string]string
	fallback *Locale
	// Missing counts the Fallback keys this language does not translate.
	Missing int
}

// Overrides replace single strings, by language then key (a page key or an
// English error message). A language that is not built in is added; what
// it does not translate is shown in English.
type Overrides map[string]map[string]string

// New loads the built-in catalogues and applies overrides. It fails when an
// override names an unknown key, a malformed language tag, or changes a
// text's placeholders.
func New(overrides Overrides) (*Catalog, error) {
	raw, err := loadBuiltin()
	if err != nil {
		return nil, err
	}
	for tag, texts := range overrides {
		t, err := language.Parse(tag)
		if err != nil {
			return nil, fmt.Errorf("messages: %q is not a language tag (use one like \"fr\" or \"pt-BR\")", tag)
		}
		canon := t.String()
		if raw[canon] == nil {
			raw[canon] = map[string]string{}
		}
		for k, v := range texts {
			if _, ok := raw[Fallback][k]; !ok {
				return nil, fmt.Errorf("messages.%s: there is no text %q to override%s", tag, k, suggest(k, raw[Fallback]))
			}
			raw[canon][k] = v
		}
	}
	return build(raw)
}

// loadBuiltin reads locales/{tag}/*.json into tag → key → text.
func loadBuiltin() (map[string]map[string]string, error) {
	raw := map[string]map[string]string{}
	dirs, err := fs.ReadDir(builtin, "locales")
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		tag := d.Name()
		raw[tag] = map[string]string{}
		for _, f := range []string{"pages.json", "errors.json"} {
			b, err := fs.ReadFile(builtin, "locales/"+tag+"/"+f)
			if err != nil {
				return nil, fmt.Errorf("catalog %s/%s: %w", tag, f, err)
			}
			var m map[string]string
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("catalog %s/%s: %w", tag, f, err)
			}
			for k, v := range m {
				if _, dup := raw[tag][k]; dup {
					return nil, fmt.Errorf("catalog %s: %q is defined twice", tag, k)
				}
				raw[tag][k] = v
			}
		}
	}
	if raw[Fallback] == nil {
		return nil, fmt.Errorf("catalog: no %q catalogue", Fallback)
	}
	return raw, nil
}

var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// placeholders returns the sorted set of {names} in s.
func placeholders(s string) string {
	ps := placeholder.FindAllString(s, -1)
	slices.Sort(ps)
	return strings.Join(slices.Compact(ps), " ")
}

func build(raw map[string]map[string]string) (*Catalog, error) {
	en := raw[Fallback]
	c := &Catalog{locales: map[string]*Locale{}}
	base := &Locale{Tag: Fallback, texts: en, patterns: patternsOf(en)}
	tags := slices.Sorted(maps.Keys(raw))
	var ordered []*Locale
	for _, tag := range tags {
		l := base
		if tag != Fallback {
			l = &Locale{Tag: tag, texts: raw[tag], fallback: base, patterns: base.patterns}
			for k, v := range raw[tag] {
				want, ok := en[k]
				if !ok {
					return nil, fmt.Errorf("catalog %s: %q is not an English key", tag, k)
				}
				if placeholders(v) != placeholders(want) {
					return nil, fmt.Errorf("catalog %s: %q must use the placeholders %q, as English does; it uses %q",
						tag, k, placeholders(want), placeholders(v))
				}
			}
			for k := range en {
				if _, ok := raw[tag][k]; !ok {
					l.Missing++
				}
			}
		}
		l.Name = l.T(NameKey)
		c.locales[tag] = l
		ordered = append(ordered, l)
	}
	// Fallback first: the matcher answers its first tag when nothing fits.
	sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].Tag == Fallback && ordered[j].Tag != Fallback })
	c.order = ordered
	ts := make([]language.Tag, len(ordered))
	for i, l := range ordered {
		ts[i] = language.Make(l.Tag)
	}
	c.matcher = language.NewMatcher(ts)
	return c, nil
}

// patternsOf compiles the messages (keys that are sentences, not dotted
// page keys) that hold placeholders.
func patternsOf(en map[string]string) []pattern {
	var ps []pattern
	for _, k := range slices.Sorted(maps.Keys(en)) {
		if !strings.Contains(k, " ") || !placeholder.MatchString(k) {
			continue
		}
		var re strings.Builder
		var names []string
		re.WriteString("^")
		last := 0
		for _, loc := range placeholder.FindAllStringIndex(k, -1) {
			re.WriteString(regexp.QuoteMeta(k[last:loc[0]]))
			re.WriteString("(.+?)")
			names = append(names, k[loc[0]+1:loc[1]-1])
			last = loc[1]
		}
		re.WriteString(regexp.QuoteMeta(k[last:]) + "$")
		ps = append(ps, pattern{key: k, re: regexp.MustCompile(re.String()), names: names})
	}
	return ps
}

// suggest names the English key closest to k by shared prefix, to catch
// typos in overrides.
func suggest(k string, en map[string]string) string {
	best, bestLen := "", 0
	for cand := range en {
		n := 0
		for n < len(k) && n < len(cand) && k[n] == cand[n] {
			n++
		}
		if n > bestLen || (n == bestLen && cand < best) {
			best, bestLen = cand, n
		}
	}
	if bestLen < 3 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// Locales returns every language, Fallback first.
func (c *Catalog) Locales() []*Locale { return c.order }

// Locale returns the language with exactly this canonical tag.
func (c *Catalog) Locale(tag string) (*Locale, bool) {
	l, ok := c.locales[tag]
	return l, ok
}

// Match picks the language for a request: the user's explicit choice when
// it names a language we speak, else the best match for the Accept-Language
// header, else Fallback. Malformed or oversized input falls through; it
// never fails.
func (c *Catalog) Match(choice, acceptLanguage string) *Locale {
	if l, ok := c.locales[choice]; ok {
		return l
	}
	if acceptLanguage == "" || len(acceptLanguage) > maxAcceptLanguage {
		return c.order[0]
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return c.order[0]
	}
	_, i, conf := c.matcher.Match(tags...)
	if conf == language.No || i < 0 || i >= len(c.order) {
		return c.order[0]
	}
	return c.order[i]
}

// Has reports whether key is a known text (in Fallback).
func (l *Locale) Has(key string) bool {
	root := l
	for root.fallback != nil {
		root = root.fallback
	}
	_, ok := root.texts[key]
	return ok
}

// T returns the text for key with its placeholders filled from args, given
// as name, value pairs: T("sessions.signed_in", "when", "3 May"). A key this
// language lacks comes from Fallback; a key nobody has returns the key
// itself, which tests catch (see Has).
func (l *Locale) T(key string, args ...string) string {
	s, ok := l.texts[key]
	for !ok && l.fallback != nil {
		l = l.fallback
		s, ok = l.texts[key]
	}
	if !ok {
		return key
	}
	if len(args) == 0 || !strings.Contains(s, "{") {
		return s
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+args[i]+"}", args[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// Message translates one of the core's English error messages. A message
// built at run time ("Use at least 12 characters.") is matched against the
// catalogue's messages with placeholders ("Use at least {min} characters."),
// and each value it holds is translated in turn ("2 minutes" → "2
// minutes"/"2 minutes"). A message the catalogue does not know is returned
// as it is: English is better than nothing.
func (l *Locale) Message(english string) string { return l.message(english, 2) }

func (l *Locale) message(english string, depth int) string {
	if l.Has(english) {
		return l.T(english)
	}
	if depth == 0 {
		return english
	}
	for _, p := range l.patterns {
		m := p.re.FindStringSubmatch(english)
		if m == nil {
			continue
		}
		args := make([]string, 0, 2*len(p.names))
		for i, name := range p.names {
			args = append(args, name, l.message(m[i+1], depth-1))
		}
		return l.T(p.key, args...)
	}
	return english
}
