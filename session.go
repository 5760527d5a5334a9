package gatehouse

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// tokenLen is the length of a session token: 32 bytes, base64url, unpadded.
const tokenLen = 43

// Complete is the one place a verified credential becomes a session. Every
// sign-in method — password today; magic links, passkeys, social, SAML and
// the OIDC provider later — ends here, so the account checks and the
// BeforeSession hooks (MFA, organization policy, bans) cannot be bypassed.
//
// It refuses disabled accounts, runs the hooks in plugin order (the first to
// refuse or challenge wins), then creates a session with a fresh token,
// revoking a.Replaces in the same transaction, and records authenticated_at,
// amr and aal.
func (a *Auth) Complete(ctx context.Context, in Authentication) (Result, error) {
	if in.User.ID == "" {
		return Result{}, internalError("complete", errors.New("authentication without a user"))
	}
	if in.User.Disabled {
		a.audit(ctx, AuditEvent{Type: EventSignInFailed, SubjectID: in.User.ID, Reason: string(CodeAccountDisabled)})
		return Result{}, &Error{Code: CodeAccountDisabled, Message: "This account has been disabled. Contact the administrator."}
	}
	if a.cfg.EmailVerification == VerificationRequired && !in.User.EmailVerified {
		a.audit(ctx, AuditEvent{Type: EventSignInFailed, SubjectID: in.User.ID, Reason: string(CodeEmailNotVerified)})
		return Result{}, &Error{Code: CodeEmailNotVerified, Message: "Verify your email address first: follow the link we sent you, or ask for a new one."}
	}
	if len(in.AMR) == 0 || in.AAL < 1 {
		return Result{}, internalError("complete", errors.New("authentication without amr or aal"))
	}
	for _, p := range a.plugins {
		if p.Hooks.BeforeSession == nil {
			continue
		}
		ch, err := p.Hooks.BeforeSession(ctx, in)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return Result{}, err
			}
			return Result{}, internalError("plugin "+p.Name+" BeforeSession", err)
		}
		if ch != nil {
			return Result{Status: StatusMFARequired, User: in.User, Methods: slices.Clone(ch.Methods)}, nil
		}
	}
	now := a.Now()
	token := secret.NewToken()
	s := Session{
		ID:                secret.NewID("ses"),
		UserID:            in.User.ID,
		TokenHash:         secret.HashToken(token),
		CreatedAt:         now,
		LastSeenAt:        now,
		AbsoluteExpiresAt: now.Add(a.cfg.SessionLifetime),
		AuthenticatedAt:   now,
		AMR:               slices.Clone(in.AMR),
		AAL:               in.AAL,
		IP:                in.Client.IP,
		UserAgent:         cleanUserAgent(in.Client.UserAgent),
	}
	if err := a.store.CreateSession(ctx, s, in.Replaces); err != nil {
		return Result{}, storeError("create session", err, nil)
	}
	if in.Replaces != "" {
		a.invalidateSession(in.Replaces)
	}
	a.rememberDevice(ctx, in.User, in.Client)
	a.audit(ctx, AuditEvent{Type: EventSignIn, ActorID: in.User.ID, SubjectID: in.User.ID, IP: in.Client.IP, UserAgent: cleanUserAgent(in.Client.UserAgent), Reason: strings.Join(s.AMR, " ")})
	for _, p := range a.plugins {
		if p.Hooks.AfterSession != nil {
			if err := p.Hooks.AfterSession(ctx, in.User, s); err != nil {
				a.log.ErrorContext(ctx, "plugin AfterSession hook failed", "plugin", p.Name, "err", err)
			}
		}
	}
	a.log.InfoContext(ctx, "session created", "user_id", in.User.ID, "session_id", s.ID, "amr", s.AMR)
	return Result{Status: StatusSignedIn, User: in.User, Session: s, Token: token}, nil
}

// Authenticate resolves a session token to a Principal: the hot path of
// every request. It answers from the cache when it can (entries at most
// Config.SessionCacheTTL old), otherwise from the store; it enforces the
// idle and absolute timeouts and the user's disabled state, and refreshes
// last_seen at most once a minute. A storage failure is an error, never a
// session (fail closed). An unknown, expired or malformed token is
// CodeUnauthenticated.
func (a *Auth) Authenticate(ctx context.Context, token string) (Principal, error) {
	if len(token) != tokenLen {
		return Principal{}, errUnauthenticated
	}
	return a.authenticate(ctx, sessionKey{hash: secret.DigestToken(token)})
}

// sessionKey finds a session: by its id (the sid of an access token) when id
// is set, otherwise by the digest of its token (a cookie).
type sessionKey struct {
	hash secret.Digest
	id   string
}

// authenticate loads the session k names, through the cache, and checks it.
func (a *Auth) authenticate(ctx context.Context, k sessionKey) (Principal, error) {
	now := a.Now()
	var (
		s     Session
		u     User
		perms map[string]bool
		hit   bool
	)
	useCache := a.cacheUsable()
	if useCache {
		if k.id != "" {
			s, u, perms, hit = a.cache.getByID(k.id, now)
		} else {
			s, u, perms, hit = a.cache.get(k.hash, now)
		}
	}
	if !hit {
		var gen uint64
		if useCache {
			gen = a.cache.generation()
		}
		var err error
		if k.id != "" {
			s, u, err = a.store.SessionByID(ctx, k.id)
		} else {
			s, u, err = a.store.SessionByTokenHash(ctx, k.hash.String())
		}
		if err != nil {
			return Principal{}, storeError("load session", err, errUnauthenticated)
		}
		perms = a.permissionsOf(u.Roles)
		if useCache && a.live(s, u, now) {
			a.cache.put(gen, s, u, perms, now)
		}
	}
	if !a.live(s, u, now) {
		return Principal{}, errUnauthenticated
	}
	if now.Sub(s.LastSeenAt) >= touchInterval {
		// A failed touch does not fail the request: the session was just
		// verified; the next request retries the write.
		if err := a.store.TouchSession(ctx, s.ID, now); err != nil {
			a.log.WarnContext(ctx, "session touch failed", "session_id", s.ID, "err", err)
		} else {
			s.LastSeenAt = now
			if useCache {
				a.cache.touch(s.ID, now)
			}
		}
	}
	return Principal{User: u, Session: s, Permissions: perms}, nil
}

// live reports whether the session is within both timeouts at now and its
// user may sign in.
func (a *Auth) live(s Session, u User, now time.Time) bool {
	return !u.Disabled && now.Before(s.ExpiresAt(a.cfg.SessionIdleTimeout))
}

// SignOut revokes the principal's session. Revoking a session that is
// already gone is not an error.
func (a *Auth) SignOut(ctx context.Context, p Principal) error {
	err := a.store.RevokeSession(ctx, p.User.ID, p.Session.ID)
	a.invalidateSession(p.Session.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return storeError("sign out", err, nil)
	}
	a.audit(ctx, AuditEvent{Type: EventSignOut, ActorID: p.User.ID, SubjectID: p.User.ID})
	return nil
}

// Sessions lists the principal's live sessions, newest first.
func (a *Auth) Sessions(ctx context.Context, p Principal) ([]Session, error) {
	all, err := a.store.ListSessions(ctx, p.User.ID)
	if err != nil {
		return nil, storeError("list sessions", err, nil)
	}
	now := a.Now()
	live := make([]Session, 0, len(all))
	for _, s := range all {
		if a.live(s, p.User, now) {
			live = append(live, s)
		}
	}
	return live, nil
}

// RevokeSession revokes one of the principal's own sessions (the current one
// included). Another user's session ID, or one already revoked, is
// CodeNotFound: the answer never confirms that someone else's ID exists.
func (a *Auth) RevokeSession(ctx context.Context, p Principal, sessionID string) error {
	if !secret.IsID("ses", sessionID) {
		// Not one of ours: nothing to look up (and nothing odd reaches SQL).
		return errNoSuchSession
	}
	err := a.store.RevokeSession(ctx, p.User.ID, sessionID)
	a.invalidateSession(sessionID)
	if err != nil {
		return storeError("revoke session", err, errNoSuchSession)
	}
	a.log.InfoContext(ctx, "session revoked", "user_id", p.User.ID, "session_id", sessionID)
	a.audit(ctx, AuditEvent{Type: EventSessionRevoked, ActorID: p.User.ID, SubjectID: p.User.ID, Reason: sessionID})
	return nil
}

// RevokeOtherSessions revokes every session of the principal but the
// current one and returns how many.
func (a *Auth) RevokeOtherSessions(ctx context.Context, p Principal) (int, error) {
	n, err := a.store.RevokeSessions(ctx, p.User.ID, p.Session.ID)
	a.invalidateUser(p.User.ID)
	if err != nil {
		return 0, storeError("revoke sessions", err, nil)
	}
	a.log.InfoContext(ctx, "other sessions revoked", "user_id", p.User.ID, "count", n)
	a.audit(ctx, AuditEvent{Type: EventSessionRevoked, ActorID: p.User.ID, SubjectID: p.User.ID, Reason: "others", Count: max(n, 1)})
	return n, nil
}

var errNoSuchSession = &Error{Code: CodeNotFound, Message: "No such session."}

// Retention of records kept only for people: finished mail (a delivery
// record for operators) and devices not seen for a long time.
const (
	mailRetention   = 30 * 24 * time.Hour
	deviceRetention = 400 * 24 * time.Hour
)

// Removed counts what DeleteExpired removed.
type Removed struct{ Sessions, Links, Mail, Devices, Throttles, Audit, Keys, OAuth int }

// DeleteExpired removes sessions past either timeout, expired one-time
// links, mail records finished more than 30 days ago, devices not seen for
// 400 days, sign-in failure counters older than a day and audit events past
// Config.AuditRetention, signing keys no token can need any more, and
// authorization codes, refresh-token families and client assertions past
// their end; the
// server runs it periodically. It goes on past a failure
// and returns the first error with what it did remove.
func (a *Auth) DeleteExpired(ctx context.Context) (Removed, error) {
	now := a.Now()
	var r Removed
	var errs []error
	step := func(op string, n *int, fn func() (int, error)) {
		v, err := fn()
		*n += v
		if err != nil {
			errs = append(errs, storeError(op, err, nil))
		}
	}
	step("delete expired sessions", &r.Sessions, func() (int, error) {
		return a.store.DeleteExpiredSessions(ctx, now, now.Add(-a.cfg.SessionIdleTimeout))
	})
	step("delete expired links", &r.Links, func() (int, error) { return a.store.DeleteExpiredEmailTokens(ctx, now) })
	step("delete old mail", &r.Mail, func() (int, error) { return a.store.DeleteMailBefore(ctx, now.Add(-mailRetention)) })
	step("forget old devices", &r.Devices, func() (int, error) { return a.store.ForgetDevicesBefore(ctx, now.Add(-deviceRetention)) })
	step("forget old sign-in failures", &r.Throttles, func() (int, error) {
		return a.store.DeleteAttemptsBefore(ctx, now.Add(-24*time.Hour-a.cfg.Throttle.MaxDelay))
	})
	step("delete old audit events", &r.Audit, func() (int, error) { return a.store.DeleteAuditBefore(ctx, now.Add(-a.cfg.AuditRetention)) })
	step("delete expired signing keys", &r.Keys, func() (int, error) { return a.store.DeleteExpiredSigningKeys(ctx, now) })
	step("delete expired OAuth codes and grants", &r.OAuth, func() (int, error) { return a.store.DeleteExpiredOAuth(ctx, now) })
	if len(errs) > 0 {
		return r, errs[0]
	}
	return r, nil
}

// InvalidateCache drops every cached session record, here and, through the
// fan-out, on every node.
func (a *Auth) InvalidateCache() { a.invalidate(Invalidation{Kind: InvalidateAll}) }

func (a *Auth) invalidateSession(id string) {
	a.invalidate(Invalidation{Kind: InvalidateSession, ID: id})
}

func (a *Auth) invalidateUser(id string) {
	a.invalidate(Invalidation{Kind: InvalidateUser, ID: id})
}

// cleanUserAgent makes a client-supplied User-Agent safe to store and show:
// valid UTF-8 (HTTP allows other bytes; PostgreSQL text does not), no
// control characters, at most 512 bytes.
func cleanUserAgent(ua string) string {
	ua = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(ua, ""))
	n := min(len(ua), 512)
	for n > 0 && n < len(ua) && !utf8.RuneStart(ua[n]) {
		n--
	}
	return ua[:n]
}
