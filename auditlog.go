package gatehouse

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// Audit event types.
const (
	EventSignIn           = "sign_in"
	EventSignInFailed     = "sign_in_failed"
	EventSignUp           = "sign_up"
	EventSignOut          = "sign_out"
	EventReauthenticated  = "reauthenticated"
	EventSessionRevoked   = "session_revoked"
	EventPasswordChanged  = "password_changed"
	EventPasswordReset    = "password_reset"
	EventEmailVerified    = "email_verified"
	EventEmailChanged     = "email_changed"
	EventAccountDeleted   = "account_deleted"
	EventUserCreated      = "user_created"
	EventUserDisabled     = "user_disabled"
	EventUserEnabled      = "user_enabled"
	EventUserDeleted      = "user_deleted"
	EventRoleChanged      = "role_changed"
	EventThrottleStarted  = "throttle_started"
	EventRateLimited      = "rate_limited"
	EventAbuseLimitFailed = "limiter_unavailable"
	EventKeyRotated       = "key_rotated"
	// The OpenID Connect provider's events. SubjectID is the user, or the
	// client for client changes; Reason names the client where a user is
	// the subject.
	EventClientCreated       = "client_created"
	EventClientUpdated       = "client_updated"
	EventClientSecretRotated = "client_secret_rotated"
	EventClientDeleted       = "client_deleted"
	EventAppAuthorized       = "app_authorized"
	EventAppRevoked          = "app_revoked"
	EventCodeReused          = "authorization_code_reused"
	EventRefreshReused       = "refresh_token_reused"
)

// RequestInfo describes the request an action comes from, for the audit
// log. The web edge puts it in every request's context.
type RequestInfo struct {
	ID        string
	IP        string
	UserAgent string
}

type requestKey struct{}

// ContextWithRequest returns ctx carrying info. The edge may complete
// *info (IP, user agent) before the request reaches the core, never after.
func ContextWithRequest(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, requestKey{}, info)
}

// RequestInfoFrom returns the RequestInfo ctx carries, or nil.
func RequestInfoFrom(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(requestKey{}).(*RequestInfo)
	return info
}

// RequestFrom returns a copy of the RequestInfo of ctx (zero when none).
func RequestFrom(ctx context.Context) RequestInfo {
	if info := RequestInfoFrom(ctx); info != nil {
		return *info
	}
	return RequestInfo{}
}

// Audit batching: events are queued in memory and written in batches by one
// goroutine, so writing the log never blocks or slows a sign-in. When the
// queue is full an event is dropped and counted (AuditDropped) rather than
// waited for. Limiter events are aggregated: one row per type, reason and
// key per minute, with Count.
const (
	auditQueue      = 4096
	auditBatch      = 256
	auditFlushEvery = 250 * time.Millisecond
	auditAggWindow  = time.Minute
)

// auditLog is the batcher.
type auditLog struct {
	store   AuditStore
	now     func() time.Time
	log     func(msg string, args ...any)
	queue   chan AuditEvent
	dropped atomic.Uint64
	written atomic.Uint64

	mu  sync.Mutex
	agg map[string]*AuditEvent

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newAuditLog(store AuditStore, now func() time.Time, warn func(msg string, args ...any)) *auditLog {
	l := &auditLog{
		store: store, now: now, log: warn,
		queue: make(chan AuditEvent, auditQueue), agg: map[string]*AuditEvent{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go l.run()
	return l
}

// add queues e without blocking.
func (l *auditLog) add(e AuditEvent) {
	select {
	case l.queue <- e:
	default:
		l.dropped.Add(1)
	}
}

// aggregate counts e into the row for its key in the current window.
func (l *auditLog) aggregate(key string, e AuditEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a, ok := l.agg[key]; ok {
		a.Count++
		return
	}
	e.Count = 1
	l.agg[key] = &e
}

// run writes batches until close, then writes what is left.
func (l *auditLog) run() {
	defer close(l.done)
	flush := time.NewTicker(auditFlushEvery)
	defer flush.Stop()
	aggTick := time.NewTicker(auditAggWindow)
	defer aggTick.Stop()
	batch := make([]AuditEvent, 0, auditBatch)
	write := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := l.store.AppendAudit(ctx, batch)
		cancel()
		if err != nil {
			l.dropped.Add(uint64(len(batch)))
			l.log("audit events not written", "count", len(batch), "err", err)
		} else {
			l.written.Add(uint64(len(batch)))
		}
		batch = batch[:0]
	}
	takeAggregated := func() {
		l.mu.Lock()
		for k, e := range l.agg {
			batch = append(batch, *e)
			delete(l.agg, k)
		}
		l.mu.Unlock()
	}
	for {
		select {
		case e := <-l.queue:
			batch = append(batch, e)
			if len(batch) >= auditBatch {
				write()
			}
		case <-flush.C:
			write()
		case <-aggTick.C:
			takeAggregated()
			write()
		case <-l.stop:
			for {
				select {
				case e := <-l.queue:
					batch = append(batch, e)
					if len(batch) >= auditBatch {
						write()
					}
					continue
				default:
				}
				break
			}
			takeAggregated()
			write()
			return
		}
	}
}

// close writes every queued event and stops the batcher.
func (l *auditLog) close() {
	l.closeOnce.Do(func() { close(l.stop) })
	<-l.done
}

// audit records a security event. Time, id, and the request's IP, user
// agent and id are filled in here. It never blocks.
func (a *Auth) audit(ctx context.Context, e AuditEvent) {
	a.auditLog.add(a.fillEvent(ctx, e))
}

// auditAggregated records a limiter event folded into one row per key and
// minute, so a flood of refusals writes a handful of rows.
func (a *Auth) auditAggregated(ctx context.Context, key string, e AuditEvent) {
	a.auditLog.aggregate(e.Type+"\x00"+e.Reason+"\x00"+key, a.fillEvent(ctx, e))
}

func (a *Auth) fillEvent(ctx context.Context, e AuditEvent) AuditEvent {
	e.ID = secret.NewID("aud")
	e.At = a.Now()
	if e.Count == 0 {
		e.Count = 1
	}
	r := RequestFrom(ctx)
	if e.IP == "" {
		e.IP = r.IP
	}
	if e.UserAgent == "" {
		e.UserAgent = cleanUserAgent(r.UserAgent)
	}
	e.RequestID = r.ID
	if e.ActorID == "" {
		if p, ok := PrincipalFrom(ctx); ok {
			e.ActorID = p.User.ID
		}
	}
	return e
}

// AuditStats reports how many audit events were written and how many were
// dropped (queue full or a failed write), for metrics.
func (a *Auth) AuditStats() (written, dropped uint64) {
	return a.auditLog.written.Load(), a.auditLog.dropped.Load()
}

// Audit lists audit events matching q, newest first, and whether more
// follow (pass the last event's ID as q.Before for the next page).
func (a *Auth) Audit(ctx context.Context, q AuditQuery) ([]AuditEvent, bool, error) {
	if err := q.check(); err != nil {
		return nil, false, err
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	if q.Limit > 1000 {
		q.Limit = 1000
	}
	evs, more, err := a.store.ListAudit(ctx, q)
	if err != nil {
		return nil, false, storeError("list audit events", err, &Error{Code: CodeInvalidRequest, Field: "before", Message: "The cursor does not name an event."})
	}
	return evs, more, nil
}

// maxAuditTypes bounds the types one query may name (each is a bound
// parameter).
const maxAuditTypes = 50

// check refuses filter values no event can carry, before they reach the
// database: too many types, overlong or non-printable text (PostgreSQL
// refuses NUL and invalid UTF-8 with an error).
func (q *AuditQuery) check() error {
	bad := func(field, msg string) error {
		return &Error{Code: CodeInvalidRequest, Field: field, Message: msg}
	}
	seen := map[string]bool{}
	types := q.Types[:0:0]
	for _, t := range q.Types {
		if !seen[t] {
			seen[t] = true
			types = append(types, t)
		}
	}
	if len(types) > maxAuditTypes {
		return bad("type", fmt.Sprintf("Name at most %d event types.", maxAuditTypes))
	}
	q.Types = types
	for _, f := range []struct{ name, v string }{{"user_id", q.UserID}, {"ip", q.IP}, {"before", q.Before}} {
		if !printable(f.v, 100) {
			return bad(f.name, "The "+f.name+" filter is not valid.")
		}
	}
	for _, t := range q.Types {
		if !printable(t, 64) {
			return bad("type", "An event type is not valid.")
		}
	}
	return nil
}

// printable reports whether s is valid UTF-8 of at most n bytes without
// control characters.
func printable(s string, n int) bool {
	return len(s) <= n && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}
