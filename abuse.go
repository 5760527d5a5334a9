package gatehouse

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/ratelimit"
)

// Endpoints whose requests are rate-limited: everything that verifies a
// secret or sends a message. Plugins name their own (for example
// "totp_verify") and call Auth.Limit.
const (
	LimitSignIn             = "sign_in"
	LimitSignUp             = "sign_up"
	LimitReauthenticate     = "reauthenticate"
	LimitPasswordForgot     = "password_forgot"
	LimitPasswordReset      = "password_reset"
	LimitPasswordChange     = "password_change"
	LimitEmailVerify        = "email_verify"
	LimitEmailVerifySend    = "email_verify_send"
	LimitEmailChange        = "email_change"
	LimitEmailChangeConfirm = "email_change_confirm"
)

// EndpointLimits are the rate limits of one endpoint: per client IP (an
// IPv6 client counts by its /64) and per normalized identifier (the email,
// or the account). A zero Rate means no limit of that kind.
type EndpointLimits struct {
	PerIP         Rate
	PerIdentifier Rate
}

// DefaultRateLimits are the limits applied when Config.RateLimits does not
// name an endpoint. They let a person retry freely and a household or
// office share an address, and stop scripts.
func DefaultRateLimits() map[string]EndpointLimits {
	perMinute := func(n, burst int) Rate { return Rate{Limit: n, Period: time.Minute, Burst: burst} }
	perHour := func(n, burst int) Rate { return Rate{Limit: n, Period: time.Hour, Burst: burst} }
	return map[string]EndpointLimits{
		LimitSignIn:             {PerIP: perMinute(30, 30), PerIdentifier: perMinute(10, 10)},
		LimitSignUp:             {PerIP: perHour(30, 10), PerIdentifier: perHour(5, 3)},
		LimitReauthenticate:     {PerIP: perMinute(30, 30), PerIdentifier: perMinute(10, 10)},
		LimitPasswordChange:     {PerIP: perMinute(30, 30), PerIdentifier: perMinute(10, 10)},
		LimitPasswordForgot:     {PerIP: perHour(30, 10), PerIdentifier: perHour(5, 3)},
		LimitPasswordReset:      {PerIP: perMinute(30, 30)},
		LimitEmailVerify:        {PerIP: perMinute(30, 30)},
		LimitEmailVerifySend:    {PerIP: perHour(30, 10), PerIdentifier: perHour(5, 3)},
		LimitEmailChange:        {PerIP: perHour(30, 10), PerIdentifier: perHour(5, 3)},
		LimitEmailChangeConfirm: {PerIP: perMinute(30, 30)},
	}
}

// DefaultThrottle is the account throttle unless Config.Throttle says
// otherwise: 5 free failures, then 1 s doubling to 15 min between
// attempts, at most 100 failures evaluated per account per day.
var DefaultThrottle = ThrottlePolicy{Free: 5, BaseDelay: time.Second, MaxDelay: 15 * time.Minute, DailyBudget: 100}

func rateLimited(retry time.Duration) *Error {
	if retry < time.Second {
		retry = time.Second
	}
	return &Error{Code: CodeRateLimited, RetryAfter: retry, Message: fmt.Sprintf("Too many attempts. Try again in %s.", humanDuration(retry))}
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		s := int((d + time.Second - 1) / time.Second)
		if s == 1 {
			return "1 second"
		}
		return fmt.Sprintf("%d seconds", s)
	case d < time.Hour:
		m := int((d + time.Minute - 1) / time.Minute)
		if m == 1 {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", m)
	default:
		h := int((d + time.Hour - 1) / time.Hour)
		if h == 1 {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", h)
	}
}

// ipKey returns the part of an address a limit counts by: the address for
// IPv4, its /64 for IPv6 (one customer's allocation), "" when unparseable.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// Limit counts one request to endpoint from the client address ip for
// identifier (a normalized email or an account id; "" for none) and
// returns CodeRateLimited, with RetryAfter, when either limit is exceeded.
// Plugins call it for their own verifiers, naming limits for their
// endpoint in Config.RateLimits (an endpoint named nowhere has no limit).
// When the limiter fails, the
// request is allowed and the failure logged: limits must not turn a Redis
// outage into an outage (the Redis limiter falls back to per-node limits
// itself).
func (a *Auth) Limit(ctx context.Context, endpoint, ip, identifier string) error {
	if a.limiter == nil {
		return nil
	}
	lim := a.cfg.RateLimits[endpoint] // the defaults merged with the overrides (New)
	check := func(kind, value string, r Rate) error {
		if value == "" || r.Limit <= 0 {
			return nil
		}
		key := a.keyedHash(hashRate, endpoint+"\x00"+kind+"\x00"+value)
		ok, retry, err := a.limiter.Allow(ctx, key, r)
		if err != nil {
			a.log.WarnContext(ctx, "rate limiter unavailable; allowing the request", "endpoint", endpoint, "err", err)
			return nil
		}
		if ok {
			return nil
		}
		a.auditAggregated(ctx, key, AuditEvent{Type: EventRateLimited, Reason: endpoint + ":" + kind})
		return rateLimited(retry)
	}
	if err := check("ip", ipKey(ip), lim.PerIP); err != nil {
		return err
	}
	return check("id", strings.ToLower(identifier), lim.PerIdentifier)
}

// passwordGuard is the account throttle around one password check.
type passwordGuard struct {
	a   *Auth
	key string
	off bool
}

// guardPassword reserves a password attempt against the account known by
// norm (a normalized email, whether or not an account has it) before any
// hashing. A device that signed in to userID before (its device cookie is
// on record) is exempt: the owner is never locked out by someone guessing.
// Throttled, it returns CodeRateLimited without hashing; the caller must
// then answer exactly that, right password or wrong.
func (a *Auth) guardPassword(ctx context.Context, norm, userID string, client Client) (passwordGuard, error) {
	g := passwordGuard{a: a, key: a.keyedHash(hashThrottle, norm), off: a.noThrottle}
	if g.off {
		return g, nil
	}
	// The lookup runs whether or not an account exists, so its cost says
	// nothing about the address.
	known, err := a.store.DeviceKnown(ctx, userID, a.deviceCookieKey(client.Device))
	if err != nil {
		return g, storeError("device lookup", err, nil)
	}
	if known && userID != "" && client.Device != "" {
		g.off = true
		return g, nil
	}
	res, err := a.store.ReserveAttempt(ctx, g.key, a.Now(), a.cfg.Throttle)
	if err != nil {
		return g, storeError("reserve attempt", err, nil)
	}
	if res.Started {
		a.audit(ctx, AuditEvent{Type: EventThrottleStarted, SubjectID: userID, Reason: "failures"})
	}
	if !res.Allowed {
		a.auditAggregated(ctx, g.key, AuditEvent{Type: EventRateLimited, SubjectID: userID, Reason: "account_throttle"})
		return g, rateLimited(res.RetryAfter)
	}
	return g, nil
}

// succeeded clears the account's failures after a right password.
func (g passwordGuard) succeeded(ctx context.Context) {
	if g.off {
		return
	}
	if err := g.a.store.ClearAttempts(ctx, g.key); err != nil {
		g.a.log.WarnContext(ctx, "clearing sign-in failures failed", "err", err)
	}
}

// deviceCookieKey is the stored form of a device cookie ("" for none).
func (a *Auth) deviceCookieKey(device string) string {
	if device == "" {
		return ""
	}
	return a.keyedHash(hashDevice, "cookie\x00"+device)
}

// NewMemoryLimiter returns the in-process limiter New uses by default,
// bounded to maxKeys keys (0: 100 000), least recently used evicted first.
// Each node counts alone: with several nodes, use package redis (and this
// as its fallback while Redis is unreachable).
func NewMemoryLimiter(maxKeys int, clock Clock) Limiter {
	if clock == nil {
		clock = systemClock{}
	}
	return memoryLimiter{ratelimit.NewMemory(maxKeys, clock.Now)}
}

// memoryLimiter adapts the in-process limiter.
type memoryLimiter struct{ m *ratelimit.Memory }

func (l memoryLimiter) Allow(ctx context.Context, key string, r Rate) (bool, time.Duration, error) {
	return l.m.Allow(ctx, key, ratelimit.Rate{Limit: r.Limit, Period: r.Period, Burst: r.Burst})
}
