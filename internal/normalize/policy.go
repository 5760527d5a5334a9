package normalize

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Bounds of Policy.MinLength, in code points.
const (
	defaultMinLength = 12
	lowestMinLength  = 8  // NIST SP 800-63B §5.1.1.2 floor for user-chosen secrets
	highestMinLength = 64 // a minimum above this locks people out of their own passphrases
)

// minContextLen is the shortest context word, in code points, that a password
// may not contain. Shorter words (a three-letter name, say) only make a
// password fail when they equal it, since they occur by chance too often.
const minContextLen = 4

// minCommonStem is the shortest list entry that still counts when a password is
// a common password followed by digits ("monkey2024").
const minCommonStem = 4

// Policy is the strength policy for new passwords (sign-up, reset, change).
// It is a small value, safe to copy and to use concurrently. The zero value is
// the safe default: at least 12 code points, not a common password, not built
// from the user's email or the product name. It follows NIST SP 800-63B
// §5.1.1.2: a length floor and a blocklist, and no composition rules.
//
// Never apply a Policy at sign-in: it governs new passwords only, and an old
// password that predates a stricter policy must keep working.
type Policy struct {
	// MinLength is the minimum number of Unicode code points (after Password's
	// NFKC normalization), so "ü" counts once whatever its encoding.
	// 0 means 12. Otherwise it must be between 8 and 64; Validate reports
	// anything else.
	MinLength int
}

// Validate reports whether p is usable. Call it when the configuration is
// loaded, so that a bad setting stops startup instead of weakening sign-up.
func (p Policy) Validate() error {
	if p.MinLength == 0 || (p.MinLength >= lowestMinLength && p.MinLength <= highestMinLength) {
		return nil
	}
	return fmt.Errorf("normalize: password policy MinLength is %d; use 0 (meaning %d) or a value from %d to %d",
		p.MinLength, defaultMinLength, lowestMinLength, highestMinLength)
}

func (p Policy) minLength() int {
	if p.MinLength == 0 {
		return defaultMinLength
	}
	return p.MinLength
}

// Check reports whether password may be chosen as a new password. password
// must already have passed through Password. context holds words the password
// must not be built from: the caller passes the product name, the user's email
// address and the email's local part (empty words are ignored).
//
// Check returns nil, or a *PolicyError for the first rule the password breaks,
// in this order:
//   - ReasonTooShort: fewer than MinLength code points;
//   - ReasonTooCommon: its lower-case form is on the embedded common-password
//     list (see data/README.md), or is a list entry of at least 4 characters
//     followed only by digits ("Password2024");
//   - ReasonContainsContext: its lower-case form equals a context word, or
//     contains one of at least 4 code points (both compared NFKC-normalized
//     and lower-cased).
//
// Check fails closed: if p is invalid (see Validate) or the embedded list
// cannot be read, it returns that error, which is not a *PolicyError, and the
// password must be refused.
func (p Policy) Check(password string, context ...string) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if want := p.minLength(); utf8.RuneCountInString(password) < want {
		return &PolicyError{Reason: ReasonTooShort, Min: want}
	}

	common, err := commonPasswords()
	if err != nil {
		return err
	}
	lower := strings.ToLower(password)
	if _, ok := common[lower]; ok {
		return &PolicyError{Reason: ReasonTooCommon}
	}
	if stem := strings.TrimRight(lower, "0123456789"); stem != lower && utf8.RuneCountInString(stem) >= minCommonStem {
		if _, ok := common[stem]; ok {
			return &PolicyError{Reason: ReasonTooCommon}
		}
	}

	for _, w := range context {
		w = strings.ToLower(norm.NFKC.String(strings.TrimSpace(w)))
		if w == "" {
			continue
		}
		if lower == w || (utf8.RuneCountInString(w) >= minContextLen && strings.Contains(lower, w)) {
			return &PolicyError{Reason: ReasonContainsContext}
		}
	}
	return nil
}

// Reason identifies the rule a password broke. Its values are stable,
// snake_case, and suitable as API error codes.
type Reason string

// The reasons Check can report.
const (
	ReasonTooShort        Reason = "too_short"
	ReasonTooCommon       Reason = "too_common"
	ReasonContainsContext Reason = "contains_context"
)

// PolicyError is the error Check returns when a password breaks the policy.
type PolicyError struct {
	// Reason is the rule that was broken.
	Reason Reason
	// Min is the minimum length in characters when Reason is ReasonTooShort,
	// and 0 otherwise.
	Min int
}

// Error returns one plain-English sentence for the person choosing the
// password, such as "Use at least 12 characters.". It never contains the
// password or a context word.
func (e *PolicyError) Error() string {
	switch e.Reason {
	case ReasonTooShort:
		return fmt.Sprintf("Use at least %d characters.", e.Min)
	case ReasonTooCommon:
		return "This password is too common; choose one that is harder to guess."
	case ReasonContainsContext:
		return "Don't use your email address or the product name in your password."
	default:
		return "Choose a different password."
	}
}

// errCommonList is wrapped when the embedded list cannot be decoded, which
// means the binary was built from a damaged tree.
var errCommonList = errors.New("normalize: embedded common-password list is unreadable")
