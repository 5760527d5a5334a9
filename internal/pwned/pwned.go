package pwned

import (
	"context"
	"crypto/sha1"
)

// Checker reports whether a password appears in a breach corpus. Breached
// returns the number of times it was seen (0: not found).
//
// The password is hashed exactly as given (SHA-1 of its bytes, which for a
// Go string are normally UTF-8); callers that normalize passwords before
// storing them should pass the same form they store. A non-nil error means
// "unknown", never "not breached": what to do then is the caller's policy.
type Checker interface {
	Breached(ctx context.Context, password string) (int, error)
}

var (
	_ Checker = (*Range)(nil)
	_ Checker = (*Corpus)(nil)
)

const (
	// hashLen is the length of a SHA-1 in hexadecimal.
	hashLen = 2 * sha1.Size
	// prefixLen is how much of the hash the range protocol sends.
	prefixLen = 5
	// maxCountDigits bounds the COUNT field of both formats. The most common
	// password has been seen tens of millions of times (8 digits); 10 digits
	// leave room while keeping lines short enough to bound every read.
	maxCountDigits = 10
)

// sha1Hex returns the upper-case hexadecimal SHA-1 of password's bytes.
func sha1Hex(password string) [hashLen]byte {
	sum := sha1.Sum([]byte(password))
	const digits = "0123456789ABCDEF"
	var out [hashLen]byte
	for i, b := range sum {
		out[2*i] = digits[b>>4]
		out[2*i+1] = digits[b&0x0f]
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f'
}

// upperHex maps a-f to A-F and leaves every other byte alone.
func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - ('a' - 'A')
	}
	return c
}

// parseCount parses a COUNT field: 1 to maxCountDigits ASCII digits (no
// sign, no space), fitting in an int. Leading zeros are allowed.
func parseCount(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > maxCountDigits {
		return 0, false
	}
	const maxInt = int(^uint(0) >> 1)
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int(c - '0')
		if n > (maxInt-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
