package secret

import (
	"strings"
	"testing"
)

func TestDigestRoundTrip(t *testing.T) {
	for _, tok := range []string{"", "abc", NewToken()} {
		d := DigestToken(tok)
		if got, want := d.String(), HashToken(tok); got != want {
			t.Fatalf("DigestToken(%q).String() = %q, HashToken = %q", tok, got, want)
		}
		back, ok := ParseDigest(HashToken(tok))
		if !ok || back != d {
			t.Fatalf("ParseDigest(HashToken(%q)) = %x, %v; want %x", tok, back, ok, d)
		}
	}
}

func TestParseDigestRefuses(t *testing.T) {
	good := HashToken("abc") // ends in '0': the last character carries 2 trailing zero bits
	for name, s := range map[string]string{
		"empty":                   "",
		"too short":               good[:42],
		"too long":                good + "A",
		"padded":                  good + "=",
		"standard alphabet":       strings.ReplaceAll(good, "-", "+"),
		"non-canonical last char": good[:42] + "1", // same bytes with nonzero trailing bits
		"a token, not a hash":     NewToken() + "!",
	} {
		if _, ok := ParseDigest(s); ok {
			t.Errorf("%s: ParseDigest(%q) accepted", name, s)
		}
	}
}

func TestDigestTokenAllocations(t *testing.T) {
	tok := NewToken()
	if n := testing.AllocsPerRun(100, func() { _ = DigestToken(tok) }); n != 0 {
		t.Fatalf("DigestToken allocates %v times", n)
	}
}
