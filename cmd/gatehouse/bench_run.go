package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/loadgen"
)

// bench is one run of `gatehouse bench`.
type bench struct {
	cmd       *benchCmd
	progress  io.Writer
	node      *node
	seeds     seeder
	url       string // the in-process server
	backend   string // for the report: "SQLite", "PostgreSQL + Redis", …
	dbPath    string // the SQLite file, "" on PostgreSQL
	env       []string
	secretHex string
	runID     string
}

// hotSessions is how many seeded sessions the warm scenarios cycle through:
// few enough to stay in the session cache, many enough to be realistic.
const hotSessions = 1000

// run measures the references and the scenarios.
func (b *bench) run(ctx context.Context) (*benchReport, error) {
	c := b.cmd
	cfg := b.node.auth.Config()
	rep := &benchReport{
		Machine: machine(), Backend: b.backend, Users: c.SeedUsers, Concurrency: c.Concurrency,
		Duration: c.Duration.String(), Warmup: c.Warmup.String(),
	}
	hashing := cfg.PasswordHashing
	rep.Argon2 = benchArgon2{Workers: cfg.HashWorkers, MemoryKiB: hashing.MemoryKiB, Iterations: hashing.Iterations, Parallelism: hashing.Parallelism}
	b.runID = randomHex(4)
	hot := min(hotSessions, c.SeedUsers)
	client := benchClient(c.Concurrency * 2)
	defer client.CloseIdleConnections()

	// The baseline answers a body as long as the session endpoint's.
	body, err := b.sessionBody(ctx, client)
	if err != nil {
		return nil, err
	}
	baseLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	baseline := newServer(baselineHandler(len(body)), b.node.auth.Logger())
	go func() { _ = serveOn(baseline, baseLn) }()
	defer baseline.Close()
	baseURL := "http://" + baseLn.Addr().String() + "/"

	base := cfg.BasePath
	cookie := func(i int) string { return "gatehouse_session=" + b.seeds.token(i) }
	get := func(target string, header func(n uint64) (string, string), want int) loadgen.Call {
		return func(ctx context.Context, _ int, n uint64) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			k, v := header(n)
			if k != "" {
				req.Header.Set(k, v)
			}
			return do(client, req, want)
		}
	}
	none := func(uint64) (string, string) { return "", "" }
	hotCookie := func(n uint64) (string, string) { return "Cookie", cookie(int(n % uint64(hot))) }

	closed := loadgen.Options{Concurrency: c.Concurrency, Warmup: c.Warmup, Duration: c.Duration}
	want := func(name string) bool { return len(c.Scenario) == 0 || slices.Contains(c.Scenario, name) }
	measure := func(name, what string, o loadgen.Options, call loadgen.Call) benchScenario {
		fmt.Fprintf(b.progress, "  %-20s %s\n", name, what)
		return newScenario(name, what, loadgen.Run(ctx, o, call))
	}

	// The references come first: the scenarios' ratios need them.
	ref := measure("baseline", fmt.Sprintf("bare net/http handler, %d-byte JSON body", len(body)), closed, get(baseURL, none, 200))
	if want("baseline") {
		rep.Scenarios = append(rep.Scenarios, ref.against("baseline", ref.PerSecond, "", 0))
	}
	needCeiling := want("sign_in") || want("sign_up") || want("flood")
	if needCeiling {
		fmt.Fprintf(b.progress, "  %-20s %s\n", "argon2id ceiling", "hashes per second through the configured pool")
		r := loadgen.Run(ctx, loadgen.Options{Concurrency: cfg.HashWorkers * 2, Warmup: c.Warmup, Duration: c.Duration},
			func(ctx context.Context, _ int, _ uint64) error {
				_, err := b.node.auth.HashPassword(ctx, benchPassword)
				return err
			})
		rep.Argon2.HashesPerSecond = r.PerSecond()
	}
	ceiling := rep.Argon2.HashesPerSecond

	var quiet benchScenario // session_cookie, the flood's reference
	if want("session_cookie") || want("flood") {
		quiet = measure("session_cookie", "GET "+base+"/api/session with a session cookie (cache hit)", closed, get(b.url+base+"/api/session", hotCookie, 200))
		if want("session_cookie") {
			rep.Scenarios = append(rep.Scenarios, quiet.against("baseline", ref.PerSecond, "≥ 0.70× baseline req/s, p99 ≤ 2× baseline", 0.7).withP99(ref.P99, 2))
		}
	}
	if want("session_cookie_cold") {
		// Each request presents a session not used before in this run,
		// so the cache misses and the database answers.
		cold := c.SeedUsers - hot
		if cold < 1 {
			cold = c.SeedUsers
		}
		coldCookie := func(n uint64) (string, string) {
			return "Cookie", cookie(c.SeedUsers - cold + int(n%uint64(cold)))
		}
		s := measure("session_cookie_cold", "GET "+base+"/api/session with a cookie not seen before (cache miss)", closed, get(b.url+base+"/api/session", coldCookie, 200))
		rep.Scenarios = append(rep.Scenarios, s.against("baseline", ref.PerSecond, "≥ 0.70× baseline req/s, p99 ≤ 2× baseline", 0.7).withP99(ref.P99, 2))
	}
	if want("session_bearer") {
		tokens, err := b.mintTokens(ctx, hot)
		if err != nil {
			return nil, err
		}
		bearer := func(n uint64) (string, string) { return "Authorization", "Bearer " + tokens[n%uint64(len(tokens))] }
		s := measure("session_bearer", "GET "+base+"/api/session with an access token", closed, get(b.url+base+"/api/session", bearer, 200))
		rep.Scenarios = append(rep.Scenarios, s.against("baseline", ref.PerSecond, "≥ 0.50× baseline req/s", 0.5))
	}
	if want("protected_page") {
		s := measure("protected_page", "GET /app/ behind Require (cache hit)", closed, get(b.url+"/app/", hotCookie, 200))
		rep.Scenarios = append(rep.Scenarios, s.against("baseline", ref.PerSecond, "", 0))
	}
	var signInRate float64
	if want("sign_in") {
		s := measure("sign_in", "POST "+base+"/api/sign-in, a different user each time", closed, b.signIn(client))
		signInRate = s.PerSecond
		rep.Scenarios = append(rep.Scenarios, s.against("argon2id ceiling", ceiling, "≥ 0.80× ceiling", 0.8))
	}
	if want("sign_up") {
		s := measure("sign_up", "POST "+base+"/api/sign-up, a new address each time", closed, b.signUp(client))
		rep.Scenarios = append(rep.Scenarios, s.against("argon2id ceiling", ceiling, "≥ 0.80× ceiling", 0.8))
	}
	if want("flood") {
		if signInRate == 0 {
			signInRate = ceiling
		}
		s, flood, refused := b.flood(ctx, closed, 2*signInRate, get(b.url+base+"/api/session", hotCookie, 200))
		rep.Scenarios = append(rep.Scenarios, s.flooded(quiet, flood, refused, 2*signInRate))
	}
	if want("refresh_grant") {
		// Every grant rotates its refresh token, a write transaction
		// (on SQLite through the single writer), and signs an ID token.
		// Informational: no target yet.
		call, err := b.refreshGrant(ctx, client, c.Concurrency, hot)
		if err != nil {
			return nil, err
		}
		s := measure("refresh_grant", "POST "+base+"/oauth2/token refresh_token grant (confidential client, rotation)", closed, call)
		rep.Scenarios = append(rep.Scenarios, s.against("baseline", ref.PerSecond, "", 0))
	}
	return rep, nil
}

// flood measures session checks while sign-ins arrive at rate, an open
// loop whatever the server answers, and counts the sign-ins the server
// refused to protect itself (503 when the hashing pool is full, 429).
func (b *bench) flood(ctx context.Context, o loadgen.Options, rate float64, check loadgen.Call) (checks benchScenario, flood loadgen.Result, refused int) {
	fmt.Fprintf(b.progress, "  %-20s session checks during a sign-in flood of %.0f/s (2× capacity)\n", "flood", rate)
	// Up to 1024 sign-ins in flight, each on its own connection.
	client := benchClient(1024)
	defer client.CloseIdleConnections()
	signIn := b.signIn(client)
	var refusals atomic.Int64
	call := func(ctx context.Context, w int, n uint64) error {
		err := signIn(ctx, w, n)
		if se, ok := err.(statusError); ok && (se.got == http.StatusServiceUnavailable || se.got == http.StatusTooManyRequests) {
			refusals.Add(1)
			return nil
		}
		return err
	}
	floodDone := make(chan loadgen.Result, 1)
	// The flood starts with the checks' warm-up and lasts as long.
	go func() {
		floodDone <- loadgen.Run(ctx, loadgen.Options{Concurrency: 1024, Rate: rate, Warmup: o.Warmup, Duration: o.Duration}, call)
	}()
	res := loadgen.Run(ctx, o, check)
	flood = <-floodDone
	return newScenario("flood", "GET session (cookie, cache hit) during the sign-in flood", res), flood, int(refusals.Load())
}

// signIn signs in the seeded users in turn, each request from its own
// client address, and expects 200.
func (b *bench) signIn(client *http.Client) loadgen.Call {
	target := b.url + b.node.auth.Config().BasePath + "/api/sign-in"
	users := b.cmd.SeedUsers
	return func(ctx context.Context, _ int, n uint64) error {
		body := `{"email":"` + b.seeds.email(int(n%uint64(users))) + `","password":"` + benchPassword + `"}`
		return do(client, b.post(ctx, target, body, n), 200)
	}
}

// signUp creates a new account per call.
func (b *bench) signUp(client *http.Client) loadgen.Call {
	target := b.url + b.node.auth.Config().BasePath + "/api/sign-up"
	return func(ctx context.Context, _ int, n uint64) error {
		body := `{"email":"new-` + b.runID + "-" + strconv.FormatUint(n, 10) + `@bench.example.com","password":"` + benchPassword + `"}`
		return do(client, b.post(ctx, target, body, n), 201)
	}
}

// post builds a JSON POST from the n-th client address, 10.0.0.0/8 as
// seen through the trusted loopback proxy.
func (b *bench) post(ctx context.Context, target, body string, n uint64) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", byte(n>>16), byte(n>>8), byte(n)))
	return req
}

// sessionBody fetches the session endpoint once with a seeded session.
func (b *bench) sessionBody(ctx context.Context, client *http.Client) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+b.node.auth.Config().BasePath+"/api/session", nil)
	req.Header.Set("Cookie", "gatehouse_session="+b.seeds.token(0))
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("the seeded session does not work: GET /api/session answered %d: %s", res.StatusCode, bytes.TrimSpace(body))
	}
	return body, nil
}

// mintTokens issues an access token for each of the first n sessions.
func (b *bench) mintTokens(ctx context.Context, n int) ([]string, error) {
	tokens := make([]string, n)
	for i := range tokens {
		p, err := b.node.auth.Authenticate(ctx, b.seeds.token(i))
		if err != nil {
			return nil, fmt.Errorf("seeded session %d: %w", i, err)
		}
		t, err := b.node.auth.Token(gatehouse.WithPrincipal(ctx, p))
		if err != nil {
			return nil, fmt.Errorf("minting an access token: %w", err)
		}
		tokens[i] = t.Token
	}
	return tokens, nil
}

// baselineHandler answers every request with a JSON body of size bytes,
// as plainly as net/http allows: the reference for the session checks.
func baselineHandler(size int) http.Handler {
	const head, tail = `{"ok":true,"padding":"`, `"}`
	body := []byte(head + strings.Repeat("x", max(size-len(head)-len(tail), 0)) + tail)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// benchClient is an HTTP client for loopback load: connections kept alive
// and reused, no compression, no proxy from the environment.
func benchClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

// statusError is a response with another status than expected.
type statusError struct{ got, want int }

func (e statusError) Error() string { return fmt.Sprintf("status %d, want %d", e.got, e.want) }

// do sends req and reads the whole response, so the connection is reused.
func do(client *http.Client, req *http.Request, want int) error {
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return statusError{res.StatusCode, want}
	}
	return nil
}
