// Package testpg gives tests a PostgreSQL schema of their own on the shared
// test server named by GATEHOUSE_TEST_POSTGRES. Without it tests skip — or
// fail, when GATEHOUSE_TEST_REQUIRE_ALL=1 (CI). Only for tests.
package testpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/store/postgres"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for the admin connection
)

// SkipMessage is what a test says when PostgreSQL is not configured.
const SkipMessage = "set GATEHOUSE_TEST_POSTGRES to a DSN to run the PostgreSQL tests"

// Available reports whether GATEHOUSE_TEST_POSTGRES is set.
func Available() bool { return os.Getenv("GATEHOUSE_TEST_POSTGRES") != "" }

// BaseDSN returns the test server's DSN, skipping (or, under
// GATEHOUSE_TEST_REQUIRE_ALL=1, failing) the test without one.
func BaseDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("GATEHOUSE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal(SkipMessage)
		}
		t.Skip(SkipMessage)
	}
	return dsn
}

// FreshSchema creates a schema of the test's own (the server is shared),
// drops it when the test ends, and returns a DSN whose search_path is it.
func FreshSchema(t testing.TB) string {
	t.Helper()
	base := BaseDSN(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open admin connection: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "gatehouse_test_" + strings.ToLower(rand.Text()[:16])
	if _, err := admin.ExecContext(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		// Registered before the store's Close, so it runs after it.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(base, schema)
}

// WithSearchPath returns dsn with its search_path set to schema.
func WithSearchPath(dsn, schema string) string {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn + " search_path=" + schema // key=value form
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Store returns a migrated store in a fresh schema, closed when the test ends.
func Store(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), FreshSchema(t))
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}
