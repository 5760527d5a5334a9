package normalize

import (
	"errors"
	"strings"
	"testing"
)

func TestPassword(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"plain", "correct horse", "correct horse", nil},
		{"spaces kept", "  pass word  ", "  pass word  ", nil},
		{"case kept", "PassWord", "PassWord", nil},
		{"fullwidth to ascii", "ｐａｓｓ", "pass", nil},
		{"decomposed to composed", "cafe\u0301", "café", nil},
		{"empty", "", "", nil},
		{"exactly max", strings.Repeat("a", MaxPasswordBytes), strings.Repeat("a", MaxPasswordBytes), nil},
		{"one over max", strings.Repeat("a", MaxPasswordBytes+1), "", ErrPasswordTooLong},
		{"over max and invalid", strings.Repeat("\xff", MaxPasswordBytes+1), "", ErrPasswordTooLong},
		{"nfkc expands over max", strings.Repeat("\ufdfa", MaxPasswordBytes/3), "", ErrPasswordTooLong},
		{"NUL", "pass\x00word", "", ErrPasswordInvalid},
		{"invalid utf-8", "pass\xffword", "", ErrPasswordInvalid},
		{"other controls allowed", "pass\tword", "pass\tword", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Password(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Password error = %v; want %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("Password = %q; want %q", got, tt.want)
			}
		})
	}
}
