package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/web"
)

// TestTimingSessionChecksDuringSignInFlood: a sign-in flood that saturates
// password hashing (real argon2id cost, limits lifted so every attempt
// hashes) must not stall session checks on the same node: hashing runs in
// a bounded pool, and overload is answered 503 at once. It measures, so it
// runs in CI's serial step.
func TestTimingSessionChecksDuringSignInFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test: runs in the serial step without -short")
	}
	store := authtest.Store(t)
	none := gatehouse.EndpointLimits{}
	a, err := gatehouse.New(gatehouse.Config{
		PublicURL:  "http://localhost:8080",
		RateLimits: map[string]gatehouse.EndpointLimits{gatehouse.LimitSignIn: none},
	}, store, gatehouse.WithSecret(make([]byte, 32)), gatehouse.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(web.New(a))
	defer srv.Close()
	res, err := a.SignUp(context.Background(), gatehouse.SignUpInput{Email: "reader@example.com", Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	cookie := &http.Cookie{Name: "gatehouse_session", Value: res.Token}
	check := func() time.Duration {
		req, _ := http.NewRequest("GET", srv.URL+"/auth/api/session", nil)
		req.AddCookie(cookie)
		start := time.Now()
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Fatalf("session check %d", r.StatusCode)
		}
		return time.Since(start)
	}
	p99 := func(n int) time.Duration {
		ds := make([]time.Duration, 0, n)
		for range n {
			ds = append(ds, check())
			time.Sleep(2 * time.Millisecond)
		}
		slices.Sort(ds)
		return ds[len(ds)*99/100]
	}
	quiet := p99(300)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var shed, hashed atomic.Int64
	for w := range 72 { // more than the hashing queue (64) holds
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf(`{"email":"flood%d-%d@example.com","password":"wrong password here"}`, w, i)
				r, err := http.Post(srv.URL+"/auth/api/sign-in", "application/json", strings.NewReader(body))
				if err != nil {
					continue
				}
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
				switch r.StatusCode {
				case http.StatusServiceUnavailable:
					shed.Add(1)
				case http.StatusUnauthorized:
					hashed.Add(1)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	flooded := p99(300)
	stop()
	wg.Wait()
	t.Logf("session check p99: %v quiet, %v during the flood (%d sign-ins hashed, %d shed with 503)", quiet, flooded, hashed.Load(), shed.Load())
	if shed.Load() == 0 {
		t.Error("the flood never saturated hashing: nothing was shed")
	}
	// A stall behind hashing would cost seconds (the queue waits up to
	// 2 s); the CPU the flood itself takes on this machine costs a little.
	if flooded > 200*time.Millisecond {
		t.Errorf("session checks stalled under the flood: p99 %v", flooded)
	}
}

// TestTimingAuditRowsDuringFlood: 10,000 sign-in attempts from one address
// against one account write a bounded number of audit rows: the evaluated
// failures one each, the refusals folded into aggregated rows.
func TestTimingAuditRowsDuringFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("flood test: runs in the serial step without -short")
	}
	a := authtest.New(t, gatehouse.Config{})
	h := web.New(a)
	if _, err := a.SignUp(context.Background(), gatehouse.SignUpInput{Email: "target@example.com", Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	const n = 10_000
	statuses := map[int]int{}
	for i := range n {
		req := httptest.NewRequest("POST", "/auth/api/sign-in", strings.NewReader(fmt.Sprintf(`{"email":"target@example.com","password":"guess number %d"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "198.51.100.9:4000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		statuses[w.Code]++
	}
	a.Close() // write everything queued
	evs, _, err := a.Audit(context.Background(), gatehouse.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	counted := 0
	for _, e := range evs {
		counted += e.Count
	}
	written, dropped := a.AuditStats()
	t.Logf("%d requests: %v; %d audit rows standing for %d events (%d written, %d dropped)", n, statuses, len(evs), counted, written, dropped)
	if statuses[401] > 6 {
		t.Errorf("%d attempts evaluated, want at most 6", statuses[401])
	}
	if len(evs) > 20 || dropped != 0 || counted < n-statuses[401] {
		t.Errorf("%d rows for %d events, %d dropped", len(evs), counted, dropped)
	}
}
