// Package fanouttest is the one conformance suite every gatehouse.FanOut
// must pass. A transport's test calls Run with a Harness; the suite pins
// what the doc comments of gatehouse.FanOut and the wire format in the
// root package promise: delivery of every kind to every node, the
// publisher included, within a measured bound and in the documented bytes;
// malformed messages ignored and unknown ones read as InvalidateAll;
// deployments that share a server not hearing each other; Listen
// returning promptly when its context ends; and, end to end, a session
// revoked on one node refused by another within a second.
//
// What only one transport can do to itself (kill or freeze its server,
// terminate its connection) stays in that transport's tests, which use the
// Recorder here to watch Listen.
//
// It is imported only by tests.
package fanouttest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
)

// FanOut is what the suite tests: a gatehouse.FanOut with the counters of
// the gatehouse.InvalidationReceiver it embeds.
type FanOut interface {
	gatehouse.FanOut
	Stats() gatehouse.ReceiverStats
}

// Harness is what a transport supplies. Every function arranges its own
// cleanup through t. A deployment is an opaque string naming a channel (a
// Redis prefix, a PostgreSQL DSN whose schema names it): FanOuts of one
// deployment hear each other, of two deployments never.
type Harness struct {
	// Deployment returns a new deployment of the test's own (the server
	// is shared with other tests).
	Deployment func(t *testing.T) string
	// New returns a FanOut of deployment, as a node opens it.
	New func(t *testing.T, deployment string) FanOut
	// Inject returns a function that publishes payload on deployment's
	// channel as is, bypassing the FanOut: bytes another version of
	// Gatehouse (or anyone) sent. send fails t on an error.
	Inject func(t *testing.T, deployment string) (send func(payload string))
	// Tap subscribes a raw listener to deployment's channel, naming the
	// channel the documented way (nodes of two Gatehouse versions must
	// agree on it during an upgrade), and returns once subscribed. next
	// returns the payload of the next message on the channel, failing t
	// when none comes within a second.
	Tap func(t *testing.T, deployment string) (next func() string)
	// Stores returns two stores on the same data, as two nodes of
	// deployment have (they may be one store).
	Stores func(t *testing.T, deployment string) (a, b gatehouse.Store)

	// UpWithin bounds the first up(true) after Listen starts.
	UpWithin time.Duration
	// DeliverWithin bounds the measured time from Publish's call to
	// delivery on another node.
	DeliverWithin time.Duration
	// Parallel runs the cases in parallel.
	Parallel bool
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	if h.Deployment == nil || h.New == nil || h.Inject == nil || h.Tap == nil || h.Stores == nil ||
		h.UpWithin <= 0 || h.DeliverWithin <= 0 {
		t.Fatal("fanouttest: incomplete harness: every function and both bounds are required")
	}
	cases := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"DeliversBetweenNodes", testDeliversBetweenNodes},
		{"RefusesToPublishInvalid", testRefusesToPublishInvalid},
		{"IgnoresMalformedMessages", testIgnoresMalformedMessages},
		{"DeploymentsDoNotHearEachOther", testDeploymentsDoNotHearEachOther},
		{"RevocationReachesOtherNodes", testRevocationReachesOtherNodes},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if h.Parallel {
				t.Parallel()
			}
			c.fn(t, h)
		})
	}
}

func testDeliversBetweenNodes(t *testing.T, h Harness) {
	d := h.Deployment(t)
	a, b := h.New(t, d), h.New(t, d)
	ra, rb := Listen(t, a), Listen(t, b)
	ra.WaitUp(t, true, time.Now(), h.UpWithin)
	rb.WaitUp(t, true, time.Now(), h.UpWithin)

	// A raw listener pins the channel and the wire format: other versions
	// of Gatehouse read and write these bytes during a rolling upgrade.
	raw := h.Tap(t, d)
	for _, tc := range []struct {
		inv  gatehouse.Invalidation
		wire string
	}{
		{Session("ses_1"), `{"v":1,"k":"session","id":"ses_1"}`},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateUser, ID: "usr_1"}, `{"v":1,"k":"user","id":"usr_1"}`},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}, `{"v":1,"k":"all"}`},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateKeys}, `{"v":1,"k":"keys"}`},
	} {
		start := time.Now()
		Publish(t, b, tc.inv)
		ra.Next(t, tc.inv, time.Second)
		if d := time.Since(start); d > h.DeliverWithin {
			t.Errorf("%s: delivered after %v, want < %v", tc.inv.Kind, d, h.DeliverWithin)
		} else {
			t.Logf("%s: publish to delivery %v", tc.inv.Kind, d)
		}
		rb.Next(t, tc.inv, time.Second) // the publisher hears itself too
		if got := raw(); got != tc.wire {
			t.Errorf("on the wire: %s, want %s", got, tc.wire)
		}
	}
	ra.Quiet(t)
	if st := a.Stats(); st.Delivered != 4 || st.Malformed != 0 || st.Unknown != 0 || st.Outages != 0 {
		t.Errorf("stats %+v", st)
	}
}

// What this version would send wrongly, Publish refuses rather than
// sending it.
func testRefusesToPublishInvalid(t *testing.T, h Harness) {
	f := h.New(t, h.Deployment(t))
	for _, inv := range []gatehouse.Invalidation{
		{Kind: gatehouse.InvalidateSession},
		{Kind: gatehouse.InvalidateUser},
		{Kind: "org", ID: "org_1"},
		{Kind: gatehouse.InvalidateSession, ID: strings.Repeat("x", 1024)},
	} {
		if err := f.Publish(context.Background(), inv); err == nil {
			t.Errorf("Publish(%+v) succeeded", inv)
		}
	}
}

func testIgnoresMalformedMessages(t *testing.T, h Harness) {
	d := h.Deployment(t)
	f := h.New(t, d)
	r := Listen(t, f)
	r.WaitUp(t, true, time.Now(), h.UpWithin)
	malformed := []string{
		"not json",
		"",
		`{"v":1,"k":"session","id":"ses_big","pad":"` + strings.Repeat("x", 1024) + `"}`,
		`{"k":"session","id":"ses_1"}`,   // no version
		`{"v":0,"k":"all"}`,              // no version either
		`{"v":"1","k":"all"}`,            // not a number
		`{"v":1,"k":"session"}`,          // no id
		`{"v":1,"id":"ses_1"}`,           // no kind
		`{"v":1,"k":"user","id":""}`,     // empty id
		`[{"v":1,"k":"all"}]`,            // not an object
		`{"v":1,"k":"all"} trailing`,     // not one value
		`{"v":1,"k":["session"],"id":1}`, // wrong types
	}
	send := h.Inject(t, d)
	for _, p := range malformed {
		send(p)
	}
	// From a newer Gatehouse: what they invalidate is unknown, so
	// everything is.
	send(`{"v":1,"k":"organization","id":"org_1"}`)
	send(`{"v":2,"kind":{"session":"ses_1"}}`)
	send(`{"v":1,"k":"session","id":"ses_ok","new_field":true}`)

	all := gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}
	r.Next(t, all, time.Second)
	r.Next(t, all, time.Second)
	r.Next(t, Session("ses_ok"), time.Second)
	r.Quiet(t)
	if st := f.Stats(); st.Malformed != uint64(len(malformed)) || st.Unknown != 2 || st.Delivered != 3 {
		t.Errorf("stats %+v, want %d malformed, 2 unknown, 3 delivered", st, len(malformed))
	}
}

// Deployments (and parallel tests) sharing a server do not hear each other.
func testDeploymentsDoNotHearEachOther(t *testing.T, h Harness) {
	f1 := h.New(t, h.Deployment(t))
	f2 := h.New(t, h.Deployment(t))
	r1, r2 := Listen(t, f1), Listen(t, f2)
	r1.WaitUp(t, true, time.Now(), h.UpWithin)
	r2.WaitUp(t, true, time.Now(), h.UpWithin)
	Publish(t, f1, Session("ses_one"))
	Publish(t, f2, Session("ses_two"))
	// One server delivers in publishing order: had deployment 2 heard
	// deployment 1, it would have heard it first.
	r2.Next(t, Session("ses_two"), time.Second)
	r1.Next(t, Session("ses_one"), time.Second)
	r1.Quiet(t)
	r2.Quiet(t)
}

// The invariant the fan-out exists for: a session revoked on one node is
// refused by every other within a second, though they had it cached.
func testRevocationReachesOtherNodes(t *testing.T, h Harness) {
	d := h.Deployment(t)
	sa, sb := h.Stores(t, d)
	a := authtest.NewWithStore(t, sa, gatehouse.Config{}, gatehouse.WithFanOut(h.New(t, d)))
	b := authtest.NewWithStore(t, sb, gatehouse.Config{}, gatehouse.WithFanOut(h.New(t, d)))
	// A node without the fan-out shows that the session really is cached:
	// it keeps answering from its cache after the revocation.
	lone := authtest.NewWithStore(t, sb, gatehouse.Config{})

	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Second)
	for !a.FanOutStats().Up || !b.FanOutStats().Up {
		if time.Now().After(deadline) {
			t.Fatalf("fan-out not up: a %+v, b %+v", a.FanOutStats(), b.FanOutStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	res, err := a.SignUp(ctx, gatehouse.SignUpInput{Email: "ada@example.com", Password: "correct horse battery staple"})
	if err != nil {
		t.Fatalf("SignUp: %v", err)
	}
	if res.Token == "" {
		t.Fatalf("SignUp: no session (%+v)", res.Status)
	}
	if _, err := b.Authenticate(ctx, res.Token); err != nil {
		t.Fatalf("b.Authenticate: %v", err)
	}
	if _, err := lone.Authenticate(ctx, res.Token); err != nil {
		t.Fatalf("lone.Authenticate: %v", err)
	}
	p, err := a.Authenticate(ctx, res.Token)
	if err != nil {
		t.Fatalf("a.Authenticate: %v", err)
	}
	if err := a.SignOut(ctx, p); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	revoked := time.Now()
	for {
		_, err := b.Authenticate(ctx, res.Token)
		if err != nil {
			var e *gatehouse.Error
			if !errors.As(err, &e) || e.Code != gatehouse.CodeUnauthenticated {
				t.Fatalf("b.Authenticate after revocation: %v, want unauthenticated", err)
			}
			break
		}
		if time.Since(revoked) > time.Second {
			t.Fatal("node b still accepts the session a second after its revocation on node a")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("node b refused the revoked session %v after the revocation on node a", time.Since(revoked))
	if _, err := a.Authenticate(ctx, res.Token); err == nil {
		t.Error("node a still accepts the session it revoked")
	}
	if _, err := lone.Authenticate(ctx, res.Token); err != nil {
		t.Errorf("the node without fan-out no longer answers from its cache (%v): this test proves nothing", err)
	}
	if st := b.FanOutStats(); st.Received == 0 {
		t.Errorf("b's fan-out stats %+v: nothing received", st)
	}
}

// DownWithin bounds the detection of an outage: a second by design, with
// slack for a loaded test machine.
const DownWithin = 1500 * time.Millisecond

// Session is a session invalidation.
func Session(id string) gatehouse.Invalidation {
	return gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: id}
}

// Publish publishes inv with a 2-second context, failing t on an error.
func Publish(t *testing.T, f gatehouse.FanOut, inv gatehouse.Invalidation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := f.Publish(ctx, inv); err != nil {
		t.Fatalf("Publish(%+v): %v", inv, err)
	}
}

// PublishBounded checks that Publish, given a 200ms context, returns a
// deadline error within 500ms though the server cannot answer (frozen,
// or behind a silent network; what describes it in failures).
func PublishBounded(t *testing.T, f gatehouse.FanOut, inv gatehouse.Invalidation, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := f.Publish(ctx, inv)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish %s: %v, want a deadline error", what, err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Publish with a 200ms context returned after %v", d)
	}
}

// Recorder collects what Listen calls.
type Recorder struct {
	invs chan gatehouse.Invalidation
	ups  chan upEvent

	mu    sync.Mutex
	state bool // the last up() value
}

type upEvent struct {
	up bool
	at time.Time
}

// Listen runs f.Listen until the test ends, failing t when up reports the
// same state twice in a row, and when Listen takes more than a second to
// return after its context ended.
func Listen(t *testing.T, f gatehouse.FanOut) *Recorder {
	t.Helper()
	r := &Recorder{invs: make(chan gatehouse.Invalidation, 256), ups: make(chan upEvent, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Listen(ctx, func(inv gatehouse.Invalidation) { r.invs <- inv }, func(up bool) {
			r.mu.Lock()
			if up == r.state {
				t.Errorf("up(%v) twice in a row", up)
			}
			r.state = up
			r.mu.Unlock()
			r.ups <- upEvent{up, time.Now()}
		})
	}()
	t.Cleanup(func() {
		cancel()
		start := time.Now()
		select {
		case <-done:
			if d := time.Since(start); d > time.Second {
				t.Errorf("Listen returned %v after its context ended", d)
			}
		case <-time.After(5 * time.Second):
			t.Error("Listen did not return within 5s of its context's end")
		}
	})
	return r
}

// WaitUp waits for the next up call, which must be up(want) and come
// within of since, and returns when it came after since.
func (r *Recorder) WaitUp(t *testing.T, want bool, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	select {
	case got := <-r.ups:
		if got.up != want {
			t.Fatalf("up(%v), want up(%v)", got.up, want)
		}
		d := got.at.Sub(since)
		if d > within {
			t.Fatalf("up(%v) after %v, want within %v", want, d, within)
		}
		return d
	case <-time.After(time.Until(since.Add(within))):
		t.Fatalf("no up(%v) within %v", want, within)
		return 0
	}
}

// Next waits for the next invalidation, which must be want and come
// within.
func (r *Recorder) Next(t *testing.T, want gatehouse.Invalidation, within time.Duration) {
	t.Helper()
	select {
	case got := <-r.invs:
		if got != want {
			t.Fatalf("delivered %+v, want %+v", got, want)
		}
	case <-time.After(within):
		t.Fatalf("%+v not delivered within %v", want, within)
	}
}

// Quiet checks that nothing more was delivered.
func (r *Recorder) Quiet(t *testing.T) {
	t.Helper()
	select {
	case got := <-r.invs:
		t.Fatalf("unexpected delivery %+v", got)
	default:
	}
}
