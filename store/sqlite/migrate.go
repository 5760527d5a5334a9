package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/store/sqlstore"
)

// Migrate applies the pending core and plugin migrations (see
// sqlstore.Store.Migrate) while holding an exclusive lock on a companion
// file (the database path + "-migrate-lock"), so that two processes opening
// one database at once — "gatehouse migrate" beside a starting "serve" —
// apply each migration once. goose checks the applied version before it
// opens the migration's transaction; without the lock both processes could
// decide to run the same migration. The lock is SQLite's own file locking,
// so it works wherever SQLite does, and a crashed holder releases it.
func (s *Store) Migrate(ctx context.Context, plugins ...gatehouse.Plugin) error {
	unlock, err := lockFile(ctx, s.path+"-migrate-lock")
	if err != nil {
		return err
	}
	defer unlock()
	return s.Store.Migrate(ctx, plugins...)
}

// lockFile takes an exclusive SQLite lock on path (an empty database) and
// returns the function that releases it. It waits until ctx is done.
func lockFile(ctx context.Context, path string) (func(), error) {
	u := url.URL{Path: filepath.ToSlash(path)}
	db, err := sql.Open("sqlite", "file:"+u.EscapedPath()+"?_busy_timeout=250&_txlock=exclusive")
	if err != nil {
		return nil, fmt.Errorf("sqlite: migration lock: %w", err)
	}
	db.SetMaxOpenConns(1)
	for {
		tx, err := db.BeginTx(ctx, nil)
		if err == nil {
			return func() {
				_ = tx.Rollback()
				_ = db.Close()
			}, nil
		}
		if !sqlstore.SQLite.IsRetryable(err) {
			_ = db.Close()
			return nil, fmt.Errorf("sqlite: migration lock: %w", err)
		}
		select {
		case <-ctx.Done():
			_ = db.Close()
			return nil, fmt.Errorf("sqlite: waiting for the migration lock: %w", errors.Join(ctx.Err(), err))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
