package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// minSecretLen is the minimum length in bytes of a master secret: 256 bits.
const minSecretLen = 32

const (
	keyIDLen     = 8 // hex characters of the key id at the front of sealed data
	maxDeriveLen = 255 * sha256.Size
)

// ErrDecrypt is the only error Keyring.Open returns. It deliberately does not
// say whether the key id was unknown, the data truncated, or authentication
// failed, so Open cannot be used as an oracle.
var ErrDecrypt = errors.New("secret: decryption failed")

// Keyring holds the current master secret, from which new keys are derived
// and new data is sealed, and previous master secrets that are still accepted
// by Open during a rotation. A Keyring is immutable and safe for concurrent
// use. Create it with NewKeyring.
//
// To rotate: start every instance with the new secret as current and the old
// one as previous, re-seal stored data (Open, then Seal), then drop the old
// secret. Keys from Derive change immediately on rotation; anything that
// relies on a derived key staying stable (for example signatures checked
// later) must handle that itself.
type Keyring struct {
	keys []masterKey // keys[0] is current
}

type masterKey struct {
	id     string // keyIDLen lowercase hex characters
	secret []byte
}

// NewKeyring returns a Keyring with current as the current master secret and
// previous as older secrets accepted by Open, in any order. Every secret must
// be at least 32 bytes of high-entropy random data, for
// example from ParseSecret. The secrets are copied.
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{}
	for i, s := range append([][]byte{current}, previous...) {
		if len(s) < minSecretLen {
			which := "current master secret"
			if i > 0 {
				which = fmt.Sprintf("previous master secret #%d", i)
			}
			return nil, fmt.Errorf("secret: new keyring: %s is %d bytes, must be at least %d", which, len(s), minSecretLen)
		}
		s = append([]byte(nil), s...)
		k.keys = append(k.keys, masterKey{id: keyID(s), secret: s})
	}
	return k, nil
}

// keyID names a master secret in sealed data without revealing it.
func keyID(secret []byte) string {
	h := sha256.New()
	h.Write([]byte("gatehouse key id"))
	h.Write(secret)
	return hex.EncodeToString(h.Sum(nil))[:keyIDLen]
}

// Derive returns an n-byte key for purpose, derived with HKDF-SHA256
// (RFC 5869) from the current master secret with info "gatehouse/"+purpose.
// Different purposes give independent keys, so a key leaked or misused in
// one place does not endanger another; use a distinct constant purpose per
// use. The same purpose and secret always give the same key.
//
// n must be between 1 and 8160 (255*32); anything else is a programming
// error and panics, because a silently empty key would be worse.
func (k *Keyring) Derive(purpose string, n int) []byte {
	return derive(k.keys[0].secret, purpose, n)
}

func derive(secret []byte, purpose string, n int) []byte {
	if n < 1 || n > maxDeriveLen {
		panic(fmt.Sprintf("secret: Derive length %d out of range 1..%d", n, maxDeriveLen))
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "gatehouse/"+purpose, n)
	if err != nil {
		// Only possible for lengths checked above or secrets shorter than
		// NewKeyring accepts.
		panic("secret: hkdf: " + err.Error())
	}
	return key
}

func aead(secret []byte, purpose string) cipher.AEAD {
	block, err := aes.NewCipher(derive(secret, purpose, 32))
	if err != nil {
		panic("secret: aes: " + err.Error()) // unreachable: the key is 32 bytes
	}
	gcm, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		panic("secret: gcm: " + err.Error()) // unreachable for AES
	}
	return gcm
}

// Seal encrypts and authenticates plaintext, and authenticates
// additionalData (which is not included in the output and must be passed
// to Open unchanged), with AES-256-GCM under the key derived for purpose from
// the current master secret. The output is the 8-character key id, a random
// 12-byte nonce, then the ciphertext and 16-byte tag: len(plaintext)+36 bytes.
//
// Bind sealed data to its context through additionalData (for example the
// owning record's id) so it cannot be moved to another record. Random nonces
// limit one key to about 2^32 Seal calls; rotate the master secret well
// before that.
func (k *Keyring) Seal(purpose string, plaintext, additionalData []byte) []byte {
	cur := k.keys[0]
	out := make([]byte, 0, keyIDLen+12+len(plaintext)+16)
	out = append(out, cur.id...)
	return aead(cur.secret, purpose).Seal(out, nil, plaintext, additionalData)
}

// Open reverses Seal for the same purpose and additionalData, using whichever
// current or previous master secret the key id names. Any failure returns
// ErrDecrypt and no plaintext.
func (k *Keyring) Open(purpose string, sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < keyIDLen {
		return nil, ErrDecrypt
	}
	id, body := string(sealed[:keyIDLen]), sealed[keyIDLen:]
	// Ids are 32 bits, so two secrets could share one; try each match.
	for _, mk := range k.keys {
		if mk.id != id {
			continue
		}
		if pt, err := aead(mk.secret, purpose).Open(nil, nil, body, additionalData); err == nil {
			return pt, nil
		}
	}
	return nil, ErrDecrypt
}

// SealedWithCurrent reports whether sealed names the current master
// secret, i.e. whether data opened with a previous one should be re-sealed.
func (k *Keyring) SealedWithCurrent(sealed []byte) bool {
	return len(sealed) >= keyIDLen && string(sealed[:keyIDLen]) == k.keys[0].id
}

// ParseSecret decodes a master secret written as hexadecimal, as it appears
// in configuration: at least 64 hex digits (32 bytes), surrounding whitespace
// ignored. Generate one with, for example, `openssl rand -hex 32`. Errors
// explain the rule without echoing any part of s.
func ParseSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("secret: master secret is empty; generate one with `openssl rand -hex 32`")
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return nil, errors.New("secret: master secret must contain only hexadecimal digits (0-9, a-f); generate one with `openssl rand -hex 32`")
		}
	}
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("secret: master secret has an odd number of hex digits (%d); each byte is two digits", len(s))
	}
	if len(s) < 2*minSecretLen {
		return nil, fmt.Errorf("secret: master secret is %d hex digits, must be at least %d (%d bytes); generate one with `openssl rand -hex 32`", len(s), 2*minSecretLen, minSecretLen)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("secret: master secret is not valid hexadecimal")
	}
	return b, nil
}
