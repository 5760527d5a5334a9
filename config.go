package gatehouse

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/normalize"
	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// Config holds the declarative settings of a deployment. The zero value of
// every field except PublicURL is a safe default; New validates the whole.
type Config struct {
	// PublicURL is the URL users reach, without a path (the base path is
	// added). It decides the mode: https:// is production; http://localhost,
	// http://127.0.0.1 and http://[::1] (any port) are development; any other
	// http:// URL is refused. Required: there is no safe default.
	PublicURL string
	// BasePath is where the API and pages are mounted (default "/auth").
	BasePath string
	// ProductName is shown on pages and refused inside passwords
	// (default "Gatehouse").
	ProductName string
	// SessionIdleTimeout ends a session not used for this long (default 168h).
	SessionIdleTimeout time.Duration
	// SessionLifetime ends a session this long after sign-in, however active
	// (default 720h).
	SessionLifetime time.Duration
	// ReauthWindow is how recent a sign-in must be for sensitive actions such
	// as deleting the account (default 10m).
	ReauthWindow time.Duration
	// PasswordMinLength is the minimum password length in Unicode code
	// points, 8–64 (default 12, per NIST SP 800-63B for single-factor use).
	PasswordMinLength int
	// PasswordHashing sets the argon2id cost. The zero value is the default
	// (19 MiB, 2 passes, 1 lane: OWASP's recommended minimum); weaker
	// settings are refused. When it changes, each stored hash is upgraded at
	// the user's next successful sign-in.
	PasswordHashing PasswordHashing
	// Roles maps global role names to the permissions they grant. Role
	// "admin" always grants PermissionAdmin in addition.
	Roles map[string][]string
	// AfterSignInPath is where a sign-in without a safe redirect_to lands
	// (default BasePath + "/account").
	AfterSignInPath string
	// RedirectAllowlist lists extra origins ("https://app.example.com")
	// allowed as absolute redirect_to targets. Relative paths are always
	// allowed; nothing else is.
	RedirectAllowlist []string
	// TrustedProxies lists the CIDRs whose X-Forwarded-For / Forwarded
	// headers are believed for the client IP. Empty: the TCP peer is the
	// client, and forwarding headers are ignored.
	TrustedProxies []string
	// CORSAllowedOrigins lists exact origins allowed to call the JSON API
	// with credentials. Empty: no cross-origin API use.
	CORSAllowedOrigins []string
	// SessionCacheTTL bounds how long a session check may be answered from
	// the in-process cache (default and maximum 10s; negative disables the
	// cache). The revoking node invalidates at once.
	SessionCacheTTL time.Duration
	// SessionCacheSize bounds the cache's entries (default 100 000).
	SessionCacheSize int
	// HashWorkers, HashQueue and HashMaxWait size the password-hashing pool:
	// at most HashWorkers hashes run at once (default GOMAXPROCS−1, at least
	// 1), at most HashQueue callers wait (default 64), none longer than
	// HashMaxWait (default 2s). Excess load is refused with CodeOverloaded.
	HashWorkers int
	HashQueue   int
	HashMaxWait time.Duration

	// EmailVerification decides what an unverified address may do. The
	// zero value is VerificationRequired in production and
	// VerificationOptional in development.
	EmailVerification EmailVerification
	// VerificationTTL is how long verification and email-change links work
	// (default 24h, at most 7 days).
	VerificationTTL time.Duration
	// PasswordResetTTL is how long a password-reset link works (default and
	// maximum 30m, at least 5m).
	PasswordResetTTL time.Duration
	// Notifications turns security notices off; the zero value sends them
	// all.
	Notifications Notifications
	// MailPerAddress bounds the mail one address receives: at most this
	// many requested mails (verification, reset, email change, "account
	// exists") per MailWindow, and separately as many security notices, so
	// a flood of requests can never suppress a notice (defaults 5 and 15m).
	// Requests over the limit are answered as usual and send nothing.
	MailPerAddress int
	MailWindow     time.Duration
	// MailGiveUpAfter is how long the outbox keeps retrying a mail that
	// cannot be delivered (default 24h).
	MailGiveUpAfter time.Duration

	// RateLimits overrides the limits of the endpoints it names (see
	// DefaultRateLimits; the others keep theirs). A zero Rate inside
	// means no limit of that kind for that endpoint.
	RateLimits map[string]EndpointLimits
	// Throttle is the account throttle (zero fields take DefaultThrottle's).
	// The guesses one account can receive per day are bounded by
	// DailyBudget.
	Throttle ThrottlePolicy
	// BreachedPasswords checks new passwords against known breaches.
	BreachedPasswords BreachCheck
	// AuditRetention is how long audit events are kept (default 365 days).
	AuditRetention time.Duration
	// Tokens configures first-party access tokens and the signing keys.
	Tokens TokenConfig
	// OAuth configures the OpenID Connect provider.
	OAuth OAuthConfig
}

// TokenConfig configures the short-lived access tokens minted from a
// session (Auth.Token) and the keys that sign them.
type TokenConfig struct {
	// Audience is the aud of first-party access tokens: what services of
	// this deployment check (default PublicURL).
	Audience string
	// TTL is how long an access token lives (default and maximum 5m, at
	// least 30s). Outside Gatehouse a revoked session's token lives until
	// then.
	TTL time.Duration
	// Algorithm signs access tokens: EdDSA (default), ES256 or RS256 for
	// verifiers that lack EdDSA.
	Algorithm string
	// KeyRotation is how often each signing key is replaced (default 30
	// days, at least 2h). A new key is published JWKSPublishLead before it
	// signs; the old one stays published until everything it signed has
	// expired.
	KeyRotation time.Duration
}

// OAuthConfig configures the OpenID Connect provider's refresh tokens.
type OAuthConfig struct {
	// RefreshGrace is how long after a rotation the refresh token just
	// replaced may be presented again and get the same successor, so a
	// client whose response was lost on the network is not signed out
	// (default 10s, at most 1m). Negative is strict: any reuse revokes the
	// family. Outside the window a reuse always revokes it (RFC 9700
	// §4.14.2).
	RefreshGrace time.Duration
	// RefreshLifetime is the absolute lifetime of a refresh-token family,
	// however often it rotates (default and maximum SessionLifetime: a
	// family also ends with the session it came from).
	RefreshLifetime time.Duration
}

// BreachCheck configures the breached-password check at sign-up, password
// change and reset. It uses the k-anonymity range API: only the first 5
// hex characters of the password's SHA-1 leave the process. On by default
// in production; off in development unless URL is set. When the service
// cannot be reached within Timeout the password is accepted and a warning
// logged (fail open: an outage must not stop sign-ups).
type BreachCheck struct {
	// Off turns the check off.
	Off bool
	// URL is the range API's base (default https://api.pwnedpasswords.com).
	URL string
	// Timeout bounds one lookup (default 2s).
	Timeout time.Duration
}

// EmailVerification is the email verification mode.
type EmailVerification string

// Email verification modes (GATEHOUSE_EMAIL_VERIFICATION).
const (
	// VerificationRequired: sign-up creates no session and answers the same
	// for new and existing addresses; sign-in waits for the address to be
	// verified (CodeEmailNotVerified).
	VerificationRequired EmailVerification = "required"
	// VerificationOptional: sign-up signs in at once and sends a
	// verification link; User.EmailVerified tells the application.
	VerificationOptional EmailVerification = "optional"
	// VerificationOff: no verification mail at sign-up. Users can still
	// ask for one.
	VerificationOff EmailVerification = "off"
)

// Notifications chooses the security notices sent to account holders.
// Each field turns one off.
type Notifications struct {
	// DisablePasswordChanged: no mail when the password is changed or reset.
	DisablePasswordChanged bool
	// DisableEmailChanged: no mail to the old address when the address
	// changes.
	DisableEmailChanged bool
	// DisableNewDevice: no mail when someone signs in from a device not
	// seen before.
	DisableNewDevice bool
}

// PasswordHashing is the argon2id cost (RFC 9106). Fields left zero take
// the default: MemoryKiB 19456, Iterations 2, Parallelism 1.
type PasswordHashing struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// minHashWork is the least memory × passes accepted, in KiB: OWASP's
// weakest recommended argon2id configuration (7 MiB, 5 passes).
const minHashWork = 7168 * 5

// params returns the cost as secret.Params, defaults applied.
func (h PasswordHashing) params() secret.Params {
	p := secret.DefaultParams
	if h.MemoryKiB != 0 {
		p.Memory = h.MemoryKiB
	}
	if h.Iterations != 0 {
		p.Time = h.Iterations
	}
	if h.Parallelism != 0 {
		p.Threads = h.Parallelism
	}
	return p
}

// PermissionAdmin guards the administrative API; role "admin" holds it.
const PermissionAdmin = "gatehouse:admin"

// Development reports whether the configuration is in development mode
// (the public URL is http on a loopback host).
func (c Config) Development() bool {
	u, err := url.Parse(c.PublicURL)
	return err == nil && u.Scheme == "http" && isLoopbackHost(u.Hostname())
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback() && (a == netip.MustParseAddr("127.0.0.1") || a == netip.IPv6Loopback())
}

// Validate reports whether New would accept c, with an error that names the
// setting and the rule. It touches nothing.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns c with zero values replaced and checks the result.
func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.PublicURL)
	switch {
	case c.PublicURL == "":
		return c, fmt.Errorf("PublicURL is required: the URL users reach, e.g. https://auth.example.com (or http://localhost:8080 for development)")
	case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return c, fmt.Errorf("PublicURL %q is not a plain absolute URL like https://auth.example.com", c.PublicURL)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http":
		return c, fmt.Errorf("PublicURL %q uses http on a non-loopback host: production needs an https public URL (terminate TLS at a proxy in front of Gatehouse); plain http is only for http://localhost, http://127.0.0.1 or http://[::1]", c.PublicURL)
	default:
		return c, fmt.Errorf("PublicURL %q must start with https:// (or http://localhost for development)", c.PublicURL)
	}
	if u.Path != "" && u.Path != "/" {
		return c, fmt.Errorf("PublicURL %q must not have a path; set BasePath instead", c.PublicURL)
	}
	c.PublicURL = u.Scheme + "://" + u.Host

	if c.BasePath == "" {
		c.BasePath = "/auth"
	}
	if !strings.HasPrefix(c.BasePath, "/") || strings.HasSuffix(c.BasePath, "/") || strings.ContainsAny(c.BasePath, "?#\\ {}") || strings.Contains(c.BasePath, "//") {
		return c, fmt.Errorf("BasePath %q must look like /auth: a leading slash, no trailing slash", c.BasePath)
	}
	if c.ProductName == "" {
		c.ProductName = "Gatehouse"
	}
	if c.SessionIdleTimeout == 0 {
		c.SessionIdleTimeout = 168 * time.Hour
	}
	if c.SessionLifetime == 0 {
		c.SessionLifetime = 720 * time.Hour
	}
	if c.SessionIdleTimeout < time.Minute || c.SessionLifetime < time.Minute {
		return c, fmt.Errorf("session timeouts must be at least a minute (idle %s, lifetime %s)", c.SessionIdleTimeout, c.SessionLifetime)
	}
	if c.ReauthWindow == 0 {
		c.ReauthWindow = 10 * time.Minute
	}
	if c.ReauthWindow < 0 {
		return c, fmt.Errorf("ReauthWindow must be positive")
	}
	if c.PasswordMinLength == 0 {
		c.PasswordMinLength = 12
	}
	if err := (normalize.Policy{MinLength: c.PasswordMinLength}).Validate(); err != nil {
		return c, fmt.Errorf("PasswordMinLength: %w", err)
	}
	if hp := c.PasswordHashing.params(); uint64(hp.Memory)*uint64(hp.Time) < minHashWork {
		return c, fmt.Errorf("PasswordHashing: %d KiB × %d passes is weaker than the minimum of %d KiB·passes (for example 19456 KiB × 2)", hp.Memory, hp.Time, minHashWork)
	} else if err := hp.Validate(); err != nil {
		return c, fmt.Errorf("PasswordHashing: %w", err)
	} else {
		c.PasswordHashing = PasswordHashing{MemoryKiB: hp.Memory, Iterations: hp.Time, Parallelism: hp.Threads}
	}
	if c.AfterSignInPath == "" {
		c.AfterSignInPath = c.BasePath + "/account"
	}
	if !strings.HasPrefix(c.AfterSignInPath, "/") || strings.HasPrefix(c.AfterSignInPath, "//") || strings.Contains(c.AfterSignInPath, "\\") {
		return c, fmt.Errorf("AfterSignInPath %q must be a path on this site, like /app", c.AfterSignInPath)
	}
	for _, o := range append(append([]string(nil), c.RedirectAllowlist...), c.CORSAllowedOrigins...) {
		if err := checkOrigin(o); err != nil {
			return c, err
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err2 := netip.ParseAddr(p); err2 != nil {
				return c, fmt.Errorf("TrustedProxies: %q is not a CIDR like 10.0.0.0/8", p)
			}
		}
	}
	switch {
	case c.SessionCacheTTL == 0 || c.SessionCacheTTL > 10*time.Second:
		c.SessionCacheTTL = 10 * time.Second
	}
	if c.SessionCacheSize <= 0 {
		c.SessionCacheSize = 100_000
	}
	if c.Tokens, err = c.Tokens.withDefaults(c.PublicURL); err != nil {
		return c, err
	}
	if c.OAuth, err = c.OAuth.withDefaults(c.SessionLifetime); err != nil {
		return c, err
	}
	if c.HashQueue < 0 || c.HashWorkers < 0 || c.HashMaxWait < 0 {
		return c, fmt.Errorf("HashWorkers, HashQueue and HashMaxWait must not be negative")
	}
	if c.HashWorkers == 0 {
		c.HashWorkers = max(runtime.GOMAXPROCS(0)-1, 1)
	}
	switch c.EmailVerification {
	case "":
		c.EmailVerification = VerificationRequired
		if c.Development() {
			c.EmailVerification = VerificationOptional
		}
	case VerificationRequired, VerificationOptional, VerificationOff:
	default:
		return c, fmt.Errorf("EmailVerification %q is not one of required, optional, off", c.EmailVerification)
	}
	if c.VerificationTTL == 0 {
		c.VerificationTTL = 24 * time.Hour
	}
	if c.VerificationTTL < 5*time.Minute || c.VerificationTTL > 7*24*time.Hour {
		return c, fmt.Errorf("VerificationTTL %s must be between 5m and 168h", c.VerificationTTL)
	}
	if c.PasswordResetTTL == 0 {
		c.PasswordResetTTL = 30 * time.Minute
	}
	if c.PasswordResetTTL < 5*time.Minute || c.PasswordResetTTL > 30*time.Minute {
		return c, fmt.Errorf("PasswordResetTTL %s must be between 5m and 30m", c.PasswordResetTTL)
	}
	if c.MailPerAddress == 0 {
		c.MailPerAddress = 5
	}
	if c.MailWindow == 0 {
		c.MailWindow = 15 * time.Minute
	}
	if c.MailPerAddress < 1 || c.MailWindow < time.Minute {
		return c, fmt.Errorf("MailPerAddress must be at least 1 and MailWindow at least 1m")
	}
	if c.MailGiveUpAfter == 0 {
		c.MailGiveUpAfter = 24 * time.Hour
	}
	if c.MailGiveUpAfter < time.Minute {
		return c, fmt.Errorf("MailGiveUpAfter must be at least 1m")
	}
	if c.RateLimits == nil {
		c.RateLimits = map[string]EndpointLimits{}
	}
	defaults := DefaultRateLimits()
	for name, l := range c.RateLimits {
		for _, r := range []Rate{l.PerIP, l.PerIdentifier} {
			if r != (Rate{}) && (r.Limit <= 0 || r.Period <= 0 || r.Burst < 0) {
				return c, fmt.Errorf("RateLimits[%q]: a rate needs a positive Limit and Period (or leave it zero for no limit)", name)
			}
		}
		defaults[name] = l
	}
	c.RateLimits = defaults
	t := &c.Throttle
	if t.Free == 0 {
		t.Free = DefaultThrottle.Free
	}
	if t.BaseDelay == 0 {
		t.BaseDelay = DefaultThrottle.BaseDelay
	}
	if t.MaxDelay == 0 {
		t.MaxDelay = DefaultThrottle.MaxDelay
	}
	if t.DailyBudget == 0 {
		t.DailyBudget = DefaultThrottle.DailyBudget
	}
	if t.Free < 1 || t.BaseDelay < 0 || t.MaxDelay < t.BaseDelay || t.DailyBudget < t.Free {
		return c, fmt.Errorf("invalid Throttle: Free must be at least 1, MaxDelay at least BaseDelay, DailyBudget at least Free")
	}
	if c.BreachedPasswords.Timeout == 0 {
		c.BreachedPasswords.Timeout = 2 * time.Second
	}
	if c.BreachedPasswords.URL == "" {
		if c.Development() {
			c.BreachedPasswords.Off = true
		}
		c.BreachedPasswords.URL = "https://api.pwnedpasswords.com"
	}
	if c.AuditRetention == 0 {
		c.AuditRetention = 365 * 24 * time.Hour
	}
	if c.AuditRetention < 24*time.Hour {
		return c, fmt.Errorf("AuditRetention must be at least 24h")
	}
	for role, perms := range c.Roles {
		if role == "" || strings.ContainsAny(role, " ,\t\r\n") {
			return c, fmt.Errorf("role name %q in Roles is not valid: use letters, digits and _ . : -", role)
		}
		for _, p := range perms {
			if p == "" || strings.ContainsAny(p, " ,\t\r\n") {
				return c, fmt.Errorf("permission %q of role %q in Roles is not valid: no spaces or commas", p, role)
			}
		}
	}
	return c, nil
}

// checkOrigin accepts exactly scheme://host[:port].
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || o != u.Scheme+"://"+u.Host {
		return fmt.Errorf("%q is not an origin like https://app.example.com (scheme and host, nothing else)", o)
	}
	return nil
}

// Option configures injected behaviour: a clock, a logger, plugins.
type Option func(*options)

type options struct {
	clock     Clock
	logger    *slog.Logger
	plugins   []Plugin
	hashCost  *secret.Params
	secret    [][]byte
	templates fs.FS
	limiter   Limiter
	noLimits  bool
	breach    BreachedPasswordChecker
	fanOut    FanOut
}

// Clock is the source of time. The core never calls time.Now directly.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// WithClock sets the clock (default: the system clock). Tests use a fake.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithLogger sets the structured logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithPlugins adds optional features, in order.
func WithPlugins(p ...Plugin) Option {
	return func(o *options) { o.plugins = append(o.plugins, p...) }
}

// WithSecret sets the master secret (at least 32 random bytes) from which
// the keys for encryption at rest (queued mail) and keyed hashes are
// derived, and older secrets still accepted while data sealed under them is
// read (a rotation). Required: New fails without it. Keep it stable across
// restarts and identical on every node, or queued mail cannot be read.
func WithSecret(current []byte, previous ...[]byte) Option {
	return func(o *options) { o.secret = append([][]byte{current}, previous...) }
}

// WithMailTemplates overrides or adds mail templates: files in fsys laid out
// like the built-in ones ({locale}/{kind}.txt and .html, {locale}/layout.html)
// replace them, and new locale folders add languages.
func WithMailTemplates(fsys fs.FS) Option { return func(o *options) { o.templates = fsys } }

// WithRateLimiter sets where rate limits are counted (default: in this
// process, bounded). Use package redis so that every node shares them.
// Given after WithoutAbuseLimitsForTests, it turns the limits and the
// account throttle back on.
func WithRateLimiter(l Limiter) Option {
	return func(o *options) { o.limiter, o.noLimits = l, false }
}

// WithBreachedPasswordChecker replaces the range API client of
// Config.BreachedPasswords, for example with a local corpus
// (GATEHOUSE_BREACHED_PASSWORDS_FILE). It is used even in development.
func WithBreachedPasswordChecker(c BreachedPasswordChecker) Option {
	return func(o *options) { o.breach = c }
}

// WithoutAbuseLimitsForTests turns off rate limits and the account
// throttle, for test suites that create many accounts from one address.
// Never use it in production: nothing then stops password guessing.
func WithoutAbuseLimitsForTests() Option {
	return func(o *options) { o.limiter, o.noLimits = nil, true }
}

// WithInsecurePasswordHashingForTests lowers the argon2id cost to a trivial
// level so test suites run fast. Never use it in production: hashes made
// with it are cheap to crack (they are upgraded on the next sign-in once the
// option is removed).
func WithInsecurePasswordHashingForTests() Option {
	return func(o *options) {
		p := secret.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
		o.hashCost = &p
	}
}

func (o OAuthConfig) withDefaults(sessionLifetime time.Duration) (OAuthConfig, error) {
	switch {
	case o.RefreshGrace == 0:
		o.RefreshGrace = 10 * time.Second
	case o.RefreshGrace > time.Minute:
		return o, fmt.Errorf("OAuth.RefreshGrace %s must be at most 1m: a stolen token used within it is not detected", o.RefreshGrace)
	}
	switch {
	case o.RefreshLifetime == 0 || o.RefreshLifetime > sessionLifetime:
		o.RefreshLifetime = sessionLifetime
	case o.RefreshLifetime < time.Minute:
		return o, fmt.Errorf("OAuth.RefreshLifetime %s must be at least 1m", o.RefreshLifetime)
	}
	return o, nil
}

func (t TokenConfig) withDefaults(publicURL string) (TokenConfig, error) {
	if t.Audience == "" {
		t.Audience = publicURL
	}
	if len(t.Audience) > 256 || strings.ContainsAny(t.Audience, " \t\r\n\"") {
		return t, fmt.Errorf("Tokens.Audience %q must be one short string without spaces, like https://app.example.com", t.Audience)
	}
	switch {
	case t.TTL == 0:
		t.TTL = MaxAccessTokenTTL
	case t.TTL < 30*time.Second || t.TTL > MaxAccessTokenTTL:
		return t, fmt.Errorf("Tokens.TTL %s must be between 30s and %s: access tokens outlive a revocation everywhere but Gatehouse", t.TTL, MaxAccessTokenTTL)
	}
	switch t.Algorithm {
	case "":
		t.Algorithm = AlgEdDSA
	case AlgEdDSA, AlgES256, AlgRS256:
	default:
		return t, fmt.Errorf("Tokens.Algorithm %q: use EdDSA, ES256 or RS256", t.Algorithm)
	}
	switch {
	case t.KeyRotation == 0:
		t.KeyRotation = 30 * 24 * time.Hour
	case t.KeyRotation < 2*JWKSPublishLead:
		return t, fmt.Errorf("Tokens.KeyRotation %s must be at least %s: a new key is published %s before it signs", t.KeyRotation, 2*JWKSPublishLead, JWKSPublishLead)
	}
	return t, nil
}
