package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gatehouse-auth/gatehouse"
)

// Timing of the fan-out's listener. A dead connection is noticed within
// fanOutPingEvery + fanOutPingTimeout whatever TCP says: a frozen server
// or a silent network keeps a socket open for minutes. Until it is noticed
// the cache is still used though notifications may be lost, so that sum
// bounds how late a revocation can take effect on a cut-off node: it
// matches the product's one second.
const (
	// fanOutPingEvery is how long the listener waits for a notification
	// before it checks the connection with SELECT 1.
	fanOutPingEvery = 250 * time.Millisecond
	// fanOutPingTimeout bounds that check. A server slower than this to
	// answer SELECT 1 counts as down: nodes then read every session from
	// it, which is the price of never trusting a stale cache.
	fanOutPingTimeout = 750 * time.Millisecond
	// fanOutConnectTimeout bounds a (re)connection: dial, TLS,
	// authentication, current_schema() and LISTEN.
	fanOutConnectTimeout = 2 * time.Second
	// fanOutCloseTimeout bounds the goodbye to a connection given up.
	fanOutCloseTimeout = 250 * time.Millisecond
)

// FanOut is a gatehouse.FanOut over PostgreSQL LISTEN/NOTIFY, for
// deployments without Redis: every node using the same database and
// schema hears every other's invalidations.
//
// The channel is scoped to the deployment's schema (the first existing one
// in the DSN's search_path, current_schema()): "gatehouse_" followed by the
// first 16 hex digits of its SHA-256. Deployments in other schemas of the
// same database do not hear each other; other databases never do.
//
// Listen holds a dedicated connection (not one of the Store's pool: LISTEN
// needs a session of its own, so the DSN must reach PostgreSQL directly or
// through a session-mode pooler, never a transaction-mode one). When no
// notification came for 250 ms it runs SELECT 1 with a 750 ms deadline,
// so a dead or frozen connection is noticed within a second: Listen
// then reports the channel down (the Auth bypasses its session cache) and
// reconnects with a jittered backoff from 100 ms to 2 s, reporting it up
// again once LISTEN succeeded. Notifications sent while a node was not
// listening never reach it, which is why the Auth empties its cache when
// the channel comes back.
//
// Payloads are small versioned JSON, {"v":1,"k":"session","id":"ses_…"},
// at most 1 KiB; any role that may connect to the database can NOTIFY, and
// can thereby make nodes drop cache entries, and nothing else. See
// FanOutStats for what was ignored.
//
// A FanOut is safe for concurrent use. Publish uses a small pool of its
// own; Close releases it.
type FanOut struct {
	cfg *pgx.ConnConfig
	db  *sql.DB

	chMu    sync.Mutex
	channel string // resolved on first use

	gatehouse.InvalidationReceiver
}

var _ gatehouse.FanOut = (*FanOut)(nil)

// NewFanOut returns a FanOut for the deployment at dsn: the Store's DSN,
// search_path included. It does no I/O: a malformed DSN is its only error,
// and the channel is resolved on the first connection.
func NewFanOut(dsn string) (*FanOut, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message redacts the password.
		return nil, fmt.Errorf("postgres: fan-out: parse DSN: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	// Invalidations are few and published from one goroutine per node.
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(connMaxLifetime)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	return &FanOut{cfg: cfg, db: db}, nil
}

// Close closes the publishing pool. Stop Listen (its context) separately.
func (f *FanOut) Close() error { return f.db.Close() }

// Publish sends inv to every node listening, this one included, with
// pg_notify. It is bounded by ctx. Success means PostgreSQL queued the
// notification; nodes not listening then miss it, but they are down and
// will empty their caches anyway.
func (f *FanOut) Publish(ctx context.Context, inv gatehouse.Invalidation) error {
	msg, err := gatehouse.MarshalInvalidation(inv)
	if err != nil {
		return fmt.Errorf("postgres: fan-out: %w", err)
	}
	ch, err := f.channelName(ctx)
	if err != nil {
		return fmt.Errorf("postgres: fan-out: %w", err)
	}
	if _, err := f.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, ch, string(msg)); err != nil {
		return fmt.Errorf("postgres: fan-out: notify: %w", err)
	}
	return nil
}

// channelName returns the deployment's channel, resolving it through the
// publishing pool the first time.
func (f *FanOut) channelName(ctx context.Context) (string, error) {
	f.chMu.Lock()
	ch := f.channel
	f.chMu.Unlock()
	if ch != "" {
		return ch, nil
	}
	var schema sql.NullString
	if err := f.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return "", fmt.Errorf("current schema: %w", err)
	}
	return f.setChannel(schema)
}

// setChannel records the channel of schema, as seen by a new connection.
func (f *FanOut) setChannel(schema sql.NullString) (string, error) {
	if !schema.Valid {
		return "", errors.New("no schema in the search_path exists")
	}
	sum := sha256.Sum256([]byte(schema.String))
	ch := "gatehouse_" + hex.EncodeToString(sum[:8])
	f.chMu.Lock()
	f.channel = ch
	f.chMu.Unlock()
	return ch, nil
}

// Listen listens on the deployment's channel and calls deliver with every
// invalidation notified on it, and up with the channel's state: true once
// LISTEN succeeded, false as soon as the connection failed or stopped
// answering (notifications may then be lost). It reconnects by itself and
// returns only when ctx ends, after which it calls neither function.
// Calls to deliver and up are made one at a time, from the goroutine that
// called Listen, in order.
func (f *FanOut) Listen(ctx context.Context, deliver func(gatehouse.Invalidation), up func(bool)) {
	f.Run(ctx, func(ctx context.Context, onUp func()) error { return f.listenOnce(ctx, deliver, onUp) }, up)
}

// listenOnce runs one listening connection until it fails, calling onUp
// once it listens.
func (f *FanOut) listenOnce(ctx context.Context, deliver func(gatehouse.Invalidation), onUp func()) error {
	cctx, ccancel := context.WithTimeout(ctx, fanOutConnectTimeout)
	defer ccancel()
	conn, err := pgx.ConnectConfig(cctx, f.cfg)
	if err != nil {
		return err
	}
	defer func() {
		// A dead peer must not hold the next attempt up.
		c, cancel := context.WithTimeout(context.Background(), fanOutCloseTimeout)
		defer cancel()
		_ = conn.Close(c)
	}()
	var schema sql.NullString
	if err := conn.QueryRow(cctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("current schema: %w", err)
	}
	ch, err := f.setChannel(schema)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(cctx, `LISTEN `+pgx.Identifier{ch}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ccancel()
	onUp()
	lastHeard := time.Now()
	for {
		// Every notification proves the connection alive; a quiet one is
		// pinged once fanOutPingEvery passed without any.
		wait := time.Until(lastHeard.Add(fanOutPingEvery))
		if wait > 0 {
			wctx, wcancel := context.WithTimeout(ctx, wait)
			n, err := conn.WaitForNotification(wctx)
			wcancel()
			if err == nil {
				lastHeard = time.Now()
				if n.Channel == ch {
					f.Receive([]byte(n.Payload), deliver)
				}
				continue
			}
			if ctx.Err() != nil || conn.IsClosed() || !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("wait for notification: %w", err)
			}
		}
		pctx, pcancel := context.WithTimeout(ctx, fanOutPingTimeout)
		_, err := conn.Exec(pctx, `SELECT 1`)
		pcancel()
		if err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		lastHeard = time.Now()
	}
}
