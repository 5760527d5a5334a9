package sqlstore

import (
	"errors"
	"strings"
)

// Dialect names the SQL engine behind a DB and holds what differs between
// engines: placeholder syntax, error classification and the migration
// folder name. The zero value is not a valid dialect.
type Dialect int

// The supported dialects.
const (
	// SQLite is modernc.org/sqlite (database/sql driver "sqlite").
	SQLite Dialect = iota + 1
	// Postgres is PostgreSQL (or a compatible engine) through pgx's
	// database/sql driver.
	Postgres
)

// Name returns "sqlite" or "postgres": the name of the migration folder a
// plugin provides for this dialect. It returns "" for an invalid Dialect.
func (d Dialect) Name() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return ""
}

// String returns Name.
func (d Dialect) String() string { return d.Name() }

// Valid reports whether d is one of the supported dialects.
func (d Dialect) Valid() bool { return d.Name() != "" }

// Rewrite returns query with its PostgreSQL-style $N placeholders in this
// dialect's syntax: unchanged for Postgres, ?N for SQLite. Numbered
// placeholders keep their number, so an argument may be referenced several
// times and in any order.
//
// The SQLite rewriter is a small lexer, not a parser: a $ followed by digits
// is rewritten unless it sits inside a single-quoted string literal, a
// double-quoted or backquoted identifier, a -- or /* */ comment, or directly
// after an identifier character (PostgreSQL allows $ inside identifiers, as
// in a$1). PostgreSQL dollar-quoted strings ($tag$…$tag$) are not
// recognised; SQL shared by both dialects cannot use them anyway, since
// SQLite does not have them. Anything else, including ? characters, is
// copied unchanged.
func (d Dialect) Rewrite(query string) string {
	if d != SQLite {
		return query
	}
	return rewriteDollar(query)
}

func rewriteDollar(q string) string {
	if strings.IndexByte(q, '$') < 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			// Copy through the closing quote. A doubled quote ('') is an
			// escaped quote: it closes and reopens, which this handles.
			j := strings.IndexByte(q[i+1:], c)
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			end := i + 1 + j + 1
			b.WriteString(q[i:end])
			i = end
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+1])
			i += j + 1
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			end := i + 2 + j + 2
			b.WriteString(q[i:end])
			i = end
		case c == '$' && i+1 < len(q) && isDigit(q[i+1]) && (i == 0 || !isIdentByte(q[i-1])):
			j := i + 1
			for j < len(q) && isDigit(q[j]) {
				j++
			}
			b.WriteByte('?')
			b.WriteString(q[i+1 : j])
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') || c >= 0x80
}

// Error codes, from the engines' documentation. SQLite extended result
// codes are enabled by modernc.org/sqlite on every connection.
const (
	sqliteBusy                 = 5
	sqliteLocked               = 6
	sqliteConstraintForeignKey = 787  // SQLITE_CONSTRAINT_FOREIGNKEY
	sqliteConstraintPrimaryKey = 1555 // SQLITE_CONSTRAINT_PRIMARYKEY
	sqliteConstraintUnique     = 2067 // SQLITE_CONSTRAINT_UNIQUE

	pgUniqueViolation      = "23505"
	pgForeignKeyViolation  = "23503"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

// sqliteCoder is implemented by *modernc.org/sqlite.Error; pgStater by
// *pgconn.PgError. Matching on methods keeps this package driver-free.
type sqliteCoder interface{ Code() int }
type pgStater interface{ SQLState() string }

func (d Dialect) sqliteCode(err error) (int, bool) {
	var e sqliteCoder
	if d != SQLite || !errors.As(err, &e) {
		return 0, false
	}
	return e.Code(), true
}

func (d Dialect) pgState(err error) (string, bool) {
	var e pgStater
	if d != Postgres || !errors.As(err, &e) {
		return "", false
	}
	return e.SQLState(), true
}

// IsUniqueViolation reports whether err (possibly wrapped) is the engine
// refusing a write because of a UNIQUE or PRIMARY KEY constraint.
func (d Dialect) IsUniqueViolation(err error) bool {
	if code, ok := d.sqliteCode(err); ok {
		return code == sqliteConstraintUnique || code == sqliteConstraintPrimaryKey
	}
	state, ok := d.pgState(err)
	return ok && state == pgUniqueViolation
}

// IsForeignKeyViolation reports whether err (possibly wrapped) is the engine
// refusing a write because a referenced row does not exist (or, on delete,
// because a row still references it without ON DELETE CASCADE).
func (d Dialect) IsForeignKeyViolation(err error) bool {
	if code, ok := d.sqliteCode(err); ok {
		return code == sqliteConstraintForeignKey
	}
	state, ok := d.pgState(err)
	return ok && state == pgForeignKeyViolation
}

// IsRetryable reports whether err means the transaction lost a race with
// another one and can be run again from the start: SQLITE_BUSY/LOCKED, or a
// PostgreSQL serialization failure or deadlock.
func (d Dialect) IsRetryable(err error) bool {
	if code, ok := d.sqliteCode(err); ok {
		return code&0xff == sqliteBusy || code&0xff == sqliteLocked
	}
	state, ok := d.pgState(err)
	return ok && (state == pgSerializationFailure || state == pgDeadlockDetected)
}
