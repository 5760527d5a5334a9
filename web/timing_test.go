package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/web"
)

// TestEmailEnumerationTiming pins invariant 4 for the mail flows: asking
// for a password reset or a verification link, and signing up in required
// mode, take the same time whether or not the address has an account. It
// measures, so it runs in CI's serial step without -race.
func TestEmailEnumerationTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test: runs in the serial step without -short")
	}
	// Nobody delivers mail while the clock runs: delivery happens after the
	// answer, on any node, and would only add noise to the measurement.
	a := authtest.New(t, gatehouse.Config{EmailVerification: gatehouse.VerificationRequired}, gatehouse.WithoutAbuseLimitsForTests())
	srv := httptest.NewServer(web.New(a))
	t.Cleanup(srv.Close)
	const n = 150
	for i := range n {
		// Unverified accounts, so a resend has something to send.
		if _, err := a.SignUp(context.Background(), gatehouse.SignUpInput{Email: addr(true, i), Password: goodPassword}); err != nil {
			t.Fatal(err)
		}
	}

	cases := []struct {
		name string
		path string
		body func(known bool, i int) map[string]string
	}{
		{"forgot password", "/auth/api/password/forgot", func(known bool, i int) map[string]string {
			return map[string]string{"email": addr(known, i)}
		}},
		{"resend verification", "/auth/api/email/verify/send", func(known bool, i int) map[string]string {
			return map[string]string{"email": addr(known, i)}
		}},
		{"sign-up (required mode)", "/auth/api/sign-up", func(known bool, i int) map[string]string {
			if known {
				return map[string]string{"email": addr(true, i), "password": goodPassword}
			}
			return map[string]string{"email": fmt.Sprintf("new%d@example.com", i), "password": goodPassword}
		}},
	}
	post := func(path string, body map[string]string) (time.Duration, int) {
		b, _ := json.Marshal(body)
		start := time.Now()
		r, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(b))
		d := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return d, r.StatusCode
	}
	for i := range 30 { // warm up connections and caches
		for _, tc := range cases {
			post(tc.path, map[string]string{"email": fmt.Sprintf("warm%d@example.com", i), "password": goodPassword})
		}
	}
	for _, tc := range cases {
		var known, unknown []time.Duration
		order := rand.Perm(2 * n)
		for _, k := range order {
			isKnown, i := k%2 == 0, k/2
			d, st := post(tc.path, tc.body(isKnown, i))
			if st >= 300 {
				t.Fatalf("%s: %d", tc.name, st)
			}
			if isKnown {
				known = append(known, d)
			} else {
				unknown = append(unknown, d)
			}
		}
		mk, mu := median(known), median(unknown)
		ratio := float64(mk) / float64(mu)
		t.Logf("%s: median %v with an account, %v without (ratio %.2f)", tc.name, mk, mu, ratio)
		// Identical work measures within ±20 % on a busy 2-core machine;
		// doing the mail's work inline (token, rendering) would be 2× or more.
		if ratio > 1.35 || ratio < 1/1.35 {
			t.Errorf("%s: timing differs with and without an account: %v vs %v", tc.name, mk, mu)
		}
	}
	// Afterwards, only addresses with an account got mail.
	mb := authtest.Deliver(t, a)
	deadline := time.Now().Add(20 * time.Second)
	for {
		rep, err := a.MailReport(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the outbox did not drain")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, m := range mb.Messages() {
		if strings.HasPrefix(m.To, "unknown") || strings.HasPrefix(m.To, "warm") {
			t.Fatalf("%s mail to %s, an address without an account", m.Kind, m.To)
		}
	}
}

func addr(known bool, i int) string {
	if known {
		return fmt.Sprintf("known%d@example.com", i)
	}
	return fmt.Sprintf("unknown%d@example.com", i)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
