package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the edge's Prometheus collectors, registered on an injected
// registry. A nil *metrics records nothing.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	signIns  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, auth *gatehouse.Auth) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total", Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_sign_ins_total", Help: "Password sign-in attempts by result (the error code, or signed_in).",
		}, []string{"result"}),
	}
	running := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_password_hash_running", Help: "Password hashes running now.",
	}, func() float64 { r, _ := auth.HashPoolStats(); return float64(r) })
	waiting := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_password_hash_waiting", Help: "Password hashes waiting for a worker.",
	}, func() float64 { _, w := auth.HashPoolStats(); return float64(w) })
	auditWritten := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "gatehouse_audit_events_written_total", Help: "Audit events written to the store.",
	}, func() float64 { w, _ := auth.AuditStats(); return float64(w) })
	auditDropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "gatehouse_audit_events_dropped_total", Help: "Audit events dropped because the queue was full or a write failed (see the logs).",
	}, func() float64 { _, d := auth.AuditStats(); return float64(d) })
	register(reg, auditWritten)
	register(reg, auditDropped)
	if auth.FanOutStats().Configured {
		fanUp := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_fanout_up", Help: "1 while this node receives the other nodes' cache invalidations; 0 while it checks every session against the database instead.",
		}, func() float64 {
			if auth.FanOutStats().Up {
				return 1
			}
			return 0
		})
		received := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_fanout_received_total", Help: "Cache invalidations received from the fan-out.",
		}, func() float64 { return float64(auth.FanOutStats().Received) })
		published := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_fanout_published_total", Help: "Cache invalidations this node sent to the others.",
		}, func() float64 { return float64(auth.FanOutStats().Published) })
		failed := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_fanout_publish_failures_total", Help: "Cache invalidations that could not be sent (other nodes then rely on the 10 s cache TTL).",
		}, func() float64 { return float64(auth.FanOutStats().PublishFailures) })
		register(reg, fanUp)
		register(reg, received)
		register(reg, published)
		register(reg, failed)
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	m.signIns = register(reg, m.signIns)
	register(reg, running)
	register(reg, waiting)
	return m
}

// register registers c, or returns the collector already registered under
// the same name (a second Handler on one registry shares the first's).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (m *metrics) serve(w http.ResponseWriter, r *http.Request, route string, next http.Handler) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	next.ServeHTTP(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
	m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
}

func (m *metrics) signIn(err error) {
	if m == nil {
		return
	}
	result := "signed_in"
	if err != nil {
		result = string(gatehouse.ErrorCode(err))
	}
	m.signIns.WithLabelValues(result).Inc()
}
