package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/redis"
	"github.com/gatehouse-auth/gatehouse/web"
)

// envPrefix prefixes every configuration variable.
const envPrefix = "GATEHOUSE_"

// rawConfig is the configuration as written: a YAML file, then environment
// variables on top. Every yaml key is its env name lower-cased (a test pins
// this). Values stay strings until resolve, which gives errors that name
// both spellings of the setting.
//
// An environment variable set to the empty string counts as unset (it does
// not clear a value from the file), except GATEHOUSE_OPS_ADDR, where empty
// explicitly disables the ops listener.
type rawConfig struct {
	PublicURL             string     `yaml:"public_url" env:"PUBLIC_URL"`
	Addr                  string     `yaml:"addr" env:"ADDR"`
	OpsAddr               *string    `yaml:"ops_addr" env:"OPS_ADDR"`
	DataDir               string     `yaml:"data_dir" env:"DATA_DIR"`
	DatabaseURL           string     `yaml:"database_url" env:"DATABASE_URL"`
	DatabaseAllowInsecure string     `yaml:"database_allow_insecure" env:"DATABASE_ALLOW_INSECURE"`
	RedisURL              string     `yaml:"redis_url" env:"REDIS_URL"`
	RedisPrefix           string     `yaml:"redis_prefix" env:"REDIS_PREFIX"`
	Secret                string     `yaml:"secret" env:"SECRET"`
	SecretFile            string     `yaml:"secret_file" env:"SECRET_FILE"`
	SecretPrevious        list       `yaml:"secret_previous" env:"SECRET_PREVIOUS"`
	BasePath              string     `yaml:"base_path" env:"BASE_PATH"`
	TrustedProxies        list       `yaml:"trusted_proxies" env:"TRUSTED_PROXIES"`
	RedirectAllowlist     list       `yaml:"redirect_allowlist" env:"REDIRECT_ALLOWLIST"`
	AfterSignInPath       string     `yaml:"after_sign_in_path" env:"AFTER_SIGN_IN_PATH"`
	EmailVerification     string     `yaml:"email_verification" env:"EMAIL_VERIFICATION"`
	SessionIdleTimeout    string     `yaml:"session_idle_timeout" env:"SESSION_IDLE_TIMEOUT"`
	SessionLifetime       string     `yaml:"session_lifetime" env:"SESSION_LIFETIME"`
	CORSAllowedOrigins    list       `yaml:"cors_allowed_origins" env:"CORS_ALLOWED_ORIGINS"`
	Roles                 roleMap    `yaml:"roles" env:"ROLES"`
	LogLevel              string     `yaml:"log_level" env:"LOG_LEVEL"`
	LogFormat             string     `yaml:"log_format" env:"LOG_FORMAT"`
	MigrateOnStart        string     `yaml:"migrate_on_start" env:"MIGRATE_ON_START"`
	PasswordMinLength     string     `yaml:"password_min_length" env:"PASSWORD_MIN_LENGTH"`
	PasswordHashMemoryKiB string     `yaml:"password_hash_memory_kib" env:"PASSWORD_HASH_MEMORY_KIB"`
	PasswordHashIter      string     `yaml:"password_hash_iterations" env:"PASSWORD_HASH_ITERATIONS"`
	PasswordHashParallel  string     `yaml:"password_hash_parallelism" env:"PASSWORD_HASH_PARALLELISM"`
	SMTPURL               string     `yaml:"smtp_url" env:"SMTP_URL"`
	SMTPFrom              string     `yaml:"smtp_from" env:"SMTP_FROM"`
	SMTPPasswordFile      string     `yaml:"smtp_password_file" env:"SMTP_PASSWORD_FILE"`
	SecurityNotifications *list      `yaml:"security_notifications" env:"SECURITY_NOTIFICATIONS"`
	MailTemplatesDir      string     `yaml:"mail_templates_dir" env:"MAIL_TEMPLATES_DIR"`
	RateLimits            rateMap    `yaml:"rate_limits" env:"RATE_LIMITS"`
	ThrottleFree          string     `yaml:"throttle_free" env:"THROTTLE_FREE"`
	ThrottleBaseDelay     string     `yaml:"throttle_base_delay" env:"THROTTLE_BASE_DELAY"`
	ThrottleMaxDelay      string     `yaml:"throttle_max_delay" env:"THROTTLE_MAX_DELAY"`
	ThrottleDailyBudget   string     `yaml:"throttle_daily_budget" env:"THROTTLE_DAILY_BUDGET"`
	BreachedPasswords     string     `yaml:"breached_passwords" env:"BREACHED_PASSWORDS"`
	BreachedPasswordsURL  string     `yaml:"breached_passwords_url" env:"BREACHED_PASSWORDS_URL"`
	BreachedPasswordsFile string     `yaml:"breached_passwords_file" env:"BREACHED_PASSWORDS_FILE"`
	BreachedTimeout       string     `yaml:"breached_passwords_timeout" env:"BREACHED_PASSWORDS_TIMEOUT"`
	AuditRetention        string     `yaml:"audit_retention" env:"AUDIT_RETENTION"`
	ProductName           string     `yaml:"product_name" env:"PRODUCT_NAME"`
	TokenAudience         string     `yaml:"token_audience" env:"TOKEN_AUDIENCE"`
	TokenTTL              string     `yaml:"token_ttl" env:"TOKEN_TTL"`
	TokenAlgorithm        string     `yaml:"token_algorithm" env:"TOKEN_ALGORITHM"`
	KeyRotation           string     `yaml:"key_rotation" env:"KEY_ROTATION"`
	OAuthRefreshGrace     string     `yaml:"oauth_refresh_grace" env:"OAUTH_REFRESH_GRACE"`
	OAuthRefreshLifetime  string     `yaml:"oauth_refresh_lifetime" env:"OAUTH_REFRESH_LIFETIME"`
	LogoURL               string     `yaml:"logo_url" env:"LOGO_URL"`
	PrimaryColor          string     `yaml:"primary_color" env:"PRIMARY_COLOR"`
	CustomCSSFile         string     `yaml:"custom_css_file" env:"CUSTOM_CSS_FILE"`
	TemplatesDir          string     `yaml:"templates_dir" env:"TEMPLATES_DIR"`
	Messages              messageMap `yaml:"messages" env:"MESSAGES"`
}

// list is a list setting: a YAML sequence, or a string of items separated by
// commas or whitespace (the only form an environment variable has).
type list []string

// UnmarshalText parses the environment form.
func (l *list) UnmarshalText(b []byte) error {
	*l = splitList(string(b))
	return nil
}

// UnmarshalYAML accepts a sequence of strings or one string in the
// environment form.
func (l *list) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = splitList(n.Value)
		return nil
	}
	var items []string
	if err := n.Decode(&items); err != nil {
		return fmt.Errorf("line %d: want a list of strings", n.Line)
	}
	*l = slices.DeleteFunc(items, func(s string) bool { return strings.TrimSpace(s) == "" })
	return nil
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// roleMap maps a role to the permissions it grants.
//
// YAML:
//
//	roles:
//	  editor: [notes:read, notes:write]
//	  viewer: [notes:read]
//
// Environment (roles separated by ";", a role's permissions by "," or
// spaces):
//
//	GATEHOUSE_ROLES="editor=notes:read,notes:write;viewer=notes:read"
type roleMap map[string][]string

// UnmarshalText parses the environment form.
func (m *roleMap) UnmarshalText(b []byte) error {
	out := roleMap{}
	for part := range strings.SplitSeq(string(b), ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		role, perms, ok := strings.Cut(part, "=")
		role = strings.TrimSpace(role)
		if !ok || role == "" {
			return fmt.Errorf("%q is not role=permission,permission (separate roles with \";\", e.g. editor=notes:read,notes:write;viewer=notes:read)", part)
		}
		if _, dup := out[role]; dup {
			return fmt.Errorf("role %q is listed twice", role)
		}
		out[role] = splitList(perms)
	}
	*m = out
	return nil
}

// UnmarshalYAML accepts a mapping from role to a list of permissions (or to
// one string of permissions separated by commas or spaces).
func (m *roleMap) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: roles must map each role to its permissions, e.g. roles: {editor: [notes:write]}", n.Line)
	}
	var raw map[string]list
	if err := n.Decode(&raw); err != nil {
		return err
	}
	out := roleMap{}
	for role, perms := range raw {
		out[role] = perms
	}
	*m = out
	return nil
}

// messageMap overrides texts of the hosted pages, by language then key.
//
// YAML:
//
//	messages:
//	  en: {"sign-in.title": "Welcome back"}
//	  fr: {"sign-in.title": "Bon retour"}
//
// Environment: the same as a JSON object,
// GATEHOUSE_MESSAGES='{"en":{"sign-in.title":"Welcome back"}}'.
type messageMap map[string]map[string]string

// UnmarshalText parses the environment form.
func (m *messageMap) UnmarshalText(b []byte) error {
	var out map[string]map[string]string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf(`want a JSON object of languages to texts, e.g. {"en":{"sign-in.title":"Welcome back"}}`)
	}
	*m = out
	return nil
}

// UnmarshalYAML accepts a mapping from language to a mapping of keys to
// texts.
func (m *messageMap) UnmarshalYAML(n *yaml.Node) error {
	var out map[string]map[string]string
	if n.Kind != yaml.MappingNode || n.Decode(&out) != nil {
		return fmt.Errorf(`line %d: messages must map each language to its texts, e.g. messages: {en: {"sign-in.title": "Welcome back"}}`, n.Line)
	}
	*m = out
	return nil
}

// settings is the resolved configuration of a run: validated, defaults
// applied, mode decided.
type settings struct {
	// core is the root package's configuration.
	core        gatehouse.Config
	development bool
	addr        string
	// opsAddr is the ops listener address; "" disables it.
	opsAddr string
	dataDir string
	db      database
	// redisURL, when set, shares rate limits and cache invalidations
	// between nodes, under the key prefix redisPrefix.
	redisURL    string
	redisPrefix string
	// breachedFile is a local breached-password corpus ("" for none).
	breachedFile string

	secret         string
	secretFile     string
	secretPrevious []string

	// smtp is the mail server; the zero value means none (development
	// then keeps mail in the development mailbox).
	smtp smtpSettings
	// mailTemplatesDir holds mail templates that override or add to the
	// built-in ones ("" for none).
	mailTemplatesDir string
	// theme is how the hosted pages look and speak; validated when the
	// server starts (web.NewTheme), where files are read.
	theme web.ThemeConfig

	logLevel       slog.Level
	logLevelSet    bool
	logJSON        bool
	migrateOnStart bool

	// warnings are logged once a logger exists.
	warnings []string
}

// mode names the mode for messages.
func (s *settings) mode() string {
	if s.development {
		return "development"
	}
	return "production"
}

// loadConfig reads the YAML file (if any), applies the GATEHOUSE_*
// variables from environ on top, and resolves the result.
func loadConfig(file string, environ []string) (*settings, error) {
	var raw rawConfig
	if file != "" {
		if err := readConfigFile(file, &raw); err != nil {
			return nil, err
		}
	}
	vars := envMap(environ)
	if err := env.ParseWithOptions(&raw, env.Options{Environment: vars, Prefix: envPrefix}); err != nil {
		return nil, envError(err)
	}
	if v, ok := vars[envPrefix+"OPS_ADDR"]; ok && v == "" {
		empty := ""
		raw.OpsAddr = &empty
	}
	s, err := resolve(raw)
	if err != nil {
		return nil, err
	}
	known := knownKeys()
	for k := range vars {
		name := strings.TrimPrefix(k, envPrefix)
		if strings.HasPrefix(k, envPrefix) && !strings.HasPrefix(name, "TEST_") && !slices.Contains(known, strings.ToLower(name)) {
			s.warnings = append(s.warnings, fmt.Sprintf("environment variable %s is not a Gatehouse setting and is ignored%s", k, suggestion(strings.ToLower(name), known, strings.ToUpper)))
		}
	}
	sort.Strings(s.warnings)
	return s, nil
}

// envMap turns "KEY=value" pairs into a map; later pairs win, as in a
// shell.
func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// envError rewrites the env library's errors to name the variable.
func envError(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("environment: %w", err)
	}
	var msgs []string
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			msgs = append(msgs, fmt.Sprintf("%s%s: %v", envPrefix, envNameOf(pe.Name), pe.Err))
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return fmt.Errorf("environment: %s", strings.Join(msgs, "; "))
}

// envNameOf returns the env tag of the rawConfig field named field.
func envNameOf(field string) string {
	if f, ok := reflect.TypeFor[rawConfig]().FieldByName(field); ok {
		return f.Tag.Get("env")
	}
	return field
}

// knownKeys lists the YAML keys, sorted.
func knownKeys() []string {
	t := reflect.TypeFor[rawConfig]()
	var keys []string
	for f := range t.Fields() {
		if k := f.Tag.Get("yaml"); k != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// readConfigFile decodes the YAML file strictly into raw.
func readConfigFile(file string, raw *rawConfig) error {
	f, err := os.Open(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("config file %s does not exist (--config names a YAML file)", file)
		}
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(io.LimitReader(f, 1<<20))
	dec.KnownFields(true)
	err = dec.Decode(raw)
	if errors.Is(err, io.EOF) {
		return nil // an empty file is an empty configuration
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		unknownField := regexp.MustCompile(`^line (\d+): field (.+) not found in type `)
		known := knownKeys()
		msgs := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			if m := unknownField.FindStringSubmatch(e); m != nil {
				msgs = append(msgs, fmt.Sprintf("line %s: unknown key %q%s", m[1], m[2], suggestion(m[2], known, nil)))
				continue
			}
			msgs = append(msgs, e)
		}
		return fmt.Errorf("config file %s: %s (known keys: %s)", file, strings.Join(msgs, "; "), strings.Join(known, ", "))
	}
	if err != nil {
		return fmt.Errorf("config file %s: %w", file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: holds more than one YAML document; put every setting in one", file)
	}
	return nil
}

// suggestion returns `; did you mean "x"?` for the closest known key, if it
// is close.
func suggestion(got string, known []string, format func(string) string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(got, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	if format != nil {
		best = envPrefix + format(best)
	}
	return fmt.Sprintf("; did you mean %s?", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func validRedisPrefix(p string) bool {
	if len(p) > 64 {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(":_-.", c)) {
			return false
		}
	}
	return true
}

// setting names a setting in both spellings for error messages.
func setting(key string) string {
	return fmt.Sprintf("%s (%s%s)", key, envPrefix, strings.ToUpper(key))
}

// resolve validates raw, applies the mode's defaults and builds settings.
// It does not touch the disk.
func resolve(raw rawConfig) (*settings, error) {
	s := &settings{}
	publicURL := raw.PublicURL
	if publicURL == "" {
		publicURL = "http://localhost:8080"
	}
	s.core = gatehouse.Config{
		PublicURL:          publicURL,
		ProductName:        strings.TrimSpace(raw.ProductName),
		BasePath:           raw.BasePath,
		AfterSignInPath:    raw.AfterSignInPath,
		RedirectAllowlist:  raw.RedirectAllowlist,
		TrustedProxies:     raw.TrustedProxies,
		CORSAllowedOrigins: raw.CORSAllowedOrigins,
	}
	if len(raw.Roles) > 0 {
		s.core.Roles = map[string][]string(raw.Roles)
	}
	s.development = s.core.Development()

	var err error
	if s.core.SessionIdleTimeout, err = parseDuration("session_idle_timeout", raw.SessionIdleTimeout); err != nil {
		return nil, err
	}
	if s.core.SessionLifetime, err = parseDuration("session_lifetime", raw.SessionLifetime); err != nil {
		return nil, err
	}

	var n [4]uint64
	for i, f := range []struct {
		key, v string
		max    uint64
	}{
		{"password_min_length", raw.PasswordMinLength, 64},
		{"password_hash_memory_kib", raw.PasswordHashMemoryKiB, 1 << 20},
		{"password_hash_iterations", raw.PasswordHashIter, 64},
		{"password_hash_parallelism", raw.PasswordHashParallel, 16},
	} {
		if n[i], err = parseCount(f.key, f.v, f.max); err != nil {
			return nil, err
		}
	}
	s.core.PasswordMinLength = int(n[0])
	s.core.PasswordHashing = gatehouse.PasswordHashing{MemoryKiB: uint32(n[1]), Iterations: uint32(n[2]), Parallelism: uint8(n[3])}

	s.addr = raw.Addr
	if s.addr == "" {
		s.addr = ":8080"
		if s.development {
			s.addr = "127.0.0.1:8080"
		}
	}
	if err := checkListenAddr("addr", s.addr); err != nil {
		return nil, err
	}
	s.opsAddr = "127.0.0.1:9090"
	if raw.OpsAddr != nil {
		s.opsAddr = *raw.OpsAddr
	}
	if s.opsAddr != "" {
		if err := checkListenAddr("ops_addr", s.opsAddr); err != nil {
			return nil, err
		}
	}

	s.dataDir = raw.DataDir
	if s.dataDir == "" {
		s.dataDir = "data"
	}
	allowInsecure, err := parseBool("database_allow_insecure", raw.DatabaseAllowInsecure, false)
	if err != nil {
		return nil, err
	}
	if s.db, err = parseDatabaseURL(raw.DatabaseURL, s.dataDir); err != nil {
		return nil, err
	}
	if !s.development && s.db.insecure && !allowInsecure {
		return nil, fmt.Errorf("%s: production mode refuses an unencrypted connection (sslmode=%s) to the non-local database host %s, because password hashes and sessions would cross the network in clear; use sslmode=verify-full (or require), or set %sDATABASE_ALLOW_INSECURE=true if the network is private and you accept the risk", setting("database_url"), s.db.sslmode, s.db.host, envPrefix)
	}

	if raw.RedisURL != "" {
		if err := checkRedisURL(raw.RedisURL); err != nil {
			return nil, err
		}
		s.redisURL = raw.RedisURL
	}
	if s.redisPrefix = raw.RedisPrefix; s.redisPrefix == "" {
		s.redisPrefix = redis.DefaultPrefix
	} else if !validRedisPrefix(s.redisPrefix) {
		return nil, fmt.Errorf("%s: %q must be at most 64 letters, digits or :_-. characters, like \"myapp:gatehouse:\" (the default is \"gatehouse:\")", setting("redis_prefix"), s.redisPrefix)
	}

	s.secret = raw.Secret
	s.secretFile = raw.SecretFile
	s.secretPrevious = raw.SecretPrevious
	if s.secret != "" && s.secretFile != "" {
		return nil, fmt.Errorf("both %s and %s are set; set only one", setting("secret"), setting("secret_file"))
	}

	switch v := strings.ToLower(strings.TrimSpace(raw.EmailVerification)); v {
	case "":
		s.core.EmailVerification = gatehouse.VerificationRequired
		if s.development {
			s.core.EmailVerification = gatehouse.VerificationOptional
		}
	case "required", "optional", "off":
		s.core.EmailVerification = gatehouse.EmailVerification(v)
	default:
		return nil, fmt.Errorf("%s: %q is not one of required, optional, off", setting("email_verification"), raw.EmailVerification)
	}
	if raw.SecurityNotifications != nil {
		if s.core.Notifications, err = parseNotifications(*raw.SecurityNotifications); err != nil {
			return nil, err
		}
	}
	if s.smtp, err = parseSMTP(raw); err != nil {
		return nil, err
	}
	if err := resolveAbuse(raw, s); err != nil {
		return nil, err
	}
	if s.mailTemplatesDir = raw.MailTemplatesDir; s.mailTemplatesDir != "" {
		if fi, err := os.Stat(s.mailTemplatesDir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%s: %s is not a directory (it holds {locale}/{kind}.txt and .html files, like the built-in templates)", setting("mail_templates_dir"), s.mailTemplatesDir)
		}
	}

	s.core.Tokens = gatehouse.TokenConfig{Audience: raw.TokenAudience, Algorithm: raw.TokenAlgorithm}
	if s.core.Tokens.TTL, err = parseDuration("token_ttl", raw.TokenTTL); err != nil {
		return nil, err
	}
	if s.core.Tokens.KeyRotation, err = parseDuration("key_rotation", raw.KeyRotation); err != nil {
		return nil, err
	}
	if s.core.OAuth, err = parseOAuth(raw); err != nil {
		return nil, err
	}
	s.theme = web.ThemeConfig{
		LogoURL: raw.LogoURL, PrimaryColor: raw.PrimaryColor, CustomCSSFile: raw.CustomCSSFile,
		TemplatesDir: raw.TemplatesDir, Messages: raw.Messages,
	}

	switch strings.ToLower(raw.LogLevel) {
	case "":
		s.logLevel = slog.LevelInfo
	case "debug":
		s.logLevel, s.logLevelSet = slog.LevelDebug, true
	case "info":
		s.logLevel, s.logLevelSet = slog.LevelInfo, true
	case "warn", "warning":
		s.logLevel, s.logLevelSet = slog.LevelWarn, true
	case "error":
		s.logLevel, s.logLevelSet = slog.LevelError, true
	default:
		return nil, fmt.Errorf("%s: %q is not one of debug, info, warn, error", setting("log_level"), raw.LogLevel)
	}
	switch strings.ToLower(raw.LogFormat) {
	case "":
		s.logJSON = !s.development
	case "text":
		s.logJSON = false
	case "json":
		s.logJSON = true
	default:
		return nil, fmt.Errorf("%s: %q is not one of text, json", setting("log_format"), raw.LogFormat)
	}
	if s.migrateOnStart, err = parseBool("migrate_on_start", raw.MigrateOnStart, true); err != nil {
		return nil, err
	}
	return s, nil
}

func parseDuration(key, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil // the root package's default
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive Go duration; write hours, minutes or seconds, like 168h (7 days), 30m or 90s", setting(key), v)
	}
	return d, nil
}

// strictRefreshGrace is how gatehouse.OAuthConfig spells "no grace": any
// negative value.
const strictRefreshGrace time.Duration = -1

// parseOAuth reads the OpenID Connect provider's refresh-token settings.
// Unset values stay zero, so the core's defaults apply (a 10s grace, the
// session lifetime); a configured grace of 0 is strict rotation, which the
// core spells as a negative value, since its zero means the default.
func parseOAuth(raw rawConfig) (gatehouse.OAuthConfig, error) {
	var o gatehouse.OAuthConfig
	if v := strings.TrimSpace(raw.OAuthRefreshGrace); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			return o, fmt.Errorf("%s: %q is not a Go duration from 0 to 1m, like 10s (the default); 0 makes rotation strict, and a longer window would let a stolen refresh token be used unnoticed", setting("oauth_refresh_grace"), raw.OAuthRefreshGrace)
		}
		o.RefreshGrace = d
		if d == 0 {
			o.RefreshGrace = strictRefreshGrace
		}
	}
	d, err := parseDuration("oauth_refresh_lifetime", raw.OAuthRefreshLifetime)
	if err != nil {
		return o, err
	}
	if d != 0 && d < time.Minute {
		return o, fmt.Errorf("%s: %q is shorter than the minimum of 1m", setting("oauth_refresh_lifetime"), raw.OAuthRefreshLifetime)
	}
	o.RefreshLifetime = d
	return o, nil
}

// parseCount parses a whole number from 1 to max; "" is 0 (the default).
func parseCount(key, v string, max uint64) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%s: %q is not a whole number from 1 to %d", setting(key), v, max)
	}
	return n, nil
}

func parseBool(key, v string, def bool) (bool, error) {
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", setting(key), v)
	}
	return b, nil
}

// checkListenAddr accepts host:port with a numeric port (host may be empty
// for all interfaces).
func checkListenAddr(key, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return fmt.Errorf("%s: %q is not a listen address like 127.0.0.1:8080 or :8080", setting(key), addr)
	}
	return nil
}

// database is where the data lives.
type database struct {
	// driver is "sqlite" or "postgres".
	driver string
	// path is the SQLite file.
	path string
	// dsn is the PostgreSQL connection string, passed to the driver as is.
	// It may hold a password: never log it.
	dsn string
	// host is the PostgreSQL host(s), for messages.
	host string
	// sslmode and insecure tell whether the PostgreSQL connection may run
	// without TLS to a host that is not this machine.
	sslmode  string
	insecure bool
}

// describe says where the data is, without credentials.
func (d database) describe() string {
	if d.driver == "sqlite" {
		return d.path + " (SQLite)"
	}
	return "PostgreSQL at " + d.host
}

// parseDatabaseURL understands:
//
//	""                           SQLite file gatehouse.db in dataDir
//	sqlite:///abs/path.db        SQLite, absolute path
//	sqlite:relative/path.db      SQLite, relative to the working directory
//	postgres://… postgresql://…  PostgreSQL (libpq URL; key=value DSNs are not accepted)
func parseDatabaseURL(raw, dataDir string) (database, error) {
	const usage = "use sqlite:///absolute/path.db, sqlite:relative/path.db or postgres://user:password@host/dbname"
	if raw == "" {
		return database{driver: "sqlite", path: filepath.Join(dataDir, "gatehouse.db")}, nil
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return database{}, fmt.Errorf("%s is not a URL; %s", setting("database_url"), usage)
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		var path string
		switch {
		case strings.HasPrefix(rest, "///"):
			path = rest[2:]
		case strings.HasPrefix(rest, "//"):
			return database{}, fmt.Errorf("%s: %q has a host part; %s (three slashes for an absolute path)", setting("database_url"), raw, usage)
		default:
			path = rest
		}
		if strings.ContainsAny(path, "?#") {
			return database{}, fmt.Errorf("%s: SQLite URLs take no options (Gatehouse sets WAL, foreign keys and timeouts itself); %s", setting("database_url"), usage)
		}
		if p, err := url.PathUnescape(path); err == nil {
			path = p
		}
		if path == "" || strings.HasSuffix(path, "/") {
			return database{}, fmt.Errorf("%s: %q names no file; %s", setting("database_url"), raw, usage)
		}
		return database{driver: "sqlite", path: filepath.Clean(path)}, nil
	case "postgres", "postgresql":
		return parsePostgresURL(raw)
	default:
		// Do not echo raw: a DSN may carry a password.
		return database{}, fmt.Errorf("%s: unsupported scheme %q; %s", setting("database_url"), scheme, usage)
	}
}

// parsePostgresURL extracts what the production check needs. The URL is
// passed to the driver unchanged; only its shape is checked here.
func parsePostgresURL(raw string) (database, error) {
	d := database{driver: "postgres", dsn: raw}
	// The authority may list several hosts ("h1:5432,h2:5432"), which
	// net/url refuses, so split it by hand.
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return database{}, fmt.Errorf("%s: a PostgreSQL URL starts with postgres:// (like postgres://user:password@host:5432/dbname?sslmode=verify-full)", setting("database_url"))
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		authority = authority[i+1:]
	}
	query := ""
	if i := strings.Index(tail, "?"); i >= 0 {
		query = tail[i+1:]
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return database{}, fmt.Errorf("%s: the query string of the PostgreSQL URL is malformed", setting("database_url"))
	}
	var hosts []string
	for h := range strings.SplitSeq(authority, ",") {
		if h != "" {
			hosts = append(hosts, stripPort(h))
		}
	}
	if qh := q.Get("host"); qh != "" {
		hosts = strings.Split(qh, ",")
	}
	if len(hosts) == 0 {
		hosts = []string{"localhost"}
	}
	d.host = strings.Join(hosts, ",")
	d.sslmode = q.Get("sslmode")
	if d.sslmode == "" {
		d.sslmode = "prefer"
	}
	if d.sslmode == "disable" || d.sslmode == "allow" {
		for _, h := range hosts {
			if !isLocalHost(h) {
				d.insecure = true
			}
		}
	}
	return d, nil
}

func stripPort(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.Trim(h, "[]")
}

// isLocalHost reports whether a database host is this machine: a loopback
// name or address, or a Unix socket directory.
func isLocalHost(h string) bool {
	if h == "localhost" || strings.HasPrefix(h, "/") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// checkRedisURL validates a Redis URL without echoing it (it may carry a
// password).
func checkRedisURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return fmt.Errorf("%s is not a Redis URL like redis://host:6379/0 or rediss://host:6380/0", setting("redis_url"))
	}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		if _, err := strconv.ParseUint(p, 10, 8); err != nil {
			return fmt.Errorf("%s: the path must be a database number like /0", setting("redis_url"))
		}
	}
	return nil
}

// parseNotifications turns the security_notifications list into the core's
// switches: the notices listed are sent, the others not; "none" sends none.
func parseNotifications(items list) (gatehouse.Notifications, error) {
	n := gatehouse.Notifications{DisablePasswordChanged: true, DisableEmailChanged: true, DisableNewDevice: true}
	for _, it := range items {
		switch strings.ToLower(it) {
		case "password_changed":
			n.DisablePasswordChanged = false
		case "email_changed":
			n.DisableEmailChanged = false
		case "new_device":
			n.DisableNewDevice = false
		case "none":
			if len(items) > 1 {
				return n, fmt.Errorf("%s: \"none\" cannot be combined with other notices", setting("security_notifications"))
			}
		default:
			return n, fmt.Errorf("%s: %q is not one of password_changed, email_changed, new_device (or none)", setting("security_notifications"), it)
		}
	}
	return n, nil
}
