// Package postgres is Gatehouse's scale-out storage backend: PostgreSQL (or
// a compatible engine) through pgx's database/sql driver, shared by many
// stateless Gatehouse processes.
//
// The SQL, the schema and the migrations live in store/sqlstore; this
// package opens and checks the connection pool, and offers FanOut, cache
// invalidations over LISTEN/NOTIFY for deployments without Redis. Migrate
// takes a PostgreSQL advisory lock (keyed by the current schema), so nodes
// starting together do not race. A search_path given in the DSN is honoured: the
// tables live in its first existing schema. This package does not import
// any other store package.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/store/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Store is the PostgreSQL backend: a sqlstore.Store over one pgx pool. Its
// methods, including Migrate, MigrationStatus and DB, are those of
// sqlstore.Store.
type Store struct {
	*sqlstore.Store
}

var _ gatehouse.Store = (*Store)(nil)

// Pool limits. MaxOpenConns bounds what one node takes from the server's
// max_connections; the lifetime lets connections follow failovers and
// rebalanced poolers.
const (
	maxOpenConns = 20
	// maxIdleConns keeps every connection: a busy node (a Redis outage
	// sends every session check to the database) must not close and reopen
	// backends, each of which costs PostgreSQL far more than a query.
	maxIdleConns    = maxOpenConns
	connMaxLifetime = 30 * time.Minute
	connMaxIdleTime = 5 * time.Minute
	pingTimeout     = 10 * time.Second
)

// Open connects to the PostgreSQL database named by dsn (a postgres:// URL
// or key=value string, as pgx accepts) and checks that it answers within
// ten seconds. It does not migrate: call Migrate before use.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message redacts the password.
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(maxOpenConns)
	pool.SetMaxIdleConns(maxIdleConns)
	pool.SetConnMaxLifetime(connMaxLifetime)
	pool.SetConnMaxIdleTime(connMaxIdleTime)

	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := pool.PingContext(pctx); err != nil {
		_ = pool.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("postgres: no answer from %s:%d within %s: %w", cfg.Host, cfg.Port, pingTimeout, err)
		}
		return nil, fmt.Errorf("postgres: connect to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	db, err := sqlstore.NewDB(sqlstore.Postgres, pool, pool)
	if err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Store{Store: sqlstore.New(db)}, nil
}
