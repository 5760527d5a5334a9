package gatehouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/mailtext"
	"github.com/gatehouse-auth/gatehouse/internal/normalize"
	"github.com/gatehouse-auth/gatehouse/internal/pwned"
	"github.com/gatehouse-auth/gatehouse/internal/secret"
	"github.com/gatehouse-auth/gatehouse/verify"
)

// Auth is the core service. Create it with New; it is safe for concurrent
// use and holds no global state, so several can live in one process.
type Auth struct {
	cfg     Config
	store   Store
	clock   Clock
	log     *slog.Logger
	pool    *secret.Pool
	hasher  *secret.Hasher
	policy  normalize.Policy
	cache   *sessionCache
	plugins []Plugin
	keys    *secret.Keyring
	// hashKeys are keyedHash's keys, one per purpose.
	hashKeys [numHashPurposes][]byte
	texts    *mailtext.Set
	// limiter counts rate limits (nil: off, for tests); noThrottle turns
	// the account throttle off (tests).
	limiter    Limiter
	noThrottle bool
	breach     BreachedPasswordChecker
	auditLog   *auditLog
	// mailWake nudges this node's DeliverMail when mail was queued here.
	mailWake chan struct{}
	// perms maps a role to the permissions it grants (admin includes
	// PermissionAdmin).
	perms map[string][]string
	// signing holds the token signing keys; tokens checks first-party
	// access tokens against them.
	signing  *keySet
	tokens   *verify.Verifier
	verified verifiedTokens
	// fan shares invalidations with other nodes (nil: a single node).
	fan *fanOut
}

// touchInterval throttles last_seen writes to one a minute per session.
const touchInterval = time.Minute

var pluginName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// New validates cfg, applies defaults and returns a ready Auth over store.
// The store must already be migrated (see the store packages' Migrate). New
// never panics on bad configuration; it returns an error that says what to
// fix.
func New(cfg Config, store Store, opts ...Option) (*Auth, error) {
	if store == nil {
		return nil, errors.New("gatehouse.New: a Store is required (for example store/sqlite.Open)")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("gatehouse.New: %w", err)
	}
	o := options{clock: systemClock{}, logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	seen := map[string]bool{}
	for _, p := range o.plugins {
		if !pluginName.MatchString(p.Name) || seen[p.Name] {
			return nil, fmt.Errorf("gatehouse.New: plugin name %q must be unique, lower-case letters, digits and underscores", p.Name)
		}
		seen[p.Name] = true
	}
	if len(o.secret) == 0 {
		return nil, errors.New("gatehouse.New: a master secret is required (WithSecret): 32 random bytes, for example from `openssl rand -hex 32`; it encrypts queued mail")
	}
	keys, err := secret.NewKeyring(o.secret[0], o.secret[1:]...)
	if err != nil {
		return nil, fmt.Errorf("gatehouse.New: %w", err)
	}
	texts, err := mailtext.New(o.templates)
	if err != nil {
		return nil, fmt.Errorf("gatehouse.New: mail templates: %w", err)
	}
	params := cfg.PasswordHashing.params()
	if o.hashCost != nil {
		params = *o.hashCost
	}
	pool := secret.NewPool(secret.PoolConfig{Workers: cfg.HashWorkers, Queue: cfg.HashQueue, MaxWait: cfg.HashMaxWait})
	hasher, err := secret.NewHasher(params, pool)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("gatehouse.New: password hashing: %w", err)
	}
	perms := map[string][]string{}
	for role, ps := range cfg.Roles {
		perms[role] = slices.Clone(ps)
	}
	if !slices.Contains(perms["admin"], PermissionAdmin) {
		perms["admin"] = append(perms["admin"], PermissionAdmin)
	}
	breach := o.breach
	if breach == nil && !cfg.BreachedPasswords.Off {
		rc, err := pwned.NewRange(pwned.RangeConfig{URL: cfg.BreachedPasswords.URL, Timeout: cfg.BreachedPasswords.Timeout})
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("gatehouse.New: BreachedPasswords.URL: %w", err)
		}
		breach = rc
	}
	a := &Auth{
		cfg:      cfg,
		store:    store,
		clock:    o.clock,
		log:      o.logger,
		pool:     pool,
		hasher:   hasher,
		policy:   normalize.Policy{MinLength: cfg.PasswordMinLength},
		plugins:  o.plugins,
		keys:     keys,
		hashKeys: deriveHashKeys(keys),
		texts:    texts,
		mailWake: make(chan struct{}, 1),
		perms:    perms,
		limiter:  o.limiter,
		breach:   breach,
	}
	if o.noLimits {
		a.limiter, a.noThrottle = nil, true
	} else if a.limiter == nil {
		a.limiter = NewMemoryLimiter(0, a.clock)
	}
	a.auditLog = newAuditLog(store, a.clock.Now, func(msg string, args ...any) { a.log.Warn(msg, args...) })
	if cfg.SessionCacheTTL > 0 {
		a.cache = newSessionCache(cfg.SessionCacheTTL, cfg.SessionCacheSize)
	}
	a.signing = &keySet{store: store, ring: a.keys, cfg: cfg.Tokens, now: a.clock.Now}
	a.verified.max = cfg.SessionCacheSize
	if o.fanOut != nil {
		a.fan = startFanOut(a, o.fanOut)
	}
	if a.tokens, err = a.newTokenVerifier(); err != nil {
		return nil, fmt.Errorf("token verifier: %w", err)
	}
	return a, nil
}

// Close writes the audit events still queued and stops the hashing pool,
// waiting for running hashes. It does not close the store, which the
// caller opened; call it before closing the store.
func (a *Auth) Close() error {
	if a.fan != nil {
		a.fan.close()
	}
	a.auditLog.close()
	a.pool.Close()
	return nil
}

// Config returns the validated configuration with defaults applied.
func (a *Auth) Config() Config { return a.cfg }

// Store returns the store Auth was built on (for readiness checks and
// plugins).
func (a *Auth) Store() Store { return a.store }

// Plugins returns the plugins passed to New, in order.
func (a *Auth) Plugins() []Plugin { return slices.Clone(a.plugins) }

// Logger returns the injected logger.
func (a *Auth) Logger() *slog.Logger { return a.log }

// Now returns the injected clock's time, in UTC.
func (a *Auth) Now() time.Time { return a.clock.Now().UTC() }

// HashPassword hashes password as sign-up does (NFKC-normalized, argon2id
// at the configured cost, through the hashing pool) without checking it
// against the password policy: for tools that prepare accounts in bulk and
// for measuring the pool. CodeOverloaded when the pool is saturated.
func (a *Auth) HashPassword(ctx context.Context, password string) (string, error) {
	pw, err := normalize.Password(password)
	if err != nil {
		return "", passwordError(err, "password")
	}
	hash, err := a.hasher.Hash(ctx, pw)
	if err != nil {
		return "", hashError(err)
	}
	return hash, nil
}

// HashPoolStats reports the password-hashing pool's load, for metrics.
func (a *Auth) HashPoolStats() (running, waiting int) {
	s := a.pool.Stats()
	return s.Running, s.Waiting
}

// permissionsOf returns the permission set the roles grant.
func (a *Auth) permissionsOf(roles []string) map[string]bool {
	set := make(map[string]bool)
	for _, r := range roles {
		for _, p := range a.perms[r] {
			set[p] = true
		}
	}
	return set
}

// storeError turns a store error into the error a caller should see:
// ErrNotFound passes through as notFound (if given), anything else is an
// internal error (fail closed).
func storeError(op string, err error, notFound *Error) error {
	if notFound != nil && errors.Is(err, ErrNotFound) {
		return notFound
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: CodeUnavailable, Message: "The request was cancelled or timed out.", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return internalError(op, err)
}

// hashError maps a hashing-pool failure to a client-facing error.
func hashError(err error) error {
	if errors.Is(err, secret.ErrOverloaded) || errors.Is(err, secret.ErrClosed) {
		return &Error{Code: CodeOverloaded, Message: "The server is busy. Please try again in a moment.", RetryAfter: 2 * time.Second, Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: CodeUnavailable, Message: "The request was cancelled or timed out.", Err: err}
	}
	return internalError("password hash", err)
}
