package attack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Account enumeration by timing, against the real binary at its default
// argon2id cost: for each flow that takes an email address, a request about
// an address with an account and one about an address without must answer
// with the same status and the same bytes, and take the same time — median
// and 95th percentile — over a few hundred pairs of samples, each pair in
// a random order, sent from one keep-alive connection.
//
// The tests have "Timing" in their names: CI runs them in its serial step
// without -race, where nothing else competes for the machine. Rate limits
// are lifted (Relaxed): a 429 is not a sample.

// Thresholds. On a 2-core machine, sign-in and sign-up (argon2id-bound,
// 35–45 ms) measure within ±5 % at the median; a missing dummy hash would
// be a factor of 100. Forgot-password and resend answer in about 1 ms, so
// the 95th percentile there is mostly scheduling noise, and the median
// shows the account side 5–30 % slower: the delivery worker, woken by the
// request (outbox.go, enqueue → wakeDelivery), resolves and renders the
// mail on the other core while the answer is still on its way.
const (
	medianTolerance = 1.25
	p95Tolerance    = 1.50
)

// timingSide is one half of a comparison: the JSON body of its i-th request.
type timingSide struct {
	name string
	body func(i int) any
}

// compareTiming sends n pairs of requests to path, one of each side in a
// random order, after warm requests (bodies from warm) that are not
// measured. It fails unless every answer has the same status, header names
// and body, and the medians and 95th percentiles agree within the
// tolerances.
func compareTiming(t *testing.T, s *Server, path string, n, warmups int, warm func(i int) any, a, b timingSide) {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	type answer struct {
		status  int
		headers string
		body    string
	}
	post := func(body any) (time.Duration, answer) {
		js, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", s.URL+path, bytes.NewReader(js))
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		b, err := io.ReadAll(res.Body)
		d := time.Since(start)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for k := range res.Header {
			names = append(names, k)
		}
		slices.Sort(names)
		return d, answer{res.StatusCode, strings.Join(names, ","), string(b)}
	}
	for i := range warmups {
		post(warm(i))
	}
	var (
		times = [2][]time.Duration{}
		first = [2]*answer{}
		sides = [2]timingSide{a, b}
	)
	// Pairs, each in a random order: a burst of noise from elsewhere on
	// the machine hits both sides alike, and so does whatever one request
	// leaves behind for the next (the mail delivery it woke).
	var order []int
	for i := range n {
		if rand.IntN(2) == 0 {
			order = append(order, 2*i, 2*i+1)
		} else {
			order = append(order, 2*i+1, 2*i)
		}
	}
	for _, k := range order {
		side, i := k%2, k/2
		d, ans := post(sides[side].body(i))
		if ans.status == http.StatusTooManyRequests || ans.status >= 500 {
			t.Fatalf("%s %d: %d %s", sides[side].name, i, ans.status, ans.body)
		}
		if first[side] == nil {
			first[side] = &ans
		} else if *first[side] != ans {
			t.Fatalf("%s: answers differ between requests of one kind:\n%+v\n%+v", sides[side].name, *first[side], ans)
		}
		times[side] = append(times[side], d)
	}
	if *first[0] != *first[1] {
		t.Errorf("the answers tell the two apart:\n%s: %+v\n%s: %+v", a.name, *first[0], b.name, *first[1])
	}
	ratio := func(x, y time.Duration) float64 { return float64(x) / float64(y) }
	within := func(r, tol float64) bool { return r <= tol && r >= 1/tol }
	ma, mb := quantile(times[0], 0.5), quantile(times[1], 0.5)
	pa, pb := quantile(times[0], 0.95), quantile(times[1], 0.95)
	t.Logf("%d pairs, answer %d %s", n, first[0].status, strings.TrimSpace(first[0].body))
	t.Logf("median: %s %s, %s %s (ratio %.2f)", a.name, fmtMillis(ma), b.name, fmtMillis(mb), ratio(ma, mb))
	t.Logf("p95:    %s %s, %s %s (ratio %.2f)", a.name, fmtMillis(pa), b.name, fmtMillis(pb), ratio(pa, pb))
	if !within(ratio(ma, mb), medianTolerance) {
		t.Errorf("medians differ by more than ±%.0f %%: %s %s vs %s %s", (medianTolerance-1)*100, a.name, fmtMillis(ma), b.name, fmtMillis(mb))
	}
	if !within(ratio(pa, pb), p95Tolerance) {
		t.Errorf("95th percentiles differ by more than ±%.0f %%: %s %s vs %s %s", (p95Tolerance-1)*100, a.name, fmtMillis(pa), b.name, fmtMillis(pb))
	}
}

// addresses returns email(0)…email(n-1).
func addresses(n int, email func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = email(i)
	}
	return out
}

// TestTimingEnumerationSignIn: a wrong password for an existing account
// and any password for an unknown address fail alike — same 401 bytes,
// same time (the unknown address pays a dummy argon2id verify).
//
// ASVS 5.0: V6.3.8 (valid users cannot be deduced from failed
// authentication by message, status or response time).
func TestTimingEnumerationSignIn(t *testing.T) {
	s := Start(t, Relaxed...)
	const accounts, pairs = 10, 200
	known := func(i int) string { return fmt.Sprintf("known%d@example.com", i%accounts) }
	// Accounts made by sign-up, so their hashes have the binary's own cost.
	for i := range accounts {
		s.Client().SignUp(known(i))
	}
	compareTiming(t, s, "/auth/api/sign-in", pairs, 20,
		func(i int) any {
			return map[string]string{"email": fmt.Sprintf("warm%d@example.com", i), "password": "wrong password here"}
		},
		timingSide{"wrong password", func(i int) any {
			return map[string]string{"email": known(i), "password": fmt.Sprintf("wrong password %d", i)}
		}},
		timingSide{"unknown email", func(i int) any {
			return map[string]string{"email": fmt.Sprintf("nobody%d@example.com", i%accounts), "password": fmt.Sprintf("wrong password %d", i)}
		}},
	)
}

// TestTimingEnumerationSignUpRequired: with verification required, signing
// up with a taken address answers and takes the same as with a new one
// (201 verification_required, no cookie; the mail decides later).
//
// ASVS 5.0: V6.3.8 (registration has the same protection against
// enumeration as sign-in).
func TestTimingEnumerationSignUpRequired(t *testing.T) {
	s := Start(t, append([]string{"GATEHOUSE_EMAIL_VERIFICATION=required"}, Relaxed...)...)
	const pairs = 250
	taken := func(i int) string { return fmt.Sprintf("taken%d@example.com", i) }
	s.Import(addresses(pairs, taken), false)
	compareTiming(t, s, "/auth/api/sign-up", pairs, 20,
		func(i int) any {
			return map[string]string{"email": fmt.Sprintf("warm%d@example.com", i), "password": Password}
		},
		timingSide{"taken address", func(i int) any { return map[string]string{"email": taken(i), "password": Password} }},
		timingSide{"new address", func(i int) any {
			return map[string]string{"email": fmt.Sprintf("fresh%d@example.com", i), "password": Password}
		}},
	)
}

// emailFlowTiming compares a flow that asks for a mail (forgot-password,
// resend verification) for addresses with an unverified account and
// without. Each address is asked about at most four times, under the
// per-address mail limit (5 per 15 minutes): over it, a request does less
// work and would measure apart whatever the account.
func emailFlowTiming(t *testing.T, path string) {
	s := Start(t, Relaxed...)
	const accounts, uses = 300, 4
	const pairs = accounts * uses
	known := func(i int) string { return fmt.Sprintf("known%d@example.com", i%accounts) }
	s.Import(addresses(accounts, known), false)
	compareTiming(t, s, path, pairs, 20,
		func(i int) any { return map[string]string{"email": fmt.Sprintf("warm%d@example.com", i)} },
		timingSide{"account", func(i int) any { return map[string]string{"email": known(i)} }},
		timingSide{"no account", func(i int) any {
			return map[string]string{"email": fmt.Sprintf("nobody%d@example.com", i%accounts)}
		}},
	)
}

// TestTimingEnumerationForgotPassword: asking for a reset link answers 202
// with the same bytes in the same time whether or not the address has an
// account.
//
// ASVS 5.0: V6.3.8 (forgot-password has the same protection against
// enumeration as sign-in).
func TestTimingEnumerationForgotPassword(t *testing.T) {
	emailFlowTiming(t, "/auth/api/password/forgot")
}

// TestTimingEnumerationResendVerification: asking for a new verification
// link for an unverified account answers like one for no account, in the
// same time.
//
// ASVS 5.0: V6.3.8 (applied to the other flow that takes an address).
func TestTimingEnumerationResendVerification(t *testing.T) {
	emailFlowTiming(t, "/auth/api/email/verify/send")
}
