package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-auth/gatehouse/store/sqlstore"
)

// migrateCmd applies the embedded migrations.
type migrateCmd struct {
	Status bool `help:"Only list the migrations and whether each has been applied; change nothing."`
	JSON   bool `name:"json" help:"Print machine-readable JSON."`
}

// migrationJSON is one migration in --json output.
type migrationJSON struct {
	Component string     `json:"component"`
	Version   int64      `json:"version"`
	Source    string     `json:"source"`
	Applied   bool       `json:"applied"`
	AppliedAt *time.Time `json:"applied_at,omitempty"`
	// New is set on migrations this run applied.
	New bool `json:"new,omitempty"`
}

// Run applies the pending migrations (or, with --status, lists them).
func (c *migrateCmd) Run(ctx context.Context, ce *commandEnv) error {
	s, err := loadAndCheck(ce)
	if err != nil {
		return err
	}
	st, err := openBackend(ctx, s)
	if err != nil {
		return err
	}
	defer st.Close()

	before, err := st.MigrationStatus(ctx)
	if err != nil {
		return fmt.Errorf("reading the migration status: %w", err)
	}
	after := before
	if !c.Status {
		if err := st.Migrate(ctx); err != nil {
			return fmt.Errorf("migrating the database: %w", err)
		}
		if after, err = st.MigrationStatus(ctx); err != nil {
			return fmt.Errorf("reading the migration status: %w", err)
		}
	}
	wasApplied := map[string]bool{}
	for _, m := range before {
		if m.Applied {
			wasApplied[migrationKey(m)] = true
		}
	}

	if c.JSON {
		out := make([]migrationJSON, 0, len(after))
		for _, m := range after {
			mj := migrationJSON{Component: m.Component, Version: m.Version, Source: m.Source, Applied: m.Applied, New: m.Applied && !wasApplied[migrationKey(m)]}
			if m.Applied {
				t := m.AppliedAt
				mj.AppliedAt = &t
			}
			out = append(out, mj)
		}
		return writeJSON(ce.stdout, map[string]any{"database": s.db.describe(), "migrations": out})
	}

	fmt.Fprintf(ce.stdout, "Database: %s\n", s.db.describe())
	if c.Status {
		tw := tabwriter.NewWriter(ce.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "COMPONENT\tVERSION\tSOURCE\tAPPLIED")
		for _, m := range after {
			applied := "pending"
			if m.Applied {
				applied = m.AppliedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", m.Component, m.Version, m.Source, applied)
		}
		return tw.Flush()
	}
	n := 0
	for _, m := range after {
		if m.Applied && !wasApplied[migrationKey(m)] {
			fmt.Fprintf(ce.stdout, "Applied %s migration %d (%s).\n", m.Component, m.Version, m.Source)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintf(ce.stdout, "Already up to date (%d migration(s) applied).\n", len(after))
	} else {
		fmt.Fprintf(ce.stdout, "Applied %d migration(s); the database is up to date.\n", n)
	}
	return nil
}

func migrationKey(m sqlstore.MigrationState) string {
	return fmt.Sprintf("%s/%d", m.Component, m.Version)
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
