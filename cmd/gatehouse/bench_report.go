package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/loadgen"
)

// benchReport is the outcome of `gatehouse bench`, as printed by --json.
type benchReport struct {
	Machine     benchMachine    `json:"machine"`
	Backend     string          `json:"backend"`
	Users       int             `json:"users"`
	Concurrency int             `json:"concurrency"`
	Duration    string          `json:"duration"`
	Warmup      string          `json:"warmup"`
	Argon2      benchArgon2     `json:"argon2id"`
	Scenarios   []benchScenario `json:"scenarios"`
	Startup     *benchStartup   `json:"startup,omitempty"`
}

type benchMachine struct {
	CPU        string `json:"cpu,omitempty"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Go         string `json:"go"`
}

// benchArgon2 is the password-hashing configuration and its ceiling.
type benchArgon2 struct {
	Workers         int     `json:"workers"`
	MemoryKiB       uint32  `json:"memory_kib"`
	Iterations      uint32  `json:"iterations"`
	Parallelism     uint8   `json:"parallelism"`
	HashesPerSecond float64 `json:"hashes_per_second"`
}

// benchScenario is one scenario's figures. Ratio compares PerSecond with
// the reference's (for flood: the session checks' p99 with their quiet
// p99). Met is absent when the scenario has no target.
type benchScenario struct {
	Name       string         `json:"name"`
	What       string         `json:"what"`
	Requests   int            `json:"requests"`
	Errors     int            `json:"errors"`
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	PerSecond  float64        `json:"requests_per_second"`
	P50        millis         `json:"p50_ms"`
	P95        millis         `json:"p95_ms"`
	P99        millis         `json:"p99_ms"`
	Max        millis         `json:"max_ms"`
	Reference  string         `json:"reference"`
	Ratio      float64        `json:"ratio"`
	P99Ratio   float64        `json:"p99_ratio,omitempty"`
	Target     string         `json:"target,omitempty"`
	Met        *bool          `json:"met,omitempty"`
	// The flood's sign-ins: offered per second, signed in, refused by
	// the server under load (503, 429) and failed otherwise.
	FloodRate    float64 `json:"flood_rate,omitempty"`
	FloodServed  int     `json:"flood_signed_in,omitempty"`
	FloodRefused int     `json:"flood_refused,omitempty"`
	FloodFailed  int     `json:"flood_failed,omitempty"`
	FloodDropped int     `json:"flood_not_sent,omitempty"`
}

// millis is a duration printed in JSON as fractional milliseconds.
type millis time.Duration

func (m millis) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(time.Duration(m).Microseconds()) / 1000)
}

func (m millis) String() string {
	d := time.Duration(m)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
	default:
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
}

func newScenario(name, what string, r loadgen.Result) benchScenario {
	return benchScenario{
		Name: name, What: what, Requests: r.Calls, Errors: r.Errors, ErrorKinds: r.ErrorKinds, PerSecond: r.PerSecond(),
		P50: millis(r.P50), P95: millis(r.P95), P99: millis(r.P99), Max: millis(r.Max),
	}
}

// against sets the ratio of the scenario's rate to the reference's and,
// when min > 0, whether it meets min with no errors.
func (s benchScenario) against(reference string, refPerSecond float64, target string, min float64) benchScenario {
	s.Reference, s.Target = reference, target
	if refPerSecond > 0 {
		s.Ratio = s.PerSecond / refPerSecond
	}
	if min > 0 {
		s.setMet(s.Ratio >= min && s.Errors == 0)
	}
	return s
}

// withP99 adds the p99 comparison with the reference's p99 to the target.
func (s benchScenario) withP99(refP99 millis, most float64) benchScenario {
	if refP99 > 0 {
		s.P99Ratio = float64(s.P99) / float64(refP99)
	}
	if s.Met != nil {
		s.setMet(*s.Met && s.P99Ratio <= most)
	}
	return s
}

// flooded compares the session checks during the flood with quiet ones.
func (s benchScenario) flooded(quiet benchScenario, flood loadgen.Result, refused int, rate float64) benchScenario {
	s.Reference, s.Target = "session_cookie p99", "p99 ≤ 3× quiet, no errors"
	if quiet.P99 > 0 {
		s.Ratio = float64(s.P99) / float64(quiet.P99)
		s.setMet(s.Ratio <= 3 && s.Errors == 0)
	}
	s.FloodRate, s.FloodServed, s.FloodRefused, s.FloodFailed, s.FloodDropped = rate, flood.Calls-flood.Errors-refused, refused, flood.Errors, flood.Dropped
	return s
}

func (s *benchScenario) setMet(ok bool) { s.Met = &ok }

// benchStartup is what the starts of `gatehouse serve` measured.
type benchStartup struct {
	Starts int `json:"starts"`
	// Ready is the median time from exec to the first 200 from /readyz.
	Ready    millis `json:"ready_ms"`
	ReadyMax millis `json:"ready_max_ms"`
	// IdleRSS is the largest resident set after a few idle seconds, in
	// MiB; 0 where the system does not report it.
	IdleRSSMiB float64 `json:"idle_rss_mib"`
	ReadyMet   bool    `json:"ready_met"`
	RSSMet     bool    `json:"idle_rss_met"`
}

// Startup targets.
const (
	readyTarget   = 300 * time.Millisecond
	idleRSSTarget = 40 // MiB
)

func (r *benchReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *benchReport) writeTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\nGatehouse bench — %s, %d users, %d clients, %s per scenario\n", r.Backend, r.Users, r.Concurrency, r.Duration)
	fmt.Fprintf(w, "Machine: %s, %d CPUs (GOMAXPROCS %d), %s/%s, %s\n", orDash(m.CPU), m.CPUs, m.GOMAXPROCS, m.OS, m.Arch, m.Go)
	a := r.Argon2
	if a.HashesPerSecond > 0 {
		fmt.Fprintf(w, "argon2id ceiling: %.1f hashes/s (%d worker(s), %d KiB, t=%d, p=%d)\n", a.HashesPerSecond, a.Workers, a.MemoryKiB, a.Iterations, a.Parallelism)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\treq/s\tp50\tp95\tp99\terrors\tratio\t\ttarget\t")
	for _, s := range r.Scenarios {
		ratio := fmt.Sprintf("%.2f×", s.Ratio)
		if s.Reference == "" || s.Name == "baseline" {
			ratio = "1.00×"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t\n", s.Name, rate(s.PerSecond), s.P50, s.P95, s.P99, s.Errors, ratio, verdict(s.Met), s.Target)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, s := range r.Scenarios {
		switch {
		case s.Name == "baseline":
		case s.Name == "refresh_grant":
			fmt.Fprintf(w, "refresh_grant: %s; %s grants/s, each a rotation written to the database; ratio against the %s.\n", s.What, rate(s.PerSecond), s.Reference)
		case s.Name == "flood":
			fmt.Fprintf(w, "flood: ratio is the session checks' p99 over their quiet p99. The flood offered %.0f sign-ins/s: %d signed in, %d refused under load (503/429), %d failed, %d not sent (1024 in flight).\n", s.FloodRate, s.FloodServed, s.FloodRefused, s.FloodFailed, s.FloodDropped)
		default:
			fmt.Fprintf(w, "%s: %s; ratio against the %s", s.Name, s.What, s.Reference)
			if s.P99Ratio > 0 {
				fmt.Fprintf(w, ", p99 %.2f× the baseline's", s.P99Ratio)
			}
			fmt.Fprintln(w, ".")
		}
		for _, k := range slices.Sorted(maps.Keys(s.ErrorKinds)) {
			fmt.Fprintf(w, "  %d× %s\n", s.ErrorKinds[k], k)
		}
	}
	if st := r.Startup; st != nil {
		fmt.Fprintf(w, "\nstart-up (gatehouse serve on the seeded database, %d starts):\n", st.Starts)
		fmt.Fprintf(w, "  ready after exec: %s median, %s slowest  %s target < %s\n", st.Ready, st.ReadyMax, verdict(&st.ReadyMet), millis(readyTarget))
		if st.IdleRSSMiB > 0 {
			fmt.Fprintf(w, "  idle RSS:         %.1f MiB             %s target < %d MiB\n", st.IdleRSSMiB, verdict(&st.RSSMet), idleRSSTarget)
		} else {
			fmt.Fprintf(w, "  idle RSS:         not reported by this system\n")
		}
	}
}

func rate(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func verdict(met *bool) string {
	switch {
	case met == nil:
		return ""
	case *met:
		return "met"
	default:
		return "MISSED"
	}
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
