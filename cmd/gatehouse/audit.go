package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/web"
)

// auditCmd groups the audit-log commands.
type auditCmd struct {
	List   auditListCmd   `cmd:"" default:"withargs" help:"Show audit events, newest first (the default)."`
	Export auditExportCmd `cmd:"" help:"Write every matching audit event as JSON lines, newest first (for a SIEM or an archive)."`
}

// auditFilter is the selection both commands share.
type auditFilter struct {
	Type  []string `name:"type" placeholder:"TYPE" help:"Only events of this type (sign_in, sign_in_failed, rate_limited, …); repeat for several."`
	User  string   `name:"user" placeholder:"USER_ID" help:"Only events whose actor or subject is this user (usr_…)."`
	IP    string   `name:"ip" help:"Only events from this address."`
	Since string   `name:"since" placeholder:"TIME" help:"Only events at or after this time: RFC 3339 (2026-11-27T13:00:00Z) or a duration ago (24h)."`
	Until string   `name:"until" placeholder:"TIME" help:"Only events before this time (same forms)."`
}

func (f auditFilter) query(now time.Time) (gatehouse.AuditQuery, error) {
	q := gatehouse.AuditQuery{Types: f.Type, UserID: f.User, IP: f.IP}
	for _, t := range []struct {
		flag, v string
		dst     *time.Time
	}{{"--since", f.Since, &q.Since}, {"--until", f.Until, &q.Until}} {
		if t.v == "" {
			continue
		}
		if ts, err := time.Parse(time.RFC3339, t.v); err == nil {
			*t.dst = ts
			continue
		}
		d, err := time.ParseDuration(t.v)
		if err != nil || d < 0 {
			return q, &exitError{code: 2, err: fmt.Errorf("%s %q: give an RFC 3339 time (2026-11-27T13:00:00Z) or a duration ago (24h)", t.flag, t.v)}
		}
		*t.dst = now.Add(-d)
	}
	return q, nil
}

type auditListCmd struct {
	auditFilter `embed:""`
	Limit       int    `default:"50" help:"Show at most this many events (1-1000)."`
	Before      string `placeholder:"EVENT_ID" help:"Start after this event (the last ID of the previous page)."`
	JSON        bool   `name:"json" help:"Print JSON lines instead of a table."`
}

// Run prints one page of events. It reads the database only.
func (c *auditListCmd) Run(ctx context.Context, ce *commandEnv) error {
	if c.Limit < 1 || c.Limit > 1000 {
		return &exitError{code: 2, err: fmt.Errorf("--limit must be between 1 and 1000, not %d", c.Limit)}
	}
	q, err := c.query(time.Now())
	if err != nil {
		return err
	}
	q.Limit, q.Before = c.Limit, c.Before
	return withStore(ctx, ce, func(st backend) error {
		evs, more, err := st.ListAudit(ctx, q)
		if err != nil {
			return fmt.Errorf("reading the audit log: %w", err)
		}
		if c.JSON {
			return writeEvents(ce.stdout, evs)
		}
		printEvents(ce.stdout, evs)
		if more {
			fmt.Fprintf(ce.stdout, "\nMore events: add --before %s\n", evs[len(evs)-1].ID)
		}
		return nil
	})
}

type auditExportCmd struct {
	auditFilter `embed:""`
}

// Run writes every matching event as JSON lines, a page at a time.
func (c *auditExportCmd) Run(ctx context.Context, ce *commandEnv) error {
	q, err := c.query(time.Now())
	if err != nil {
		return err
	}
	q.Limit = 1000
	return withStore(ctx, ce, func(st backend) error {
		n := 0
		for {
			evs, more, err := st.ListAudit(ctx, q)
			if err != nil {
				return fmt.Errorf("reading the audit log: %w", err)
			}
			if err := writeEvents(ce.stdout, evs); err != nil {
				return err
			}
			n += len(evs)
			if !more || len(evs) == 0 {
				break
			}
			q.Before = evs[len(evs)-1].ID
		}
		fmt.Fprintf(ce.stderr, "exported %d events\n", n)
		return nil
	})
}

// withStore opens the configured database for a read-only command.
func withStore(ctx context.Context, ce *commandEnv, fn func(backend) error) error {
	s, err := loadAndCheck(ce)
	if err != nil {
		return err
	}
	st, err := openBackend(ctx, s)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st)
}

func writeEvents(w io.Writer, evs []gatehouse.AuditEvent) error {
	enc := json.NewEncoder(w)
	for _, e := range evs {
		if err := enc.Encode(web.NewAuditEventJSON(e)); err != nil {
			return err
		}
	}
	return nil
}

func printEvents(w io.Writer, evs []gatehouse.AuditEvent) {
	if len(evs) == 0 {
		fmt.Fprintln(w, "No events.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTYPE\tACTOR\tSUBJECT\tIP\tREASON\tCOUNT")
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", e.At.UTC().Format(time.RFC3339), e.Type, dash(e.ActorID), dash(e.SubjectID), dash(e.IP), dash(oneLine(e.Reason)), e.Count)
	}
	tw.Flush()
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
