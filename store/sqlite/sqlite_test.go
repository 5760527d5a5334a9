package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/store/sqlstore"
	"github.com/gatehouse-auth/gatehouse/store/storetest"
)

func open(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return open(t) })
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested dir?#%")
	path := filepath.Join(dir, "gatehouse.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v, %v; want mode 0700", fi.Mode(), err)
	}
	fi, err = os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("database file: %v, %v; want mode 0600", fi.Mode(), err)
	}
}

func TestOpenRejectsNonFiles(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if s, err := sqlite.Open(context.Background(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestReaderIsReadOnly(t *testing.T) {
	s := open(t)
	_, err := s.DB().Query(t.Context(), `DELETE FROM users WHERE id = $1`, "x")
	if err == nil {
		t.Fatal("a write through the read pool succeeded")
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	for i := range 2 {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate #%d: %v", i, err)
		}
		if i == 0 {
			if _, err := s.DB().Exec(t.Context(), `INSERT INTO users (id, email, email_normalized, created_at, updated_at)
				VALUES ($1, $2, $2, $3, $3)`, "usr_1", "a@example.com", 0); err != nil {
				t.Fatalf("insert: %v", err)
			}
		} else if _, err := s.UserByID(t.Context(), "usr_1"); err != nil {
			t.Fatalf("UserByID after reopen: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// Two stores (as two processes would) migrating one file at once.
func TestConcurrentMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			errs[i] = s.Migrate(t.Context())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
}

func TestMigrationStatus(t *testing.T) {
	s := open(t)
	states, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if len(states) == 0 {
		t.Fatal("no migrations reported")
	}
	for _, st := range states {
		if st.Component != "core" || !st.Applied || st.AppliedAt.IsZero() || st.Source == "" {
			t.Errorf("state %+v: want an applied core migration", st)
		}
	}
	var _ []sqlstore.MigrationState = states
}

// A bulk insert raises the writer's page cache for its own transaction
// only: a process that seeds and then serves must not keep it.
func TestBulkInsertRestoresWriterCache(t *testing.T) {
	s := open(t)
	cacheSize := func() int64 {
		t.Helper()
		var n int64
		if err := s.DB().Writer().QueryRowContext(t.Context(), `PRAGMA cache_size`).Scan(&n); err != nil {
			t.Fatalf("read cache_size: %v", err)
		}
		return n
	}
	before := cacheSize()
	u := gatehouse.User{ID: "usr_1", Email: "a@example.com", EmailNormalized: "a@example.com"}
	if err := s.BulkInsertUsers(t.Context(), []gatehouse.User{u}, "h"); err != nil {
		t.Fatalf("BulkInsertUsers: %v", err)
	}
	if err := s.BulkInsertUsers(t.Context(), []gatehouse.User{u}, "h"); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("BulkInsertUsers again: %v, want ErrConflict", err)
	}
	if after := cacheSize(); after != before {
		t.Fatalf("writer cache_size is %d after bulk inserts, was %d", after, before)
	}
}
