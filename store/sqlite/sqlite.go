// Package sqlite is Gatehouse's default storage backend: one SQLite file,
// through the pure-Go modernc.org/sqlite driver, for a single node.
//
// Open configures every connection with WAL journaling, foreign keys, a
// busy timeout and synchronous=NORMAL, and verifies those settings took
// effect: a backend that cannot guarantee atomicity and cascades fails at
// startup. All writes and transactions go through one connection (SQLite
// allows one writer at a time; transactions start with BEGIN IMMEDIATE so
// they never fail upgrading a read lock), reads through a small pool of
// read-only connections that WAL lets run alongside the writer.
//
// The SQL itself, the schema and the migrations live in store/sqlstore;
// this package only opens and checks the database. It does not import any
// other store package.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/store/sqlstore"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Store is the SQLite backend: a sqlstore.Store over a single-writer
// SQLite database. Its methods, including Migrate, MigrationStatus and DB,
// are those of sqlstore.Store.
type Store struct {
	*sqlstore.Store
	path string // absolute path of the database file
}

var _ gatehouse.Store = (*Store)(nil)

// readerConns is the size of the read-only pool.
const readerConns = 4

// busyTimeoutMillis is how long a connection waits for a lock held by
// another process before failing with SQLITE_BUSY.
const busyTimeoutMillis = 5000

// Open opens (creating it, with its parent directory, if missing) the
// SQLite database at path and checks its configuration. It does not
// migrate: call Migrate before use. The file is created with mode 0600 and
// a missing parent directory with 0700, since the database holds password
// hashes and session hashes.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, errors.New("sqlite: open: want a file path (in-memory databases and URIs are not supported)")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data directory: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: create database file: %w", err)
	}

	w, err := openPool(ctx, abs, false)
	if err != nil {
		return nil, err
	}
	r, err := openPool(ctx, abs, true)
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	db, err := sqlstore.NewDB(sqlstore.SQLite, w, r)
	if err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return &Store{Store: sqlstore.New(db), path: abs}, nil
}

// dsn builds the driver's data source name: a file: URI (so any path
// character is escaped) with the driver's per-connection settings.
func dsn(abs string, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeoutMillis))
	q.Set("_foreign_keys", "1")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		q.Set("_txlock", "immediate")
		// A multi-row write inside a transaction keeps a statement
		// journal (the pages it touched, to undo just that statement);
		// past 64 KiB SQLite moves it to a temporary file, created and
		// deleted per statement. In memory it costs only those pages for
		// the statement's duration, and bulk seeding (sqlstore's
		// BulkInsert*) runs about 20% faster. This also keeps the
		// writer's temporary sort indexes in memory; its statements are
		// all small. Readers write no journals and keep the default.
		q.Add("_pragma", "temp_store(memory)")
	}
	u := url.URL{Path: filepath.ToSlash(abs)}
	return "file:" + u.EscapedPath() + "?" + q.Encode()
}

func openPool(ctx context.Context, abs string, readOnly bool) (*sql.DB, error) {
	role := "writer"
	if readOnly {
		role = "reader"
	}
	db, err := sql.Open("sqlite", dsn(abs, readOnly))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", role, err)
	}
	if readOnly {
		db.SetMaxOpenConns(readerConns)
		db.SetMaxIdleConns(readerConns)
	} else {
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	}
	// The first connection to a new file switches it to WAL, which takes an
	// exclusive lock that SQLite reports as busy without waiting when
	// several processes open the file at once; retry for up to the busy
	// timeout.
	deadline := time.Now().Add(busyTimeoutMillis * time.Millisecond)
	for {
		err = verify(ctx, db, readOnly)
		if err == nil {
			return db, nil
		}
		if !sqlstore.SQLite.IsRetryable(err) || time.Now().After(deadline) || ctx.Err() != nil {
			_ = db.Close()
			return nil, fmt.Errorf("sqlite: %s: %w", role, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// verify checks on a live connection that the settings the store relies on
// took effect: WAL (readers beside the writer), foreign keys (ON DELETE
// CASCADE is how sessions die with their user), the busy timeout and
// synchronous=NORMAL.
func verify(ctx context.Context, db *sql.DB, readOnly bool) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	var journal string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(journal, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal (is the file on a filesystem without shared memory?)", journal)
	}
	checks := []struct {
		pragma string
		want   int64
	}{
		{"foreign_keys", 1},
		{"busy_timeout", busyTimeoutMillis},
		{"synchronous", 1}, // NORMAL
	}
	if readOnly {
		checks = append(checks, struct {
			pragma string
			want   int64
		}{"query_only", 1})
	}
	for _, c := range checks {
		var got int64
		if err := conn.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			return fmt.Errorf("read %s: %w", c.pragma, err)
		}
		if got != c.want {
			return fmt.Errorf("%s is %d, want %d: the database cannot guarantee the store's contract", c.pragma, got, c.want)
		}
	}
	return nil
}
