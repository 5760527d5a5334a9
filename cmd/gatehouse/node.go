package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/web"
)

// node is one Gatehouse server assembled from settings, as serve runs it
// and bench measures it: the store, what it shares with other nodes, the
// core, the web handler, and the mailer its background work delivers to.
type node struct {
	store    backend
	auth     *gatehouse.Auth
	web      *web.Handler
	registry *prometheus.Registry
	// handler routes the public listener: the web handler under the base
	// path and the probes (the caller adds the access log).
	handler  http.Handler
	mailer   gatehouse.Mailer
	mailDest string // where mail goes, for the banner
	closers  []func()
}

// openNode opens the store (migrating it unless disabled), connects what
// nodes share, builds the core and the web handler, and makes sure signing
// keys exist. close releases everything.
func openNode(ctx context.Context, s *settings, log *slog.Logger, ce *commandEnv) (_ *node, err error) {
	n := &node{}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	keys, err := loadSecret(s)
	if err != nil {
		return nil, err
	}
	log.Debug("master secret loaded", "source", keys.source)
	mailer, devMailbox, mailDest, err := newMailer(s)
	if err != nil {
		return nil, err
	}
	n.mailer, n.mailDest = mailer, mailDest
	theme, err := web.NewTheme(s.theme)
	if err != nil {
		return nil, fmt.Errorf("hosted pages: %w", err)
	}
	for _, w := range theme.Warnings() {
		log.Warn(w)
	}

	if n.store, err = openBackend(ctx, s); err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() { _ = n.store.Close() })
	if s.migrateOnStart {
		if err := n.store.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrating the database (set migrate_on_start: false to manage migrations with `gatehouse migrate`): %w", err)
		}
	}
	sh, err := openShared(ctx, s, log)
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, sh.close)
	auth, closeExtra, err := newAuth(s, n.store, log, keys, sh, ce)
	if err != nil {
		return nil, err
	}
	n.auth = auth
	n.closers = append(n.closers, closeExtra, func() { _ = auth.Close() })

	n.registry = prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := n.registry.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	// Signing keys exist before the first request, and a key that cannot be
	// decrypted (wrong master secret) stops the start.
	if _, err := auth.RotateKeys(ctx, false); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	n.web = web.New(auth, web.WithMetrics(n.registry), web.WithDevMailbox(devMailbox), web.WithTheme(theme))
	n.handler = mainMux(auth.Config().BasePath, n.web, n.store, auth)
	return n, nil
}

// background runs the node's periodic work (cleanup, key rotation) and mail
// delivery until ctx ends; wait returns once they have stopped. Queued mail
// not yet sent stays in the outbox for the next start or another node.
func (n *node) background(ctx context.Context, log *slog.Logger) (wait func()) {
	var bg sync.WaitGroup
	bg.Go(func() { cleanup(ctx, n.auth, log) })
	bg.Go(func() { _ = n.auth.DeliverMail(ctx, n.mailer) })
	return bg.Wait
}

// close releases what openNode opened, the last opened first.
func (n *node) close() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
	n.closers = nil
}
