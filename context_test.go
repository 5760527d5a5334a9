package gatehouse_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

type otherKey struct{}

func principal(id string) gatehouse.Principal {
	return gatehouse.Principal{User: gatehouse.User{ID: "usr_" + id}, Session: gatehouse.Session{ID: "ses_" + id}}
}

func userID(ctx context.Context) string {
	u, ok := gatehouse.UserFrom(ctx)
	if !ok {
		return "none"
	}
	return u.ID
}

func TestRequestContextCarriesInfo(t *testing.T) {
	ctx, info := gatehouse.NewRequestContext(context.WithValue(t.Context(), otherKey{}, "v"), "req1")
	if got := gatehouse.RequestInfoFrom(ctx); got != info || info.ID != "req1" {
		t.Fatalf("RequestInfoFrom = %p %+v, want %p with id req1", got, got, info)
	}
	info.IP = "192.0.2.1" // the edge completes it in place
	if got := gatehouse.RequestFrom(ctx); got.IP != "192.0.2.1" {
		t.Fatalf("RequestFrom = %+v", got)
	}
	if ctx.Value(otherKey{}) != "v" {
		t.Fatal("the parent's values are lost")
	}
	if _, ok := gatehouse.PrincipalFrom(ctx); ok {
		t.Fatal("a new request context is signed in")
	}
}

func TestRecordPrincipal(t *testing.T) {
	parent := gatehouse.WithPrincipal(t.Context(), principal("outer"))
	ctx, _ := gatehouse.NewRequestContext(parent, "req")

	if !gatehouse.RecordPrincipal(ctx, principal("a")) || userID(ctx) != "usr_a" {
		t.Fatalf("after recording a: %s", userID(ctx))
	}
	if !gatehouse.RecordPrincipal(ctx, principal("b")) || userID(ctx) != "usr_b" {
		t.Fatalf("a second record does not replace the first: %s", userID(ctx))
	}
	if p, _ := gatehouse.PrincipalFrom(ctx); p.Session.ID != "ses_b" {
		t.Fatalf("session %q after recording b", p.Session.ID)
	}
	if err := gatehouse.Authorize(ctx, "x"); gatehouse.ErrorCode(err) != gatehouse.CodeForbidden {
		t.Fatalf("Authorize with a recorded principal: %v", err)
	}

	// WithPrincipal derives; it never changes the request context.
	inner := gatehouse.WithPrincipal(ctx, principal("c"))
	if userID(inner) != "usr_c" || userID(ctx) != "usr_b" {
		t.Fatalf("WithPrincipal: inner %s, request %s", userID(inner), userID(ctx))
	}

	// Only the request context itself records: in a derived context a
	// recorded principal could be shadowed by the derived values.
	if gatehouse.RecordPrincipal(inner, principal("d")) || userID(inner) != "usr_c" || userID(ctx) != "usr_b" {
		t.Fatalf("recorded through a derived context: inner %s, request %s", userID(inner), userID(ctx))
	}
	if gatehouse.RecordPrincipal(t.Context(), principal("e")) {
		t.Fatal("recorded in a context that has no room for it")
	}
	if gatehouse.RecordPrincipal(gatehouse.WithPrincipal(ctx, principal("f")), principal("g")) {
		t.Fatal("recorded under a WithPrincipal layer")
	}

	// Forgetting withdraws only the record: the parent's principal shows.
	gatehouse.ForgetPrincipal(inner) // not the request context: nothing happens
	if userID(ctx) != "usr_b" {
		t.Fatalf("ForgetPrincipal on a derived context changed the request: %s", userID(ctx))
	}
	gatehouse.ForgetPrincipal(ctx)
	if userID(ctx) != "usr_outer" || userID(inner) != "usr_c" {
		t.Fatalf("after ForgetPrincipal: request %s, inner %s", userID(ctx), userID(inner))
	}
	bare, _ := gatehouse.NewRequestContext(t.Context(), "req2")
	gatehouse.RecordPrincipal(bare, principal("h"))
	gatehouse.ForgetPrincipal(bare)
	if _, ok := gatehouse.PrincipalFrom(bare); ok {
		t.Fatal("signed in after ForgetPrincipal")
	}
	if err := gatehouse.Authorize(bare, "x"); gatehouse.ErrorCode(err) != gatehouse.CodeUnauthenticated {
		t.Fatalf("Authorize after ForgetPrincipal: %v", err)
	}
}

// TestRecordPrincipalConcurrent records and reads from several goroutines:
// under -race it proves the record is published safely, and every read must
// see one whole principal, never the user of one and the session of another.
func TestRecordPrincipalConcurrent(t *testing.T) {
	ctx, _ := gatehouse.NewRequestContext(t.Context(), "req")
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 200 {
				gatehouse.RecordPrincipal(ctx, principal(fmt.Sprint(w, "-", i)))
				if i%50 == 0 {
					gatehouse.ForgetPrincipal(ctx)
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 400 {
				if p, ok := gatehouse.PrincipalFrom(ctx); ok && p.User.ID[len("usr_"):] != p.Session.ID[len("ses_"):] {
					t.Errorf("torn principal: user %s, session %s", p.User.ID, p.Session.ID)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestRecordPrincipalAllocations(t *testing.T) {
	ctx, _ := gatehouse.NewRequestContext(t.Context(), "req")
	p := principal("a")
	gatehouse.RecordPrincipal(ctx, p)
	// The first record of a request fills the context's own slot; reads
	// copy out without allocating.
	fresh := make([]context.Context, 101) // AllocsPerRun runs once more to warm up
	for i := range fresh {
		fresh[i], _ = gatehouse.NewRequestContext(t.Context(), "req")
	}
	if n := testing.AllocsPerRun(100, func() { gatehouse.RecordPrincipal(fresh[0], p); fresh = fresh[1:] }); n != 0 {
		t.Fatalf("first RecordPrincipal allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = gatehouse.PrincipalFrom(ctx); _ = gatehouse.RequestInfoFrom(ctx) }); n != 0 {
		t.Fatalf("reading the request context allocates %v times", n)
	}
}
