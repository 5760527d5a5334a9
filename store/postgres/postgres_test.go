package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/testpg"
	"github.com/gatehouse-auth/gatehouse/store/postgres"
	"github.com/gatehouse-auth/gatehouse/store/storetest"
)

func openStore(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	testpg.BaseDSN(t)
	storetest.Run(t, func(t *testing.T) storetest.Store { return testpg.Store(t) })
}

func TestTablesLiveInSearchPathSchema(t *testing.T) {
	s := testpg.Store(t)
	var schema string
	if err := s.DB().QueryRow(t.Context(), `SELECT schemaname FROM pg_tables WHERE tablename = 'users' AND schemaname = current_schema()`).Scan(&schema); err != nil {
		t.Fatalf("users table not in the current schema: %v", err)
	}
	if !strings.HasPrefix(schema, "gatehouse_test_") {
		t.Fatalf("schema = %q", schema)
	}
}

// Nodes starting together both migrate one fresh schema; the advisory
// lock makes one wait for the other.
func TestConcurrentMigrate(t *testing.T) {
	dsn := testpg.FreshSchema(t)
	const n = 3
	stores := make([]*postgres.Store, n)
	for i := range stores {
		stores[i] = openStore(t, dsn)
		defer stores[i].Close()
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Migrate(t.Context())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: Migrate: %v", i, err)
		}
	}
	var applied int
	if err := stores[0].DB().QueryRow(t.Context(), `SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	states, err := stores[0].MigrationStatus(t.Context())
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if applied != len(states) {
		t.Fatalf("%d history rows for %d migrations: a migration ran twice", applied, len(states))
	}
	for _, st := range states {
		if !st.Applied {
			t.Errorf("pending after migrate: %+v", st)
		}
	}
}

func TestOpenFailsClearly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// Nothing listens on port 1.
	_, err := postgres.Open(ctx, "postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open succeeded with nothing listening")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error reveals the password: %v", err)
	}
	if _, err := postgres.Open(ctx, "postgres://%zz"); err == nil {
		t.Fatal("Open accepted a malformed DSN")
	}
}
