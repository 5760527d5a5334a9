package normalize

import (
	"errors"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxPasswordBytes is the longest password accepted, in bytes, both as typed
// and after NFKC normalization. It bounds the work an attacker can make the
// server do per attempt, and it is far above any password a person types.
const MaxPasswordBytes = 4096

// Password errors. Their messages never contain the password and are safe to
// show to the user.
var (
	// ErrPasswordTooLong means the password is over MaxPasswordBytes.
	ErrPasswordTooLong = errors.New("password is too long (the limit is 4096 bytes)")
	// ErrPasswordInvalid means the password is not valid UTF-8 or contains
	// a NUL character.
	ErrPasswordInvalid = errors.New("password contains characters that are not allowed")
)

// Password prepares a password for hashing or for verification against a
// stored hash; both paths must use it so that the same typed password always
// produces the same bytes.
//
// It rejects a password longer than MaxPasswordBytes with ErrPasswordTooLong
// before doing any other work, then rejects invalid UTF-8 and NUL with
// ErrPasswordInvalid, and returns the NFKC form (so that, for example,
// full-width "ｐａｓｓ" and "pass" are the same password, as NIST SP 800-63B
// §5.1.1.2 recommends). NFKC can lengthen a string; a result over
// MaxPasswordBytes is also ErrPasswordTooLong, so the hasher never sees more
// than MaxPasswordBytes bytes.
//
// Password never trims, case-folds or truncates: every character typed counts.
// It does not judge strength; use Policy.Check for new passwords. An empty
// password is returned as is.
func Password(s string) (string, error) {
	if len(s) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return "", ErrPasswordInvalid
	}
	n := norm.NFKC.String(s)
	if len(n) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	return n, nil
}
