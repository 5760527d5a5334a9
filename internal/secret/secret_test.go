package secret

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// lowParams keeps argon2id cheap in tests; production uses DefaultParams or more.
var lowParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestNewToken(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	seen := make(map[string]bool)
	for range 1000 {
		tok := NewToken()
		if !re.MatchString(tok) {
			t.Fatalf("NewToken() = %q, want 43 base64url characters", tok)
		}
		if seen[tok] {
			t.Fatalf("NewToken() repeated %q", tok)
		}
		seen[tok] = true
	}
}

func TestHashToken(t *testing.T) {
	tok := NewToken()
	tests := []struct {
		name     string
		a, b     string
		wantSame bool
	}{
		{"stable", tok, tok, true},
		{"different tokens", tok, NewToken(), false},
		{"one character differs", "abc", "abd", false},
		{"empty is stable", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ha, hb := HashToken(tt.a), HashToken(tt.b)
			if len(ha) != 43 || strings.ContainsAny(ha, "+/=") {
				t.Errorf("HashToken(%q) = %q, want 43 base64url characters", tt.a, ha)
			}
			if (ha == hb) != tt.wantSame {
				t.Errorf("HashToken(%q) == HashToken(%q) is %v, want %v", tt.a, tt.b, ha == hb, tt.wantSame)
			}
			if ha == tt.a {
				t.Errorf("HashToken returned its input")
			}
		})
	}
	// Pin the encoding: SHA-256("abc") in base64url without padding.
	if got, want := HashToken("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"; got != want {
		t.Errorf("HashToken(abc) = %q, want %q", got, want)
	}
}

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^usr_[A-Z2-7]{26}$`)
	a, b := NewID("usr"), NewID("usr")
	for _, id := range []string{a, b} {
		if !re.MatchString(id) {
			t.Errorf("NewID(usr) = %q, want usr_ + 26 base32 characters", id)
		}
	}
	if a == b {
		t.Errorf("NewID repeated %q", a)
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"secret", "secret", true},
		{"secret", "secreT", false},
		{"secret", "secret2", false},
		{"", "x", false},
	}
	for _, tt := range tests {
		if got := Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	with := func(f func(*Params)) Params { p := lowParams; f(&p); return p }
	tests := []struct {
		name    string
		p       Params
		wantErr bool
	}{
		{"default", DefaultParams, false},
		{"low test cost", lowParams, false},
		{"minimum memory", with(func(p *Params) { p.Memory = 8 }), false},
		{"memory below 8 per thread", with(func(p *Params) { p.Memory = 15; p.Threads = 2 }), true},
		{"memory 1 GiB", with(func(p *Params) { p.Memory = 1 << 20 }), false},
		{"memory above 1 GiB", with(func(p *Params) { p.Memory = 1<<20 + 1 }), true},
		{"time zero", with(func(p *Params) { p.Time = 0 }), true},
		{"time too high", with(func(p *Params) { p.Time = 65 }), true},
		{"threads zero", with(func(p *Params) { p.Threads = 0 }), true},
		{"threads too high", with(func(p *Params) { p.Threads = 17; p.Memory = 1024 }), true},
		{"salt too short", with(func(p *Params) { p.SaltLen = 8 }), true},
		{"key too short", with(func(p *Params) { p.KeyLen = 8 }), true},
		{"key too long", with(func(p *Params) { p.KeyLen = 2048 }), true},
		{"zero value", Params{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate(%+v) = %v, wantErr %v", tt.p, err, tt.wantErr)
			}
		})
	}
}

func TestHashPasswordRoundTrip(t *testing.T) {
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`)
	tests := []struct {
		name     string
		password string
		p        Params
	}{
		{"low", "correct horse battery staple", lowParams},
		{"two threads", "pässwörd ✓", Params{Memory: 64, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32}},
		{"empty password", "", lowParams},
		{"long key and salt", strings.Repeat("x", 1000), Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := HashPassword(tt.password, tt.p)
			if err != nil {
				t.Fatalf("HashPassword: %v", err)
			}
			if !phc.MatchString(enc) {
				t.Fatalf("HashPassword = %q, not PHC argon2id", enc)
			}
			if err := IsSupportedHash(enc); err != nil {
				t.Errorf("IsSupportedHash(own hash) = %v", err)
			}
			match, rehash, err := VerifyPassword(tt.password, enc, tt.p)
			if err != nil || !match || rehash {
				t.Errorf("VerifyPassword(right) = %v, %v, %v; want true, false, nil", match, rehash, err)
			}
			match, rehash, err = VerifyPassword(tt.password+"x", enc, tt.p)
			if err != nil || match || rehash {
				t.Errorf("VerifyPassword(wrong) = %v, %v, %v; want false, false, nil", match, rehash, err)
			}
			again, _ := HashPassword(tt.password, tt.p)
			if again == enc {
				t.Errorf("two hashes of one password are equal; salt not random")
			}
		})
	}
}

func TestHashPasswordDefaultParams(t *testing.T) {
	enc, err := HashPassword("hunter2", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("HashPassword(DefaultParams) = %q", enc)
	}
	match, rehash, err := VerifyPassword("hunter2", enc, DefaultParams)
	if err != nil || !match || rehash {
		t.Errorf("VerifyPassword = %v, %v, %v; want true, false, nil", match, rehash, err)
	}
}

func TestHashPasswordInvalidParams(t *testing.T) {
	if _, err := HashPassword("x", Params{}); err == nil {
		t.Error("HashPassword(zero Params) succeeded, want error")
	}
}

// TestVerifyReferenceVector checks interoperability with the argon2 reference
// implementation (phc-winner-argon2 test vector, 8-byte salt "somesalt").
func TestVerifyReferenceVector(t *testing.T) {
	const enc = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	match, rehash, err := VerifyPassword("password", enc, DefaultParams)
	if err != nil || !match || !rehash {
		t.Errorf("VerifyPassword(reference) = %v, %v, %v; want true, true, nil", match, rehash, err)
	}
}

func TestVerifyRehash(t *testing.T) {
	const pw = "s3cret password"
	enc, err := HashPassword(pw, lowParams)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bcrypt2a := string(bc)
	bcrypt2b := "$2b$" + bcrypt2a[4:]
	bcrypt2y := "$2y$" + bcrypt2a[4:]
	with := func(f func(*Params)) Params { p := lowParams; f(&p); return p }

	tests := []struct {
		name                  string
		password, encoded     string
		want                  Params
		wantMatch, wantRehash bool
	}{
		{"same params", pw, enc, lowParams, true, false},
		{"memory differs", pw, enc, with(func(p *Params) { p.Memory = 128 }), true, true},
		{"time differs", pw, enc, with(func(p *Params) { p.Time = 2 }), true, true},
		{"threads differ", pw, enc, with(func(p *Params) { p.Threads = 2 }), true, true},
		{"salt length differs", pw, enc, with(func(p *Params) { p.SaltLen = 32 }), true, true},
		{"key length differs", pw, enc, with(func(p *Params) { p.KeyLen = 16 }), true, true},
		{"params differ but wrong password", "nope", enc, DefaultParams, false, false},
		{"bcrypt 2a", pw, bcrypt2a, lowParams, true, true},
		{"bcrypt 2b", pw, bcrypt2b, lowParams, true, true},
		{"bcrypt 2y", pw, bcrypt2y, lowParams, true, true},
		{"bcrypt wrong password", "nope", bcrypt2a, lowParams, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match, rehash, err := VerifyPassword(tt.password, tt.encoded, tt.want)
			if err != nil || match != tt.wantMatch || rehash != tt.wantRehash {
				t.Errorf("VerifyPassword = %v, %v, %v; want %v, %v, nil", match, rehash, err, tt.wantMatch, tt.wantRehash)
			}
		})
	}
}

func TestVerifyBadHashes(t *testing.T) {
	good, err := HashPassword("pw", lowParams)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, params, salt, hash
	salt, key := parts[4], parts[5]
	argon := func(version, params, salt, key string) string {
		return "$argon2id$" + version + "$" + params + "$" + salt + "$" + key
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)

	tests := []struct {
		name    string
		encoded string
		want    error
	}{
		{"empty", "", ErrMalformedHash},
		{"no dollar", "argon2id", ErrMalformedHash},
		{"only dollars", "$$$", ErrMalformedHash},
		{"plain text password", "hunter2", ErrMalformedHash},
		{"huge memory", argon(`v=19`, "m=4294967295,t=1,p=1", salt, key), ErrMalformedHash},
		{"memory just above 1 GiB", argon(`v=19`, "m=1048577,t=1,p=1", salt, key), ErrMalformedHash},
		{"memory overflows uint32", argon(`v=19`, "m=99999999999,t=1,p=1", salt, key), ErrMalformedHash},
		{"huge time", argon(`v=19`, "m=64,t=1000000000,p=1", salt, key), ErrMalformedHash},
		{"time zero", argon(`v=19`, "m=64,t=0,p=1", salt, key), ErrMalformedHash},
		{"huge parallelism", argon(`v=19`, "m=65536,t=1,p=255", salt, key), ErrMalformedHash},
		{"parallelism zero", argon(`v=19`, "m=64,t=1,p=0", salt, key), ErrMalformedHash},
		{"parallelism overflows uint8", argon(`v=19`, "m=64,t=1,p=257", salt, key), ErrMalformedHash},
		{"memory below 8 per lane", argon(`v=19`, "m=8,t=1,p=2", salt, key), ErrMalformedHash},
		{"negative memory", argon(`v=19`, "m=-1,t=1,p=1", salt, key), ErrMalformedHash},
		{"plus sign", argon(`v=19`, "m=+64,t=1,p=1", salt, key), ErrMalformedHash},
		{"params out of order", argon(`v=19`, "t=1,m=64,p=1", salt, key), ErrMalformedHash},
		{"extra param", argon(`v=19`, "m=64,t=1,p=1,keyid=x", salt, key), ErrMalformedHash},
		{"missing param", argon(`v=19`, "m=64,t=1", salt, key), ErrMalformedHash},
		{"wrong version", argon(`v=16`, "m=64,t=1,p=1", salt, key), ErrMalformedHash},
		{"missing version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"bad base64 salt", argon(`v=19`, "m=64,t=1,p=1", "!!!!!!!!!!!!!!!!!!!!!!", key), ErrMalformedHash},
		{"padded base64 hash", argon(`v=19`, "m=64,t=1,p=1", salt, key+"="), ErrMalformedHash},
		{"url base64 hash", argon(`v=19`, "m=64,t=1,p=1", salt, strings.NewReplacer("+", "-", "/", "_").Replace(key)+"-_"), ErrMalformedHash},
		{"short salt", argon(`v=19`, "m=64,t=1,p=1", "c2FsdA", key), ErrMalformedHash},
		{"short hash", argon(`v=19`, "m=64,t=1,p=1", salt, "aGFzaA"), ErrMalformedHash},
		{"empty salt and hash", argon(`v=19`, "m=64,t=1,p=1", "", ""), ErrMalformedHash},
		{"trailing field", good + "$x", ErrMalformedHash},
		{"very long", argon(`v=19`, "m=64,t=1,p=1", salt, strings.Repeat("A", 1<<20)), ErrMalformedHash},
		{"bcrypt truncated", string(bc[:59]), ErrMalformedHash},
		{"bcrypt huge cost", "$2b$31$" + string(bc[7:]), ErrMalformedHash},
		{"bcrypt cost too high", "$2b$17$" + string(bc[7:]), ErrMalformedHash},
		{"bcrypt cost not digits", "$2b$+5$" + string(bc[7:]), ErrMalformedHash},
		{"bcrypt bad character", string(bc[:59]) + "!", ErrMalformedHash},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key, ErrUnsupportedHash},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key, ErrUnsupportedHash},
		{"bcrypt 2x", "$2x$" + string(bc[4:]), ErrUnsupportedHash},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA", ErrUnsupportedHash},
		{"md5crypt", "$1$salt$hash", ErrUnsupportedHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := IsSupportedHash(tt.encoded); !errors.Is(err, tt.want) {
				t.Errorf("IsSupportedHash = %v, want %v", err, tt.want)
			}
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			match, rehash, err := VerifyPassword("pw", tt.encoded, lowParams)
			runtime.ReadMemStats(&ms1)
			if !errors.Is(err, tt.want) || match || rehash {
				t.Errorf("VerifyPassword = %v, %v, %v; want false, false, %v", match, rehash, err, tt.want)
			}
			// Rejection must happen before any costly work: far less than
			// even the smallest hostile memory cost above.
			if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > 1<<20 {
				t.Errorf("VerifyPassword allocated %d bytes rejecting a bad hash", alloc)
			}
		})
	}
}

func FuzzVerifyPassword(f *testing.F) {
	good, err := HashPassword("pw", lowParams)
	if err != nil {
		f.Fatal(err)
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	for _, seed := range []string{
		good,
		string(bc),
		"",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255$c29tZXNhbHQ$aGFzaA",
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$2y$04$" + strings.Repeat(".", 53),
		"$$$$$$",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, encoded string) {
		err := IsSupportedHash(encoded)
		if err != nil && !errors.Is(err, ErrMalformedHash) && !errors.Is(err, ErrUnsupportedHash) {
			t.Fatalf("IsSupportedHash(%q) = %v, want a sentinel error", encoded, err)
		}
		// Accepted costs can legitimately take seconds; keep fuzzing fast
		// by hashing only cheap inputs. Parsing is what is under test.
		if h, perr := parseHash(encoded); perr == nil &&
			(h.params.Memory > 1024 || h.params.Time > 2 || h.bcryptCost > bcrypt.MinCost) {
			return
		}
		match, _, verr := VerifyPassword("pw", encoded, lowParams)
		if (verr == nil) != (err == nil) {
			t.Fatalf("IsSupportedHash = %v but VerifyPassword = %v for %q", err, verr, encoded)
		}
		if verr != nil && match {
			t.Fatalf("match with error %v", verr)
		}
	})
}

// blockWorker occupies one worker of p until the returned release is called.
func blockWorker(t *testing.T, p *Pool) (release func(), done <-chan error) {
	t.Helper()
	started := make(chan struct{})
	unblock := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- p.Do(context.Background(), func() {
			close(started)
			<-unblock
		})
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("blocking fn did not start")
	}
	var once sync.Once
	release = func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(release)
	return release, errc
}

// waitFor polls cond until it holds, failing the test after a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestPoolOverloadedWhenQueueFull(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 1, Queue: 1, MaxWait: time.Minute})
	t.Cleanup(p.Close) // runs after blockWorker's release
	release, firstDone := blockWorker(t, p)

	var secondRan atomic.Bool
	secondDone := make(chan error, 1)
	go func() { secondDone <- p.Do(context.Background(), func() { secondRan.Store(true) }) }()
	waitFor(t, "second caller to queue", func() bool { return p.Stats().Waiting == 1 })
	if got := p.Stats(); got != (PoolStats{Running: 1, Waiting: 1}) {
		t.Errorf("Stats() = %+v, want {1 1}", got)
	}

	start := time.Now()
	var thirdRan bool
	err := p.Do(context.Background(), func() { thirdRan = true })
	if !errors.Is(err, ErrOverloaded) || thirdRan {
		t.Errorf("third Do = %v (ran %v), want ErrOverloaded without running", err, thirdRan)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("third Do took %v, want immediate refusal", d)
	}

	release()
	if err := <-firstDone; err != nil {
		t.Errorf("first Do = %v", err)
	}
	if err := <-secondDone; err != nil || !secondRan.Load() {
		t.Errorf("second Do = %v (ran %v), want nil after the worker frees", err, secondRan.Load())
	}
	if got := p.Stats(); got != (PoolStats{}) {
		t.Errorf("Stats() after all done = %+v, want zero", got)
	}
}

func TestPoolMaxWait(t *testing.T) {
	const maxWait = 50 * time.Millisecond
	p := NewPool(PoolConfig{Workers: 1, Queue: 4, MaxWait: maxWait})
	t.Cleanup(p.Close) // runs after blockWorker's release
	blockWorker(t, p)

	start := time.Now()
	ran := false
	err := p.Do(context.Background(), func() { ran = true })
	if !errors.Is(err, ErrOverloaded) || ran {
		t.Errorf("Do = %v (ran %v), want ErrOverloaded without running", err, ran)
	}
	if d := time.Since(start); d < maxWait {
		t.Errorf("Do gave up after %v, before MaxWait %v", d, maxWait)
	}
	if got := p.Stats().Waiting; got != 0 {
		t.Errorf("Waiting = %d after timeout, want 0", got)
	}
}

func TestPoolContext(t *testing.T) {
	t.Run("cancelled while waiting", func(t *testing.T) {
		p := NewPool(PoolConfig{Workers: 1, Queue: 4, MaxWait: time.Minute})
		t.Cleanup(p.Close) // runs after blockWorker's release
		blockWorker(t, p)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			waitFor(t, "caller to queue", func() bool { return p.Stats().Waiting == 1 })
			cancel()
		}()
		ran := false
		if err := p.Do(ctx, func() { ran = true }); !errors.Is(err, context.Canceled) || ran {
			t.Errorf("Do = %v (ran %v), want context.Canceled without running", err, ran)
		}
	})
	t.Run("deadline while waiting", func(t *testing.T) {
		p := NewPool(PoolConfig{Workers: 1, Queue: 4, MaxWait: time.Minute})
		t.Cleanup(p.Close) // runs after blockWorker's release
		blockWorker(t, p)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := p.Do(ctx, func() {}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("already cancelled with a free worker", func(t *testing.T) {
		p := NewPool(PoolConfig{Workers: 1})
		defer p.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ran := false
		if err := p.Do(ctx, func() { ran = true }); !errors.Is(err, context.Canceled) || ran {
			t.Errorf("Do = %v (ran %v), want context.Canceled without running", err, ran)
		}
	})
}

func TestPoolClose(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 1, Queue: 4, MaxWait: time.Minute})
	release, firstDone := blockWorker(t, p)

	waiterDone := make(chan error, 1)
	go func() { waiterDone <- p.Do(context.Background(), func() { t.Error("queued fn ran after Close") }) }()
	waitFor(t, "caller to queue", func() bool { return p.Stats().Waiting == 1 })

	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()

	if err := <-waiterDone; !errors.Is(err, ErrClosed) {
		t.Errorf("queued Do = %v, want ErrClosed", err)
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a fn was still running")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	<-closed
	if err := <-firstDone; err != nil {
		t.Errorf("running Do = %v, want nil (it completes)", err)
	}
	if err := p.Do(context.Background(), func() { t.Error("fn ran after Close") }); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close = %v, want ErrClosed", err)
	}
	p.Close() // idempotent
}

func TestPoolBoundsConcurrency(t *testing.T) {
	const workers, callers = 3, 50
	p := NewPool(PoolConfig{Workers: workers, Queue: callers, MaxWait: time.Minute})
	defer p.Close()
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			err := p.Do(context.Background(), func() {
				n := running.Add(1)
				for {
					old := peak.Load()
					if n <= old || peak.CompareAndSwap(old, n) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				running.Add(-1)
			})
			if err != nil {
				t.Errorf("Do = %v", err)
			}
		})
	}
	wg.Wait()
	if got := peak.Load(); got > workers || got < 1 {
		t.Errorf("peak concurrency %d, want 1..%d", got, workers)
	}
}

func TestPoolPanicReleasesWorker(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 1, Queue: 1, MaxWait: 100 * time.Millisecond})
	defer p.Close()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic in fn did not reach the caller")
			}
		}()
		_ = p.Do(context.Background(), func() { panic("boom") })
	}()
	if err := p.Do(context.Background(), func() {}); err != nil {
		t.Errorf("Do after a panicking fn = %v, want nil", err)
	}
}

func TestPoolDefaults(t *testing.T) {
	p := NewPool(PoolConfig{Workers: -1, Queue: -5, MaxWait: -time.Second})
	defer p.Close()
	if want := max(runtime.GOMAXPROCS(0)-1, 1); cap(p.slots) != want {
		t.Errorf("workers = %d, want %d", cap(p.slots), want)
	}
	if p.queue != 64 || p.maxWait != 2*time.Second {
		t.Errorf("queue, maxWait = %d, %v; want 64, 2s", p.queue, p.maxWait)
	}
}

func TestHasher(t *testing.T) {
	pool := NewPool(PoolConfig{Workers: 2})
	defer pool.Close()
	h, err := NewHasher(lowParams, pool)
	if err != nil {
		t.Fatal(err)
	}
	if h.Params() != lowParams {
		t.Errorf("Params() = %+v", h.Params())
	}
	ctx := context.Background()
	enc, err := h.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	other, _ := HashPassword("pw", Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})

	tests := []struct {
		name                  string
		password, encoded     string
		wantMatch, wantRehash bool
		wantErr               error
	}{
		{"own hash", "pw", enc, true, false, nil},
		{"wrong password", "pW", enc, false, false, nil},
		{"other params", "pw", other, true, true, nil},
		{"bcrypt", "pw", string(bc), true, true, nil},
		{"malformed", "pw", "$argon2id$", false, false, ErrMalformedHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match, rehash, err := h.Verify(ctx, tt.password, tt.encoded)
			if !errors.Is(err, tt.wantErr) || match != tt.wantMatch || rehash != tt.wantRehash {
				t.Errorf("Verify = %v, %v, %v; want %v, %v, %v", match, rehash, err, tt.wantMatch, tt.wantRehash, tt.wantErr)
			}
		})
	}
	if err := h.DummyVerify(ctx, "pw"); err != nil {
		t.Errorf("DummyVerify = %v", err)
	}
	if !strings.HasPrefix(h.dummy, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("dummy hash %q does not use the Hasher's params", h.dummy)
	}
	// DummyVerify's work is a real Verify's: the dummy parses as a hash in
	// the Hasher's params (salt and key lengths included), so argon2id runs
	// in full, and it matches nothing.
	if match, rehash, err := VerifyPassword("pw", h.dummy, lowParams); match || rehash || err != nil {
		t.Errorf("VerifyPassword(dummy) = %v, %v, %v; want false, false, nil", match, rehash, err)
	}
	if other, _ := NewHasher(lowParams, pool); other.dummy == h.dummy {
		t.Error("two Hashers have the same dummy hash")
	}

	pool.Close()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, ErrClosed) {
		t.Errorf("Hash on closed pool = %v, want ErrClosed", err)
	}
	if _, _, err := h.Verify(ctx, "pw", enc); !errors.Is(err, ErrClosed) {
		t.Errorf("Verify on closed pool = %v, want ErrClosed", err)
	}
	if err := h.DummyVerify(ctx, "pw"); !errors.Is(err, ErrClosed) {
		t.Errorf("DummyVerify on closed pool = %v, want ErrClosed", err)
	}
}

func TestNewHasherErrors(t *testing.T) {
	pool := NewPool(PoolConfig{})
	defer pool.Close()
	if _, err := NewHasher(Params{}, pool); err == nil {
		t.Error("NewHasher(invalid params) succeeded")
	}
	if _, err := NewHasher(lowParams, nil); err == nil {
		t.Error("NewHasher(nil pool) succeeded")
	}
}

func testSecret(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestKeyringSealOpen(t *testing.T) {
	oldSecret, newSecret := testSecret(1), testSecret(2)
	oldRing, err := NewKeyring(oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := NewKeyring(newSecret, oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	newOnly, _ := NewKeyring(newSecret)
	plaintext, ad := []byte("mail body"), []byte("usr_123")
	sealedOld := oldRing.Seal("mail", plaintext, ad)
	sealedNew := rotated.Seal("mail", plaintext, ad)

	tamper := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 1
		return c
	}
	tests := []struct {
		name    string
		ring    *Keyring
		purpose string
		sealed  []byte
		ad      []byte
		wantErr bool
	}{
		{"round trip", oldRing, "mail", sealedOld, ad, false},
		{"previous secret after rotation", rotated, "mail", sealedOld, ad, false},
		{"current secret after rotation", rotated, "mail", sealedNew, ad, false},
		{"old secret dropped", newOnly, "mail", sealedOld, ad, true},
		{"new data on old ring", oldRing, "mail", sealedNew, ad, true},
		{"wrong purpose", oldRing, "signing", sealedOld, ad, true},
		{"wrong additional data", oldRing, "mail", sealedOld, []byte("usr_456"), true},
		{"tampered ciphertext", oldRing, "mail", tamper(sealedOld, len(sealedOld)-20), ad, true},
		{"tampered tag", oldRing, "mail", tamper(sealedOld, len(sealedOld)-1), ad, true},
		{"tampered nonce", oldRing, "mail", tamper(sealedOld, 10), ad, true},
		{"tampered key id", oldRing, "mail", tamper(sealedOld, 0), ad, true},
		{"truncated", oldRing, "mail", sealedOld[:len(sealedOld)-1], ad, true},
		{"only key id", oldRing, "mail", sealedOld[:8], ad, true},
		{"empty", oldRing, "mail", nil, ad, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ring.Open(tt.purpose, tt.sealed, tt.ad)
			if tt.wantErr {
				if err != ErrDecrypt || got != nil {
					t.Errorf("Open = %q, %v; want nil, ErrDecrypt", got, err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, plaintext) {
				t.Errorf("Open = %q, %v; want %q, nil", got, err, plaintext)
			}
		})
	}

	if len(sealedOld) != len(plaintext)+36 {
		t.Errorf("sealed length %d, want %d", len(sealedOld), len(plaintext)+36)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}$`).Match(sealedOld[:8]) {
		t.Errorf("sealed data starts with %q, want an 8-hex-digit key id", sealedOld[:8])
	}
	if again := oldRing.Seal("mail", plaintext, ad); bytes.Equal(again, sealedOld) {
		t.Error("two Seals of the same plaintext are equal; nonce not random")
	}
	if bytes.Contains(sealedOld, plaintext) {
		t.Error("sealed data contains the plaintext")
	}
}

func TestKeyringDerive(t *testing.T) {
	k1, _ := NewKeyring(testSecret(1))
	k1again, _ := NewKeyring(testSecret(1), testSecret(9))
	k2, _ := NewKeyring(testSecret(2), testSecret(1))

	a := k1.Derive("csrf", 32)
	if len(a) != 32 {
		t.Fatalf("Derive length %d, want 32", len(a))
	}
	if !bytes.Equal(a, k1again.Derive("csrf", 32)) {
		t.Error("Derive is not deterministic for the same current secret")
	}
	if bytes.Equal(a, k1.Derive("cookie", 32)) {
		t.Error("different purposes gave the same key")
	}
	if bytes.Equal(a, k2.Derive("csrf", 32)) {
		t.Error("Derive used a previous secret, want the current one")
	}
	if got := k1.Derive("csrf", 64); !bytes.Equal(got[:32], a) || len(got) != 64 {
		t.Error("Derive(64) is not an HKDF extension of Derive(32)")
	}
	for _, n := range []int{0, -1, 255*32 + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Derive(n=%d) did not panic", n)
				}
			}()
			k1.Derive("x", n)
		}()
	}
}

func TestNewKeyringRejectsShortSecrets(t *testing.T) {
	tests := []struct {
		name     string
		current  []byte
		previous [][]byte
		wantErr  bool
	}{
		{"32 bytes", testSecret(1), nil, false},
		{"64 bytes", bytes.Repeat([]byte{1}, 64), nil, false},
		{"31 bytes", testSecret(1)[:31], nil, true},
		{"nil", nil, nil, true},
		{"short previous", testSecret(1), [][]byte{testSecret(2), []byte("short")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeyring(tt.current, tt.previous...)
			if (err != nil) != tt.wantErr {
				t.Errorf("NewKeyring = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestNewKeyringCopiesSecret(t *testing.T) {
	s := testSecret(1)
	k, _ := NewKeyring(s)
	sealed := k.Seal("p", []byte("x"), nil)
	s[0] = 99
	if _, err := k.Open("p", sealed, nil); err != nil {
		t.Errorf("Open after caller changed its secret slice = %v", err)
	}
}

func TestParseSecret(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name    string
		in      string
		wantLen int // 0 means an error is expected
		errHas  string
	}{
		{"64 hex", hex64, 32, ""},
		{"upper case", strings.ToUpper(hex64), 32, ""},
		{"surrounding whitespace", "  " + hex64 + "\n", 32, ""},
		{"longer", hex64 + "00ff", 34, ""},
		{"empty", "", 0, "empty"},
		{"too short", hex64[:62], 0, "at least 64"},
		{"odd length", hex64 + "a", 0, "odd"},
		{"not hex", strings.Repeat("zz", 32), 0, "hexadecimal"},
		{"base64", strings.Repeat("QUJD", 16), 0, "hexadecimal"},
		{"inner space", hex64[:32] + " " + hex64[32:], 0, "hexadecimal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSecret(tt.in)
			if tt.wantLen == 0 {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("ParseSecret = %v, want error mentioning %q", err, tt.errHas)
				}
				if strings.Contains(err.Error(), strings.TrimSpace(tt.in)) && strings.TrimSpace(tt.in) != "" {
					t.Errorf("error %q echoes the secret", err)
				}
				return
			}
			if err != nil || len(got) != tt.wantLen {
				t.Fatalf("ParseSecret = %d bytes, %v; want %d bytes", len(got), err, tt.wantLen)
			}
			if _, err := NewKeyring(got); err != nil {
				t.Errorf("NewKeyring(ParseSecret(...)) = %v", err)
			}
		})
	}
}

func TestIsID(t *testing.T) {
	for range 100 {
		if id := NewID("ses"); !IsID("ses", id) {
			t.Fatalf("IsID rejects %q", id)
		}
	}
	for _, bad := range []string{"", "ses_", "usr_" + rand.Text(), "ses_" + rand.Text()[:25], "ses_" + rand.Text() + "A", "ses_\x00AAAAAAAAAAAAAAAAAAAAAAAAA", "ses_aaaaaaaaaaaaaaaaaaaaaaaaaa", "ses-AAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if IsID("ses", bad) {
			t.Errorf("IsID accepts %q", bad)
		}
	}
}
