package normalize

import (
	"errors"
	"strings"
	"testing"
)

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		min int
		ok  bool
	}{
		{0, true}, {8, true}, {12, true}, {64, true},
		{-1, false}, {1, false}, {7, false}, {65, false}, {1000, false},
	}
	for _, tt := range tests {
		err := Policy{MinLength: tt.min}.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("Policy{MinLength: %d}.Validate() = %v; want ok=%v", tt.min, err, tt.ok)
		}
	}
}

func TestCommonListContents(t *testing.T) {
	set, err := commonPasswords()
	if err != nil {
		t.Fatal(err)
	}
	if len(set) < 40000 {
		t.Errorf("common list has %d entries; want about 49,000", len(set))
	}
	for _, p := range []string{"password1234", "password", "monkey", "iloveyou"} {
		if _, ok := set[p]; !ok {
			t.Errorf("%q is not on the common list", p)
		}
	}
	for p := range set {
		if p != strings.ToLower(p) || len([]rune(p)) < 4 {
			t.Fatalf("list entry %q is not lower-case or shorter than 4", p)
		}
	}
}

func TestPolicyCheck(t *testing.T) {
	ctx := []string{"Gatehouse", "Ada.Lovelace@example.com", "Ada.Lovelace"}
	tests := []struct {
		name     string
		policy   Policy
		password string
		context  []string
		want     Reason // "" means accepted
		min      int
	}{
		{"passphrase", Policy{}, "correct horse battery staple", ctx, "", 0},
		{"default min is 12", Policy{}, "x7#kq2!mvz9", nil, ReasonTooShort, 12},
		{"exactly 12", Policy{}, "x7#kq2!mvz9w", nil, "", 0},
		{"min counts code points", Policy{MinLength: 8}, "üüüüüüü", nil, ReasonTooShort, 8},
		{"8 multibyte code points pass", Policy{MinLength: 8}, "ü€漢ü€漢ü€", nil, "", 0},
		{"empty", Policy{}, "", nil, ReasonTooShort, 12},
		{"too common", Policy{}, "password1234", nil, ReasonTooCommon, 0},
		{"too common any case", Policy{}, "PassWord1234", nil, ReasonTooCommon, 0},
		{"common stem plus digits", Policy{MinLength: 8}, "monkey2024", nil, ReasonTooCommon, 0},
		{"common stem plus many digits", Policy{}, "iloveyou12345678", nil, ReasonTooCommon, 0},
		{"stem too short", Policy{MinLength: 8}, "abc12345x", nil, "", 0},
		{"short checked before common", Policy{}, "password", nil, ReasonTooShort, 12},
		{"contains local part", Policy{}, "my ada.lovelace pw!", ctx, ReasonContainsContext, 0},
		{"contains email", Policy{}, "ada.lovelace@example.com", ctx, ReasonContainsContext, 0},
		{"contains product name", Policy{}, "GATEHOUSE-rules-ok", ctx, ReasonContainsContext, 0},
		{"fullwidth context word", Policy{}, "my gatehouse secret", []string{"ｇａｔｅｈｏｕｓｅ"}, ReasonContainsContext, 0},
		{"short context word only by equality", Policy{MinLength: 8}, "bobsleigh-run", []string{"bob"}, "", 0},
		{"short context word equal", Policy{MinLength: 8}, "ABCDEFGH", []string{"abcdefgh"}, ReasonContainsContext, 0},
		{"empty context word ignored", Policy{}, "correct horse battery", []string{"", "  "}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.password, tt.context...)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v; want nil", tt.password, err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check(%q) = %v; want *PolicyError %s", tt.password, err, tt.want)
			}
			if pe.Reason != tt.want || pe.Min != tt.min {
				t.Errorf("Check(%q) = %+v; want reason %s, min %d", tt.password, *pe, tt.want, tt.min)
			}
			if strings.Contains(strings.ToLower(pe.Error()), strings.ToLower(tt.password)) && tt.password != "" {
				t.Errorf("message %q echoes the password", pe.Error())
			}
		})
	}
}

func TestPolicyCheckInvalidPolicyFailsClosed(t *testing.T) {
	err := Policy{MinLength: 4}.Check("correct horse battery staple")
	if err == nil {
		t.Fatal("Check with an invalid policy accepted a password")
	}
	var pe *PolicyError
	if errors.As(err, &pe) {
		t.Errorf("Check with an invalid policy returned a *PolicyError: %v", err)
	}
}

func TestPolicyErrorMessages(t *testing.T) {
	tests := []struct {
		err  *PolicyError
		want string
	}{
		{&PolicyError{Reason: ReasonTooShort, Min: 12}, "Use at least 12 characters."},
		{&PolicyError{Reason: ReasonTooCommon}, "This password is too common; choose one that is harder to guess."},
		{&PolicyError{Reason: ReasonContainsContext}, "Don't use your email address or the product name in your password."},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%s: Error() = %q; want %q", tt.err.Reason, got, tt.want)
		}
	}
}
