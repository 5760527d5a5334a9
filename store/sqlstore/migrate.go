package sqlstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path/filepath"
	"regexp"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// CoreVersionTable is goose's history table for the core schema. A plugin's
// history lives in CoreVersionTable + "_" + its name.
const CoreVersionTable = "goose_db_version"

// pluginName is what Plugin.Name must look like to name a version table.
// PostgreSQL identifiers are at most 63 bytes; the prefix takes 17.
var pluginName = regexp.MustCompile(`^[a-z0-9_]{1,46}$`)

// component is one migration history: the core's or a plugin's.
type component struct {
	name  string // "" for the core
	table string
	fsys  fs.FS
}

func (s *Store) components(plugins []gatehouse.Plugin) ([]component, error) {
	d := s.db.dialect
	core, err := fs.Sub(migrationFiles, "migrations/"+d.Name())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: core migrations: %w", err)
	}
	comps := []component{{table: CoreVersionTable, fsys: core}}
	seen := map[string]bool{}
	for _, p := range plugins {
		if p.Migrations == nil {
			continue
		}
		if !pluginName.MatchString(p.Name) {
			return nil, fmt.Errorf("sqlstore: plugin name %q: want 1 to 46 lower-case letters, digits or underscores", p.Name)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("sqlstore: plugin %q passed twice", p.Name)
		}
		seen[p.Name] = true
		sub, err := fs.Sub(p.Migrations, d.Name())
		if err != nil {
			return nil, fmt.Errorf("sqlstore: plugin %q migrations: %w", p.Name, err)
		}
		if m, err := fs.Glob(sub, "*.sql"); err != nil || len(m) == 0 {
			return nil, fmt.Errorf("sqlstore: plugin %q has no %s/*.sql migrations", p.Name, d.Name())
		}
		comps = append(comps, component{name: p.Name, table: CoreVersionTable + "_" + p.Name, fsys: sub})
	}
	return comps, nil
}

func (c component) label() string {
	if c.name == "" {
		return "core"
	}
	return "plugin " + c.name
}

// provider builds the goose provider for one component. On PostgreSQL it
// takes a session-level advisory lock around the run, keyed by the current
// schema, so nodes starting together migrate one after the other while
// deployments in other schemas of the same database do not wait.
func (s *Store) provider(ctx context.Context, c component, locked bool) (*goose.Provider, error) {
	opts := []goose.ProviderOption{
		goose.WithTableName(c.table),
		goose.WithDisableGlobalRegistry(true),
	}
	gd := goose.DialectSQLite3
	if s.db.dialect == Postgres {
		gd = goose.DialectPostgres
		if locked {
			id, err := s.lockID(ctx)
			if err != nil {
				return nil, err
			}
			// Poll every second, for up to 5 minutes.
			l, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
			if err != nil {
				return nil, fmt.Errorf("sqlstore: migration lock: %w", err)
			}
			opts = append(opts, goose.WithSessionLocker(l))
		}
	}
	p, err := goose.NewProvider(gd, s.db.w, c.fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s migrations: %w", c.label(), err)
	}
	return p, nil
}

// lockID derives the advisory lock key from the current schema (the first
// existing one on search_path, where the tables go).
func (s *Store) lockID(ctx context.Context) (int64, error) {
	var schema *string
	if err := s.db.w.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return 0, fmt.Errorf("sqlstore: current schema: %w", err)
	}
	if schema == nil {
		return 0, errors.New("sqlstore: no current schema: the search_path names no existing schema")
	}
	h := fnv.New64a()
	h.Write([]byte("gatehouse migrate\x00" + *schema))
	return int64(h.Sum64()), nil
}

// Migrate applies the pending migrations of the core schema and then of
// each plugin that has Migrations (its "sqlite" or "postgres" sub-folder),
// each with its own goose history table (goose_db_version for the core,
// goose_db_version_<name> for a plugin). It is idempotent and safe to run
// from several processes at once on PostgreSQL, where each component
// migrates under a session-level advisory lock keyed by the current schema.
// On SQLite the single writer connection serialises it within one Store;
// store/sqlite's Migrate adds a lock across processes.
func (s *Store) Migrate(ctx context.Context, plugins ...gatehouse.Plugin) error {
	comps, err := s.components(plugins)
	if err != nil {
		return err
	}
	for _, c := range comps {
		p, err := s.provider(ctx, c, true)
		if err != nil {
			return err
		}
		// Never p.Close(): it would close the store's pool.
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("sqlstore: migrate %s: %w", c.label(), err)
		}
	}
	return nil
}

// MigrationState is one migration of one component as MigrationStatus
// reports it.
type MigrationState struct {
	// Component is "core" or the plugin's name.
	Component string
	// Version is the migration's number; Source its file name.
	Version int64
	Source  string
	// Applied reports whether it ran; AppliedAt is when (zero if pending).
	Applied   bool
	AppliedAt time.Time
}

// MigrationStatus lists every known migration of the core and of the given
// plugins, in order of application, with whether it has been applied. It
// creates missing history tables (as goose does) but applies nothing.
func (s *Store) MigrationStatus(ctx context.Context, plugins ...gatehouse.Plugin) ([]MigrationState, error) {
	comps, err := s.components(plugins)
	if err != nil {
		return nil, err
	}
	states := []MigrationState{}
	for _, c := range comps {
		p, err := s.provider(ctx, c, false)
		if err != nil {
			return nil, err
		}
		st, err := p.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migration status of %s: %w", c.label(), err)
		}
		name := c.name
		if name == "" {
			name = "core"
		}
		for _, m := range st {
			ms := MigrationState{Component: name, Applied: m.State == goose.StateApplied}
			if m.Source != nil {
				ms.Version, ms.Source = m.Source.Version, filepath.Base(m.Source.Path)
			}
			if ms.Applied {
				ms.AppliedAt = m.AppliedAt.UTC()
			}
			states = append(states, ms)
		}
	}
	return states, nil
}
