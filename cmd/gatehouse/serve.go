package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/web"
)

// Server timeouts. They bound what one slow or malicious client can hold:
// headers must arrive within 10 s, a whole request within 30 s.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 15 * time.Second
	readyTimeout      = 2 * time.Second
	cleanupInterval   = 10 * time.Minute
)

// serveCmd runs the server.
type serveCmd struct{}

// Help is the long help of `gatehouse serve --help`.
func (c *serveCmd) Help() string {
	return `The public URL decides the mode:
  https://…                                production: Secure __Host- cookies, HSTS, a
                                           master secret is required
  http://localhost, 127.0.0.1, [::1]       development: a secret is generated into the
                                           data directory, development helpers are on
  any other http:// URL                    refused (terminate TLS at a proxy and give
                                           its https URL)

Settings (environment variable, or the YAML key in lower case without GATEHOUSE_):
  GATEHOUSE_PUBLIC_URL            URL users reach (default http://localhost:8080)
  GATEHOUSE_ADDR                  listen address (127.0.0.1:8080 in development, :8080 in production)
  GATEHOUSE_OPS_ADDR              /metrics and /version listener (default 127.0.0.1:9090; empty disables)
  GATEHOUSE_DATA_DIR              SQLite file and development secret (default ./data)
  GATEHOUSE_DATABASE_URL          sqlite:///abs/path.db, sqlite:rel/path.db or postgres://…
  GATEHOUSE_DATABASE_ALLOW_INSECURE  true lets production use sslmode=disable to a remote host
  GATEHOUSE_REDIS_URL             redis:// or rediss://: rate limits and cache invalidations shared by every node
  GATEHOUSE_REDIS_PREFIX          key and channel prefix, one per deployment sharing a Redis (default gatehouse:)
  GATEHOUSE_SECRET                master secret: 64+ hex characters (openssl rand -hex 32)
  GATEHOUSE_SECRET_FILE           file holding it (mode 0600 in production)
  GATEHOUSE_SECRET_PREVIOUS       older secrets still accepted during a rotation (comma-separated)
  GATEHOUSE_BASE_PATH             where pages and API live (default /auth)
  GATEHOUSE_TRUSTED_PROXIES       CIDRs whose X-Forwarded-For is believed (comma-separated)
  GATEHOUSE_REDIRECT_ALLOWLIST    extra origins allowed as redirect_to (comma-separated)
  GATEHOUSE_AFTER_SIGN_IN_PATH    landing page after sign-in (default /auth/account)
  GATEHOUSE_EMAIL_VERIFICATION    required (production default), optional (development default) or off
  GATEHOUSE_SMTP_URL              smtp://user@host:587 (STARTTLS) or smtps://user@host:465; required in production
  GATEHOUSE_SMTP_FROM             sender, e.g. "Example <no-reply@example.com>"
  GATEHOUSE_SMTP_PASSWORD_FILE    file holding the SMTP password (instead of putting it in the URL)
  GATEHOUSE_SECURITY_NOTIFICATIONS  notices to send: password_changed, email_changed, new_device (default all) or none
  GATEHOUSE_MAIL_TEMPLATES_DIR    mail templates overriding or adding to the built-in ones ({locale}/{kind}.txt, .html)
  GATEHOUSE_TOKEN_AUDIENCE        aud of the access tokens of POST /auth/api/token (default the public URL)
  GATEHOUSE_TOKEN_TTL, _ALGORITHM access token lifetime (default and max 5m) and EdDSA (default), ES256 or RS256
  GATEHOUSE_KEY_ROTATION          how often signing keys are replaced (default 720h)
  GATEHOUSE_PRODUCT_NAME          name shown on pages and in mail (default Gatehouse)
  GATEHOUSE_LOGO_URL, _PRIMARY_COLOR, _CUSTOM_CSS_FILE
                                  branding of the hosted pages: https logo URL, #rrggbb, a stylesheet
  GATEHOUSE_TEMPLATES_DIR         page template overrides (sign-in.html, layout.html, …; see docs/ui.md)
  GATEHOUSE_MESSAGES              page text overrides as JSON: {"fr":{"sign-in.title":"Connexion"}}
  GATEHOUSE_RATE_LIMITS           per endpoint, e.g. "sign_in.per_ip=60/1m burst 20;sign_up.per_ip=off"
  GATEHOUSE_THROTTLE_FREE, _BASE_DELAY, _MAX_DELAY, _DAILY_BUDGET
                                  account throttle (default 5, 1s, 15m, 100 failures a day)
  GATEHOUSE_BREACHED_PASSWORDS    on (production default) or off: refuse passwords seen in breaches
  GATEHOUSE_BREACHED_PASSWORDS_URL, _TIMEOUT, _FILE
                                  range API (k-anonymity) base URL and timeout, or a local hash file
  GATEHOUSE_AUDIT_RETENTION       how long audit events are kept (default 8760h)
  GATEHOUSE_SESSION_IDLE_TIMEOUT  e.g. 168h;  GATEHOUSE_SESSION_LIFETIME  e.g. 720h
  GATEHOUSE_CORS_ALLOWED_ORIGINS  origins allowed to call the JSON API with credentials
  GATEHOUSE_ROLES                 role=permission,permission;role2=permission
  GATEHOUSE_LOG_LEVEL             debug, info (default), warn, error
  GATEHOUSE_LOG_FORMAT            text (development default) or json (production default)
  GATEHOUSE_MIGRATE_ON_START      false to apply migrations only with gatehouse migrate
  GATEHOUSE_PASSWORD_MIN_LENGTH   minimum password length, 8 to 64 (default 12)
  GATEHOUSE_PASSWORD_HASH_MEMORY_KIB, _ITERATIONS, _PARALLELISM
                                  argon2id cost (default 19456, 2, 1); hashes upgrade at next sign-in`
}

// Run serves until ctx is cancelled (SIGINT or SIGTERM), then shuts down
// gracefully: in-flight requests get up to 15 s to finish.
func (c *serveCmd) Run(ctx context.Context, ce *commandEnv) error {
	s, err := loadAndCheck(ce)
	if err != nil {
		return err
	}
	// Every line logged with a request's context names its request id.
	log := slog.New(web.LogHandler(newLogger(s, ce.stderr, false).Handler()))
	for _, w := range s.warnings {
		log.Warn(w)
	}
	// Listen before the slow parts so that a port in use fails at once.
	ln, err := listen("addr", s.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	var opsLn net.Listener
	if s.opsAddr != "" {
		if opsLn, err = listen("ops_addr", s.opsAddr); err != nil {
			return err
		}
		defer opsLn.Close()
	}
	n, err := openNode(ctx, s, log, ce)
	if err != nil {
		return err
	}
	defer n.close()

	cfg := n.auth.Config() // with the root package's defaults applied
	srv := newServer(web.AccessLog(log, n.handler), log)
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	go func() { errc <- serveOn(srv, ln) }()
	var opsURL, opsAddr string
	if opsLn != nil {
		ops := newServer(opsMux(n.registry), log)
		servers = append(servers, ops)
		go func() { errc <- serveOn(ops, opsLn) }()
		opsAddr = opsLn.Addr().String()
		opsURL = "http://" + opsAddr
	}
	printBanner(ce.stdout, s, cfg, ln.Addr(), opsURL, n.mailDest)
	log.Info("gatehouse started", "mode", s.mode(), "public_url", cfg.PublicURL, "addr", ln.Addr().String(), "ops_addr", opsAddr, "database", s.db.driver)

	bgCtx, stopBackground := context.WithCancel(ctx)
	waitBackground := n.background(bgCtx, log)
	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case serveErr = <-errc:
		log.Error("server stopped", "err", serveErr)
	}
	stopBackground()
	waitBackground()

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			serveErr = errors.Join(serveErr, fmt.Errorf("graceful shutdown: %w", err))
		}
	}
	if serveErr == nil {
		log.Info("stopped")
	}
	return serveErr
}

// listen opens a TCP listener with an error that says what to do.
func listen(key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("cannot listen on %s: the address is already in use (is another Gatehouse running?); stop that process or set %s to another address", addr, setting(key))
		}
		return nil, fmt.Errorf("cannot listen on %s (%s): %w", addr, setting(key), err)
	}
	return ln, nil
}

// serveOn serves until Shutdown; a clean shutdown is not an error.
func serveOn(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// pinger is what /readyz needs from the store.
type pinger interface {
	Ping(ctx context.Context) error
}

// readiness is what /readyz reports besides the database: the cache
// fan-out of a node among several.
type readiness interface {
	FanOutStats() gatehouse.FanOutStats
}

// mainMux routes the public listener: the web handler under the base path,
// the probes, and a redirect from / to the account page.
func mainMux(base string, h http.Handler, db pinger, node readiness) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(base+"/", h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Liveness: the process answers. It deliberately does not touch
		// the database, so a database outage does not get us restarted.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		status, body := http.StatusOK, map[string]string{"status": "ready"}
		if err := db.Ping(ctx); err != nil {
			status, body["status"] = http.StatusServiceUnavailable, "unavailable"
		}
		// A node whose fan-out is down stays ready: it answers correctly,
		// checking every session against the database, only slower.
		if fo := node.FanOutStats(); fo.Configured {
			body["fanout"] = "up"
			if !fo.Up {
				body["fanout"] = "down"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, base+"/account", http.StatusSeeOther)
	})
	return mux
}

// opsMux routes the ops listener: Prometheus metrics and build details.
// It is meant for the operator's network only (loopback by default).
func opsMux(reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	bi := readBuildInfo()
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(bi)
	})
	return mux
}

// cleanup deletes expired sessions, links and old records, and rotates the
// signing keys when due, every cleanupInterval until ctx ends.
func cleanup(ctx context.Context, auth *gatehouse.Auth, log *slog.Logger) {
	t := time.NewTicker(cleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := auth.RotateKeys(ctx, false); err != nil && ctx.Err() == nil {
				log.Warn("rotating signing keys failed; will retry", "err", err)
			}
			r, err := auth.DeleteExpired(ctx)
			if err != nil && ctx.Err() == nil {
				log.Warn("deleting expired records failed; will retry", "err", err)
			}
			if r != (gatehouse.Removed{}) {
				log.Info("deleted expired records", "sessions", r.Sessions, "links", r.Links, "mail", r.Mail, "devices", r.Devices, "keys", r.Keys, "oauth", r.OAuth)
			}
		}
	}
}

// printBanner tells the person who started the server where to go.
func printBanner(out io.Writer, s *settings, cfg gatehouse.Config, addr net.Addr, opsURL, mailDest string) {
	// One write, so a reader never sees half a banner.
	w := &strings.Builder{}
	defer func() { io.WriteString(out, w.String()) }()
	base := cfg.PublicURL + cfg.BasePath
	if s.development {
		fmt.Fprintf(w, "Gatehouse is running in development mode.\n")
		fmt.Fprintf(w, "  Open %s/sign-up to create an account.\n", base)
	} else {
		fmt.Fprintf(w, "Gatehouse is running in production mode at %s.\n", base)
	}
	fmt.Fprintf(w, "  Listening on http://%s\n", addr)
	fmt.Fprintf(w, "  Data: %s\n", s.db.describe())
	if s.development && s.smtp.url == "" {
		fmt.Fprintf(w, "  Mail: not sent; read it at %s/dev/mailbox\n", base)
	} else {
		fmt.Fprintf(w, "  Mail: %s\n", mailDest)
	}
	if opsURL != "" {
		fmt.Fprintf(w, "  Metrics: %s/metrics\n", opsURL)
	} else {
		fmt.Fprintf(w, "  Metrics: off (ops_addr is empty)\n")
	}
	if s.development {
		if u, err := url.Parse(cfg.PublicURL); err == nil {
			if tcp, ok := addr.(*net.TCPAddr); ok && publicPort(u) != fmt.Sprint(tcp.Port) {
				fmt.Fprintf(w, "  Note: the public URL %s does not use port %d that Gatehouse listens on; set %sPUBLIC_URL to the address your browser uses.\n", cfg.PublicURL, tcp.Port, envPrefix)
			}
		}
	}
}

func publicPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}
