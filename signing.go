package gatehouse

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// Signing algorithms.
const (
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

const (
	// MaxAccessTokenTTL bounds first-party access tokens.
	MaxAccessTokenTTL = 5 * time.Minute
	// JWKSMaxAge is how long verifiers may cache the JWKS (its
	// Cache-Control max-age).
	JWKSMaxAge = 10 * time.Minute
	// JWKSPublishLead is how long a new key is published before it signs:
	// longer than any verifier's cache of the JWKS plus the interval at
	// which nodes reload keys, so no verifier meets a kid it cannot find.
	JWKSPublishLead = time.Hour
	// keyRetention is how long a key stays published after its successor
	// starts signing: longer than any token it signed lives (access tokens
	// 5 min; ID tokens of the OIDC provider at most an hour).
	keyRetention = 24 * time.Hour
	// keyReload is how often a node rereads the keys, so that a rotation
	// made elsewhere (another node, the CLI) reaches it well within
	// JWKSPublishLead.
	keyReload = time.Minute
	// keyMissReload is the least interval between rereads caused by an
	// unknown kid, so a flood of made-up kids costs one query per interval.
	keyMissReload  = 10 * time.Second
	rsaBits        = 3072
	keySealPurpose = "signing-key"
)

// algorithmsToKeep are the algorithms with a key at all times: the access
// token algorithm, and RS256, which OpenID Connect requires for ID tokens.
func (c TokenConfig) algorithmsToKeep() []string {
	if c.Algorithm == AlgRS256 {
		return []string{AlgRS256}
	}
	return []string{c.Algorithm, AlgRS256}
}

// keySet is the signing keys as this node knows them. It loads them from the
// store lazily, rereads them every keyReload, creates the first key of each
// algorithm, and rotates them when due.
type keySet struct {
	store KeyStore
	ring  *secret.Keyring
	cfg   TokenConfig
	now   func() time.Time

	mu       sync.Mutex // serialises loads and rotations
	state    keyState
	loadedAt time.Time
	missAt   time.Time
	ready    bool
}

// keyState is an immutable snapshot of the keys.
type keyState struct {
	keys []liveKey // published, oldest first
	jwks []byte
}

// liveKey is a stored key, opened.
type liveKey struct {
	SigningKey
	signer crypto.Signer
	public jose.JSONWebKey
}

// KeyInfo describes a signing key without its secret half.
type KeyInfo struct {
	ID, Algorithm                  string
	Generation                     int
	CreatedAt, ActiveAt, ExpiresAt time.Time
	// Signing reports whether the key signs new tokens now.
	Signing bool
}

var errNoKey = errors.New("no signing key")

// current returns the key snapshot, loading it first if it is missing or
// older than keyReload.
func (k *keySet) current(ctx context.Context) (keyState, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ready && k.now().Sub(k.loadedAt) < keyReload {
		return k.state, nil
	}
	// Lazily, only the access-token key: RS256 keys (slow to generate) are
	// made by rotate, which the server runs at start.
	if _, err := k.loadLocked(ctx, []string{k.cfg.Algorithm}); err != nil {
		if k.ready {
			// Keep serving the keys we have; the next call retries.
			return k.state, nil
		}
		return keyState{}, err
	}
	return k.state, nil
}

// signer returns the key that signs alg now. An algorithm without any key
// gets its first one here, so an embedder that never ran RotateKeys gets
// its RSA key (about 0.3 s) on the first ID token rather than an error.
func (k *keySet) signer(ctx context.Context, alg string) (liveKey, error) {
	st, err := k.current(ctx)
	if err != nil {
		return liveKey{}, err
	}
	if key, ok := st.signingKey(alg, k.now()); ok {
		return key, nil
	}
	k.mu.Lock()
	_, err = k.loadLocked(ctx, []string{alg})
	st = k.state
	k.mu.Unlock()
	if err != nil {
		return liveKey{}, err
	}
	if key, ok := st.signingKey(alg, k.now()); ok {
		return key, nil
	}
	return liveKey{}, errNoKey
}

// expire makes the next use reread the keys (another node rotated them).
func (k *keySet) expire() {
	k.mu.Lock()
	k.loadedAt = time.Time{}
	k.mu.Unlock()
}

// reloadForMiss rereads the keys after an unknown kid, at most once per
// keyMissReload.
func (k *keySet) reloadForMiss(ctx context.Context) (keyState, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now := k.now(); now.Sub(k.missAt) >= keyMissReload {
		k.missAt = now
		if _, err := k.loadLocked(ctx, nil); err != nil {
			return k.state, err
		}
	}
	return k.state, nil
}

// loadLocked reads every key, first creating the first key of each
// algorithm in create that has none (it returns those it created), and
// re-seals keys sealed under a previous master secret.
func (k *keySet) loadLocked(ctx context.Context, create []string) ([]string, error) {
	stored, err := k.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	var added []string
	for _, alg := range create {
		if slices.ContainsFunc(stored, func(s SigningKey) bool { return s.Algorithm == alg }) {
			continue
		}
		// Nothing was ever signed with this algorithm, so no verifier can
		// miss the key: it signs at once.
		switch err := k.addLocked(ctx, alg, 1, time.Time{}); {
		case err == nil:
			added = append(added, alg)
		case !errors.Is(err, ErrConflict):
			return nil, err
		}
	}
	if len(added) > 0 {
		if stored, err = k.store.SigningKeys(ctx); err != nil {
			return nil, fmt.Errorf("load signing keys: %w", err)
		}
	}
	now := k.now()
	var st keyState
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, s := range stored {
		if !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt) {
			continue
		}
		lk, err := k.open(ctx, s)
		if err != nil {
			return nil, err
		}
		st.keys = append(st.keys, lk)
		set.Keys = append(set.Keys, lk.public)
	}
	if st.jwks, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	k.state, k.loadedAt, k.ready = st, now, true
	return added, nil
}

// open decrypts and parses a stored key.
func (k *keySet) open(ctx context.Context, s SigningKey) (liveKey, error) {
	der, err := k.ring.Open(keySealPurpose, s.Sealed, []byte(s.ID))
	if err != nil {
		return liveKey{}, fmt.Errorf("signing key %s cannot be decrypted: is the master secret (or GATEHOUSE_SECRET_PREVIOUS) the one it was sealed with? %w", s.ID, err)
	}
	if !k.ring.SealedWithCurrent(s.Sealed) {
		// Sealed under a previous master secret: move it to the current
		// one, so the old secret can be dropped. A failure retries at the
		// next load.
		resealed := k.ring.Seal(keySealPurpose, der, []byte(s.ID))
		if ok, err := k.store.ResealSigningKey(ctx, s.ID, s.Sealed, resealed); err == nil && ok {
			s.Sealed = resealed
		}
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return liveKey{}, fmt.Errorf("signing key %s: %w", s.ID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok || !matchesAlgorithm(signer, s.Algorithm) {
		return liveKey{}, fmt.Errorf("signing key %s is not an %s key", s.ID, s.Algorithm)
	}
	return liveKey{SigningKey: s, signer: signer, public: jose.JSONWebKey{
		Key: signer.Public(), KeyID: s.ID, Algorithm: s.Algorithm, Use: "sig",
	}}, nil
}

func matchesAlgorithm(s crypto.Signer, alg string) bool {
	switch s.(type) {
	case ed25519.PrivateKey:
		return alg == AlgEdDSA
	case *ecdsa.PrivateKey:
		return alg == AlgES256
	case *rsa.PrivateKey:
		return alg == AlgRS256
	}
	return false
}

// addLocked generates and stores a key of alg with this generation, signing
// from activeAt (zero: at once); older keys of alg leave the JWKS
// keyRetention after that.
func (k *keySet) addLocked(ctx context.Context, alg string, gen int, activeAt time.Time) error {
	priv, err := generateKey(alg)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("encode %s key: %w", alg, err)
	}
	id := rand.Text()
	now := k.now()
	if activeAt.IsZero() {
		activeAt = now
	}
	rec := SigningKey{ID: id, Algorithm: alg, Generation: gen, Sealed: k.ring.Seal(keySealPurpose, der, []byte(id)),
		CreatedAt: now, ActiveAt: activeAt}
	if err := k.store.AddSigningKey(ctx, rec, activeAt.Add(keyRetention)); err != nil {
		return fmt.Errorf("store %s signing key: %w", alg, err)
	}
	return nil
}

func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgEdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	}
	return nil, fmt.Errorf("unknown signing algorithm %q", alg)
}

// rotate adds the next key of every kept algorithm whose newest key is
// older than the rotation period (or of every one, when force is set),
// unless a next key is already published and waiting to sign. The new key is
// published now and signs from JWKSPublishLead on. It reports the algorithms
// it rotated; concurrent rotations elsewhere are not an error.
func (k *keySet) rotate(ctx context.Context, force bool) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	created, err := k.loadLocked(ctx, k.cfg.algorithmsToKeep())
	if err != nil {
		return nil, err
	}
	stored, err := k.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	now := k.now()
	var rotated []string
	for _, alg := range k.cfg.algorithmsToKeep() {
		var newest SigningKey
		for _, s := range stored {
			if s.Algorithm == alg && s.Generation > newest.Generation {
				newest = s
			}
		}
		// Not rotated: a key the load above just created; a next key that
		// is published but not signing yet (so concurrent or repeated
		// rotations add one key, not a queue of them); a key not due.
		if slices.Contains(created, alg) || now.Before(newest.ActiveAt) || !force && now.Sub(newest.CreatedAt) < k.cfg.KeyRotation {
			continue
		}
		err := k.addLocked(ctx, alg, newest.Generation+1, now.Add(JWKSPublishLead))
		switch {
		case errors.Is(err, ErrConflict):
			continue // another node rotated it
		case err != nil:
			return rotated, err
		}
		rotated = append(rotated, alg)
	}
	if _, err := k.loadLocked(ctx, nil); err != nil {
		return rotated, err
	}
	return rotated, nil
}

// signingKey returns the key that signs alg now: the newest active one.
func (st keyState) signingKey(alg string, now time.Time) (liveKey, bool) {
	var best liveKey
	found := false
	for _, lk := range st.keys {
		if lk.Algorithm != alg || now.Before(lk.ActiveAt) {
			continue
		}
		if !found || lk.ActiveAt.After(best.ActiveAt) || lk.ActiveAt.Equal(best.ActiveAt) && lk.Generation > best.Generation {
			best, found = lk, true
		}
	}
	return best, found
}

// publicKey returns the published key with this kid.
func (st keyState) publicKey(kid string) (jose.JSONWebKey, bool) {
	for _, lk := range st.keys {
		if lk.ID == kid {
			return lk.public, true
		}
	}
	return jose.JSONWebKey{}, false
}

// JWKS returns the JSON Web Key Set of every published signing key (RFC
// 7517 §5): public keys only, each with kid, alg and use. Verifiers may
// cache it for JWKSMaxAge. The first call creates the keys if there are
// none.
func (a *Auth) JWKS(ctx context.Context) ([]byte, error) {
	st, err := a.signing.current(ctx)
	if err != nil {
		return nil, internalError("load signing keys", err)
	}
	return st.jwks, nil
}

// RotateKeys creates missing signing keys and rotates those older than
// Tokens.KeyRotation (all of them when force is set); it returns the
// algorithms it rotated. Every node may call it on a schedule: of nodes
// rotating at once, one adds the key and the others pick it up. A rotated
// key is published at once and signs from JWKSPublishLead on.
func (a *Auth) RotateKeys(ctx context.Context, force bool) ([]string, error) {
	rotated, err := a.signing.rotate(ctx, force)
	if err != nil {
		return rotated, internalError("rotate signing keys", err)
	}
	for _, alg := range rotated {
		a.log.InfoContext(ctx, "signing key rotated", "algorithm", alg, "signs_from", a.Now().Add(JWKSPublishLead))
		a.audit(ctx, AuditEvent{Type: EventKeyRotated, Reason: alg})
	}
	if len(rotated) > 0 {
		a.invalidate(Invalidation{Kind: InvalidateKeys})
	}
	return rotated, nil
}

// Keys lists the published signing keys, oldest first.
func (a *Auth) Keys(ctx context.Context) ([]KeyInfo, error) {
	st, err := a.signing.current(ctx)
	if err != nil {
		return nil, internalError("load signing keys", err)
	}
	now := a.Now()
	out := []KeyInfo{}
	for _, lk := range st.keys {
		cur, _ := st.signingKey(lk.Algorithm, now)
		out = append(out, KeyInfo{ID: lk.ID, Algorithm: lk.Algorithm, Generation: lk.Generation,
			CreatedAt: lk.CreatedAt, ActiveAt: lk.ActiveAt, ExpiresAt: lk.ExpiresAt, Signing: cur.ID == lk.ID})
	}
	return out, nil
}
