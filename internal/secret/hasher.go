package secret

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
)

// Hasher hashes and verifies passwords with fixed argon2id Params, running
// every hash in a Pool so that concurrent logins are bounded. It is safe for
// concurrent use. Create it with NewHasher.
type Hasher struct {
	params Params
	pool   *Pool
	dummy  string // an argon2id hash in params, of no password, for DummyVerify
}

// NewHasher returns a Hasher that hashes with p and runs work in pool.
// It fails if p is invalid (see Params.Validate) or pool is nil. The pool may
// be shared with other Hashers or work. NewHasher itself hashes nothing, so
// it is cheap.
func NewHasher(p Params, pool *Pool) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("secret: new hasher: %w", err)
	}
	if pool == nil {
		return nil, errors.New("secret: new hasher: pool is nil")
	}
	return &Hasher{params: p, pool: pool, dummy: dummyHash(p)}, nil
}

// dummyHash returns a string that HashPassword could have written with p: a
// random salt and a random key in place of a derived one. Verifying any
// password against it does exactly the work of verifying against a real
// hash with p (parse, argon2id with p's cost and lengths, constant-time
// compare) and never matches. Deriving a real key instead would cost a
// login's time and memory (19 MiB by default) at every start, for nothing:
// nobody knows a password for it either way.
func dummyHash(p Params) string {
	salt := make([]byte, p.SaltLen)
	key := make([]byte, p.KeyLen)
	_, _ = rand.Read(salt) // never fails since Go 1.24
	_, _ = rand.Read(key)
	return encodeArgon2id(p, salt, key)
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Hash is HashPassword with h's Params, run in h's pool. Besides the pool's
// errors (ErrOverloaded, ErrClosed, ctx.Err(), all wrapped) it cannot fail.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	var out string
	var err error
	if perr := h.pool.Do(ctx, func() { out, err = HashPassword(password, h.params) }); perr != nil {
		return "", fmt.Errorf("secret: hash password: %w", perr)
	}
	return out, err
}

// Verify is VerifyPassword with want = h.Params(), run in h's pool. When
// rehash is true the caller should replace the stored hash with
// h.Hash(ctx, password). Pool errors (ErrOverloaded, ErrClosed, ctx.Err())
// are returned wrapped with match false; they say nothing about the password.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (match, rehash bool, err error) {
	perr := h.pool.Do(ctx, func() { match, rehash, err = VerifyPassword(password, encoded, h.params) })
	if perr != nil {
		return false, false, fmt.Errorf("secret: verify password: %w", perr)
	}
	return match, rehash, err
}

// DummyVerify does the same argon2id work as a Verify against a hash made
// with h.Params(), in the same pool, and discards the result. Call it when
// the account does not exist (or has no password) so that response time does
// not reveal whether it does; then answer exactly as for a wrong password.
// It returns only pool errors (wrapped), which the caller should treat the
// same way as for a real Verify.
func (h *Hasher) DummyVerify(ctx context.Context, password string) error {
	err := h.pool.Do(ctx, func() { _, _, _ = VerifyPassword(password, h.dummy, h.params) })
	if err != nil {
		return fmt.Errorf("secret: verify password: %w", err)
	}
	return nil
}
