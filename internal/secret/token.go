package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// tokenBytes is the entropy of a token: 256 bits, far beyond guessing range
// even with online attempts unthrottled.
const tokenBytes = 32

// NewToken returns a new bearer secret (session, reset, verification token):
// 32 bytes from crypto/rand encoded as unpadded base64url, 43 characters that
// are safe in URLs, cookies and headers without further escaping.
//
// Store only HashToken(token), never the token itself, so that a leaked
// database does not yield usable credentials.
func NewToken() string {
	var b [tokenBytes]byte
	// crypto/rand.Read never returns an error since Go 1.24; it crashes the
	// program instead of returning weak randomness.
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken returns the value a store keeps for a token: the SHA-256 of the
// token's bytes, encoded as unpadded base64url (43 characters). The result is
// deterministic so a presented token can be looked up by its hash. A fast
// hash is enough because tokens from NewToken carry 256 bits of entropy; do
// not use HashToken for passwords or other low-entropy input (use
// HashPassword).
func HashToken(token string) string {
	return DigestToken(token).String()
}

// Digest is the raw SHA-256 of a token, the 32 bytes HashToken encodes. It
// is comparable, so in-memory lookups (the session cache) can key on it
// without encoding the hash, which keeps an allocation off every request.
type Digest [sha256.Size]byte

// DigestToken returns the SHA-256 of token. DigestToken(t).String() ==
// HashToken(t).
func DigestToken(token string) Digest {
	// []byte(token) would copy a token longer than 32 bytes to the heap;
	// a stack buffer holds ours (43 bytes) and anything up to 64.
	var buf [64]byte
	return sha256.Sum256(append(buf[:0], token...))
}

// String returns d encoded as HashToken encodes it: the form stores keep.
func (d Digest) String() string {
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// strictRawURL refuses the non-canonical spellings of a hash (nonzero
// trailing bits), so each digest has exactly one text form.
var strictRawURL = base64.RawURLEncoding.Strict()

// ParseDigest decodes a HashToken result. It reports false for anything
// else, so a malformed stored hash is never mistaken for a digest.
func ParseDigest(hash string) (Digest, bool) {
	var d Digest
	if base64.RawURLEncoding.EncodedLen(len(d)) != len(hash) {
		return Digest{}, false
	}
	n, err := strictRawURL.Decode(d[:], []byte(hash))
	if err != nil || n != len(d) {
		return Digest{}, false
	}
	return d, true
}

// NewID returns prefix + "_" + a 26-character random base32 string from
// crypto/rand.Text (128 bits), for example "usr_4XJ2…". Ids are unguessable
// but are public identifiers: never use one as a secret or a credential.
// The prefix should be a short constant naming the kind of object.
func NewID(prefix string) string {
	return prefix + "_" + rand.Text()
}

// Equal reports whether a and b are equal in time that depends only on their
// lengths, not their contents, so comparing a presented secret with a stored
// one does not leak how many leading bytes matched. The lengths themselves
// are not hidden; compare fixed-length values (such as HashToken outputs).
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// idTextLen is the length of rand.Text's output: 26 base32 characters.
const idTextLen = 26

// IsID reports whether s has the form NewID(prefix) produces. Use it to
// refuse a malformed identifier before it reaches a query.
func IsID(prefix, s string) bool {
	if len(s) != len(prefix)+1+idTextLen || s[:len(prefix)] != prefix || s[len(prefix)] != '_' {
		return false
	}
	for _, c := range []byte(s[len(prefix)+1:]) {
		if (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}
