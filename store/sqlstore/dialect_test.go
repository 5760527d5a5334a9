package sqlstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRewrite(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, ``},
		{`SELECT 1`, `SELECT 1`},
		{`SELECT * FROM t WHERE a = $1`, `SELECT * FROM t WHERE a = ?1`},
		{`VALUES ($2, $1, $10, $2)`, `VALUES (?2, ?1, ?10, ?2)`},
		{`a=$1,b=$22`, `a=?1,b=?22`},
		{`WHERE x = '$1' AND y = $1`, `WHERE x = '$1' AND y = ?1`},
		{`WHERE x = 'it''s $1' AND y = $2`, `WHERE x = 'it''s $1' AND y = ?2`},
		{`SELECT "col$1", a$1, $1`, `SELECT "col$1", a$1, ?1`},
		{"SELECT $1 -- $2\n, $3", "SELECT ?1 -- $2\n, ?3"},
		{`SELECT /* $1 */ $2`, `SELECT /* $1 */ ?2`},
		{`SELECT $ , $$, $a, $`, `SELECT $ , $$, $a, $`},
		{`SELECT '$1`, `SELECT '$1`},     // unterminated literal: copied
		{`SELECT /* $1`, `SELECT /* $1`}, // unterminated comment: copied
		{`SELECT $1 -- $2`, `SELECT ?1 -- $2`},
		{`SELECT ?, ?1, $1`, `SELECT ?, ?1, ?1`},
		{"SELECT `$1`, $1", "SELECT `$1`, ?1"},
		{`SELECT é$1, ($1)`, `SELECT é$1, (?1)`},
	}
	for _, tt := range tests {
		if got := SQLite.Rewrite(tt.in); got != tt.want {
			t.Errorf("SQLite.Rewrite(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Postgres.Rewrite(tt.in); got != tt.in {
			t.Errorf("Postgres.Rewrite(%q) = %q, want it unchanged", tt.in, got)
		}
	}
}

func FuzzRewritePlaceholders(f *testing.F) {
	for _, s := range []string{
		`SELECT * FROM t WHERE a = $1 AND b = '$2' -- $3`,
		`/* $1 */ "x$2" $3$4 'it''s' $10`,
		`$`, `$1`, `'`, `--`, `/*`, `a$1`, "\x00$1\xff$2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := SQLite.Rewrite(q) // must not panic
		if Postgres.Rewrite(q) != q {
			t.Fatal("Postgres.Rewrite changed the query")
		}
		// Only $ becomes ?: with no ? in the input, mapping ? back to $
		// restores it exactly.
		if !strings.Contains(q, "?") {
			if back := strings.ReplaceAll(got, "?", "$"); back != q {
				t.Fatalf("Rewrite(%q) = %q: more than $ → ? changed", q, got)
			}
		}
		// Rewriting is idempotent: what is left of $N sits in literals,
		// comments or identifiers, and stays there.
		if again := SQLite.Rewrite(got); again != got {
			t.Fatalf("Rewrite is not idempotent on %q: %q then %q", q, got, again)
		}
		// Outside quotes and comments, every $N is rewritten.
		if !strings.ContainsAny(q, "'\"`-/") {
			for i := 0; i+1 < len(got); i++ {
				if got[i] == '$' && isDigit(got[i+1]) && (i == 0 || !isIdentByte(got[i-1])) {
					t.Fatalf("Rewrite(%q) = %q left a placeholder at %d", q, got, i)
				}
			}
		}
	})
}

type fakeSQLiteError struct{ code int }

func (e fakeSQLiteError) Error() string { return fmt.Sprintf("sqlite error %d", e.code) }
func (e fakeSQLiteError) Code() int     { return e.code }

type fakePgError struct{ state string }

func (e fakePgError) Error() string    { return "pg error " + e.state }
func (e fakePgError) SQLState() string { return e.state }

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	tests := []struct {
		d                     Dialect
		err                   error
		unique, fk, retryable bool
	}{
		{SQLite, wrap(fakeSQLiteError{2067}), true, false, false},
		{SQLite, fakeSQLiteError{1555}, true, false, false},
		{SQLite, wrap(fakeSQLiteError{787}), false, true, false},
		{SQLite, fakeSQLiteError{5}, false, false, true},
		{SQLite, fakeSQLiteError{517}, false, false, true}, // SQLITE_BUSY_SNAPSHOT
		{SQLite, fakeSQLiteError{19}, false, false, false},
		{SQLite, fakePgError{"23505"}, false, false, false}, // wrong dialect
		{Postgres, wrap(fakePgError{"23505"}), true, false, false},
		{Postgres, fakePgError{"23503"}, false, true, false},
		{Postgres, fakePgError{"40001"}, false, false, true},
		{Postgres, fakePgError{"40P01"}, false, false, true},
		{Postgres, fakeSQLiteError{2067}, false, false, false},
		{Postgres, errors.New("plain"), false, false, false},
		{Postgres, nil, false, false, false},
	}
	for _, tt := range tests {
		if got := tt.d.IsUniqueViolation(tt.err); got != tt.unique {
			t.Errorf("%s IsUniqueViolation(%v) = %v", tt.d, tt.err, got)
		}
		if got := tt.d.IsForeignKeyViolation(tt.err); got != tt.fk {
			t.Errorf("%s IsForeignKeyViolation(%v) = %v", tt.d, tt.err, got)
		}
		if got := tt.d.IsRetryable(tt.err); got != tt.retryable {
			t.Errorf("%s IsRetryable(%v) = %v", tt.d, tt.err, got)
		}
	}
}

func TestDialectNames(t *testing.T) {
	if SQLite.Name() != "sqlite" || Postgres.Name() != "postgres" || Dialect(0).Valid() {
		t.Fatal("dialect names")
	}
	if _, err := NewDB(Dialect(0), nil, nil); err == nil {
		t.Fatal("NewDB accepted an invalid dialect")
	}
}
