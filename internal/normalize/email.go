package normalize

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Limits on email addresses. maxEmailBytes is the RFC 5321 §4.5.3.1.3 path
// limit (256) minus the angle brackets; the others are RFC 5321 §4.5.3.1.1-2
// and RFC 1035 §2.3.4.
const (
	maxEmailBytes  = 254
	maxLocalBytes  = 64
	maxDomainBytes = 253
	maxLabelBytes  = 63
)

// ErrEmailInvalid is the error that every rejection by Email matches with
// errors.Is. The concrete error is an *EmailError that says why.
var ErrEmailInvalid = errors.New("email address is not valid")

// EmailError reports why Email rejected an address. It unwraps to
// ErrEmailInvalid.
type EmailError struct {
	// Reason is a short plain-English explanation, safe to show to the user
	// who typed the address: it never contains any part of the input. It is
	// meant for people; it is not a stable identifier to switch on.
	Reason string
}

// Error returns a message safe to show to a user, for example
// "email address is not valid: it must contain exactly one @ sign".
func (e *EmailError) Error() string {
	return ErrEmailInvalid.Error() + ": " + e.Reason
}

// Unwrap returns ErrEmailInvalid so that errors.Is(err, ErrEmailInvalid) holds.
func (e *EmailError) Unwrap() error { return ErrEmailInvalid }

func emailErr(reason string) error { return &EmailError{Reason: reason} }

// emailDomainProfile converts a domain to its A-label (ASCII) form using the
// UTS #46 mapping that browsers and resolvers use for lookup (so "Bücher.DE"
// and "xn--bcher-kva.de" agree), non-transitional (ß stays ß), with the STD3
// letter-digit-hyphen rule, the hyphen and joiner checks, the Bidi rule
// (RFC 5893) and DNS length checks. An *idna.Profile is immutable and safe for
// concurrent use.
var emailDomainProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.StrictDomainName(true),
	idna.ValidateLabels(true),
	idna.BidiRule(),
	idna.VerifyDNSLength(true),
)

// Email validates an email address typed by a user and returns its display
// form and its normalized form. The normalized form is the uniqueness key:
// two addresses belong to the same account exactly when their normalized forms
// are equal, and it is what throttling must be keyed on. The display form is
// what to show and to send mail to.
//
// Accepted addresses are deliberately a strict subset of RFC 5322: an unquoted
// ASCII dot-atom local part (RFC 5322 §3.2.3, 1 to 64 bytes) and an
// internationalized domain name, which is converted to its A-label form
// (RFC 5891) with at least two labels. Surrounding ASCII spaces (U+0020) are
// trimmed; everything else is validated, never repaired. Email rejects:
//   - more than 254 bytes, invalid UTF-8, control characters (including CR,
//     LF, TAB and NUL), invisible format characters and any whitespace inside;
//   - anything but exactly one '@', and compatibility look-alikes of '@' such
//     as U+FF20 and U+FE6B (detected by comparing the '@' count of the NFKC
//     form with the input's);
//   - quoted local parts, non-ASCII local parts, leading, trailing or doubled
//     dots in the local part;
//   - IP literals ("[1.2.3.4]"), domains whose last label is all digits (a bare
//     IPv4 address), a trailing dot, domains without a dot, labels outside
//     1..63 bytes, domains over 253 bytes and anything IDNA refuses.
//
// display is the local part exactly as typed, "@", and the lower-case A-label
// domain. normalized is display lower-cased; both are ASCII. The local part's
// case is kept for display but ignored for uniqueness: in practice no provider
// treats "Ada" and "ada" as different mailboxes. Dots and "+tag" suffixes are
// kept, because providers differ on whether they are significant.
//
// For every accepted address, Email(display) returns the same display and
// normalized forms. Every error matches ErrEmailInvalid and its message never
// contains the input.
func Email(s string) (display, normalized string, err error) {
	s = strings.Trim(s, " ")
	if s == "" {
		return "", "", emailErr("it is empty")
	}
	// Bound the work before any Unicode processing.
	if len(s) > maxEmailBytes {
		return "", "", emailErr("it is too long")
	}
	if !utf8.ValidString(s) {
		return "", "", emailErr("it contains characters that are not allowed")
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			// Cf holds invisible characters (zero-width joiners, bidi
			// overrides, soft hyphens) that IDNA would silently drop or
			// that make one address look like another.
			return "", "", emailErr("it contains characters that are not allowed")
		case unicode.IsSpace(r), unicode.Is(unicode.Zs, r):
			return "", "", emailErr("it contains a space")
		}
	}
	at := strings.Count(s, "@")
	if strings.Count(norm.NFKC.String(s), "@") != at {
		return "", "", emailErr("it contains a character that looks like @ but is not")
	}
	if at != 1 {
		return "", "", emailErr("it must contain exactly one @ sign")
	}
	local, domain, _ := strings.Cut(s, "@")

	if err := checkLocal(local); err != nil {
		return "", "", err
	}
	aLabel, err := domainToASCII(domain)
	if err != nil {
		return "", "", err
	}

	display = local + "@" + aLabel
	if len(display) > maxEmailBytes {
		return "", "", emailErr("it is too long")
	}
	// display is all ASCII here, so strings.ToLower only folds A-Z.
	return display, strings.ToLower(display), nil
}

// checkLocal enforces an unquoted ASCII dot-atom (RFC 5322 §3.2.3).
func checkLocal(local string) error {
	switch {
	case local == "":
		return emailErr("the part before @ is missing")
	case len(local) > maxLocalBytes:
		return emailErr("the part before @ is longer than 64 characters")
	case strings.HasPrefix(local, `"`):
		return emailErr("quoted names before @ are not supported")
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; c != '.' && !isAtext(c) {
			return emailErr("the part before @ may only contain letters a-z, digits and the symbols . ! # $ % & ' * + - / = ? ^ _ ` { | } ~")
		}
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return emailErr("the part before @ cannot start or end with a dot or have two dots in a row")
	}
	return nil
}

// isAtext reports whether c is an RFC 5322 §3.2.3 atext character.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// domainToASCII returns the lower-case A-label form of domain or an
// *EmailError.
func domainToASCII(domain string) (string, error) {
	switch {
	case domain == "":
		return "", emailErr("the domain after @ is missing")
	case strings.HasPrefix(domain, "["):
		return "", emailErr("the domain cannot be an IP address")
	case strings.HasSuffix(domain, "."):
		return "", emailErr("the domain cannot end with a dot")
	}
	a, err := emailDomainProfile.ToASCII(domain)
	if err != nil {
		return "", emailErr("the domain is not a valid domain name")
	}
	a = strings.ToLower(a)
	// Checked again after mapping: U+3002 IDEOGRAPHIC FULL STOP and friends
	// map to '.', and the profile's checks are repeated here so the contract
	// does not rest on a dependency's defaults.
	if strings.HasSuffix(a, ".") {
		return "", emailErr("the domain cannot end with a dot")
	}
	if len(a) > maxDomainBytes {
		return "", emailErr("the domain is too long")
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 {
		return "", emailErr("the domain must contain a dot, as in example.com")
	}
	for _, l := range labels {
		if !isLDHLabel(l) {
			return "", emailErr("the domain is not a valid domain name")
		}
	}
	if isAllDigits(labels[len(labels)-1]) {
		// No top-level domain is numeric; this is an IPv4 address.
		return "", emailErr("the domain cannot be an IP address")
	}
	return a, nil
}

// isLDHLabel reports whether l is 1..63 lower-case letters, digits and
// hyphens, not starting or ending with a hyphen (RFC 1035 §2.3.1, RFC 5891
// §4.2.3.1).
func isLDHLabel(l string) bool {
	if l == "" || len(l) > maxLabelBytes || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
