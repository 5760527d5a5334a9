package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/loadgen"
)

func TestBenchRefusesBadFlags(t *testing.T) {
	env := baseEnv(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "nope"}, `unknown scenario "nope"`},
		{[]string{"--duration", "1ms"}, "--duration must be at least 100ms"},
		{[]string{"--concurrency", "0"}, "--concurrency must be between 1 and 10000"},
		{[]string{"--seed-users", "0"}, "--seed-users must be at least 1"},
		{[]string{"--database-url", "mysql://x"}, "--database-url must be a postgres:// URL"},
	} {
		gh(t, env, "", append([]string{"bench"}, tt.args...)...).fails(t, 1, tt.want)
	}
}

// The verdicts follow the figures: a ratio below the target, an error or a
// p99 too far from the reference's each miss it.
func TestBenchVerdicts(t *testing.T) {
	run := func(perSecond float64, errors int, p99 time.Duration) benchScenario {
		calls := int(perSecond)
		return newScenario("session_cookie", "", loadgen.Result{Calls: calls + errors, Errors: errors, Elapsed: time.Second, P50: p99 / 2, P99: p99})
	}
	ref := newScenario("baseline", "", loadgen.Result{Calls: 1000, Elapsed: time.Second, P99: 10 * time.Millisecond})
	tests := []struct {
		s    benchScenario
		want bool
	}{
		{run(700, 0, 20*time.Millisecond), true},
		{run(699, 0, 10*time.Millisecond), false},
		{run(900, 1, 10*time.Millisecond), false},
		{run(900, 0, 21*time.Millisecond), false},
	}
	for i, tt := range tests {
		got := tt.s.against("baseline", ref.PerSecond, "", 0.7).withP99(ref.P99, 2)
		if got.Met == nil || *got.Met != tt.want {
			t.Errorf("%d: ratio %.3f p99 ratio %.2f errors %d: met %v, want %v", i, got.Ratio, got.P99Ratio, got.Errors, got.Met, tt.want)
		}
	}
	quiet := run(1000, 0, 4*time.Millisecond)
	if f := run(500, 0, 12*time.Millisecond).flooded(quiet, loadgen.Result{}, 0, 60); !*f.Met || f.Ratio != 3 {
		t.Errorf("p99 3× quiet: %+v", f)
	}
	if f := run(500, 0, 13*time.Millisecond).flooded(quiet, loadgen.Result{}, 0, 60); *f.Met {
		t.Errorf("p99 3.25× quiet met: %+v", f)
	}
}

func TestBenchTable(t *testing.T) {
	met := true
	r := &benchReport{
		Machine: benchMachine{CPUs: 2, GOMAXPROCS: 2, OS: "linux", Arch: "amd64", Go: "go1.26.8"}, Backend: "SQLite", Users: 10, Concurrency: 4, Duration: "1s",
		Argon2: benchArgon2{Workers: 1, MemoryKiB: 19456, Iterations: 2, Parallelism: 1, HashesPerSecond: 30},
		Scenarios: []benchScenario{
			{Name: "sign_in", What: "POST", PerSecond: 25, Reference: "argon2id ceiling", Ratio: 0.83, Target: "≥ 0.80× ceiling", Met: &met, ErrorKinds: map[string]int{"status 503, want 200": 2}},
			{Name: "refresh_grant", What: "POST /auth/oauth2/token", PerSecond: 412.4, Reference: "baseline", Ratio: 0.02, ErrorKinds: map[string]int{"status 400, want 200: invalid_grant": 1}},
		},
		Startup: &benchStartup{Starts: 3, Ready: millis(90 * time.Millisecond), ReadyMax: millis(120 * time.Millisecond), IdleRSSMiB: 31.5, ReadyMet: true, RSSMet: true},
	}
	var b bytes.Buffer
	r.writeTable(&b)
	for _, want := range []string{"argon2id ceiling: 30.0 hashes/s (1 worker(s), 19456 KiB, t=2, p=1)", "sign_in", "0.83×", "met", "2× status 503, want 200", "refresh_grant: POST /auth/oauth2/token; 412 grants/s", "1× status 400, want 200: invalid_grant", "ready after exec: 90.00ms median, 120.00ms slowest", "31.5 MiB"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
