package catalog

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func newBuiltin(t *testing.T) *Catalog {
	t.Helper()
	c, err := New(nil)
	if err != nil {
		t.Fatalf("New(nil): %v", err)
	}
	return c
}

func TestMatch(t *testing.T) {
	c := newBuiltin(t)
	tests := []struct {
		name           string
		choice, accept string
		want           string
	}{
		{"nothing", "", "", "en"},
		{"explicit choice wins over the header", "fr", "en-US,en;q=0.9", "fr"},
		{"explicit English wins over a French header", "en", "fr", "en"},
		{"regional variant of a language we speak", "", "fr-CA,fr;q=0.9", "fr"},
		{"bare regional variant", "", "fr-BE", "fr"},
		{"preferred language wins", "", "de;q=0.5,fr;q=0.8,en;q=0.7", "fr"},
		{"language we do not speak", "", "de", "en"},
		{"unknown choice falls through to the header", "de", "fr", "fr"},
		{"malformed choice falls through to the header", "<script>", "fr", "fr"},
		{"choice must be a canonical tag", "FR", "", "en"},
		{"malformed header", "", "fr;q=abc", "en"},
		{"garbage header", "", "\x00\xff;;==", "en"},
		{"oversized header", "", "fr," + strings.Repeat("x-", maxAcceptLanguage), "en"},
		{"header just at the bound", "", "fr" + strings.Repeat(" ", maxAcceptLanguage-2), "fr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Match(tt.choice, tt.accept)
			if got == nil {
				t.Fatal("Match returned nil")
			}
			if got.Tag != tt.want {
				t.Errorf("Match(%q, %q) = %s, want %s", tt.choice, tt.accept, got.Tag, tt.want)
			}
		})
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"", "fr-CA,fr;q=0.9", "de", "fr;q=abc", "*", "en-US,en;q=0.9,fr;q=0.8"} {
		f.Add("", s)
	}
	f.Add("fr", "de")
	c, err := New(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, choice, accept string) {
		l := c.Match(choice, accept)
		if l == nil {
			t.Fatal("Match returned nil")
		}
		if got, ok := c.Locale(l.Tag); !ok || got != l {
			t.Fatalf("Match returned %q, which is not one of the catalogue's locales", l.Tag)
		}
	})
}

// TestT checks lookup and placeholder filling on a catalogue built from
// known texts, independent of the shipped ones.
func TestT(t *testing.T) {
	c, err := build(map[string]map[string]string{
		"en": {
			NameKey:              "English",
			"sessions.signed_in": "Signed in {when} from {where}",
			"plain":              "Plain text",
			"only.en":            "Only in English",
		},
		"fr": {
			NameKey:              "Français",
			"sessions.signed_in": "Connexion {when} depuis {where}",
			"plain":              "Texte simple",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	en, _ := c.Locale("en")
	fr, _ := c.Locale("fr")
	tests := []struct {
		name string
		l    *Locale
		key  string
		args []string
		want string
	}{
		{"plain", fr, "plain", nil, "Texte simple"},
		{"placeholders filled", fr, "sessions.signed_in", []string{"when", "3 mai", "where", "Lyon"}, "Connexion 3 mai depuis Lyon"},
		{"placeholders in any order", en, "sessions.signed_in", []string{"where", "Lyon", "when", "3 May"}, "Signed in 3 May from Lyon"},
		{"placeholder not given stays", en, "sessions.signed_in", []string{"when", "3 May"}, "Signed in 3 May from {where}"},
		{"no args leaves the text as is", en, "sessions.signed_in", nil, "Signed in {when} from {where}"},
		{"unknown arg ignored", en, "plain", []string{"when", "now"}, "Plain text"},
		{"odd trailing arg ignored", en, "sessions.signed_in", []string{"when", "3 May", "where"}, "Signed in 3 May from {where}"},
		{"values are not re-expanded", en, "sessions.signed_in", []string{"when", "{where}", "where", "Lyon"}, "Signed in {where} from Lyon"},
		{"missing key falls back to English", fr, "only.en", nil, "Only in English"},
		{"unknown key returns the key", fr, "no.such.key", nil, "no.such.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.T(tt.key, tt.args...); got != tt.want {
				t.Errorf("%s.T(%q, %q) = %q, want %q", tt.l.Tag, tt.key, tt.args, got, tt.want)
			}
		})
	}
	if fr.Missing != 1 {
		t.Errorf("fr.Missing = %d, want 1 (only.en)", fr.Missing)
	}
	if !fr.Has("only.en") || fr.Has("no.such.key") {
		t.Error("Has must answer for the English keys, from any locale")
	}
}

// TestTOverrideLanguage adds a language through Overrides: what it
// translates comes from it, the rest from English.
func TestTOverrideLanguage(t *testing.T) {
	c, err := New(Overrides{"de": {NameKey: "Deutsch"}})
	if err != nil {
		t.Fatal(err)
	}
	de, ok := c.Locale("de")
	if !ok {
		t.Fatal("the override did not add de")
	}
	en, _ := c.Locale("en")
	if de.Name != "Deutsch" || de.T(NameKey) != "Deutsch" {
		t.Errorf("de name = %q / %q, want Deutsch", de.Name, de.T(NameKey))
	}
	if want := len(en.texts) - 1; de.Missing != want {
		t.Errorf("de.Missing = %d, want %d", de.Missing, want)
	}
	for _, k := range slices.Sorted(maps.Keys(en.texts)) {
		if k == NameKey {
			continue
		}
		if got, want := de.T(k), en.T(k); got != want {
			t.Errorf("de.T(%q) = %q, want the English %q", k, got, want)
		}
	}
	if got := c.Match("", "de-AT,de;q=0.9"); got != de {
		t.Errorf("Match for de-AT = %s, want de", got.Tag)
	}
	if got := c.Locales(); len(got) != 3 || got[0].Tag != Fallback {
		t.Errorf("Locales() = %v, want 3 with %s first", tags(got), Fallback)
	}
}

func tags(ls []*Locale) []string {
	var ts []string
	for _, l := range ls {
		ts = append(ts, l.Tag)
	}
	return ts
}

func TestMessage(t *testing.T) {
	c := newBuiltin(t)
	en, _ := c.Locale("en")
	fr, _ := c.Locale("fr")
	frErrors, err := readStrict("locales/fr/errors.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, english := range sortedKeys(frErrors) {
		if got := fr.Message(english); got != frErrors[english] {
			t.Errorf("fr.Message(%q) = %q, want %q", english, got, frErrors[english])
		}
		if got := en.Message(english); got != english {
			t.Errorf("en.Message(%q) = %q, want it unchanged", english, got)
		}
	}
	const unknown = "A message nobody catalogued."
	for _, l := range c.Locales() {
		if got := l.Message(unknown); got != unknown {
			t.Errorf("%s.Message(unknown) = %q, want the English text", l.Tag, got)
		}
	}
	// A deployment rewords an English message; other languages keep theirs.
	english := sortedKeys(frErrors)[0]
	c, err = New(Overrides{"en": {english: "Reworded."}})
	if err != nil {
		t.Fatal(err)
	}
	en, _ = c.Locale("en")
	fr, _ = c.Locale("fr")
	if got := en.Message(english); got != "Reworded." {
		t.Errorf("overridden en.Message(%q) = %q, want Reworded.", english, got)
	}
	if got := fr.Message(english); got != frErrors[english] {
		t.Errorf("fr.Message(%q) = %q after an English override, want %q", english, got, frErrors[english])
	}
}

// placeholderKey returns an English key whose text has a placeholder, or "".
func placeholderKey(c *Catalog) string {
	en, _ := c.Locale(Fallback)
	for _, k := range slices.Sorted(maps.Keys(en.texts)) {
		if placeholders(en.texts[k]) != "" {
			return k
		}
	}
	return ""
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name      string
		overrides Overrides
		want      []string // substrings of the error
		not       []string
	}{
		{"unknown key near a known one",
			Overrides{"fr": {"language.nmae": "x"}},
			[]string{`"language.nmae"`, `did you mean "language.name"`}, nil},
		{"unknown key near nothing",
			Overrides{"fr": {"zz": "x"}},
			[]string{`"zz"`}, []string{"did you mean"}},
		{"unknown key in an added language",
			Overrides{"de": {"language.nam": "Deutsch"}},
			[]string{`"language.nam"`, `did you mean "language.name"`}, nil},
		{"malformed language tag",
			Overrides{"not a tag!": {NameKey: "x"}},
			[]string{`"not a tag!"`, "not a language tag"}, nil},
		{"invented placeholder",
			Overrides{"fr": {NameKey: "Français {version}"}},
			[]string{`"language.name"`, "{version}"}, nil},
		{"invented placeholder in an added language",
			Overrides{"de": {NameKey: "Deutsch {x}"}},
			[]string{`"language.name"`, "{x}"}, nil},
		// English defines the placeholders: a new one in an English
		// override is refused because the built-in French lacks it.
		{"placeholder added to English only",
			Overrides{"en": {NameKey: "English {x}"}},
			[]string{`"language.name"`, "{x}"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.overrides)
			if err == nil {
				t.Fatalf("New(%v) succeeded, want an error", tt.overrides)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q should not mention %q", err, w)
				}
			}
		})
	}
}

// TestNewRefusesDroppedPlaceholder drops the placeholders of a real
// shipped text, whichever has some.
func TestNewRefusesDroppedPlaceholder(t *testing.T) {
	k := placeholderKey(newBuiltin(t))
	if k == "" {
		t.Skip("no built-in English text has a {placeholder} yet")
	}
	for _, tag := range []string{"fr", "de"} {
		_, err := New(Overrides{tag: {k: "No placeholder here"}})
		if err == nil {
			t.Errorf("New accepted a %s override of %q without its placeholders", tag, k)
			continue
		}
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error %q does not name the key %q", err, k)
		}
	}
}

// TestBuildRefusesPlaceholderMismatch checks the validation every shipped
// catalogue and override goes through, on known texts.
func TestBuildRefusesPlaceholderMismatch(t *testing.T) {
	en := map[string]string{NameKey: "English", "k": "Signed in {when}"}
	tests := []struct {
		name string
		fr   string
		ok   bool
	}{
		{"same placeholder", "Connexion {when}", true},
		{"placeholder twice", "{when} : connexion {when}", true},
		{"dropped", "Connexion", false},
		{"renamed", "Connexion {quand}", false},
		{"invented", "Connexion {when} {where}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(map[string]map[string]string{"en": en, "fr": {"k": tt.fr}})
			if tt.ok && err != nil {
				t.Errorf("build refused %q: %v", tt.fr, err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), `"k"`)) {
				t.Errorf("build(%q) error = %v, want one naming the key", tt.fr, err)
			}
		})
	}
	if _, err := build(map[string]map[string]string{"en": en, "fr": {"extra": "x"}}); err == nil {
		t.Error("build accepted a French key English lacks")
	}
}

func TestBuiltinComplete(t *testing.T) {
	c := newBuiltin(t)
	en, _ := c.Locale(Fallback)
	for _, l := range c.Locales() {
		if l.Missing == 0 {
			continue
		}
		var missing []string
		for _, k := range slices.Sorted(maps.Keys(en.texts)) {
			if _, ok := l.texts[k]; !ok {
				missing = append(missing, k)
			}
		}
		t.Errorf("built-in %s lacks %d texts:\n\t%s", l.Tag, l.Missing, strings.Join(missing, "\n\t"))
	}
}

func TestBuiltinNames(t *testing.T) {
	c := newBuiltin(t)
	if len(c.Locales()) < 2 {
		t.Fatalf("built-in locales = %v, want at least en and fr", tags(c.Locales()))
	}
	if c.Locales()[0].Tag != Fallback {
		t.Errorf("first locale = %s, want %s", c.Locales()[0].Tag, Fallback)
	}
	seen := map[string]string{}
	for _, l := range c.Locales() {
		if l.Name == "" || l.Name == NameKey {
			t.Errorf("built-in %s has no %s", l.Tag, NameKey)
		}
		if other, dup := seen[l.Name]; dup {
			t.Errorf("%s and %s are both called %q in the picker", other, l.Tag, l.Name)
		}
		seen[l.Name] = l.Tag
		if got, ok := c.Locale(l.Tag); !ok || got != l {
			t.Errorf("Locale(%q) does not return the listed locale", l.Tag)
		}
	}
}

// TestMessageTranslatesBuiltMessages: messages the core builds at run time
// are translated through the catalogue's messages with placeholders, the
// values they hold included.
func TestMessageTranslatesBuiltMessages(t *testing.T) {
	c, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	fr, _ := c.Locale("fr")
	en, _ := c.Locale("en")
	for in, want := range map[string]string{
		"Use at least 12 characters.":                 "Utilisez au moins 12 caractères.",
		"Too many attempts. Try again in 30 seconds.": "Trop de tentatives. Réessayez dans 30 secondes.",
		"Too many attempts. Try again in 1 hour.":     "Trop de tentatives. Réessayez dans 1 heure.",
		"Too many attempts. Try again in soon-ish.":   "Trop de tentatives. Réessayez dans soon-ish.",
		"This sentence is nowhere in the catalogue.":  "This sentence is nowhere in the catalogue.",
		"This password has appeared in a data breach (seen 3 times), so attackers try it first. Choose another one.": "Ce mot de passe figure dans une fuite de données (vu 3 fois) : les attaquants l’essaient en premier. Choisissez-en un autre.",
	} {
		if got := fr.Message(in); got != want {
			t.Errorf("fr.Message(%q) = %q, want %q", in, got, want)
		}
		if got := en.Message(in); got != in {
			t.Errorf("en.Message(%q) = %q, want it unchanged", in, got)
		}
	}
}
