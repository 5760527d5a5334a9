package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/pwned"
	"github.com/gatehouse-auth/gatehouse/store/postgres"
	"github.com/gatehouse-auth/gatehouse/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/store/sqlstore"
)

// backend is what the commands need from a storage backend: the core's
// Store plus migrations. store/sqlite and store/postgres both provide it.
type backend interface {
	gatehouse.Store
	Migrate(ctx context.Context, plugins ...gatehouse.Plugin) error
	MigrationStatus(ctx context.Context, plugins ...gatehouse.Plugin) ([]sqlstore.MigrationState, error)
}

var (
	_ backend = (*sqlite.Store)(nil)
	_ backend = (*postgres.Store)(nil)
)

// openBackend opens the configured database. It does not migrate.
func openBackend(ctx context.Context, s *settings) (backend, error) {
	switch s.db.driver {
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(s.db.path), 0o700); err != nil {
			return nil, fmt.Errorf("creating the directory for the SQLite database: %w", err)
		}
		st, err := sqlite.Open(ctx, s.db.path)
		if err != nil {
			return nil, fmt.Errorf("opening the SQLite database %s: %w", s.db.path, err)
		}
		return st, nil
	case "postgres":
		st, err := postgres.Open(ctx, s.db.dsn)
		if err != nil {
			return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w", s.db.host, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("unknown database driver %q", s.db.driver)
}

// newLogger builds the structured logger on w. quiet (the CLI's
// administrative commands) raises the default level to warn, so that the
// core's routine info lines do not clutter a terminal; an explicit
// log_level still wins.
func newLogger(s *settings, w io.Writer, quiet bool) *slog.Logger {
	level := s.logLevel
	if quiet && !s.logLevelSet {
		level = slog.LevelWarn
	}
	opts := &slog.HandlerOptions{Level: level}
	if s.logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// checkCoreConfig validates the root configuration (public URL and mode
// rule, base path, origins, proxies, roles, timeouts) with the root
// package's own rules, before any file or connection is opened.
func checkCoreConfig(s *settings) error {
	if err := s.core.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %s", configMessage(err))
	}
	return nil
}

// configMessage rewrites an error of gatehouse.New to name the setting
// instead of the Go field its message starts with (falling back to the
// message as it is).
func configMessage(err error) string {
	coreFields := []struct{ field, key string }{
		{"PublicURL", "public_url"},
		{"BasePath", "base_path"},
		{"AfterSignInPath", "after_sign_in_path"},
		{"TrustedProxies", "trusted_proxies"},
		{"Roles", "roles"},
		{"PasswordMinLength", "password_min_length"},
		{"PasswordHashing", "password_hash_memory_kib / password_hash_iterations / password_hash_parallelism"},
	}
	msg := strings.TrimPrefix(err.Error(), "gatehouse.New: ")
	for _, f := range coreFields {
		if rest, ok := strings.CutPrefix(msg, f.field+" "); ok {
			return setting(f.key) + " " + rest
		}
		if rest, ok := strings.CutPrefix(msg, f.field+": "); ok {
			return setting(f.key) + ": " + rest
		}
	}
	return msg
}

// loadAndCheck loads the configuration of ce and validates it.
func loadAndCheck(ce *commandEnv) (*settings, error) {
	s, err := loadConfig(ce.configFile, ce.env)
	if err != nil {
		return nil, err
	}
	if err := checkCoreConfig(s); err != nil {
		return nil, err
	}
	return s, nil
}

// adminEnv is an opened store and the Auth built on it, for the
// administrative commands. close releases both.
type adminEnv struct {
	settings *settings
	store    backend
	auth     *gatehouse.Auth
	log      *slog.Logger
	// closeExtra releases what newAuth opened besides the Auth.
	closeExtra func()
}

// openAuth loads the configuration, opens and (if needed) migrates the
// store, and builds an Auth without any HTTP.
func openAuth(ctx context.Context, ce *commandEnv) (*adminEnv, error) {
	s, err := loadAndCheck(ce)
	if err != nil {
		return nil, err
	}
	log := newLogger(s, ce.stderr, true)
	for _, w := range s.warnings {
		log.Warn(w)
	}
	st, err := openBackend(ctx, s)
	if err != nil {
		return nil, err
	}
	if s.migrateOnStart {
		if err := st.Migrate(ctx); err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("migrating the database: %w", err)
		}
	}
	keys, err := loadSecret(s)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	// The CLI counts no rate limits, but its changes reach the servers
	// through the fan-out.
	sh, err := openShared(ctx, s, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	sh.limiter = nil
	a, closeExtra, err := newAuth(s, st, log, keys, sh, ce)
	if err != nil {
		sh.close()
		_ = st.Close()
		return nil, err
	}
	return &adminEnv{settings: s, store: st, auth: a, log: log, closeExtra: func() { closeExtra(); sh.close() }}, nil
}

// newAuth builds the core over st with the settings, the master secret,
// what the node shares with others (sh) and the options tests inject. The
// returned close releases what newAuth opened besides the Auth.
func newAuth(s *settings, st backend, log *slog.Logger, keys loadedSecret, sh *shared, ce *commandEnv) (*gatehouse.Auth, func(), error) {
	opts := []gatehouse.Option{gatehouse.WithLogger(log), gatehouse.WithSecret(keys.current, keys.previous...)}
	if s.mailTemplatesDir != "" {
		opts = append(opts, gatehouse.WithMailTemplates(os.DirFS(s.mailTemplatesDir)))
	}
	if sh.limiter != nil {
		opts = append(opts, gatehouse.WithRateLimiter(sh.limiter))
	}
	if sh.fanOut != nil {
		opts = append(opts, gatehouse.WithFanOut(sh.fanOut))
	}
	closer := func() {}
	if s.breachedFile != "" {
		corpus, err := pwned.OpenCorpus(s.breachedFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", setting("breached_passwords_file"), err)
		}
		opts = append(opts, gatehouse.WithBreachedPasswordChecker(corpus))
		closer = func() { corpus.Close() }
	}
	opts = append(opts, ce.opts.authOptions...)
	a, err := gatehouse.New(s.core, st, opts...)
	if err != nil {
		closer()
		return nil, nil, fmt.Errorf("invalid configuration: %w", err)
	}
	return a, closer, nil
}

func (s *adminEnv) close() {
	_ = s.auth.Close()
	s.closeExtra()
	_ = s.store.Close()
}
