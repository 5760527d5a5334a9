// Package sqlstore is the SQL code shared by the SQLite and PostgreSQL
// backends: the Dialect (placeholder rewriting, error classification), the
// dialect-neutral DB handle with InTx that plugins also use for their own
// tables, the Store that implements gatehouse.Store on top of it, and the
// embedded goose migrations, one folder per dialect.
//
// SQL is written once, with PostgreSQL-style $1..$N placeholders, and
// rewritten to ?1..?N for SQLite; arguments are always bound by number, never
// by order of appearance. Case-insensitive uniqueness (email) is done in Go
// (the email_normalized column holds the lower-cased key under a plain unique
// index), never with SQL case functions, which differ between engines.
//
// Storage conventions, identical in both dialects:
//
//   - Times are integer unix milliseconds (BIGINT/INTEGER), truncated to the
//     millisecond and returned as UTC time.Time values, so comparisons are
//     numeric and behave the same on both engines.
//   - Lists (user roles, session AMR) are JSON arrays of strings in a text
//     column; "[]" for none.
//   - Revocation is a real DELETE: a revoked session does not exist.
//
// This package must not import a database driver: the backends
// (store/sqlite, store/postgres) open the *sql.DB pools and hand them to
// NewDB. It never imports another store package either.
package sqlstore
