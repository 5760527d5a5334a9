package normalize

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzEmail(f *testing.F) {
	for _, s := range []string{
		"Ada@Example.COM", "user@bücher.de", "user@XN--BCHER-KVA.de", "a@b", "a@@b.com",
		`"q"@x.com`, "a b@x.com", "a@x.com\r\nBcc: y", "a\x00@x.com", "a＠x.com", "a﹫x.com",
		"a@[1.2.3.4]", ".a@x.com", "a..b@x.com", "a@-x.com", "\U0001F600@x.com", "a\xff@x.com",
		"a@bücher。de", "a@x.com.", "a@ß.de", "a@xn--zz.com", "a@1.2.3.4", "  a@x.com  ",
		"a@\u0627\u0644\u0639\u0631\u0628\u064a\u0629.example", "a@x\u200d.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		display, normalized, err := Email(s)
		if err != nil {
			if !errors.Is(err, ErrEmailInvalid) {
				t.Fatalf("error %v does not match ErrEmailInvalid", err)
			}
			if display != "" || normalized != "" {
				t.Fatalf("non-empty results alongside an error")
			}
			return
		}
		if strings.Count(normalized, "@") != 1 {
			t.Fatalf("normalized %q does not have exactly one @", normalized)
		}
		for i := 0; i < len(normalized); i++ {
			if c := normalized[i]; c >= utf8.RuneSelf || c <= ' ' || ('A' <= c && c <= 'Z') {
				t.Fatalf("normalized %q is not lower-case printable ASCII", normalized)
			}
		}
		if normalized != strings.ToLower(display) {
			t.Fatalf("normalized %q is not display %q lower-cased", normalized, display)
		}
		if len(display) > maxEmailBytes {
			t.Fatalf("display %q is over %d bytes", display, maxEmailBytes)
		}
		d2, n2, err := Email(display)
		if err != nil {
			t.Fatalf("Email(display %q) failed: %v", display, err)
		}
		if d2 != display || n2 != normalized {
			t.Fatalf("round trip: Email(%q) = %q, %q; want %q, %q", display, d2, n2, display, normalized)
		}
	})
}

func FuzzPassword(f *testing.F) {
	for _, s := range []string{"", "pass", "ｐａｓｓ", "  spaced  ", "pass\x00word", "\xff", "cafe\u0301", "\ufdfa\ufdfa"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Password(s)
		switch {
		case len(s) > MaxPasswordBytes:
			if !errors.Is(err, ErrPasswordTooLong) {
				t.Fatalf("over-long input: err = %v", err)
			}
			return
		case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
			if !errors.Is(err, ErrPasswordInvalid) {
				t.Fatalf("invalid input: err = %v", err)
			}
			return
		}
		if errors.Is(err, ErrPasswordTooLong) {
			return // NFKC expanded past the limit
		}
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		if !utf8.ValidString(got) || len(got) > MaxPasswordBytes {
			t.Fatalf("result invalid or too long")
		}
		// NFKC is idempotent, so preparing a prepared password changes nothing.
		again, err := Password(got)
		if err != nil || again != got {
			t.Fatalf("Password is not idempotent: %q -> %q (%v)", got, again, err)
		}
		_ = Policy{}.Check(got, "gatehouse", s)
	})
}
