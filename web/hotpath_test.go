package web

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// netHTTPCookie is what net/http reads from the Cookie fields for name.
func netHTTPCookie(lines []string, name string) (string, bool) {
	r := &http.Request{Header: http.Header{"Cookie": lines}}
	c, err := r.Cookie(name)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

const tok = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// cookieCases are Cookie fields (one slice element per field) that
// cookieValue must read as net/http does.
var cookieCases = [][]string{
	nil,
	{""},
	{"   "},
	{"gatehouse_session=" + tok},
	{"gatehouse_session=" + tok + ";"},
	{";;gatehouse_session=" + tok + ";;"},
	{"  gatehouse_session = " + tok + "  "},
	{"\tgatehouse_session=" + tok + "\r"},
	{"gatehouse_session=\"" + tok + "\""},
	{"gatehouse_session=\"" + tok},
	{"gatehouse_session=\""},
	{"gatehouse_session=\"\""},
	{"gatehouse_session="},
	{"gatehouse_session"},
	{"gatehouse_session=a=b"},
	{"gatehouse_session=" + tok + "; gatehouse_session=second"},
	{"gatehouse_session=bad\\value; gatehouse_session=" + tok},
	{"gatehouse_session=bad\"quote; gatehouse_session=" + tok},
	{"gatehouse_session=bad\x7f; gatehouse_session=" + tok},
	{"gatehouse_session=caf\xc3\xa9; gatehouse_session=" + tok},
	{"gatehouse_session=sp ace"},
	{"gatehouse_session=, comma"},
	{"gatehouse_session=junk", "gatehouse_session=" + tok},
	{"theme=dark", "lang=en; gatehouse_session=" + tok},
	{"GATEHOUSE_SESSION=" + tok},
	{"Gatehouse_session=" + tok},
	{"__Host-gatehouse_session=" + tok},
	{"gatehouse_session2=" + tok},
	{"xgatehouse_session=" + tok},
	{"gatehouse_session_x=" + tok + "; gatehouse_session=real"},
	{"gatehouse session=" + tok},
	{"gatehouse_session\t=" + tok},
	{"=" + tok + "; gatehouse_session=" + tok},
	{"a=b; " + strings.Repeat("c=d;", 2998) + " gatehouse_session=" + tok}, // 3000 cookies: read
	{"a=b; " + strings.Repeat("c=d;", 2999) + " gatehouse_session=" + tok}, // 3001: none read
	{strings.Repeat(";", 2999), "gatehouse_session=" + tok},                // 3001 over two fields
}

func TestCookieValueMatchesNetHTTP(t *testing.T) {
	for _, name := range []string{"gatehouse_session", "__Host-gatehouse_session", "a", ""} {
		for _, lines := range cookieCases {
			got, gotOK := cookieValue(http.Header{"Cookie": lines}, name)
			want, wantOK := netHTTPCookie(lines, name)
			if got != want || gotOK != wantOK {
				t.Errorf("cookieValue(%.80q, %q) = %q, %v; net/http says %q, %v", lines, name, got, gotOK, want, wantOK)
			}
		}
	}
}

func TestCookieValueAllocations(t *testing.T) {
	h := http.Header{"Cookie": {"theme=dark; lang=en", "gatehouse_session=\"" + tok + "\"; x=y"}}
	if n := testing.AllocsPerRun(100, func() { cookieValue(h, "gatehouse_session") }); n != 0 {
		t.Fatalf("cookieValue allocates %v times", n)
	}
}

// FuzzCookieValue compares cookieValue with net/http's parser on any
// Cookie fields (newlines separate fields) for our cookie names.
func FuzzCookieValue(f *testing.F) {
	for _, lines := range cookieCases {
		if len(strings.Join(lines, "")) < 1000 {
			f.Add(strings.Join(lines, "\n"))
		}
	}
	f.Fuzz(func(t *testing.T, fields string) {
		lines := strings.Split(fields, "\n")
		for _, name := range []string{"gatehouse_session", "__Host-gatehouse_session", "gatehouse_device"} {
			got, gotOK := cookieValue(http.Header{"Cookie": lines}, name)
			want, wantOK := netHTTPCookie(lines, name)
			if got != want || gotOK != wantOK {
				t.Fatalf("cookieValue(%q, %q) = %q, %v; net/http says %q, %v", lines, name, got, gotOK, want, wantOK)
			}
		}
	})
}

// parseIPBefore is parseIP as it was before it learned to skip the error
// allocations: the reference the rewrite must agree with.
func parseIPBefore(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

var ipCases = []string{
	"", " ", ":", "[]", "[]:80", "1.2.3.4", " 1.2.3.4 ", "1.2.3.4:80", "1.2.3.4:", "1.2.3.4:x",
	"[1.2.3.4]", "[1.2.3.4]:80", "::1", "[::1]", "[::1]:80", "::1:80", "[::1", "::1]",
	"2001:db8::1", "[2001:DB8::1]:443", "2001:0db8:0000::1", "fe80::1%eth0", "[fe80::1%eth0]:80",
	"::ffff:1.2.3.4", "[::ffff:1.2.3.4]:1", "001.2.3.4", "1.2.3.4%eth0", "1.2.3.4%a:b", "a[b]:80",
	"host:80", "localhost", "1.2.3.4:80:90", "[::1]:80:90",
	"::%]", "fe80::1%]", // a zone that ends in "]": whole, it parses
}

func TestParseIPMatchesBefore(t *testing.T) {
	for _, s := range ipCases {
		checkParseIP(t, s)
	}
}

func FuzzParseIP(f *testing.F) {
	for _, s := range ipCases {
		f.Add(s)
	}
	f.Fuzz(checkParseIP)
}

// checkParseIP: parseIP agrees with parseIPBefore, and the text it returns
// is the address it returns, so ClientIP's answer is always canonical.
func checkParseIP(t *testing.T, s string) {
	a, text := parseIP(s)
	if want := parseIPBefore(s); a != want {
		t.Fatalf("parseIP(%q) = %v, before %v", s, a, want)
	}
	if !a.IsValid() {
		return
	}
	if p, err := netip.ParseAddr(text); err != nil || p.Unmap().WithZone("") != a {
		t.Fatalf("parseIP(%q) = %v, text %q", s, a, text)
	}
	r := &http.Request{RemoteAddr: s, Header: http.Header{}}
	if got := ClientIP(r, nil); got != a.String() {
		t.Fatalf("ClientIP for RemoteAddr %q = %q, want %q", s, got, a.String())
	}
}

func TestClientIPAllocations(t *testing.T) {
	for _, remote := range []string{"192.0.2.1:1234", "[2001:db8::1]:443"} {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		if n := testing.AllocsPerRun(100, func() { ClientIP(r, nil) }); n != 0 {
			t.Errorf("ClientIP(%q) allocates %v times", remote, n)
		}
	}
}

type headerWriter struct{ h http.Header }

func (w headerWriter) Header() http.Header         { return w.h }
func (w headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w headerWriter) WriteHeader(int)             {}

func TestPrivateHeaders(t *testing.T) {
	cases := []struct {
		name       string
		before     http.Header
		wantVary   []string
		extraVary  string // added after privateHeaders, as a later handler may
		wantCache  string
		wantOthers http.Header
	}{
		{"fresh", http.Header{}, []string{"Cookie", "Authorization"}, "", "private, no-store", nil},
		{"fresh, then a handler varies too", http.Header{}, []string{"Cookie", "Authorization", "Accept-Language"}, "Accept-Language", "private, no-store", nil},
		{"replaces a public Cache-Control", http.Header{"Cache-Control": {"public, max-age=60"}}, []string{"Cookie", "Authorization"}, "", "private, no-store", nil},
		{"keeps another Vary", http.Header{"Vary": {"Origin"}}, []string{"Origin", "Cookie", "Authorization"}, "", "private, no-store", nil},
		{"no duplicate", http.Header{"Vary": {"Origin, cookie"}}, []string{"Origin, cookie", "Authorization"}, "", "private, no-store", nil},
		{"both there", http.Header{"Vary": {"Authorization,Cookie"}}, []string{"Authorization,Cookie"}, "", "private, no-store", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := headerWriter{tc.before}
			privateHeaders(w)
			if tc.extraVary != "" {
				addVary(w, tc.extraVary)
			}
			if got := w.h["Vary"]; !slices.Equal(got, tc.wantVary) {
				t.Errorf("Vary = %q, want %q", got, tc.wantVary)
			}
			if got := w.h["Cache-Control"]; len(got) != 1 || got[0] != tc.wantCache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.wantCache)
			}
			// Growing one field must never write into the other.
			w.h.Add("Vary", "X-Test")
			w.h.Add("Cache-Control", "no-transform")
			if got := w.h["Cache-Control"]; got[0] != tc.wantCache {
				t.Errorf("Cache-Control = %q after appending to Vary", got)
			}
			if got := w.h["Vary"]; got[len(got)-2] != tc.wantVary[len(tc.wantVary)-1] {
				t.Errorf("Vary = %q after appending to Cache-Control", got)
			}
		})
	}
}

func TestAddVary(t *testing.T) {
	for _, tc := range []struct {
		before []string
		field  string
		want   []string
	}{
		{nil, "Cookie", []string{"Cookie"}},
		{[]string{"Origin"}, "Cookie", []string{"Origin", "Cookie"}},
		{[]string{"Origin ,  COOKIE "}, "Cookie", []string{"Origin ,  COOKIE "}},
		{[]string{"Origin", "Cookie"}, "cookie", []string{"Origin", "Cookie"}},
		{[]string{"Cookies"}, "Cookie", []string{"Cookies", "Cookie"}},
		{[]string{"Origin,,"}, "Cookie", []string{"Origin,,", "Cookie"}},
	} {
		w := headerWriter{http.Header{}}
		if tc.before != nil {
			w.h["Vary"] = slices.Clone(tc.before)
		}
		addVary(w, tc.field)
		if got := w.h["Vary"]; !slices.Equal(got, tc.want) {
			t.Errorf("addVary(%q, %q) = %q, want %q", tc.before, tc.field, got, tc.want)
		}
	}
}

func TestRequestIDOnce(t *testing.T) {
	w := headerWriter{http.Header{}}
	r, info := withRequestID(w, &http.Request{Header: http.Header{"X-Request-Id": {"forged"}}})
	if info.ID == "" || info.ID == "forged" || !strings.HasPrefix(info.ID, requestIDPrefix) {
		t.Fatalf("request id %q", info.ID)
	}
	// A second pass (AccessLog, then the Handler) keeps the id and the
	// single header value.
	r2, info2 := withRequestID(w, r)
	if r2 != r || info2 != info {
		t.Fatal("a second pass made another request context")
	}
	if got := w.h["X-Request-Id"]; !slices.Equal(got, []string{info.ID}) {
		t.Fatalf("X-Request-Id = %q, want [%q]", got, info.ID)
	}
	// A handler that replaced the header gets ours back.
	w.h.Set("X-Request-Id", "other")
	withRequestID(w, r)
	if got := w.h["X-Request-Id"]; !slices.Equal(got, []string{info.ID}) {
		t.Fatalf("X-Request-Id = %q, want [%q]", got, info.ID)
	}
	if a, b := newRequestID(), newRequestID(); a == b {
		t.Fatalf("two requests got id %q", a)
	}
}
