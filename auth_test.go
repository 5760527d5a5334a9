package gatehouse_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
	"github.com/gatehouse-auth/gatehouse/store/sqlite"
	"golang.org/x/crypto/bcrypt"
)

const pw = "correct horse battery staple"

func TestConfigValidation(t *testing.T) {
	store := authtest.Store(t)
	cases := []struct {
		name    string
		cfg     gatehouse.Config
		wantErr string
		dev     bool
	}{
		{"missing public URL", gatehouse.Config{}, "PublicURL is required", false},
		{"http on a public host", gatehouse.Config{PublicURL: "http://auth.example.com"}, "production needs an https public URL", false},
		{"http on a private address", gatehouse.Config{PublicURL: "http://10.0.0.1:8080"}, "https", false},
		{"ftp", gatehouse.Config{PublicURL: "ftp://x.example"}, "must start with https://", false},
		{"path", gatehouse.Config{PublicURL: "https://x.example/auth"}, "must not have a path", false},
		{"localhost", gatehouse.Config{PublicURL: "http://localhost:8080"}, "", true},
		{"127.0.0.1", gatehouse.Config{PublicURL: "http://127.0.0.1:1234"}, "", true},
		{"::1", gatehouse.Config{PublicURL: "http://[::1]:8080"}, "", true},
		{"https", gatehouse.Config{PublicURL: "https://auth.example.com"}, "", false},
		{"bad base path", gatehouse.Config{PublicURL: "https://a.example", BasePath: "auth/"}, "BasePath", false},
		{"min length too low", gatehouse.Config{PublicURL: "https://a.example", PasswordMinLength: 6}, "PasswordMinLength", false},
		{"min length too high", gatehouse.Config{PublicURL: "https://a.example", PasswordMinLength: 65}, "PasswordMinLength", false},
		{"bad allowlist origin", gatehouse.Config{PublicURL: "https://a.example", RedirectAllowlist: []string{"https://a.example/path"}}, "not an origin", false},
		{"bad proxy", gatehouse.Config{PublicURL: "https://a.example", TrustedProxies: []string{"nope"}}, "TrustedProxies", false},
		{"weak password hashing", gatehouse.Config{PublicURL: "https://a.example", PasswordHashing: gatehouse.PasswordHashing{MemoryKiB: 4096, Iterations: 2}}, "weaker than the minimum", false},
		{"invalid hashing lanes", gatehouse.Config{PublicURL: "https://a.example", PasswordHashing: gatehouse.PasswordHashing{Parallelism: 200}}, "PasswordHashing", false},
		{"protocol-relative landing", gatehouse.Config{PublicURL: "https://a.example", AfterSignInPath: "//evil"}, "AfterSignInPath", false},
		{"unknown verification mode", gatehouse.Config{PublicURL: "https://a.example", EmailVerification: "sometimes"}, "EmailVerification", false},
		{"reset links over 30 minutes", gatehouse.Config{PublicURL: "https://a.example", PasswordResetTTL: time.Hour}, "PasswordResetTTL", false},
		{"verification links too short", gatehouse.Config{PublicURL: "https://a.example", VerificationTTL: time.Minute}, "VerificationTTL", false},
		{"no mail per address", gatehouse.Config{PublicURL: "https://a.example", MailPerAddress: -1}, "MailPerAddress", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := gatehouse.New(tc.cfg, store, testSecret, gatehouse.WithInsecurePasswordHashingForTests())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if a.Config().Development() != tc.dev {
				t.Fatalf("Development() = %v", a.Config().Development())
			}
			if a.Config().SessionCacheTTL > 10*time.Second || a.Config().BasePath != "/auth" {
				t.Fatalf("defaults not applied: %+v", a.Config())
			}
		})
	}
	if _, err := gatehouse.New(gatehouse.Config{PublicURL: "https://a.example"}, nil); err == nil {
		t.Fatal("New without a store succeeded")
	}
	if _, err := gatehouse.New(gatehouse.Config{PublicURL: "https://a.example"}, store); err == nil || !strings.Contains(err.Error(), "WithSecret") {
		t.Fatalf("New without a master secret: %v", err)
	}
	if _, err := gatehouse.New(gatehouse.Config{PublicURL: "https://a.example"}, store, gatehouse.WithSecret([]byte("short"))); err == nil {
		t.Fatal("New with a short master secret succeeded")
	}
	// The verification mode's default follows the mode of the deployment.
	for url, want := range map[string]gatehouse.EmailVerification{"https://a.example": gatehouse.VerificationRequired, "http://localhost:8080": gatehouse.VerificationOptional} {
		a, err := gatehouse.New(gatehouse.Config{PublicURL: url}, store, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Config().EmailVerification; got != want {
			t.Errorf("%s: EmailVerification %q, want %q", url, got, want)
		}
		a.Close()
	}
}

func TestDeleteExpired(t *testing.T) {
	clock := authtest.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	a := authtest.New(t, gatehouse.Config{}, gatehouse.WithClock(clock))
	mb := authtest.Deliver(t, a)
	if _, err := a.SignUp(t.Context(), gatehouse.SignUpInput{Email: "old@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := mb.Wait(ctx, func(m mailbox.Entry) bool { return m.Kind == "verify_email" }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the outcome is recorded after the send
	r, err := a.DeleteExpired(t.Context())
	if err != nil || r != (gatehouse.Removed{}) {
		t.Fatalf("nothing expired yet, removed %+v, %v", r, err)
	}
	clock.Advance(401 * 24 * time.Hour)
	r, err = a.DeleteExpired(t.Context())
	r.Audit = 0 // written asynchronously; the store suite pins DeleteAuditBefore
	if err != nil || r != (gatehouse.Removed{Sessions: 1, Links: 1, Mail: 1, Devices: 1}) {
		t.Fatalf("after 401 days removed %+v, %v", r, err)
	}
}

func signUp(t *testing.T, a *gatehouse.Auth, email string) gatehouse.Result {
	t.Helper()
	res, err := a.SignUp(t.Context(), gatehouse.SignUpInput{Email: email, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCompleteHooks(t *testing.T) {
	var calls []string
	refuse := gatehouse.Plugin{Name: "ban", Hooks: gatehouse.Hooks{
		BeforeSession: func(ctx context.Context, a gatehouse.Authentication) (*gatehouse.Challenge, error) {
			calls = append(calls, "ban")
			if strings.HasPrefix(a.User.Email, "banned") {
				return nil, &gatehouse.Error{Code: gatehouse.CodeAccountDisabled, Message: "Banned."}
			}
			return nil, nil
		},
		AfterSignUp: func(ctx context.Context, u gatehouse.User) error { calls = append(calls, "signup"); return nil },
	}}
	mfa := gatehouse.Plugin{Name: "mfa", Hooks: gatehouse.Hooks{
		BeforeSession: func(ctx context.Context, a gatehouse.Authentication) (*gatehouse.Challenge, error) {
			calls = append(calls, "mfa")
			if strings.HasPrefix(a.User.Email, "mfa") && a.AAL < 2 {
				return &gatehouse.Challenge{Methods: []string{"totp"}}, nil
			}
			return nil, nil
		},
		AfterSession: func(ctx context.Context, u gatehouse.User, s gatehouse.Session) error {
			calls = append(calls, "after")
			return errors.New("logged, not returned")
		},
	}}
	a := authtest.New(t, gatehouse.Config{}, gatehouse.WithPlugins(refuse, mfa))

	res := signUp(t, a, "ok@example.com")
	if res.Status != gatehouse.StatusSignedIn || res.Token == "" {
		t.Fatalf("result %+v", res)
	}
	if got := strings.Join(calls, ","); got != "signup,ban,mfa,after" {
		t.Fatalf("hook order %s", got)
	}

	_, err := a.SignUp(t.Context(), gatehouse.SignUpInput{Email: "banned@example.com", Password: pw})
	if gatehouse.ErrorCode(err) != gatehouse.CodeAccountDisabled {
		t.Fatalf("refusing hook: %v", err)
	}
	res, err = a.SignUp(t.Context(), gatehouse.SignUpInput{Email: "mfa@example.com", Password: pw})
	if err != nil || res.Status != gatehouse.StatusMFARequired || res.Token != "" || res.Methods[0] != "totp" {
		t.Fatalf("challenge: %+v %v", res, err)
	}
	// No session exists for the challenged user.
	u, err := a.FindUser(t.Context(), "mfa@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := a.RevokeUserSessions(t.Context(), u.ID); n != 0 {
		t.Fatalf("challenged sign-in left %d sessions", n)
	}
	// Password sign-in goes through the same hooks: it cannot bypass them.
	res, err = a.SignIn(t.Context(), gatehouse.SignInInput{Email: "mfa@example.com", Password: pw})
	if err != nil || res.Status != gatehouse.StatusMFARequired {
		t.Fatalf("sign-in bypassed the challenge: %+v %v", res, err)
	}
	// A verified second factor (AAL 2) completes.
	res, err = a.Complete(t.Context(), gatehouse.Authentication{User: u, AMR: []string{"pwd", "otp"}, AAL: 2})
	if err != nil || res.Status != gatehouse.StatusSignedIn || res.Session.AAL != 2 {
		t.Fatalf("complete at AAL 2: %+v %v", res, err)
	}
	if _, err := a.Complete(t.Context(), gatehouse.Authentication{User: u}); err == nil {
		t.Fatal("Complete without amr/aal succeeded")
	}
}

func TestImportedBcryptUpgradedOnSignIn(t *testing.T) {
	a := authtest.New(t, gatehouse.Config{})
	store := a.Store()
	hash, _ := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	u, err := a.ImportUser(t.Context(), gatehouse.ImportedUser{Email: "old@example.com", PasswordHash: string(hash), Roles: []string{"editor"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ImportUser(t.Context(), gatehouse.ImportedUser{Email: "bad@example.com", PasswordHash: "$1$md5$nope"}); gatehouse.ErrorCode(err) != gatehouse.CodeInvalidRequest {
		t.Fatalf("unsupported hash accepted: %v", err)
	}
	if _, err := a.SignIn(t.Context(), gatehouse.SignInInput{Email: "old@example.com", Password: "wrong password"}); gatehouse.ErrorCode(err) != gatehouse.CodeInvalidCredentials {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := a.SignIn(t.Context(), gatehouse.SignInInput{Email: "old@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	_, stored, err := store.UserCredentials(t.Context(), u.EmailNormalized)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "$argon2id$") {
		t.Fatalf("hash not upgraded: %.10s…", stored)
	}
	if _, err := a.SignIn(t.Context(), gatehouse.SignInInput{Email: "old@example.com", Password: pw}); err != nil {
		t.Fatalf("sign-in after upgrade: %v", err)
	}
}

func TestCostChangeUpgradesHash(t *testing.T) {
	store := authtest.Store(t)
	cheap := authtest.NewWithStore(t, store, gatehouse.Config{})
	signUp(t, cheap, "cost@example.com")
	_, before, _ := store.UserCredentials(t.Context(), "cost@example.com")
	// signInAt signs in over the same database at another configured cost
	// and returns the stored hash afterwards.
	signInAt := func(cost gatehouse.PasswordHashing) string {
		t.Helper()
		a, err := gatehouse.New(gatehouse.Config{PublicURL: "http://localhost:8080", PasswordHashing: cost}, store, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if _, err := a.SignIn(t.Context(), gatehouse.SignInInput{Email: "cost@example.com", Password: pw}); err != nil {
			t.Fatal(err)
		}
		_, hash, _ := store.UserCredentials(t.Context(), "cost@example.com")
		return hash
	}
	// The default (production) cost.
	if after := signInAt(gatehouse.PasswordHashing{}); after == before || !strings.Contains(after, "m=19456,t=2,p=1") {
		t.Fatalf("hash not upgraded to the default cost: %.40s…", after)
	}
	// An operator raises the cost in configuration.
	if last := signInAt(gatehouse.PasswordHashing{MemoryKiB: 24576, Iterations: 3}); !strings.Contains(last, "m=24576,t=3,p=1") {
		t.Fatalf("hash not upgraded to the configured cost: %.40s…", last)
	}
}

func TestRevocationBeatsTheCache(t *testing.T) {
	a := authtest.New(t, gatehouse.Config{})
	res := signUp(t, a, "cache@example.com")
	p, err := a.Authenticate(t.Context(), res.Token)
	if err != nil {
		t.Fatal(err)
	}
	// Cached now; revocation on this node must still take effect at once.
	if _, err := a.Authenticate(t.Context(), res.Token); err != nil {
		t.Fatal(err)
	}
	if err := a.RevokeSession(t.Context(), p, p.Session.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(t.Context(), res.Token); gatehouse.ErrorCode(err) != gatehouse.CodeUnauthenticated {
		t.Fatalf("revoked session still accepted: %v", err)
	}

	// Concurrent checks racing a disable never see the session afterwards.
	res = signUp(t, a, "race@example.com")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					a.Authenticate(context.Background(), res.Token)
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := a.SetDisabled(t.Context(), res.User.ID, true); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if _, err := a.Authenticate(t.Context(), res.Token); err == nil {
			t.Fatal("disabled user's session accepted after SetDisabled returned")
		}
	}
	close(stop)
	wg.Wait()
}

func TestRoleChangeVisibleAtOnce(t *testing.T) {
	a := authtest.New(t, gatehouse.Config{Roles: map[string][]string{"editor": {"notes:write"}}})
	res := signUp(t, a, "roles@example.com")
	p, _ := a.Authenticate(t.Context(), res.Token)
	if p.Can("notes:write") || p.Can(gatehouse.PermissionAdmin) {
		t.Fatal("fresh user has permissions")
	}
	if err := a.SetRoles(t.Context(), res.User.ID, []string{"editor", "admin"}); err != nil {
		t.Fatal(err)
	}
	p, _ = a.Authenticate(t.Context(), res.Token)
	if !p.Can("notes:write") || !p.Can(gatehouse.PermissionAdmin) {
		t.Fatalf("roles not applied: %v", p.Permissions)
	}
	if err := a.SetRoles(t.Context(), res.User.ID, []string{"Bad Role"}); gatehouse.ErrorCode(err) != gatehouse.CodeInvalidRequest {
		t.Fatalf("bad role name: %v", err)
	}
	if err := a.SetRoles(t.Context(), "usr_nobody", nil); gatehouse.ErrorCode(err) != gatehouse.CodeNotFound {
		t.Fatalf("unknown user: %v", err)
	}
	st := a.State(gatehouse.WithPrincipal(t.Context(), p))
	if !st.SignedIn || !st.Can("notes:write") || !st.HasRole("editor") || st.SignOutURL != "/auth/sign-out" {
		t.Fatalf("AuthState %+v", st)
	}
	if a.State(t.Context()).SignedIn {
		t.Fatal("anonymous AuthState signed in")
	}
}

func TestHashingOverloadIsA503(t *testing.T) {
	a := authtest.New(t, gatehouse.Config{HashWorkers: 1, HashQueue: 1, HashMaxWait: time.Millisecond}, gatehouse.WithoutAbuseLimitsForTests())
	// Flood far beyond one worker and a queue of one: some calls must be shed
	// with CodeOverloaded, none may fail otherwise.
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[gatehouse.Code]int{}
	for range 64 {
		wg.Go(func() {
			_, err := a.SignIn(context.Background(), gatehouse.SignInInput{Email: "nobody@example.com", Password: pw})
			mu.Lock()
			codes[gatehouse.ErrorCode(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[gatehouse.CodeOverloaded] == 0 || codes[gatehouse.CodeInvalidCredentials] == 0 || len(codes) != 2 {
		t.Fatalf("outcomes %v", codes)
	}
}

func TestErrorType(t *testing.T) {
	cause := errors.New("disk on fire")
	e := &gatehouse.Error{Code: gatehouse.CodeNotFound, Message: "No such user.", Err: cause}
	if !errors.Is(e, cause) || !errors.Is(e, gatehouse.ErrNotFound) || gatehouse.ErrorCode(e) != gatehouse.CodeNotFound {
		t.Fatal("Error does not unwrap or match by code")
	}
	if gatehouse.ErrorCode(cause) != gatehouse.CodeInternal {
		t.Fatal("unknown errors must be internal")
	}
}

// TestSecretsNeverStoredOrLogged pins invariant 3: session tokens and
// passwords exist only as hashes in the database and never in logs.
func TestSecretsNeverStoredOrLogged(t *testing.T) {
	dir := t.TempDir()
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "gh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a := authtest.NewWithStore(t, store, gatehouse.Config{}, gatehouse.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	const password = "a distinctive passphrase 93817"
	up, err := a.SignUp(t.Context(), gatehouse.SignUpInput{Email: "s@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	in, err := a.SignIn(t.Context(), gatehouse.SignInInput{Email: "s@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	a.SignIn(t.Context(), gatehouse.SignInInput{Email: "s@example.com", Password: password + "x"})
	changed, err := a.ChangePassword(t.Context(), gatehouse.Principal{User: in.User, Session: in.Session}, password, password+" changed", gatehouse.Client{})
	if err != nil {
		t.Fatal(err)
	}
	var db []byte
	for _, f := range []string{"gh.db", "gh.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		db = append(db, b...)
	}
	if len(db) == 0 {
		t.Fatal("read nothing of the database")
	}
	for _, s := range []string{up.Token, in.Token, changed.Token, password} {
		if bytes.Contains(db, []byte(s)) {
			t.Errorf("the database holds a secret in clear: %.6s…", s)
		}
		if strings.Contains(logs.String(), s) {
			t.Errorf("the logs hold a secret: %.6s…", s)
		}
	}
	if !bytes.Contains(db, []byte(up.Session.TokenHash)) && !bytes.Contains(db, []byte(changed.Session.TokenHash)) {
		t.Error("no token hash found: the test is not reading the database")
	}
}

// testSecret is a fixed master secret for tests that call New directly.
var testSecret = gatehouse.WithSecret([]byte("0123456789abcdef0123456789abcdef"))
