package pwned

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hashOf is the test's own SHA-1, independent of sha1Hex.
func hashOf(password string) string {
	sum := sha1.Sum([]byte(password))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func TestSHA1Hex(t *testing.T) {
	for _, pw := range []string{"password", "", "pässwörd", "correct horse battery staple"} {
		h := sha1Hex(pw)
		if got, want := string(h[:]), hashOf(pw); got != want {
			t.Errorf("sha1Hex(%q) = %s, want %s", pw, got, want)
		}
	}
	if h := sha1Hex("password"); string(h[:]) != "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8" {
		t.Errorf("sha1Hex(password) = %s", h[:])
	}
}

// rangeServer is a local stand-in for the range API. It serves the suffixes
// of a small corpus by prefix, surrounded by padding lines (count 0), with
// CRLF line ends, and records what each request carried.
type rangeServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seenRequest
}

type seenRequest struct {
	path, rawQuery, padding, userAgent string
}

func (s *rangeServer) requests() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.reqs...)
}

// Passwords in the fake corpus and their counts. "letmein" is in it only as
// a padding line.
var rangeCorpus = map[string]int{
	"password": 10434004,
	"123456":   46264500,
	"hunter2":  1,
	"qwerty":   1107,
}

const paddingOnly = "letmein"

// rangeBodies builds the response for every prefix the corpus touches;
// other prefixes get padding only, like the real service.
func rangeBodies() map[string][]string {
	bodies := map[string][]string{}
	for pw, n := range rangeCorpus {
		h := hashOf(pw)
		bodies[h[:5]] = append(bodies[h[:5]], fmt.Sprintf("%s:%d", h[5:], n))
	}
	h := hashOf(paddingOnly)
	bodies[h[:5]] = append(bodies[h[:5]], h[5:]+":0")
	// A neighbour of "password" in the same range, and one in lower case.
	p := hashOf("password")
	bodies[p[:5]] = append(bodies[p[:5]], "1E4C9B93F3F0682250B6CF8331B7EE68FD9:7", strings.ToLower("0018A45C4D1DEF81644B54AB7F969B88D65")+":3")
	return bodies
}

func padding(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		sum := sha1.Sum(fmt.Appendf(nil, "pad %d", i))
		lines[i] = strings.ToUpper(hex.EncodeToString(sum[:]))[5:] + ":0"
	}
	return lines
}

func newRangeServer(t *testing.T, handler http.HandlerFunc) *rangeServer {
	t.Helper()
	s := &rangeServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, seenRequest{r.URL.Path, r.URL.RawQuery, r.Header.Get("Add-Padding"), r.Header.Get("User-Agent")})
		s.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// corpusHandler serves rangeBodies under /range/{prefix}, behind any base
// path, with the given line terminator.
func corpusHandler(eol string) http.HandlerFunc {
	bodies := rangeBodies()
	return func(w http.ResponseWriter, r *http.Request) {
		i := strings.LastIndex(r.URL.Path, "/range/")
		if i < 0 {
			http.NotFound(w, r)
			return
		}
		prefix := r.URL.Path[i+len("/range/"):]
		if len(prefix) != 5 || strings.ToUpper(prefix) != prefix {
			http.Error(w, "bad prefix", http.StatusBadRequest)
			return
		}
		lines := append(padding(40), bodies[prefix]...)
		lines = append(lines, padding(60)[40:]...)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, strings.Join(lines, eol))
	}
}

func bodyHandler(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }
}

func TestRangeBreached(t *testing.T) {
	pw := hashOf("password")
	huge := strings.Repeat(pw[5:]+":0\r\n", maxRangeBody/38+10)
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		basePath string
		timeout  time.Duration
		password string
		want     int
		wantErr  string // substring; "" means success
		errIs    error
	}{
		{name: "found", handler: corpusHandler("\r\n"), password: "password", want: 10434004},
		{name: "found LF", handler: corpusHandler("\n"), password: "123456", want: 46264500},
		{name: "found count 1", handler: corpusHandler("\r\n"), password: "hunter2", want: 1},
		{name: "found behind base path", handler: corpusHandler("\r\n"), basePath: "/mirror/v3/", password: "qwerty", want: 1107},
		{name: "not found in a served range", handler: corpusHandler("\r\n"), password: "password1", want: 0},
		{name: "not found, neighbour in same range", handler: corpusHandler("\r\n"), password: "not the password", want: 0},
		{name: "padding-only match is not found", handler: corpusHandler("\r\n"), password: paddingOnly, want: 0},
		{name: "lower-case suffix matches", handler: bodyHandler(strings.ToLower(pw[5:]) + ":12\r\n"), password: "password", want: 12},
		{name: "trailing CRLF", handler: bodyHandler(pw[5:] + ":5\r\n"), password: "password", want: 5},
		{name: "no trailing terminator", handler: bodyHandler("0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n" + pw[5:] + ":6"), password: "password", want: 6},
		{name: "non-ASCII password", handler: bodyHandler(hashOf("pässwörd")[5:] + ":2"), password: "pässwörd", want: 2},

		{name: "500", handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }, password: "password", wantErr: "500"},
		{name: "429", handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "slow down", http.StatusTooManyRequests) }, password: "password", wantErr: "429"},
		{name: "redirect is not followed", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere"+r.URL.Path, http.StatusFound)
		}, password: "password", wantErr: "302"},
		{name: "empty body", handler: bodyHandler(""), password: "password", wantErr: "empty"},
		{name: "HTML body", handler: bodyHandler("<html><body>maintenance</body></html>"), password: "password", wantErr: "line 1"},
		{name: "malformed line among good ones", handler: bodyHandler(pw[5:] + ":5\r\nnot a line\r\n"), password: "password", wantErr: "line 2"},
		{name: "short suffix", handler: bodyHandler(pw[6:] + ":5"), password: "password", wantErr: "line 1"},
		{name: "full hash instead of suffix", handler: bodyHandler(pw + ":5"), password: "password", wantErr: "line 1"},
		{name: "non-hex suffix", handler: bodyHandler("G" + pw[6:] + ":5"), password: "password", wantErr: "hex"},
		{name: "negative count", handler: bodyHandler(pw[5:] + ":-5"), password: "password", wantErr: "count"},
		{name: "count with space", handler: bodyHandler(pw[5:] + ": 5"), password: "password", wantErr: "count"},
		{name: "count too long", handler: bodyHandler(pw[5:] + ":12345678901"), password: "password", wantErr: "count"},
		{name: "missing count", handler: bodyHandler(pw[5:] + ":"), password: "password", wantErr: "line 1"},
		{name: "blank line inside", handler: bodyHandler(pw[5:] + ":5\r\n\r\n" + pw[5:] + ":5"), password: "password", wantErr: "line 2"},
		{name: "two trailing terminators", handler: bodyHandler(pw[5:] + ":5\n\n"), password: "password", wantErr: "line 2"},
		{name: "oversized body", handler: bodyHandler(huge), password: "password", wantErr: "over"},
		{name: "timeout before headers", timeout: 100 * time.Millisecond, handler: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, password: "password", wantErr: "within 100ms", errIs: context.DeadlineExceeded},
		{name: "timeout during body", timeout: 100 * time.Millisecond, handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, pw[5:]+":5\r\n")
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, password: "password", wantErr: "within 100ms", errIs: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRangeServer(t, tt.handler)
			r, err := NewRange(RangeConfig{URL: srv.URL + tt.basePath, Timeout: tt.timeout, Client: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			r.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			start := time.Now()
			got, err := r.Breached(t.Context(), tt.password)
			elapsed := time.Since(start)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Breached: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Breached = %d, nil; want an error containing %q", got, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Breached error %q does not contain %q", err, tt.wantErr)
			case tt.errIs != nil && !errors.Is(err, tt.errIs):
				t.Fatalf("Breached error %v is not %v", err, tt.errIs)
			case got != tt.want:
				t.Fatalf("Breached = %d, want %d", got, tt.want)
			}
			if tt.timeout > 0 && elapsed > tt.timeout+time.Second {
				t.Errorf("Breached took %s with a %s timeout", elapsed, tt.timeout)
			}
			h := hashOf(tt.password)
			if err != nil {
				for _, secret := range []string{tt.password, h, h[:5], h[5:], strings.ToLower(h)} {
					if strings.Contains(strings.ToUpper(err.Error()), strings.ToUpper(secret)) {
						t.Errorf("error %q reveals %q", err, secret)
					}
				}
			}
			reqs := srv.requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			req := reqs[0]
			wantPath := strings.TrimRight(tt.basePath, "/") + "/range/" + h[:5]
			if req.path != wantPath || req.rawQuery != "" {
				t.Errorf("request path %q query %q, want %q and none", req.path, req.rawQuery, wantPath)
			}
			if strings.Contains(req.path, h[5:10]) || strings.Contains(req.path, tt.password) {
				t.Errorf("request path %q carries more than the prefix", req.path)
			}
			if req.padding != "true" {
				t.Errorf("Add-Padding = %q, want true", req.padding)
			}
			if req.userAgent != DefaultUserAgent {
				t.Errorf("User-Agent = %q, want %q", req.userAgent, DefaultUserAgent)
			}
		})
	}
}

func TestRangeDefaultClientRefusesRedirects(t *testing.T) {
	target := newRangeServer(t, corpusHandler("\r\n"))
	srv := newRangeServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusMovedPermanently)
	})
	r, err := NewRange(RangeConfig{URL: srv.URL, UserAgent: "test-agent/1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Breached(t.Context(), "password"); err == nil || !strings.Contains(err.Error(), "301") {
		t.Fatalf("Breached error = %v, want a 301 error", err)
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("redirect target saw %d requests", n)
	}
	if ua := srv.requests()[0].userAgent; ua != "test-agent/1" {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestRangeContextCancel(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := newRangeServer(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
	})
	r, err := NewRange(RangeConfig{URL: srv.URL, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	if _, err := r.Breached(ctx, "password"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Breached after cancel: %v, want context.Canceled", err)
	}

	done, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if _, err := r.Breached(done, "password"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Breached with a cancelled context: %v, want context.Canceled", err)
	}

	short, cancel3 := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel3()
	if _, err := r.Breached(short, "password"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Breached past the caller's deadline: %v, want context.DeadlineExceeded", err)
	}
}

func TestRangeConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	r, err := NewRange(RangeConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Breached(t.Context(), "password")
	if err == nil {
		t.Fatal("Breached against a closed server succeeded")
	}
	if strings.Contains(err.Error(), "5BAA6") || strings.Contains(err.Error(), "/range/") {
		t.Errorf("error %q reveals the request URL", err)
	}
}

func TestNewRange(t *testing.T) {
	tests := []struct {
		name    string
		cfg     RangeConfig
		wantErr string
	}{
		{name: "https", cfg: RangeConfig{URL: "https://api.pwnedpasswords.com"}},
		{name: "http with port and path", cfg: RangeConfig{URL: "http://127.0.0.1:8080/hibp/"}},
		{name: "empty", cfg: RangeConfig{}, wantErr: "required"},
		{name: "ftp", cfg: RangeConfig{URL: "ftp://example.com"}, wantErr: "http or https"},
		{name: "relative", cfg: RangeConfig{URL: "/range"}, wantErr: "http or https"},
		{name: "no host", cfg: RangeConfig{URL: "https://"}, wantErr: "host"},
		{name: "port only", cfg: RangeConfig{URL: "https://:443"}, wantErr: "host"},
		{name: "opaque", cfg: RangeConfig{URL: "https:example.com"}, wantErr: "host"},
		{name: "query", cfg: RangeConfig{URL: "https://example.com/?k=v"}, wantErr: "query"},
		{name: "empty query", cfg: RangeConfig{URL: "https://example.com/?"}, wantErr: "query"},
		{name: "fragment", cfg: RangeConfig{URL: "https://example.com/#x"}, wantErr: "fragment"},
		{name: "unparsable", cfg: RangeConfig{URL: "https://exa mple.com"}, wantErr: "URL"},
		{name: "negative timeout", cfg: RangeConfig{URL: "https://example.com", Timeout: -time.Second}, wantErr: "Timeout"},
		{name: "user agent with newline", cfg: RangeConfig{URL: "https://example.com", UserAgent: "a\r\nX-Evil: 1"}, wantErr: "UserAgent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRange(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewRange error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.timeout != DefaultRangeTimeout || r.userAgent != DefaultUserAgent || r.client == nil {
				t.Errorf("defaults not applied: timeout %s, user agent %q, client %v", r.timeout, r.userAgent, r.client)
			}
			if strings.HasSuffix(r.base, "/") {
				t.Errorf("base %q keeps a trailing slash", r.base)
			}
		})
	}
}
