package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

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

func benchRequire(b *testing.B, store gatehouse.Store, cfg gatehouse.Config) {
	h, cookie := benchEnv(b, store, cfg)
	req := httptest.NewRequest("GET", "/app/", nil)
	req.AddCookie(cookie)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkSessionCheckCacheHit measures Require with the session in the
// in-process cache: the cost every protected request pays.
func BenchmarkSessionCheckCacheHit(b *testing.B) {
	benchRequire(b, authtest.Store(b), gatehouse.Config{})
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
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
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
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	}
}
