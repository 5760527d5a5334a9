package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/redis"
	"github.com/gatehouse-auth/gatehouse/store/postgres"
)

// shared is what a node shares with the others besides the database: the
// rate limiter and the cache fan-out.
type shared struct {
	// limiter counts rate limits across nodes (nil: in this process).
	limiter gatehouse.Limiter
	// fanOut carries cache invalidations (nil: SQLite, a single node).
	fanOut gatehouse.FanOut
	close  func()
}

// openShared connects what the configuration shares: with Redis, its
// limiter and pub/sub; on PostgreSQL without Redis, LISTEN/NOTIFY; on
// SQLite, nothing. Neither refuses to start when the service is down: the
// limiter falls back to per-node counts and the fan-out reports itself down
// (the node then checks every session against the database) until it
// reconnects.
func openShared(ctx context.Context, s *settings, log *slog.Logger) (*shared, error) {
	if s.redisURL != "" {
		rl, err := redis.Open(ctx, redis.Options{URL: s.redisURL, Prefix: s.redisPrefix, Fallback: gatehouse.NewMemoryLimiter(0, nil), Logger: log})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", setting("redis_url"), err)
		}
		return &shared{limiter: rl, fanOut: redis.NewFanOut(rl.Client(), s.redisPrefix), close: func() { rl.Close() }}, nil
	}
	if s.db.driver == "postgres" {
		fo, err := postgres.NewFanOut(s.db.dsn)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", setting("database_url"), err)
		}
		return &shared{fanOut: fo, close: func() { fo.Close() }}, nil
	}
	return &shared{close: func() {}}, nil
}
