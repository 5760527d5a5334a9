package gatehouse_test

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
)

// publishedKids returns the kids of a's JWKS keys of alg, in order.
func publishedKids(t *testing.T, a *gatehouse.Auth, alg string) []string {
	t.Helper()
	var out []string
	for _, k := range jwks(t, a) {
		if k["alg"] == alg {
			out = append(out, k["kid"].(string))
		}
	}
	return out
}

// keyInfo returns a's KeyInfo for id.
func keyInfo(t *testing.T, a *gatehouse.Auth, id string) gatehouse.KeyInfo {
	t.Helper()
	keys, err := a.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("key %s is not published", id)
	return gatehouse.KeyInfo{}
}

// keyIDs returns the ids of a's published keys.
func keyIDs(t *testing.T, a *gatehouse.Auth) []string {
	t.Helper()
	keys, err := a.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestKeyRotation walks a forced rotation through its life: the new key is
// published at once but signs only after JWKSPublishLead, tokens of the old
// key keep working while they live, the old key leaves the JWKS a day after
// its successor started signing, and DeleteExpired removes it.
func TestKeyRotation(t *testing.T) {
	clock := authtest.NewClock(t0)
	a := authtest.New(t, gatehouse.Config{}, gatehouse.WithClock(clock))
	ctx, p := signedIn(t, a, "rotate@example.com")
	before := mint(t, a, ctx)
	old := kidOf(t, before)
	if kids := publishedKids(t, a, gatehouse.AlgEdDSA); !slices.Equal(kids, []string{old}) {
		t.Fatalf("EdDSA kids %v before rotation, want [%s]", kids, old)
	}

	rotated, err := a.RotateKeys(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	// The RS256 key this first rotation had to create is new: only EdDSA
	// is rotated.
	if !slices.Equal(rotated, []string{gatehouse.AlgEdDSA}) {
		t.Fatalf("rotated %v, want [EdDSA]", rotated)
	}
	accepts(t, a, before, p)
	// Both published at once. (Their order is by creation time, which the
	// frozen clock makes equal.)
	kids := publishedKids(t, a, gatehouse.AlgEdDSA)
	if len(kids) != 2 || !slices.Contains(kids, old) {
		t.Fatalf("EdDSA kids after rotation %v, want the old one (%s) and a new one", kids, old)
	}
	next := kids[0]
	if next == old {
		next = kids[1]
	}
	if got := kidOf(t, mint(t, a, ctx)); got != old {
		t.Fatalf("right after rotation a token carries %s, want the old key %s (the new one is not active yet)", got, old)
	}
	// Forcing again while the EdDSA successor waits does not queue another
	// one behind it; the RS256 key, created active by the first call, is
	// rotated now.
	if again, err := a.RotateKeys(ctx, true); err != nil || !slices.Equal(again, []string{gatehouse.AlgRS256}) {
		t.Fatalf("a second forced rotation while the EdDSA key is pending rotated %v, %v; want [RS256]", again, err)
	}
	if got := publishedKids(t, a, gatehouse.AlgEdDSA); len(got) != 2 {
		t.Fatalf("EdDSA kids after a second forced rotation %v, want still two", got)
	}
	oldInfo, nextInfo := keyInfo(t, a, old), keyInfo(t, a, next)
	switch {
	case !oldInfo.Signing || nextInfo.Signing:
		t.Fatalf("signing: old %v, new %v", oldInfo.Signing, nextInfo.Signing)
	case !nextInfo.ActiveAt.Equal(t0.Add(gatehouse.JWKSPublishLead)) || nextInfo.Generation != oldInfo.Generation+1:
		t.Fatalf("new key %+v", nextInfo)
	case !oldInfo.ExpiresAt.Equal(nextInfo.ActiveAt.Add(24 * time.Hour)):
		t.Fatalf("old key leaves the JWKS at %s, want its successor's start + 24h (%s)", oldInfo.ExpiresAt, nextInfo.ActiveAt.Add(24*time.Hour))
	}

	clock.Advance(gatehouse.JWKSPublishLead - time.Minute)
	late := mint(t, a, ctx)
	if kidOf(t, late) != old {
		t.Fatal("the new key signs before JWKSPublishLead")
	}
	clock.Advance(time.Minute)
	fresh := mint(t, a, ctx)
	if kidOf(t, fresh) != next {
		t.Fatalf("after JWKSPublishLead a token carries %s, want the new key %s", kidOf(t, fresh), next)
	}
	accepts(t, a, late, p) // the old key's token, still alive
	accepts(t, a, fresh, p)
	if !keyInfo(t, a, next).Signing || keyInfo(t, a, old).Signing {
		t.Fatal("Keys does not report the new key as the signing one")
	}

	clock.Advance(24*time.Hour + 5*time.Minute)
	if kids := publishedKids(t, a, gatehouse.AlgEdDSA); !slices.Equal(kids, []string{next}) {
		t.Fatalf("EdDSA kids a day after the switch %v, want [%s]", kids, next)
	}
	refuses(t, a, late, "token of a retired key")
	if got := kidOf(t, mint(t, a, ctx)); got != next {
		t.Fatalf("token carries %s, want %s", got, next)
	}
	r, err := a.DeleteExpired(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r.Keys != 2 {
		t.Fatalf("DeleteExpired removed %d keys, want 2 (the retired EdDSA and RS256 keys)", r.Keys)
	}
	left, err := a.Store().SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range left {
		if k.ID == old {
			t.Fatal("the retired key is still stored")
		}
	}
	if len(left) != 2 {
		t.Fatalf("%d keys left, want the new EdDSA and RS256 keys", len(left))
	}
}

// TestKeyRotationAcrossNodes: nodes rotating at once over one database add
// one key per algorithm between them — when the schedule finds the keys
// due on both (RotateKeys(false)) and when both are forced
// (RotateKeys(true), what `gatehouse keys rotate` does).
func TestKeyRotationAcrossNodes(t *testing.T) {
	for _, b := range nodeBackends {
		t.Run(b.name, func(t *testing.T) {
			s1, s2 := b.open(t)
			clock := authtest.NewClock(t0)
			n1, n2 := node(t, s1, gatehouse.WithClock(clock)), node(t, s2, gatehouse.WithClock(clock))
			count := func() map[string]int {
				t.Helper()
				keys, err := s1.SigningKeys(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				m := map[string]int{}
				for _, k := range keys {
					m[k.Algorithm]++
				}
				return m
			}
			together := func(force bool) map[string]int {
				t.Helper()
				var (
					wg      sync.WaitGroup
					start   = make(chan struct{})
					mu      sync.Mutex
					rotated = map[string]int{}
				)
				for _, n := range []*gatehouse.Auth{n1, n2} {
					wg.Go(func() {
						<-start
						algs, err := n.RotateKeys(t.Context(), force)
						if err != nil {
							t.Error(err)
						}
						mu.Lock()
						for _, alg := range algs {
							rotated[alg]++
						}
						mu.Unlock()
					})
				}
				close(start)
				wg.Wait()
				return rotated
			}

			// Both start with no keys: the first of each algorithm is made once.
			if got := together(false); len(got) != 0 {
				t.Fatalf("first start rotated %v", got)
			}
			if got := count(); got[gatehouse.AlgEdDSA] != 1 || got[gatehouse.AlgRS256] != 1 {
				t.Fatalf("keys after the first start %v, want one of each", got)
			}
			clock.Advance(30*24*time.Hour + time.Minute)
			if got := together(false); got[gatehouse.AlgEdDSA] != 1 || got[gatehouse.AlgRS256] != 1 {
				t.Fatalf("a scheduled rotation on two nodes rotated %v, want each algorithm once", got)
			}
			if got := count(); got[gatehouse.AlgEdDSA] != 2 || got[gatehouse.AlgRS256] != 2 {
				t.Fatalf("keys after a scheduled rotation on two nodes %v, want two of each", got)
			}
			// Once the new keys sign, a forced rotation on both nodes at once
			// adds one key per algorithm: the node that loses the race either
			// conflicts on the generation or sees the other's key waiting.
			clock.Advance(gatehouse.JWKSPublishLead)
			if rotated, keys := together(true), count(); rotated[gatehouse.AlgEdDSA] != 1 || rotated[gatehouse.AlgRS256] != 1 ||
				keys[gatehouse.AlgEdDSA] != 3 || keys[gatehouse.AlgRS256] != 3 {
				t.Errorf("a forced rotation on two nodes at once rotated %v and left keys %v; want each algorithm rotated once, three keys of each", rotated, keys)
			}
			// Both nodes publish the same set.
			if k1, k2 := keyIDs(t, n1), keyIDs(t, n2); !slices.Equal(k1, k2) {
				t.Fatalf("the nodes publish %v and %v", k1, k2)
			}
		})
	}
}

// TestKeysSurviveRestart: a new Auth over the same database and secret —
// a restarted process — publishes the same keys, signs with the same one
// and accepts the tokens minted before.
func TestKeysSurviveRestart(t *testing.T) {
	store := authtest.Store(t)
	secret := gatehouse.WithSecret(newSecret())
	clock := gatehouse.WithClock(authtest.NewClock(t0))
	a := authtest.NewWithStore(t, store, gatehouse.Config{}, secret, clock)
	ctx, p := signedIn(t, a, "restart@example.com")
	tok := mint(t, a, ctx)
	before, err := a.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	restarted := authtest.NewWithStore(t, store, gatehouse.Config{}, secret, clock)
	after, err := restarted.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatalf("JWKS changed across a restart:\n%s\n%s", before, after)
	}
	accepts(t, restarted, tok, p)
	if kidOf(t, mint(t, restarted, ctx)) != kidOf(t, tok) {
		t.Fatal("the restarted node signs with another key")
	}
}

// TestMasterSecretRotation: keys sealed under the old master secret are
// read by a node given the new secret and the old one as previous, which
// re-seals them under the new one; a node with only the new secret then
// reads them, and one with only the old cannot. A node with an unrelated
// secret fails with an internal error — for the JWKS, for minting and for
// checking a good token (never a 401 that makes clients drop it).
func TestMasterSecretRotation(t *testing.T) {
	store := authtest.Store(t)
	oldKey, newKey := newSecret(), newSecret()
	clock := gatehouse.WithClock(authtest.NewClock(t0))
	a := authtest.NewWithStore(t, store, gatehouse.Config{}, gatehouse.WithSecret(oldKey), clock)
	ctx, p := signedIn(t, a, "secret@example.com")
	tok := mint(t, a, ctx)
	ids := keyIDs(t, a)
	sealed := func() map[string][]byte {
		keys, err := store.SigningKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]byte{}
		for _, k := range keys {
			m[k.ID] = k.Sealed
		}
		return m
	}
	underOld := sealed()

	wrong := authtest.NewWithStore(t, store, gatehouse.Config{}, gatehouse.WithSecret(make([]byte, 32)), clock)
	if _, err := wrong.JWKS(t.Context()); gatehouse.ErrorCode(err) != gatehouse.CodeInternal {
		t.Errorf("JWKS with a wrong secret: %v, want %s", err, gatehouse.CodeInternal)
	}
	if _, err := wrong.Token(ctx); gatehouse.ErrorCode(err) != gatehouse.CodeInternal {
		t.Errorf("Token with a wrong secret: %v, want %s", err, gatehouse.CodeInternal)
	}
	if _, err := wrong.AuthenticateBearer(t.Context(), tok); gatehouse.ErrorCode(err) != gatehouse.CodeInternal {
		t.Errorf("AuthenticateBearer of a good token with a wrong secret: %v, want %s", err, gatehouse.CodeInternal)
	}

	rotating := authtest.NewWithStore(t, store, gatehouse.Config{}, gatehouse.WithSecret(newKey, oldKey), clock)
	if got := keyIDs(t, rotating); !slices.Equal(got, ids) {
		t.Fatalf("keys under the previous secret: %v, want %v", got, ids)
	}
	accepts(t, rotating, tok, p)
	for id, s := range sealed() {
		if bytes.Equal(s, underOld[id]) {
			t.Errorf("key %s was not re-sealed under the new secret", id)
		}
	}

	onlyNew := authtest.NewWithStore(t, store, gatehouse.Config{}, gatehouse.WithSecret(newKey), clock)
	if got := keyIDs(t, onlyNew); !slices.Equal(got, ids) {
		t.Fatalf("keys under the new secret alone: %v, want %v", got, ids)
	}
	accepts(t, onlyNew, tok, p)
	if kidOf(t, mint(t, onlyNew, ctx)) != kidOf(t, tok) {
		t.Fatal("the node with the new secret signs with another key")
	}

	onlyOld := authtest.NewWithStore(t, store, gatehouse.Config{}, gatehouse.WithSecret(oldKey), clock)
	if _, err := onlyOld.JWKS(t.Context()); gatehouse.ErrorCode(err) != gatehouse.CodeInternal {
		t.Errorf("JWKS with only the old secret after re-sealing: %v, want %s", err, gatehouse.CodeInternal)
	}
}
