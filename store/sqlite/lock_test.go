package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x-migrate-lock")
	unlock, err := lockFile(t.Context(), path)
	if err != nil {
		t.Fatalf("lockFile: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond)
	defer cancel()
	if u2, err := lockFile(ctx, path); err == nil {
		u2()
		t.Fatal("a second lockFile succeeded while the first holds the lock")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lockFile: %v, want a timeout", err)
	}
	unlock()
	u3, err := lockFile(t.Context(), path)
	if err != nil {
		t.Fatalf("lockFile after unlock: %v", err)
	}
	u3()
}
