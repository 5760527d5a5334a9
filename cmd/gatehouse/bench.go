package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/web"
)

// benchCmd measures a Gatehouse server against a bare net/http handler and
// the argon2id ceiling, in one run on this machine.
type benchCmd struct {
	Duration    time.Duration `default:"5s" help:"How long each scenario is measured."`
	Warmup      time.Duration `default:"1s" help:"Load before each measurement, not recorded."`
	Concurrency int           `default:"32" help:"Clients of each closed loop."`
	SeedUsers   int           `name:"seed-users" default:"1000000" help:"Users in the database before the scenarios, each with one live session."`
	DatabaseURL string        `name:"database-url" placeholder:"postgres://…" help:"Measure on PostgreSQL: a temporary database is created on this server and dropped afterwards (the role needs CREATEDB). Default: SQLite in a temporary directory."`
	RedisURL    string        `name:"redis-url" placeholder:"redis://…" help:"Share rate limits and cache invalidations through this Redis, under a temporary key prefix removed afterwards."`
	Scenario    []string      `name:"scenario" placeholder:"NAME" help:"Run only these scenarios (repeatable): baseline, session_cookie, session_cookie_cold, session_bearer, protected_page, sign_in, sign_up, flood, refresh_grant."`
	Starts      int           `default:"5" help:"Times gatehouse serve is started on the seeded database to measure readiness and idle memory (0 skips)."`
	JSON        bool          `name:"json" help:"Print the report as JSON instead of a table."`
	CPUProfile  string        `name:"cpu-profile" type:"path" placeholder:"FILE" help:"Write a CPU profile of the scenarios (server and load generator) to FILE, for go tool pprof."`
}

// Help is the long help of `gatehouse bench --help`.
func (c *benchCmd) Help() string {
	return `Starts a server in this process on loopback with a fresh database, seeds it,
and drives it over real HTTP with a closed-loop load generator. In the same run
it measures a bare net/http handler answering a JSON body of the same size (the
baseline) and the argon2id ceiling: hashes per second through the configured
hashing pool. Every figure is reported with its ratio to its reference, so
results from noisy machines stay comparable.

The password-hashing cost and pool come from GATEHOUSE_PASSWORD_HASH_* and the
defaults, as for serve. Progress goes to stderr, the report to stdout. On
SQLite a million users take about 800 MB of the temporary directory (TMPDIR).

Examples:
  gatehouse bench
  gatehouse bench --seed-users 100000 --duration 3s
  gatehouse bench --database-url postgres://postgres@127.0.0.1/postgres --redis-url redis://127.0.0.1:6379 --json`
}

// benchScenarios are the scenarios in the order they run.
var benchScenarios = []string{"baseline", "session_cookie", "session_cookie_cold", "session_bearer", "protected_page", "sign_in", "sign_up", "flood", "refresh_grant"}

// benchEnvPassThrough are the settings bench takes from its environment.
var benchEnvPassThrough = []string{"PASSWORD_HASH_MEMORY_KIB", "PASSWORD_HASH_ITERATIONS", "PASSWORD_HASH_PARALLELISM"}

func (c *benchCmd) Run(ctx context.Context, ce *commandEnv) error {
	if err := c.validate(); err != nil {
		return err
	}
	progress := ce.stderr
	dir, err := os.MkdirTemp("", "gatehouse-bench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	b := &bench{cmd: c, progress: progress, seeds: newSeeder(), secretHex: randomHex(32)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	b.url = "http://" + ln.Addr().String()

	env := []string{
		envPrefix + "PUBLIC_URL=" + b.url,
		envPrefix + "DATA_DIR=" + dir,
		envPrefix + "SECRET=" + b.secretHex,
		envPrefix + "OPS_ADDR=",
		// The load generator speaks for many clients from loopback, as a
		// proxy would: their addresses come in X-Forwarded-For, so rate
		// limits apply per client as in production.
		envPrefix + "TRUSTED_PROXIES=127.0.0.1/32,::1/128",
		// No traffic leaves the machine.
		envPrefix + "BREACHED_PASSWORDS=off",
		envPrefix + "LOG_FORMAT=json",
	}
	for _, k := range benchEnvPassThrough {
		if v, ok := envMap(ce.env)[envPrefix+k]; ok {
			env = append(env, envPrefix+k+"="+v)
		}
	}
	b.backend = "SQLite"
	if c.DatabaseURL != "" {
		dsn, drop, err := createBenchDatabase(ctx, c.DatabaseURL)
		if err != nil {
			return err
		}
		defer drop()
		env = append(env, envPrefix+"DATABASE_URL="+dsn)
		b.backend = "PostgreSQL"
	} else {
		b.dbPath = filepath.Join(dir, "bench.db")
		env = append(env, envPrefix+"DATABASE_URL=sqlite://"+b.dbPath)
	}
	if c.RedisURL != "" {
		prefix := "gatehouse-bench-" + randomHex(6) + ":"
		defer removeRedisPrefix(c.RedisURL, prefix)
		env = append(env, envPrefix+"REDIS_URL="+c.RedisURL, envPrefix+"REDIS_PREFIX="+prefix)
		b.backend += " + Redis"
	}
	b.env = env

	s, err := loadConfig("", env)
	if err != nil {
		return err
	}
	if err := checkCoreConfig(s); err != nil {
		return err
	}
	// The server logs as in production, into nothing: formatting each
	// access-log line is part of what a request costs.
	log := slog.New(web.LogHandler(newLogger(s, io.Discard, false).Handler()))
	fmt.Fprintf(progress, "Gatehouse bench: %s, %d users, %d clients, %s per scenario (+%s warm-up)\n", b.backend, c.SeedUsers, c.Concurrency, c.Duration, c.Warmup)
	n, err := openNode(ctx, s, log, &commandEnv{env: env, stdout: io.Discard, stderr: progress, opts: ce.opts})
	if err != nil {
		return err
	}
	b.node = n
	defer n.close()
	bgCtx, stopBackground := context.WithCancel(ctx)
	waitBackground := n.background(bgCtx, log)
	defer func() { stopBackground(); waitBackground() }()

	st, ok := n.store.(bulkInserter)
	if !ok {
		return errors.New("this store cannot insert in bulk")
	}
	if err := b.seeds.seed(ctx, st, n.auth, c.SeedUsers, progress); err != nil {
		return err
	}

	// serve's handler, plus an application page behind Require, found by
	// a prefix test so that the other scenarios pay no extra routing.
	app := n.web.Require(http.HandlerFunc(protectedPage))
	srv := newServer(web.AccessLog(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/app/") {
			app.ServeHTTP(w, r)
			return
		}
		n.handler.ServeHTTP(w, r)
	})), log)
	go func() { _ = serveOn(srv, ln) }()
	defer srv.Close()

	if c.CPUProfile != "" {
		stop, err := startCPUProfile(c.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	report, err := b.run(ctx)
	if err != nil {
		return err
	}
	if c.Starts > 0 && ctx.Err() == nil {
		// The in-process server stops first, so each start has the machine
		// to itself and opens a database nothing else holds.
		_ = srv.Close()
		stopBackground()
		waitBackground()
		n.close()
		fmt.Fprintf(progress, "  starting gatehouse serve %d times on the seeded database\n", c.Starts)
		st, err := b.measureStarts(ctx)
		if err != nil {
			return err
		}
		report.Startup = st
	}
	if c.JSON {
		return report.writeJSON(ce.stdout)
	}
	report.writeTable(ce.stdout)
	return nil
}

func (c *benchCmd) validate() error {
	switch {
	case c.Duration < 100*time.Millisecond:
		return errors.New("--duration must be at least 100ms")
	case c.Warmup < 0:
		return errors.New("--warmup must not be negative")
	case c.Concurrency < 1 || c.Concurrency > 10_000:
		return errors.New("--concurrency must be between 1 and 10000")
	case c.SeedUsers < 1:
		return errors.New("--seed-users must be at least 1")
	case c.Starts < 0:
		return errors.New("--starts must not be negative")
	}
	for _, s := range c.Scenario {
		if !slices.Contains(benchScenarios, s) {
			return fmt.Errorf("unknown scenario %q: choose among %s", s, strings.Join(benchScenarios, ", "))
		}
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return errors.New("--database-url must be a postgres:// URL (SQLite is the default)")
	}
	return nil
}

// protectedPage is the page of the protected_page scenario, behind Require.
func protectedPage(w http.ResponseWriter, r *http.Request) {
	u, _ := gatehouse.UserFrom(r.Context())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><title>Notes</title><p>Signed in as %s.</p>\n", u.ID)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// createBenchDatabase creates a database with a random name on the server
// of dsn and returns its URL and a function dropping it.
func createBenchDatabase(ctx context.Context, dsn string) (string, func(), error) {
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, fmt.Errorf("--database-url: %w", err)
	}
	name := "gatehouse_bench_" + randomHex(6)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("creating a temporary database on --database-url (the role needs CREATEDB): %w", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("--database-url: %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}
	return u.String(), drop, nil
}

// removeRedisPrefix deletes the keys bench left under prefix.
func removeRedisPrefix(redisURL, prefix string) {
	opt, err := goredis.ParseURL(redisURL)
	if err != nil {
		return
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		c.Del(ctx, it.Val())
	}
}

// machine describes where the figures come from.
func machine() benchMachine {
	m := benchMachine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// startCPUProfile writes a CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
