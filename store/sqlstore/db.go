package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DB is a dialect-neutral handle over one or two database/sql pools: a
// writer, used for every write and every transaction, and a reader for
// read-only queries outside transactions. On PostgreSQL both are the same
// pool; on SQLite the writer holds exactly one connection (SQLite has one
// writer at a time, and queueing in Go is cheaper and fairer than spinning
// on SQLITE_BUSY) and the reader several.
//
// Every query given to DB or Tx is written once with $1..$N placeholders
// and rewritten for the dialect (see Dialect.Rewrite). Errors are the
// driver's, unwrapped, so callers can classify them with
// Dialect.IsUniqueViolation and friends.
//
// Plugins get their DB from the store (Store.DB) to reach their own tables.
// A DB is safe for concurrent use.
type DB struct {
	dialect Dialect
	w, r    *sql.DB
}

// NewDB returns a DB over the given pools. reader may be nil or equal to
// writer, in which case all queries use writer. The DB takes ownership of
// both: Close closes them.
func NewDB(d Dialect, writer, reader *sql.DB) (*DB, error) {
	if !d.Valid() {
		return nil, errors.New("sqlstore: invalid dialect")
	}
	if writer == nil {
		return nil, errors.New("sqlstore: nil writer pool")
	}
	if reader == nil {
		reader = writer
	}
	return &DB{dialect: d, w: writer, r: reader}, nil
}

// Dialect returns the SQL dialect of the database.
func (db *DB) Dialect() Dialect { return db.dialect }

// Writer returns the pool used for writes and transactions. It is exposed
// for tooling that needs a *sql.DB (migrations); queries should go through
// DB's methods so placeholders are rewritten. On SQLite it holds a single
// connection: holding it (an open *sql.Tx or *sql.Conn) blocks every other
// write.
func (db *DB) Writer() *sql.DB { return db.w }

// Exec runs a statement that returns no rows on the writer, outside any
// transaction (autocommit).
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.w.ExecContext(ctx, db.dialect.Rewrite(query), args...)
}

// Query runs a read-only query on the reader pool. It sees every committed
// write, but not the uncommitted writes of a transaction in progress: read
// inside the transaction (Tx.Query) for read-modify-write logic. On SQLite
// the reader connections are read-only, so a statement that writes (such as
// INSERT … RETURNING) must go through Exec or a transaction.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.r.QueryContext(ctx, db.dialect.Rewrite(query), args...)
}

// QueryRow is Query for at most one row; errors are deferred to Row.Scan
// (sql.ErrNoRows when there is no row).
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.r.QueryRowContext(ctx, db.dialect.Rewrite(query), args...)
}

// Ping checks that both pools answer.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping writer: %w", err)
	}
	if db.r != db.w {
		if err := db.r.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlstore: ping reader: %w", err)
		}
	}
	return nil
}

// Close closes the pools.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// maxTxAttempts bounds InTx's retries of transactions that lost a race.
const maxTxAttempts = 4

// InTx runs fn in a transaction on the writer and commits it when fn
// returns nil; when fn returns an error (or panics) the transaction is
// rolled back and the error returned as is.
//
// On SQLite the transaction starts with BEGIN IMMEDIATE (it holds the write
// lock from the start, so it never fails upgrading a read lock); on
// PostgreSQL it runs at the server's default isolation (READ COMMITTED
// unless configured otherwise).
//
// When the transaction fails because it lost a race that the engine asks
// the client to retry (SQLITE_BUSY, a PostgreSQL serialization failure or
// deadlock), InTx runs fn again, a few times, with a short backoff. fn must
// therefore have no effects outside tx, and must not use db itself: on
// SQLite that would wait forever for the writer connection fn is holding.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.inTx(ctx, fn)
		if err == nil || attempt >= maxTxAttempts || !db.dialect.IsRetryable(err) {
			return err
		}
		t := time.NewTimer(time.Duration(attempt*attempt) * 10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (db *DB) inTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	stx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin transaction: %w", err)
	}
	done := false
	defer func() {
		if !done {
			// fn panicked: release the connection, then let the panic go on.
			_ = stx.Rollback()
		}
	}()
	if err := fn(&Tx{tx: stx, dialect: db.dialect}); err != nil {
		done = true
		if rbErr := stx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("sqlstore: rollback: %w", rbErr))
		}
		return err
	}
	done = true
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// Tx is a transaction in progress, valid only inside the InTx callback that
// received it. Its methods rewrite placeholders like DB's. It is not safe
// for concurrent use.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
}

// Dialect returns the SQL dialect of the database.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// Exec runs a statement that returns no rows.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, tx.dialect.Rewrite(query), args...)
}

// Query runs a query in the transaction; it sees the transaction's own
// writes. Close the rows before the next statement on SQLite and pgx alike.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, tx.dialect.Rewrite(query), args...)
}

// QueryRow is Query for at most one row; errors are deferred to Row.Scan
// (sql.ErrNoRows when there is no row).
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, tx.dialect.Rewrite(query), args...)
}

// execOne runs a statement that must affect exactly one row and reports
// whether it did.
func execOne(ctx context.Context, tx *Tx, query string, args ...any) (bool, error) {
	res, err := tx.Exec(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("rows affected: %w", err)
	}
	return n == 1, nil
}

// queryList runs query and scans each row with scan, for the List… methods:
// the result is never nil, and every error names op.
func queryList[T any](ctx context.Context, db *DB, op string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, errorf(op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, errorf(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, errorf(op, err)
	}
	return out, nil
}
