package pwned

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults applied by NewRange to zero RangeConfig fields.
const (
	DefaultRangeTimeout = 2 * time.Second
	DefaultUserAgent    = "gatehouse"
)

// maxRangeBody bounds the response body Range reads. A real padded response
// has 800 to 1,000 lines of about 40 bytes; anything near this limit is not
// a range response.
const maxRangeBody = 2 << 20

// RangeConfig configures a Range client. The zero value of every field but
// URL is a safe default.
type RangeConfig struct {
	// URL is the base URL of the range API; the client sends
	// GET {URL}/range/{first 5 hex of the SHA-1, upper case}. Required, with
	// no default here: the caller decides which service sees the prefixes
	// (the public one is https://api.pwnedpasswords.com). It must be http or
	// https with a host and no query or fragment; use https for anything but
	// a mirror on the same host or network, or the prefix crosses the wire
	// in clear text.
	URL string
	// Timeout bounds the whole lookup (connection, headers and body);
	// default DefaultRangeTimeout. A shorter context deadline wins.
	Timeout time.Duration
	// Client sends the requests; default a client on http.DefaultTransport
	// that does not follow redirects (a redirect is then an error).
	Client *http.Client
	// UserAgent is sent with every request, as the Pwned Passwords API asks
	// of its callers; default DefaultUserAgent.
	UserAgent string
}

// Range checks passwords against a Pwned Passwords range API using its
// k-anonymity protocol: only the first 5 hex characters of the password's
// SHA-1 are sent, and the matching is done locally on the returned list of
// hash suffixes. A Range is safe for concurrent use.
type Range struct {
	base      string // validated URL without trailing slashes
	host      string // for error messages
	timeout   time.Duration
	client    *http.Client
	userAgent string
}

// NewRange validates c and returns a client. It makes no request.
func NewRange(c RangeConfig) (*Range, error) {
	if c.URL == "" {
		return nil, errors.New("pwned: RangeConfig.URL is required")
	}
	if strings.ContainsAny(c.URL, "?#") {
		return nil, errors.New("pwned: RangeConfig.URL must not have a query or fragment")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("pwned: RangeConfig.URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("pwned: RangeConfig.URL must be http or https, not %q", u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, errors.New("pwned: RangeConfig.URL must be absolute with a host, like https://api.pwnedpasswords.com")
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("pwned: RangeConfig.Timeout must not be negative (got %s)", c.Timeout)
	}
	for i := 0; i < len(c.UserAgent); i++ {
		if b := c.UserAgent[i]; b < ' ' || b == 0x7f {
			return nil, errors.New("pwned: RangeConfig.UserAgent must not contain control characters")
		}
	}
	r := &Range{
		base:      strings.TrimRight(u.String(), "/"),
		host:      u.Host,
		timeout:   c.Timeout,
		client:    c.Client,
		userAgent: c.UserAgent,
	}
	if r.timeout == 0 {
		r.timeout = DefaultRangeTimeout
	}
	if r.userAgent == "" {
		r.userAgent = DefaultUserAgent
	}
	if r.client == nil {
		r.client = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return r, nil
}

// Breached returns how many times password was seen according to the range
// API (0: not in the corpus, or only in the padding). It fails on a transport
// error, a non-200 status, a body over 2 MiB, a malformed line or the
// timeout; the error names the host and the problem, never the password or
// any part of its hash.
func (r *Range) Breached(ctx context.Context, password string) (int, error) {
	h := sha1Hex(password)
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/range/"+string(h[:prefixLen]), nil)
	if err != nil {
		return 0, r.fail(ctx, err)
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", r.userAgent)
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, r.fail(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return 0, fmt.Errorf("pwned: range API at %s answered %d %s", r.host, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRangeBody+1))
	if err != nil {
		return 0, r.fail(ctx, err)
	}
	if len(body) > maxRangeBody {
		return 0, fmt.Errorf("pwned: range API at %s sent a body over %d bytes", r.host, maxRangeBody)
	}
	n, err := parseRangeBody(body, h[prefixLen:])
	if err != nil {
		return 0, fmt.Errorf("pwned: range API at %s: %w", r.host, err)
	}
	return n, nil
}

// fail turns a transport error into one that names the host and the cause
// but not the request URL, which carries the hash prefix.
func (r *Range) fail(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(cerr, context.DeadlineExceeded) {
			return fmt.Errorf("pwned: range request to %s gave no answer within %s: %w", r.host, r.timeout, cerr)
		}
		return fmt.Errorf("pwned: range request to %s: %w", r.host, cerr)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("pwned: range request to %s: %w", r.host, err)
}

// parseRangeBody parses a range response and returns the largest count of a
// line whose suffix equals suffix, ignoring case (0 when none does).
//
// The grammar is strict: one or more lines SUFFIX:COUNT, where SUFFIX is 35
// hex digits of either case and COUNT 1 to maxCountDigits decimal digits,
// separated by LF or CRLF, with at most one line terminator at the end.
// Padding lines (count 0) are parsed like the others but never match. Any
// other input, including an empty body, is an error; errors give the line
// number but never the line, which the server controls.
func parseRangeBody(body, suffix []byte) (int, error) {
	const suffixLen = hashLen - prefixLen
	if len(body) == 0 {
		return 0, errors.New("empty response body")
	}
	body = bytes.TrimSuffix(body, []byte("\n"))
	found := 0
	for lineNo := 1; ; lineNo++ {
		line, rest, more := bytes.Cut(body, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) < suffixLen+2 || line[suffixLen] != ':' {
			return 0, fmt.Errorf("line %d is not SUFFIX:COUNT", lineNo)
		}
		for _, c := range line[:suffixLen] {
			if !isHex(c) {
				return 0, fmt.Errorf("line %d: suffix is not 35 hex digits", lineNo)
			}
		}
		n, ok := parseCount(line[suffixLen+1:])
		if !ok {
			return 0, fmt.Errorf("line %d: count is not a decimal number of at most %d digits", lineNo, maxCountDigits)
		}
		if n > found && bytes.EqualFold(line[:suffixLen], suffix) {
			found = n
		}
		if !more {
			return found, nil
		}
		body = rest
	}
}
