package gatehouse_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
)

// TestSignInTimingUnknownVsWrongPassword pins invariant 4: a failed sign-in
// takes the same time whether or not the account exists. It uses the real
// argon2id cost and measures, so it runs without -race in CI's serial step.
func TestSignInTimingUnknownVsWrongPassword(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test: runs in the serial step without -short")
	}
	store := authtest.Store(t)
	a, err := gatehouse.New(gatehouse.Config{PublicURL: "http://localhost:8080", HashWorkers: 1}, store)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.SignUp(t.Context(), gatehouse.SignUpInput{Email: "known@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	const n = 60
	measure := func(email string) []time.Duration {
		ds := make([]time.Duration, 0, n)
		for range n {
			start := time.Now()
			_, err := a.SignIn(t.Context(), gatehouse.SignInInput{Email: email, Password: "wrong password, surely"})
			ds = append(ds, time.Since(start))
			if gatehouse.ErrorCode(err) != gatehouse.CodeInvalidCredentials {
				t.Fatalf("%s: %v", email, err)
			}
		}
		slices.Sort(ds)
		return ds
	}
	// Interleave warm-up, then measure both.
	measure("warmup@example.com")
	known, unknown := measure("known@example.com"), measure("nobody@example.com")
	p := func(ds []time.Duration, q float64) time.Duration { return ds[int(float64(len(ds)-1)*q)] }
	ratio := float64(p(known, .5)) / float64(p(unknown, .5))
	t.Logf("median known %v unknown %v (ratio %.3f); p95 known %v unknown %v", p(known, .5), p(unknown, .5), ratio, p(known, .95), p(unknown, .95))
	if ratio < 0.85 || ratio > 1.15 {
		t.Fatalf("sign-in timing differs by account existence: median ratio %.3f", ratio)
	}
}
