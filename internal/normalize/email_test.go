package normalize

import (
	"errors"
	"strings"
	"testing"
)

func TestEmailAccepts(t *testing.T) {
	tests := []struct {
		name, in, display, normalized string
	}{
		{"mixed case", "Ada@Example.COM", "Ada@example.com", "ada@example.com"},
		{"surrounding spaces trimmed", "  ada@example.com ", "ada@example.com", "ada@example.com"},
		{"idn domain", "user@bücher.de", "user@xn--bcher-kva.de", "user@xn--bcher-kva.de"},
		{"idn upper case", "User@BÜCHER.DE", "User@xn--bcher-kva.de", "user@xn--bcher-kva.de"},
		{"a-label input", "user@XN--BCHER-KVA.de", "user@xn--bcher-kva.de", "user@xn--bcher-kva.de"},
		{"ideographic full stop", "user@bücher。de", "user@xn--bcher-kva.de", "user@xn--bcher-kva.de"},
		{"plus tag kept", "ada+news@example.com", "ada+news@example.com", "ada+news@example.com"},
		{"dots kept", "a.d.a@gmail.com", "a.d.a@gmail.com", "a.d.a@gmail.com"},
		{"all atext", "!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com"},
		{"64-byte local", strings.Repeat("a", 64) + "@x.com", strings.Repeat("a", 64) + "@x.com", strings.Repeat("a", 64) + "@x.com"},
		{"subdomains", "a@mail.eu.example.co.uk", "a@mail.eu.example.co.uk", "a@mail.eu.example.co.uk"},
		{"digits in labels", "a@123.example", "a@123.example", "a@123.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			display, normalized, err := Email(tt.in)
			if err != nil {
				t.Fatalf("Email(%q) error: %v", tt.in, err)
			}
			if display != tt.display || normalized != tt.normalized {
				t.Errorf("Email(%q) = %q, %q; want %q, %q", tt.in, display, normalized, tt.display, tt.normalized)
			}
		})
	}
}

func TestEmailRejects(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"only spaces", "   "},
		{"no at", "ada.example.com"},
		{"no dot in domain", "a@b"},
		{"double at", "a@@b.com"},
		{"two ats", "a@b@c.com"},
		{"quoted local", `"q"@x.com`},
		{"space inside", "a b@x.com"},
		{"header injection", "a@x.com\r\nBcc: y"},
		{"tab", "a\t@x.com"},
		{"NUL", "a\x00@x.com"},
		{"DEL", "a\x7f@x.com"},
		{"no-break space", "a\u00a0b@x.com"},
		{"zero-width space", "a@x\u200b.com"},
		{"soft hyphen in domain", "a@bü\u00adcher.de"},
		{"bidi override", "a\u202e@x.com"},
		{"fullwidth at", "a＠x.com"},
		{"small commercial at", "a﹫x.com"},
		{"fullwidth at plus real at", "a＠b@x.com"},
		{"ip literal", "a@[1.2.3.4]"},
		{"ipv6 literal", "a@[IPv6:::1]"},
		{"bare ipv4", "a@1.2.3.4"},
		{"leading dot", ".a@x.com"},
		{"trailing dot local", "a.@x.com"},
		{"double dot local", "a..b@x.com"},
		{"65-byte local", strings.Repeat("a", 65) + "@x.com"},
		{"empty local", "@x.com"},
		{"empty domain", "a@"},
		{"leading hyphen label", "a@-x.com"},
		{"trailing hyphen label", "a@x-.com"},
		{"empty label", "a@x..com"},
		{"leading dot domain", "a@.x.com"},
		{"trailing dot domain", "a@x.com."},
		{"trailing ideographic full stop", "a@x.com。"},
		{"64-byte label", "a@" + strings.Repeat("b", 64) + ".com"},
		{"underscore in domain", "a@x_y.com"},
		{"emoji local", "\U0001F600@x.com"},
		{"non-ascii local", "jürgen@x.com"},
		{"invalid utf-8", "a\xff@x.com"},
		{"invalid utf-8 domain", "a@x\xc3.com"},
		{"too long", strings.Repeat("a", 64) + "@" + strings.Repeat("b.", 94) + "com"},
		{"a-label makes it too long", strings.Repeat("a", 64) + "@" + strings.Repeat("bücher.", 12) + strings.Repeat("b.", 15) + "com"},
		{"bad punycode", "a@xn--zz.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			display, normalized, err := Email(tt.in)
			if err == nil {
				t.Fatalf("Email(%q) = %q, %q; want an error", tt.in, display, normalized)
			}
			if !errors.Is(err, ErrEmailInvalid) {
				t.Errorf("Email(%q) error %v does not match ErrEmailInvalid", tt.in, err)
			}
			var ee *EmailError
			if !errors.As(err, &ee) || ee.Reason == "" {
				t.Errorf("Email(%q) error %v is not an *EmailError with a reason", tt.in, err)
			}
			if display != "" || normalized != "" {
				t.Errorf("Email(%q) returned %q, %q alongside an error", tt.in, display, normalized)
			}
		})
	}
}

// The messages are shown to users, so they must never reflect the input.
func TestEmailErrorDoesNotEchoInput(t *testing.T) {
	for _, in := range []string{"<script>@x.com", "secretname@x..com", "a@evil-<b>.com", "zzzz＠x.com"} {
		_, _, err := Email(in)
		if err == nil {
			t.Fatalf("Email(%q) succeeded", in)
		}
		for _, part := range []string{"script", "secretname", "evil", "zzzz"} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("Email(%q) error %q echoes the input", in, err)
			}
		}
	}
}
