package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Keys finds the public key that verifies a token signed under kid.
//
// Implementations must be safe for concurrent use and must return only public
// signing keys of the issuer the Verifier trusts: the Verifier believes any
// key it is given. A key whose "use" is set to something other than "sig",
// or that holds private material, is refused by the Verifier all the same.
type Keys interface {
	// Key returns the key published under kid, or an error wrapping
	// ErrUnknownKey when there is none. Any other error means the source
	// could not answer (the Verifier then reports ReasonKeysUnavailable).
	Key(ctx context.Context, kid string) (jose.JSONWebKey, error)
}

// ErrUnknownKey is returned by Keys when no usable key has the requested kid.
var ErrUnknownKey = errors.New("verify: no usable key under this kid")

var (
	_ Keys = (*JWKS)(nil)
	_ Keys = StaticKeys{}
)

// StaticKeys is a Keys over a fixed JWK Set: for tests, or for keys pinned in
// configuration. Private keys, keys with a "use" other than "sig" and keys of
// unsupported types are skipped, exactly as JWKS skips them; a pinned set
// must therefore be updated by hand before the issuer rotates its keys.
type StaticKeys jose.JSONWebKeySet

// Key returns the first usable key under kid, or ErrUnknownKey.
func (s StaticKeys) Key(_ context.Context, kid string) (jose.JSONWebKey, error) {
	if !validKID(kid) {
		return jose.JSONWebKey{}, ErrUnknownKey
	}
	for _, k := range s.Keys {
		if k.KeyID == kid && usable(k) {
			return k, nil
		}
	}
	return jose.JSONWebKey{}, ErrUnknownKey
}

// maxKIDLen bounds a key id. Gatehouse's are far shorter; a longer one is an
// attempt to make us carry or log attacker data.
const maxKIDLen = 128

// validKID accepts printable ASCII without path syntax: a kid is a lookup key,
// never part of a URL or a file name, and one that looks like a path or is
// very long is refused before any key source (and so any fetch) sees it.
func validKID(kid string) bool {
	if kid == "" || len(kid) > maxKIDLen || strings.Contains(kid, "..") {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == '\\' || c == '?' || c == '#' || c == '%' {
			return false
		}
	}
	return true
}

// The algorithms this package can verify. All are asymmetric: a verifier
// holding only public keys can never be made to accept a MAC (RFC 8725 §3.1).
const (
	algEdDSA = string(jose.EdDSA)
	algRS256 = string(jose.RS256)
	algES256 = string(jose.ES256)
)

func supportedAlg(alg string) bool {
	return alg == algEdDSA || alg == algRS256 || alg == algES256
}

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3 requires
// 2048 bits for RS256).
const minRSABits = 2048

// keyFits reports whether the raw key has the type that alg is defined for.
// It is checked before any signature math, so an RS256 header cannot be
// steered onto an Ed25519 key, nor ES256 onto a P-384 key.
func keyFits(alg string, key any) bool {
	switch alg {
	case algEdDSA:
		k, ok := key.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	case algRS256:
		k, ok := key.(*rsa.PublicKey)
		return ok && k.N != nil && k.N.BitLen() >= minRSABits
	case algES256:
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P256()
	}
	return false
}

// usable reports whether a JWK may ever verify a token: a valid public key of
// a supported type, meant for signatures, under a well-formed kid, and
// declaring (if it declares one) an algorithm we support that fits its type.
func usable(k jose.JSONWebKey) bool {
	if !k.Valid() || !k.IsPublic() || !validKID(k.KeyID) {
		return false
	}
	if k.Use != "" && k.Use != "sig" {
		return false
	}
	if k.Algorithm != "" {
		return supportedAlg(k.Algorithm) && keyFits(k.Algorithm, k.Key)
	}
	return keyFits(algEdDSA, k.Key) || keyFits(algRS256, k.Key) || keyFits(algES256, k.Key)
}
