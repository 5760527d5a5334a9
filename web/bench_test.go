package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/internal/testpg"
	"github.com/gatehouse-auth/gatehouse/web"
)

// benchEnv returns a Require-protected handler and a valid session cookie.
func benchEnv(b *testing.B, store gatehouse.Store, cfg gatehouse.Config) (http.Handler, *http.Cookie) {
	auth := authtest.NewWithStore(b, store, cfg)
	res, err := auth.SignUp(context.Background(), gatehouse.SignUpInput{Email: "bench@example.com", Password: "correct horse battery staple"})
	if err != nil {
		b.Fatal(err)
	}
	h := web.New(auth)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return h.Require(ok), &http.Cookie{Name: "gatehouse_session", Value: res.Token}
}

// benchWriter is a reusable http.ResponseWriter: unlike an
// httptest.ResponseRecorder it costs nothing per request (its Header map is
// cleared, not reallocated), so a benchmark's figures are the handler's own.
type benchWriter struct {
	header http.Header
	code   int
}

func newBenchWriter() *benchWriter { return &benchWriter{header: make(http.Header)} }

func (w *benchWriter) Header() http.Header { return w.header }

func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

// serve runs one request through h on w, made ready for it, and fails tb
// unless h answered 204.
func (w *benchWriter) serve(tb testing.TB, h http.Handler, r *http.Request) {
	clear(w.header)
	w.code = 0
	h.ServeHTTP(w, r)
	if w.code != http.StatusNoContent {
		tb.Fatalf("status %d", w.code)
	}
}

func benchRequire(b *testing.B, store gatehouse.Store, cfg gatehouse.Config) {
	h, cookie := benchEnv(b, store, cfg)
	req := httptest.NewRequest("GET", "/app/", nil)
	req.AddCookie(cookie)
	w := newBenchWriter()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.serve(b, h, req)
	}
}

// BenchmarkSessionCheckCacheHit measures Require with the session in the
// in-process cache: the cost every protected request pays.
func BenchmarkSessionCheckCacheHit(b *testing.B) {
	benchRequire(b, authtest.Store(b), gatehouse.Config{})
}

// sessionCheckAllocBudget is what a protected request with a cached session
// may allocate in the edge: the request context (request info and principal
// together), the request carrying it, the request id, the X-Request-Id field,
// and Vary with Cache-Control.
const sessionCheckAllocBudget = 5

// TestSessionCheckAllocations pins the budget BenchmarkSessionCheckCacheHit
// measures, and checks the protected response's headers on the way.
func TestSessionCheckAllocations(t *testing.T) {
	auth := authtest.New(t, gatehouse.Config{})
	res, err := auth.SignUp(context.Background(), gatehouse.SignUpInput{Email: "bench@example.com", Password: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	h := web.New(auth).Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := gatehouse.UserFrom(r.Context())
		seen = u.ID
		w.WriteHeader(http.StatusNoContent)
	}))
	req := httptest.NewRequest("GET", "/app/", nil)
	req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: res.Token})
	w := newBenchWriter()
	n := testing.AllocsPerRun(100, func() { w.serve(t, h, req) })
	if seen != res.User.ID {
		t.Fatalf("handler saw user %q, want %q", seen, res.User.ID)
	}
	for k, want := range map[string]string{"Vary": "Cookie Authorization", "Cache-Control": "private, no-store"} {
		if got := strings.Join(w.header[k], " "); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if len(w.header["X-Request-Id"]) != 1 {
		t.Errorf("X-Request-Id = %q", w.header["X-Request-Id"])
	}
	if n > sessionCheckAllocBudget {
		t.Errorf("a cached session check allocates %v times, budget %d", n, sessionCheckAllocBudget)
	}
}

// BenchmarkSessionCheckCacheMiss measures Require reading the session from
// SQLite on every request (cache disabled).
func BenchmarkSessionCheckCacheMiss(b *testing.B) {
	benchRequire(b, authtest.Store(b), gatehouse.Config{SessionCacheTTL: -1})
}

// BenchmarkSessionCheckCacheMissPostgres is the miss on PostgreSQL
// (GATEHOUSE_TEST_POSTGRES), over loopback.
func BenchmarkSessionCheckCacheMissPostgres(b *testing.B) {
	benchRequire(b, testpg.Store(b), gatehouse.Config{SessionCacheTTL: -1})
}

// BenchmarkBareHandler is the reference: the same request without Gatehouse.
func BenchmarkBareHandler(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	req := httptest.NewRequest("GET", "/app/", nil)
	w := newBenchWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.serve(b, h, req)
	}
}

// BenchmarkSignIn measures a full password sign-in at the production
// argon2id cost (19 MiB, t=2, p=1), one at a time.
func BenchmarkSignIn(b *testing.B) {
	store := authtest.Store(b)
	auth, err := gatehouse.New(gatehouse.Config{PublicURL: "http://localhost:8080"}, store, gatehouse.WithSecret(make([]byte, 32)), gatehouse.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer auth.Close()
	ctx := context.Background()
	if _, err := auth.SignUp(ctx, gatehouse.SignUpInput{Email: "bench@example.com", Password: "correct horse battery staple"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.SignIn(ctx, gatehouse.SignInInput{Email: "bench@example.com", Password: "correct horse battery staple"}); err != nil {
			b.Fatal(err)
		}
	}
}

// mintToken signs up a user and mints an access token from its session.
func mintToken(b *testing.B, auth *gatehouse.Auth) string {
	ctx := context.Background()
	res, err := auth.SignUp(ctx, gatehouse.SignUpInput{Email: "token@example.com", Password: "correct horse battery staple"})
	if err != nil {
		b.Fatal(err)
	}
	p, err := auth.Authenticate(ctx, res.Token)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := auth.Token(gatehouse.WithPrincipal(ctx, p))
	if err != nil {
		b.Fatal(err)
	}
	return tok.Token
}

// BenchmarkTokenIssue measures Auth.Token: one EdDSA signature and the
// claims' encoding.
func BenchmarkTokenIssue(b *testing.B) {
	auth := authtest.New(b, gatehouse.Config{})
	mintToken(b, auth)
	ctx := context.Background()
	res, _ := auth.SignIn(ctx, gatehouse.SignInInput{Email: "token@example.com", Password: "correct horse battery staple"})
	p, _ := auth.Authenticate(ctx, res.Token)
	ctx = gatehouse.WithPrincipal(ctx, p)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBearerCheck measures Require with an access token: the token
// (verified once, then from the verified-token cache) and its session (the
// session cache), the cost every Bearer request pays; compare with
// BenchmarkSessionCheckCacheHit.
func BenchmarkBearerCheck(b *testing.B) {
	auth := authtest.New(b, gatehouse.Config{})
	tok := mintToken(b, auth)
	h := web.New(auth).Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	req := httptest.NewRequest("GET", "/app/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := newBenchWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.serve(b, h, req)
	}
}

// BenchmarkSessionEndpoint measures GET /auth/api/session through the whole
// web handler (security headers, CORS, routing, metrics, the session check
// on a cache hit, the JSON answer): what `gatehouse bench`'s session_cookie
// scenario costs the server besides net/http and the access log.
func BenchmarkSessionEndpoint(b *testing.B) {
	auth := authtest.New(b, gatehouse.Config{})
	res, err := auth.SignUp(context.Background(), gatehouse.SignUpInput{Email: "bench@example.com", Password: "correct horse battery staple"})
	if err != nil {
		b.Fatal(err)
	}
	h := web.New(auth, web.WithMetrics(prometheus.NewRegistry()))
	req := httptest.NewRequest("GET", "/auth/api/session", nil)
	req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: res.Token})
	w := newBenchWriter()
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		w.code = 0
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

// benchRefreshChain registers a confidential client (client_secret_basic)
// on auth, authorizes it for a new user's session through the core (PKCE),
// exchanges the code, and returns the first refresh token and the Basic
// Authorization header of the client.
func benchRefreshChain(b *testing.B, auth *gatehouse.Auth) (refresh, basic string) {
	ctx := context.Background()
	// Signing keys exist before the first request, as serve makes them.
	if _, err := auth.RotateKeys(ctx, false); err != nil {
		b.Fatal(err)
	}
	res, err := auth.SignUp(ctx, gatehouse.SignUpInput{Email: "refresh@example.com", Password: "correct horse battery staple"})
	if err != nil {
		b.Fatal(err)
	}
	p, err := auth.Authenticate(ctx, res.Token)
	if err != nil {
		b.Fatal(err)
	}
	const redirect = "https://app.example.com/callback"
	c, clientSecret, err := auth.CreateClient(ctx, gatehouse.ClientSpec{Name: "Bench", FirstParty: true, RedirectURIs: []string{redirect}})
	if err != nil {
		b.Fatal(err)
	}
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	req, err := auth.ParseAuthorizationRequest(ctx, url.Values{
		"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {redirect}, "scope": {"openid profile email offline_access"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	})
	if err != nil {
		b.Fatal(err)
	}
	to, err := auth.Approve(ctx, req, p, false)
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(to)
	tok, err := auth.Exchange(ctx, c, gatehouse.TokenRequest{GrantType: gatehouse.GrantAuthorizationCode, Code: u.Query().Get("code"), RedirectURI: redirect, CodeVerifier: verifier})
	if err != nil {
		b.Fatal(err)
	}
	return tok.RefreshToken, "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID)+":"+url.QueryEscape(clientSecret)))
}

// benchRefreshGrant drives POST /auth/oauth2/token with a refresh_token
// grant through the whole web handler, one chain: each request presents the
// token the previous one returned, so every iteration rotates it (a write
// transaction) and signs an access token and an RS256 ID token.
func benchRefreshGrant(b *testing.B, store gatehouse.Store) {
	auth := authtest.NewWithStore(b, store, gatehouse.Config{})
	refresh, basic := benchRefreshChain(b, auth)
	h := web.New(auth, web.WithMetrics(prometheus.NewRegistry()))
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/auth/oauth2/token", strings.NewReader("grant_type=refresh_token&refresh_token="+url.QueryEscape(refresh)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", basic)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		out.RefreshToken = ""
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.RefreshToken == "" {
			b.Fatalf("no refresh_token in %s (%v)", w.Body, err)
		}
		refresh = out.RefreshToken
	}
}

// BenchmarkRefreshGrant measures the token endpoint's refresh_token grant
// on SQLite: what `gatehouse bench`'s refresh_grant scenario costs the
// server besides net/http and the access log (and the client's decoding of
// the answer, counted here).
func BenchmarkRefreshGrant(b *testing.B) {
	benchRefreshGrant(b, authtest.Store(b))
}

// BenchmarkRefreshGrantPostgres is the same on PostgreSQL
// (GATEHOUSE_TEST_POSTGRES), over loopback.
func BenchmarkRefreshGrantPostgres(b *testing.B) {
	benchRefreshGrant(b, testpg.Store(b))
}
