package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/json"
)

// MaxJWKSSize bounds the JWK Set response body; a larger one is an error.
const MaxJWKSSize = 1 << 20

const (
	defaultMinRefresh = 10 * time.Second
	defaultMaxAge     = time.Hour
	defaultLifetime   = 5 * time.Minute
	defaultTimeout    = 10 * time.Second
)

// JWKS is a Keys backed by a remote JWK Set (RFC 7517 §5), such as Gatehouse's
// "{issuer}/.well-known/jwks.json", cached in memory. It is safe for
// concurrent use; create one per issuer and share it.
//
// Caching. A fetched set is kept for the response's Cache-Control max-age
// (less its Age), capped by WithMaxAge (default 1 h); without max-age, for
// 5 minutes (or the cap, if lower); no-store and no-cache mean "stale at
// once". A stale set is refetched on the next lookup, but never sooner than
// the minimum refresh interval after the previous fetch.
//
// Unknown kids. A kid missing from the cached set triggers a refetch — that
// is how a freshly rotated key is picked up — but at most once per minimum
// refresh interval (WithMinRefreshInterval, default 10 s): a flood of tokens
// with random kids costs the issuer at most one request per interval.
// Concurrent lookups share one fetch. Malformed kids (empty, longer than 128
// bytes, or path-like) never cause a fetch.
//
// Failures. The set is fetched only from the URL given to NewJWKS — never from
// a URL found in a token (jku, x5u). A response that is not 200, is larger
// than MaxJWKSSize or is not a JWK Set leaves the previous set in place:
// known kids keep verifying (stale) and the error is returned for kids the
// cache cannot answer. While the issuer is unreachable, keys it has since
// withdrawn are still accepted; the staleness is bounded by how long the
// outage lasts, not by max-age.
//
// Filtering. Keys with a "use" other than "sig", private or symmetric keys,
// RSA keys under 2048 bits and key types other than Ed25519, RSA and P-256
// are dropped from the set, so they can never verify a token.
type JWKS struct {
	url        string
	urlErr     error
	client     *http.Client
	minRefresh time.Duration
	maxAge     time.Duration
	now        func() time.Time

	mu          sync.Mutex
	keys        map[string]jose.JSONWebKey
	expires     time.Time     // zero until the first successful fetch
	lastAttempt time.Time     // start of the last fetch that was not cut short by its caller
	lastErr     error         // the last fetch's error; nil after a success
	inflight    chan struct{} // closed when the running fetch ends; nil when none runs
}

// JWKSOption configures a JWKS.
type JWKSOption func(*JWKS)

// WithHTTPClient sets the client used to fetch the set. The default client
// has a 10 s timeout and follows no redirects (the set must be served at the
// configured URL itself). A client given here is used as is, redirects
// included; give it a timeout.
func WithHTTPClient(c *http.Client) JWKSOption {
	return func(j *JWKS) {
		if c != nil {
			j.client = c
		}
	}
}

// WithMinRefreshInterval sets the floor between two fetches (default 10 s;
// zero or negative keeps the default). It is what bounds the load that
// tokens with unknown kids can put on the issuer, and how long a newly
// published key may be refused after a fetch that just missed it.
func WithMinRefreshInterval(d time.Duration) JWKSOption {
	return func(j *JWKS) {
		if d > 0 {
			j.minRefresh = d
		}
	}
}

// WithMaxAge caps how long a fetched set is trusted (default 1 h; zero or
// negative keeps the default). The server's Cache-Control max-age is
// honoured below the cap. A removed key — withdrawn after a compromise, say —
// may keep verifying for up to this long.
func WithMaxAge(d time.Duration) JWKSOption {
	return func(j *JWKS) {
		if d > 0 {
			j.maxAge = d
		}
	}
}

// WithClock sets the clock used for cache lifetimes and the refresh floor
// (default time.Now).
func WithClock(now func() time.Time) JWKSOption {
	return func(j *JWKS) {
		if now != nil {
			j.now = now
		}
	}
}

// NewJWKS returns a JWKS for the set at rawURL. Nothing is fetched until the
// first lookup. The URL must be https, or http to a loopback host (local
// development): keys fetched over plain HTTP from elsewhere could be swapped
// by anyone on the path, who could then mint tokens. A URL that breaks this
// rule makes every lookup fail with an error saying so.
func NewJWKS(rawURL string, opts ...JWKSOption) *JWKS {
	j := &JWKS{
		url:        rawURL,
		urlErr:     checkJWKSURL(rawURL),
		client:     &http.Client{Timeout: defaultTimeout, CheckRedirect: noRedirects},
		minRefresh: defaultMinRefresh,
		maxAge:     defaultMaxAge,
		now:        time.Now,
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("verify: the JWKS URL does not parse")
	}
	if u.User != nil || u.Host == "" || u.Fragment != "" {
		return errors.New("verify: the JWKS URL must be an absolute URL without credentials or fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if h == "localhost" {
			return nil
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return errors.New("verify: the JWKS URL must be https (http only to a loopback host)")
}

// Key returns the key published under kid, fetching the set when the cache
// is stale or lacks kid (within the limits described on JWKS). It returns an
// error wrapping ErrUnknownKey when the set has no usable key under kid, and
// the fetch error when the set could not be had and the cache has no answer.
// The fetch runs under ctx.
func (j *JWKS) Key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	if !validKID(kid) {
		return jose.JSONWebKey{}, ErrUnknownKey
	}
	for {
		j.mu.Lock()
		now := j.now()
		k, found := j.keys[kid]
		if found && now.Before(j.expires) {
			j.mu.Unlock()
			return k, nil
		}
		if ch := j.inflight; ch != nil {
			j.mu.Unlock()
			if found {
				return k, nil // stale, but the running refresh may not remove it
			}
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return jose.JSONWebKey{}, ctx.Err()
			}
		}
		if !j.lastAttempt.IsZero() && now.Before(j.lastAttempt.Add(j.minRefresh)) {
			err := j.lastErr
			j.mu.Unlock()
			return lookupResult(k, found, err)
		}
		ch := make(chan struct{})
		j.inflight = ch
		prevAttempt := j.lastAttempt
		j.lastAttempt = now
		j.mu.Unlock()

		keys, lifetime, err := j.fetch(ctx)

		j.mu.Lock()
		j.inflight = nil
		close(ch)
		switch {
		case err != nil && ctx.Err() != nil:
			// Our caller gave up; that says nothing about the issuer, so
			// neither the refresh floor nor the other callers pay for it.
			j.lastAttempt = prevAttempt
		case err != nil:
			j.lastErr = err
		default:
			j.keys, j.lastErr = keys, nil
			j.expires = j.now().Add(lifetime)
		}
		k, found = j.keys[kid]
		j.mu.Unlock()
		return lookupResult(k, found, err)
	}
}

// lookupResult is a lookup's answer: the key when found, else the last
// fetch error, else ErrUnknownKey.
func lookupResult(k jose.JSONWebKey, found bool, err error) (jose.JSONWebKey, error) {
	switch {
	case found:
		return k, nil
	case err != nil:
		return jose.JSONWebKey{}, err
	}
	return jose.JSONWebKey{}, ErrUnknownKey
}

// fetch gets and parses the set. It does not touch the cache.
func (j *JWKS) fetch(ctx context.Context) (map[string]jose.JSONWebKey, time.Duration, error) {
	if j.urlErr != nil {
		return nil, 0, j.urlErr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("verify: JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("verify: fetching JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("verify: fetching JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("verify: reading JWKS: %w", err)
	}
	if len(body) > MaxJWKSSize {
		return nil, 0, fmt.Errorf("verify: JWKS larger than %d bytes", MaxJWKSSize)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, j.lifetime(resp.Header), nil
}

// parseJWKS keeps the usable keys of a JWK Set, the first of each kid. Keys
// this package cannot parse or use are skipped one by one, so an issuer that
// adds a new key type does not break verification of the others.
func parseJWKS(body []byte) (map[string]jose.JSONWebKey, error) {
	// go-jose's json is case-sensitive and refuses duplicate members: what
	// we read is what any other JOSE library reads.
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("verify: JWKS is not a JWK Set: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`verify: JWKS has no "keys" array`)
	}
	keys := make(map[string]jose.JSONWebKey, len(set.Keys))
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || !usable(k) {
			continue
		}
		if _, dup := keys[k.KeyID]; !dup {
			keys[k.KeyID] = k
		}
	}
	return keys, nil
}

// lifetime reads Cache-Control (RFC 9111 §5.2.2) and Age (§5.1).
func (j *JWKS) lifetime(h http.Header) time.Duration {
	maxAge, found := -1, false
	for _, line := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				n, err := strconv.Atoi(strings.Trim(val, `"`))
				if err != nil || n < 0 {
					return 0 // a cache directive we cannot read: do not cache
				}
				maxAge, found = n, true
			}
		}
	}
	if !found {
		return min(defaultLifetime, j.maxAge)
	}
	if age, err := strconv.Atoi(h.Get("Age")); err == nil && age > 0 {
		maxAge -= age
	}
	if maxAge <= 0 {
		return 0
	}
	if d := time.Duration(maxAge) * time.Second; d/time.Second == time.Duration(maxAge) && d < j.maxAge {
		return d
	}
	return j.maxAge
}
