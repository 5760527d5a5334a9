package e2e_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse-auth/gatehouse/internal/testpg"
)

// benchReport is the part of `gatehouse bench --json` the tests read.
type benchReport struct {
	Backend  string `json:"backend"`
	Users    int    `json:"users"`
	Argon2id struct {
		Workers         int     `json:"workers"`
		MemoryKiB       int     `json:"memory_kib"`
		HashesPerSecond float64 `json:"hashes_per_second"`
	} `json:"argon2id"`
	Scenarios []struct {
		Name       string         `json:"name"`
		Requests   int            `json:"requests"`
		Errors     int            `json:"errors"`
		ErrorKinds map[string]int `json:"error_kinds"`
		PerSecond  float64        `json:"requests_per_second"`
		P50        float64        `json:"p50_ms"`
		P99        float64        `json:"p99_ms"`
		Reference  string         `json:"reference"`
		Ratio      float64        `json:"ratio"`
		Met        *bool          `json:"met"`
		SignedIn   int            `json:"flood_signed_in"`
		Failed     int            `json:"flood_failed"`
	} `json:"scenarios"`
	Startup *struct {
		Starts     int     `json:"starts"`
		Ready      float64 `json:"ready_ms"`
		IdleRSSMiB float64 `json:"idle_rss_mib"`
	} `json:"startup"`
}

// runBench runs `gatehouse bench` briefly and returns its JSON report.
func runBench(t *testing.T, args ...string) benchReport {
	t.Helper()
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"bench", "--json", "--duration", "400ms", "--warmup", "100ms", "--concurrency", "8"}, args...)...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_PASSWORD_HASH_MEMORY_KIB=7168", "GATEHOUSE_PASSWORD_HASH_ITERATIONS=5")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gatehouse bench: %v\n%s", err, stderr.String())
	}
	var rep benchReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("bench --json printed no report: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stderr.String(), "seeded") {
		t.Errorf("no seeding progress on stderr:\n%s", stderr.String())
	}
	return rep
}

// checkBench checks every scenario ran, without errors, against its
// reference.
func checkBench(t *testing.T, rep benchReport, users int) {
	t.Helper()
	if rep.Users != users || rep.Argon2id.Workers < 1 || rep.Argon2id.MemoryKiB != 7168 || rep.Argon2id.HashesPerSecond <= 0 {
		t.Errorf("report header: %+v", rep)
	}
	var names []string
	for _, s := range rep.Scenarios {
		names = append(names, s.Name)
		if s.Requests == 0 || s.PerSecond <= 0 || s.P50 <= 0 || s.P99 < s.P50 || s.Ratio <= 0 {
			t.Errorf("%s: %+v", s.Name, s)
		}
		if s.Errors != 0 {
			t.Errorf("%s: %d errors: %v", s.Name, s.Errors, s.ErrorKinds)
		}
		want := map[string]string{"sign_in": "argon2id ceiling", "sign_up": "argon2id ceiling", "flood": "session_cookie p99"}[s.Name]
		if want == "" {
			want = "baseline"
		}
		if s.Reference != want {
			t.Errorf("%s is compared with %q, want %q", s.Name, s.Reference, want)
		}
		if s.Name == "flood" && (s.SignedIn == 0 || s.Failed != 0) {
			t.Errorf("the flood signed in %d and failed %d sign-ins", s.SignedIn, s.Failed)
		}
		if s.Name != "baseline" && s.Name != "protected_page" && s.Name != "refresh_grant" && s.Met == nil {
			t.Errorf("%s has no verdict on its target", s.Name)
		}
	}
	all := []string{"baseline", "session_cookie", "session_cookie_cold", "session_bearer", "protected_page", "sign_in", "sign_up", "flood", "refresh_grant"}
	if !slices.Equal(names, all) {
		t.Errorf("scenarios %v, want %v", names, all)
	}
}

// TestBinaryBench runs the harness on SQLite, as a newcomer would, with
// its start-up measurement of `gatehouse serve`.
func TestBinaryBench(t *testing.T) {
	rep := runBench(t, "--seed-users", "3000", "--starts", "1")
	checkBench(t, rep, 3000)
	if rep.Backend != "SQLite" {
		t.Errorf("backend %q", rep.Backend)
	}
	if rep.Startup == nil || rep.Startup.Starts != 1 || rep.Startup.Ready <= 0 || rep.Startup.IdleRSSMiB <= 0 {
		t.Errorf("start-up: %+v", rep.Startup)
	}
}

// TestBinaryBenchPostgresRedis runs it on PostgreSQL and Redis and checks it
// leaves neither a database nor a key behind.
func TestBinaryBenchPostgresRedis(t *testing.T) {
	dsn := testpg.BaseDSN(t)
	redisURL := os.Getenv("GATEHOUSE_TEST_REDIS")
	if redisURL == "" {
		if os.Getenv("GATEHOUSE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal("GATEHOUSE_TEST_REDIS is not set")
		}
		t.Skip("set GATEHOUSE_TEST_REDIS to run the Redis tests")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	opt, err := goredis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	leftovers := func() (dbs int, keys int) {
		ctx := context.Background()
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_database WHERE datname LIKE 'gatehouse_bench_%'`).Scan(&dbs); err != nil {
			t.Fatal(err)
		}
		ks, err := rdb.Keys(ctx, "gatehouse-bench-*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return dbs, len(ks)
	}
	dbsBefore, keysBefore := leftovers()

	rep := runBench(t, "--seed-users", "2000", "--starts", "1", "--database-url", dsn, "--redis-url", redisURL)
	checkBench(t, rep, 2000)
	if rep.Backend != "PostgreSQL + Redis" || rep.Startup == nil || rep.Startup.Ready <= 0 {
		t.Errorf("backend %q, start-up %+v", rep.Backend, rep.Startup)
	}
	if dbs, keys := leftovers(); dbs != dbsBefore || keys != keysBefore {
		t.Errorf("bench left %d databases and %d Redis keys behind", dbs-dbsBefore, keys-keysBefore)
	}
}
