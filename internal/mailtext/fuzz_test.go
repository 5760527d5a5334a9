package mailtext_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/mailtext"
)

// FuzzMatch checks that Match never panics and always answers a supported
// locale, whatever the Accept-Language header holds.
func FuzzMatch(f *testing.F) {
	s, err := mailtext.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	locales := s.Locales()
	for _, seed := range []string{
		"", "fr-CA,fr;q=0.9,en;q=0.8", "de", "*", "en-US;q=0.5, *;q=0.1",
		"fr;q=0", "zh-Hant-TW", "x-klingon", "i-klingon", "en_US", ";;;,,,",
		"fr;q=1.5", "fr;q=-1", "fr;q=0.5;q=0.6", "und", "root",
		"en-u-ca-gregory-x-foo", strings.Repeat("a-", 200), "\xff\xfe",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := s.Match(header)
		if !slices.Contains(locales, got) {
			t.Fatalf("Match(%q) = %q, not one of %q", header, got, locales)
		}
		if len(header) > 256 && got != "en" {
			t.Fatalf("Match(%d bytes) = %q, want the header ignored", len(header), got)
		}
	})
}
