package storetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

func signingKey(id, alg string, gen int, at time.Time) gatehouse.SigningKey {
	return gatehouse.SigningKey{ID: id, Algorithm: alg, Generation: gen, Sealed: []byte("sealed\x00" + id),
		CreatedAt: at, ActiveAt: at.Add(time.Hour)}
}

func testSigningKeys(t *testing.T, s Store) {
	ctx := t.Context()
	keys, err := s.SigningKeys(ctx)
	if err != nil || keys == nil || len(keys) != 0 {
		t.Fatalf("SigningKeys on an empty store = %v, %v; want an empty, non-nil slice", keys, err)
	}
	ed1 := signingKey("k_ed1", "EdDSA", 1, t0)
	rs1 := signingKey("k_rs1", "RS256", 1, t0.Add(time.Second))
	ed2 := signingKey("k_ed2", "EdDSA", 2, t0.Add(time.Minute))
	retire := t0.Add(25 * time.Hour)
	for _, k := range []gatehouse.SigningKey{ed1, rs1} {
		if err := s.AddSigningKey(ctx, k, retire); err != nil {
			t.Fatalf("AddSigningKey(%s): %v", k.ID, err)
		}
	}
	if err := s.AddSigningKey(ctx, ed2, retire); err != nil {
		t.Fatalf("AddSigningKey(%s): %v", ed2.ID, err)
	}
	// The same generation again conflicts and changes nothing.
	dup := signingKey("k_ed2b", "EdDSA", 2, t0.Add(2*time.Minute))
	wantErr(t, "AddSigningKey(same generation)", s.AddSigningKey(ctx, dup, t0.Add(99*time.Hour)), gatehouse.ErrConflict)

	ed1.ExpiresAt = retire // retired by ed2; rs1 is another algorithm
	want := []gatehouse.SigningKey{ed1, rs1, ed2}
	keys, err = s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i].CreatedAt, want[i].ActiveAt, want[i].ExpiresAt = ms(want[i].CreatedAt), ms(want[i].ActiveAt), msOrZero(want[i].ExpiresAt)
	}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("SigningKeys =\n%+v\nwant\n%+v", keys, want)
	}

	// Re-sealing is a compare-and-swap.
	ok, err := s.ResealSigningKey(ctx, "k_rs1", []byte("stale"), []byte("new"))
	if err != nil || ok {
		t.Fatalf("ResealSigningKey with a stale value = %v, %v", ok, err)
	}
	ok, err = s.ResealSigningKey(ctx, "k_rs1", rs1.Sealed, []byte("resealed\x00\xff"))
	if err != nil || !ok {
		t.Fatalf("ResealSigningKey = %v, %v", ok, err)
	}
	keys, _ = s.SigningKeys(ctx)
	if string(keys[1].Sealed) != "resealed\x00\xff" {
		t.Fatalf("sealed key after reseal = %q", keys[1].Sealed)
	}

	n, err := s.DeleteExpiredSigningKeys(ctx, retire)
	if err != nil || n != 0 {
		t.Fatalf("DeleteExpiredSigningKeys at the expiry = %d, %v; want 0 (expiry is exclusive)", n, err)
	}
	n, err = s.DeleteExpiredSigningKeys(ctx, retire.Add(time.Millisecond))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSigningKeys = %d, %v; want 1", n, err)
	}
	keys, _ = s.SigningKeys(ctx)
	if len(keys) != 2 || keys[0].ID != "k_rs1" || keys[1].ID != "k_ed2" {
		t.Fatalf("keys left: %+v", keys)
	}
}

// msOrZero is ms, keeping the zero time (no expiry) zero.
func msOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return ms(t)
}

// testConcurrentAddSigningKey: nodes rotating at once add exactly one key
// per generation.
func testConcurrentAddSigningKey(t *testing.T, s Store) {
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.AddSigningKey(ctx, signingKey(fmt.Sprintf("k_%d", i), "EdDSA", 1, t0), t0)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		default:
			wantErr(t, "AddSigningKey(concurrent)", err, gatehouse.ErrConflict)
		}
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil || won != 1 || len(keys) != 1 {
		t.Fatalf("%d of %d concurrent rotations won, %d keys stored (%v); want exactly 1", won, n, len(keys), err)
	}
}
