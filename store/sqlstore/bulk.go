package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
)

// The bulk statements: the columns of CreateUser and insertSession, with
// the VALUES tuples appended by valuesStatement.
const (
	bulkUserInsert = `INSERT INTO users (id, email, email_normalized, email_verified, name, roles,
		disabled, password_hash, created_at, updated_at) VALUES `
	bulkUserColumns   = 10
	bulkSessionInsert = `INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at,
		absolute_expires_at, authenticated_at, amr, aal, ip, user_agent) VALUES `
	bulkSessionColumns = 11
)

// Bind parameters per bulk statement.
//
// PostgreSQL counts parameters in 16 bits on the wire, so a statement
// carries at most 65535. Big statements save round trips to a remote
// server.
//
// SQLite allows 32766, but that is far from the fastest size:
// modernc.org/sqlite binds every parameter by name, and SQLite finds the
// name of a numbered parameter (?N) by a linear scan, so binding one
// statement costs the square of its parameter count. At the limit a
// statement binds about 2,000 rows a second; around 100 parameters (ten
// rows) the scan is noise, and measured seeding was fastest from 40 to 100.
const (
	pgBulkParams     = 65535
	sqliteBulkParams = 100
)

// sqliteBulkCacheKiB is the page cache of SQLite's writer connection while
// a bulk call runs, in KiB: 256 MiB instead of the default 2 MiB. The
// unique and foreign-key indexes of users and sessions are keyed by random
// ids and hashes, so past a few hundred thousand rows every insert lands on
// a page that a small cache has evicted and must be read back, and dirty
// pages spill to the WAL mid-transaction. Seeding 1M users and 1M sessions
// in calls of 50,000 took about 70 s with the default cache and about 47 s
// with this one (a larger cache did no better). The cache grows only with
// pages used and is set back (its pages freed) at the end of each call, so
// a process that seeds and then serves does not keep it; the price is that
// each call reads its pages in again, so calls of fewer rows are slower
// (about 60 s in calls of 20,000).
const sqliteBulkCacheKiB = 256 << 10

// BulkInsertUsers inserts users, all with passwordHash, in one transaction,
// many rows per statement. For seeding large datasets (benchmarks); it writes
// no audit events. ErrConflict if an id or normalized email is taken.
//
// Columns and encodings are CreateUser's. Any number of users may be given
// (none is a no-op); a conflict anywhere rolls the whole call back. The
// transaction holds SQLite's single writer for the whole call, so seed
// millions of rows in calls of some tens of thousands, before serving.
func (s *Store) BulkInsertUsers(ctx context.Context, users []gatehouse.User, passwordHash string) error {
	return s.bulkInsert(ctx, "bulk insert users", bulkUserInsert, bulkUserColumns, len(users), func(dst []any, i int) error {
		u := &users[i]
		roles, err := encodeList(u.Roles)
		if err != nil {
			return err
		}
		dst[0], dst[1], dst[2], dst[3], dst[4] = u.ID, u.Email, u.EmailNormalized, u.EmailVerified, u.Name
		dst[5], dst[6], dst[7], dst[8], dst[9] = roles, u.Disabled, passwordHash, toMillis(u.CreatedAt), toMillis(u.UpdatedAt)
		return nil
	})
}

// BulkInsertSessions inserts sessions in one transaction, many rows per statement.
//
// Like BulkInsertUsers it is for seeding: columns and encodings are
// CreateSession's, any number of sessions may be given, and the call is one
// transaction. ErrConflict if an id or token hash is taken, ErrNotFound if
// a session's user does not exist; either rolls the whole call back.
func (s *Store) BulkInsertSessions(ctx context.Context, sessions []gatehouse.Session) error {
	return s.bulkInsert(ctx, "bulk insert sessions", bulkSessionInsert, bulkSessionColumns, len(sessions), func(dst []any, i int) error {
		ses := &sessions[i]
		amr, err := encodeList(ses.AMR)
		if err != nil {
			return err
		}
		dst[0], dst[1], dst[2], dst[3] = ses.ID, ses.UserID, ses.TokenHash, toMillis(ses.CreatedAt)
		dst[4], dst[5], dst[6] = toMillis(ses.LastSeenAt), toMillis(ses.AbsoluteExpiresAt), toMillis(ses.AuthenticatedAt)
		dst[7], dst[8], dst[9], dst[10] = amr, ses.AAL, ses.IP, ses.UserAgent
		return nil
	})
}

// bulkRows returns how many rows of cols columns one bulk statement carries.
func (d Dialect) bulkRows(cols int) int {
	params := pgBulkParams
	if d == SQLite {
		params = sqliteBulkParams
	}
	return max(1, params/cols)
}

// bulkInsert inserts n rows of cols columns in one transaction. head is the
// statement up to and including VALUES; put writes row i's values into dst
// (len cols).
//
// Rows go bulkRows at a time and the rest in statements of a power of two
// rows each, each size prepared once: a call prepares at most
// log2(bulkRows)+1 statements, and closes them, whatever the length of the
// slice it was given, so no server or driver cache fills up with one
// statement text per length.
func (s *Store) bulkInsert(ctx context.Context, op, head string, cols, n int, put func(dst []any, i int) error) error {
	if n == 0 {
		return nil
	}
	per := s.db.dialect.bulkRows(cols)
	if s.db.dialect == SQLite {
		restore, err := s.db.raiseWriterCache(ctx, sqliteBulkCacheKiB)
		if err != nil {
			return errorf(op, err)
		}
		defer restore()
	}
	return s.db.InTx(ctx, func(tx *Tx) (err error) {
		stmts := map[int]*sql.Stmt{}
		defer func() {
			for _, st := range stmts {
				err = errors.Join(err, st.Close())
			}
		}()
		args := make([]any, min(per, n)*cols)
		for start := 0; start < n; {
			rows := per
			if left := n - start; left < per {
				rows = 1 << (bits.Len(uint(left)) - 1)
			}
			st, ok := stmts[rows]
			if !ok {
				q := tx.dialect.Rewrite(valuesStatement(head, cols, rows))
				if st, err = tx.tx.PrepareContext(ctx, q); err != nil {
					return errorf(op, err)
				}
				stmts[rows] = st
			}
			args = args[:rows*cols]
			for r := range rows {
				if err := put(args[r*cols:(r+1)*cols], start+r); err != nil {
					return errorf(op, err)
				}
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return s.insertError(op, err)
			}
			start += rows
		}
		return nil
	})
}

// raiseWriterCache sets the page cache of SQLite's writer connection to
// kib KiB and returns the function that sets it back. The writer pool holds
// exactly one connection (see DB), so the transaction that follows runs on
// it; restoring after the commit frees the extra pages at once. The restore
// runs even when ctx is done; should it fail, the connection keeps the
// larger cache, which costs memory, never correctness.
func (db *DB) raiseWriterCache(ctx context.Context, kib int) (restore func(), err error) {
	var prev int64 // pages when positive, KiB when negative
	if err := db.w.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&prev); err != nil {
		return nil, fmt.Errorf("read cache_size: %w", err)
	}
	if _, err := db.w.ExecContext(ctx, `PRAGMA cache_size = -`+strconv.Itoa(kib)); err != nil {
		return nil, fmt.Errorf("raise cache_size: %w", err)
	}
	return func() {
		_, _ = db.w.ExecContext(context.WithoutCancel(ctx), `PRAGMA cache_size = `+strconv.FormatInt(prev, 10))
	}, nil
}

// valuesStatement returns head followed by rows tuples of cols numbered
// placeholders: ($1, $2), ($3, $4)…
func valuesStatement(head string, cols, rows int) string {
	var b strings.Builder
	b.Grow(len(head) + rows*cols*8)
	b.WriteString(head)
	n := 1
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}
