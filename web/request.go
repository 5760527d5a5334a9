package web

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// RequestID returns the request id AccessLog or the Handler assigned.
func RequestID(ctx context.Context) string {
	return gatehouse.RequestFrom(ctx).ID
}

// withRequestID makes sure r carries a request description with an id
// (one context per request, whoever comes first: AccessLog or the Handler)
// and that the response names the id in X-Request-Id. Ids are always ours:
// an incoming X-Request-Id is ignored, so a client cannot forge log
// correlation.
func withRequestID(w http.ResponseWriter, r *http.Request) (*http.Request, *gatehouse.RequestInfo) {
	info := gatehouse.RequestInfoFrom(r.Context())
	if info == nil {
		var ctx context.Context
		ctx, info = gatehouse.NewRequestContext(r.Context(), newRequestID())
		r = r.WithContext(ctx)
	}
	// Set only when absent or different: AccessLog and the Handler both
	// come here for one request.
	hd := w.Header()
	if v := hd["X-Request-Id"]; len(v) != 1 || v[0] != info.ID {
		hd["X-Request-Id"] = []string{info.ID}
	}
	return r, info
}

// requestIDPrefix makes ids unique across processes; the counter makes them
// unique within one. Request ids are not secrets, so a counter is enough and
// keeps crypto/rand off the hot path.
var (
	requestIDPrefix  = rand.Text()[:10]
	requestIDCounter atomic.Uint64
)

func newRequestID() string {
	var buf [32]byte // 10 + at most 13 base-36 digits
	return string(strconv.AppendUint(append(buf[:0], requestIDPrefix...), requestIDCounter.Add(1), 36))
}

// LogHandler wraps an slog.Handler so every record logged with a request's
// context carries its request_id. Use it for the logger given to
// gatehouse.New so the core's log lines name the request too.
func LogHandler(next slog.Handler) slog.Handler { return ridHandler{next} }

type ridHandler struct{ slog.Handler }

func (h ridHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h ridHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return ridHandler{h.Handler.WithAttrs(as)}
}
func (h ridHandler) WithGroup(n string) slog.Handler { return ridHandler{h.Handler.WithGroup(n)} }

// AccessLog assigns each request an id (X-Request-Id) and logs one line per
// request: request_id, method, path without its query string (which may hold
// secrets), status, bytes, duration.
func AccessLog(log *slog.Logger, next http.Handler) http.Handler {
	if _, ok := log.Handler().(ridHandler); !ok {
		log = slog.New(LogHandler(log.Handler()))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r, _ = withRequestID(w, r)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Int64("bytes", sw.bytes),
			slog.Duration("duration", time.Since(start)),
		)
	})
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(st int) {
	if w.status == 0 {
		w.status = st
	}
	w.ResponseWriter.WriteHeader(st)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ClientIP returns the client's IP address for r. The TCP peer is the client
// unless it is one of the trusted proxies; then the X-Forwarded-For chain
// (or, without it, the Forwarded header) is walked from the right, skipping
// trusted proxies, and the first untrusted hop is the client. Headers from
// an untrusted peer are ignored entirely, so they cannot be spoofed.
//
// The result is the address in its canonical form (netip.Addr.String).
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, text := parseIP(r.RemoteAddr)
	if !peer.IsValid() {
		return ""
	}
	if !isTrusted(peer, trusted) {
		return addrText(peer, text)
	}
	hops := forwardedChain(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		ip, _ := parseIP(hops[i])
		if !ip.IsValid() {
			// A garbled hop: stop believing the chain at this point.
			return peer.String()
		}
		if !isTrusted(ip, trusted) {
			return ip.String()
		}
		peer = ip
	}
	return peer.String()
}

// addrText returns a.String(), or text, which a was parsed from, when that
// is the same: the usual RemoteAddr then costs no allocation.
func addrText(a netip.Addr, text string) string {
	var buf [64]byte
	if string(a.AppendTo(buf[:0])) == text {
		return text
	}
	return a.String()
}

// forwardedChain returns the hops of X-Forwarded-For, or of Forwarded's
// for= parameters when X-Forwarded-For is absent, in order.
func forwardedChain(h http.Header) []string {
	var hops []string
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, v := range xff {
			for _, p := range strings.Split(v, ",") {
				hops = append(hops, strings.TrimSpace(p))
			}
		}
		return hops
	}
	for _, v := range h.Values("Forwarded") {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hops = append(hops, strings.Trim(val, `"`))
				}
			}
		}
	}
	return hops
}

// parseIP accepts "ip", "ip:port", "[ipv6]" and "[ipv6]:port", and returns
// the address (IPv4-mapped addresses unmapped, zones dropped) and the text
// it was parsed from. Only a string with one colon, or starting with "[",
// can carry a port (a bare IPv6 address has at least two colons); the
// others are parsed whole, so the usual forms cost no error allocation.
func parseIP(s string) (netip.Addr, string) {
	host := strings.TrimSpace(s)
	if i := strings.LastIndexByte(host, ':'); i >= 0 && (strings.IndexByte(host, ':') == i || host[0] == '[') {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	} else if a, err := netip.ParseAddr(host); err == nil {
		// Whole, as it is ("fe80::1%]" has the zone "]"): only if that
		// fails are brackets around it removed.
		return a.Unmap().WithZone(""), host
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, ""
	}
	return a.Unmap().WithZone(""), host
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// begin gives r its request id and completes the request's description
// (client IP, user agent) for the core's audit log, in place: the hot path
// pays for one context at most.
func (h *Handler) begin(w http.ResponseWriter, r *http.Request) *http.Request {
	r, info := withRequestID(w, r)
	if info.IP == "" {
		info.IP, info.UserAgent = ClientIP(r, h.trusted), r.UserAgent()
	}
	return r
}
