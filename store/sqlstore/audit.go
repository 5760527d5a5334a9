package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

const auditColumns = `id, at, type, actor_id, subject_id, ip, user_agent, request_id, reason, count`

// auditColumnCount is the number of columns in auditColumns.
const auditColumnCount = 10

// auditInsertRows is how many events one INSERT carries: 1000 bound
// values, well under both engines' limits (SQLite 32766, PostgreSQL 65535).
const auditInsertRows = 100

// ListAudit page sizes.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// AppendAudit inserts events in one transaction (multi-row INSERTs of up to
// a hundred events): all or none. An empty slice does nothing. A Count
// below 1 is stored as 1. An event without an ID is an error; an ID already
// stored is gatehouse.ErrConflict, and nothing is inserted.
func (s *Store) AppendAudit(ctx context.Context, events []gatehouse.AuditEvent) error {
	const op = "append audit"
	if len(events) == 0 {
		return nil
	}
	for i, e := range events {
		if e.ID == "" {
			return fmt.Errorf("sqlstore: %s: event %d has no ID", op, i)
		}
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		for chunk := range slices.Chunk(events, auditInsertRows) {
			args := make([]any, 0, len(chunk)*auditColumnCount)
			for _, e := range chunk {
				count := e.Count
				if count < 1 {
					count = 1
				}
				args = append(args, e.ID, toMillis(e.At), e.Type, e.ActorID, e.SubjectID,
					e.IP, e.UserAgent, e.RequestID, e.Reason, count)
			}
			query := valuesStatement(`INSERT INTO audit_events (`+auditColumns+`) VALUES `, auditColumnCount, len(chunk))
			if _, err := tx.Exec(ctx, query, args...); err != nil {
				return s.insertError(op, err)
			}
		}
		return nil
	})
}

// ListAudit returns the events matching q, newest first (At, then ID,
// descending, IDs compared byte-wise), and whether more follow. Filters
// combine with AND; empty ones (nil Types, "" UserID or IP, zero times)
// select everything. Since is inclusive and Until exclusive, both at
// millisecond precision. Before is the ID of an event (normally the last
// of the previous page): only events strictly after it in that order come
// back, whether or not it matches the filters; an ID that is not stored is
// gatehouse.ErrNotFound. A Limit of zero or less means 100, more than 1000
// means 1000. The slice is never nil.
//
// It reads from the reader pool, outside any transaction: a page sees
// every event committed before it started.
func (s *Store) ListAudit(ctx context.Context, q gatehouse.AuditQuery) ([]gatehouse.AuditEvent, bool, error) {
	const op = "list audit"
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultAuditLimit
	case limit > maxAuditLimit:
		limit = maxAuditLimit
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(q.Types) > 0 {
		ph := make([]string, len(q.Types))
		for i, typ := range q.Types {
			ph[i] = arg(typ)
		}
		where = append(where, `type IN (`+strings.Join(ph, ", ")+`)`)
	}
	if q.UserID != "" {
		p := arg(q.UserID)
		where = append(where, `(actor_id = `+p+` OR subject_id = `+p+`)`)
	}
	if q.IP != "" {
		where = append(where, `ip = `+arg(q.IP))
	}
	if !q.Since.IsZero() {
		where = append(where, `at >= `+arg(toMillis(q.Since)))
	}
	if !q.Until.IsZero() {
		where = append(where, `at < `+arg(toMillis(q.Until)))
	}
	if q.Before != "" {
		// Events are never updated, so the cursor's time read here is the
		// one the page query would see.
		var at int64
		if err := s.db.QueryRow(ctx, `SELECT at FROM audit_events WHERE id = $1`, q.Before).Scan(&at); err != nil {
			return nil, false, errorf(op+": cursor", err)
		}
		where = append(where, `(at, id) < (`+arg(at)+`, `+arg(q.Before)+`)`)
	}
	query := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY at DESC, id DESC LIMIT ` + arg(limit+1)

	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, false, errorf(op, err)
	}
	defer rows.Close()
	events := []gatehouse.AuditEvent{}
	for rows.Next() {
		var (
			e  gatehouse.AuditEvent
			at int64
		)
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.ActorID, &e.SubjectID, &e.IP,
			&e.UserAgent, &e.RequestID, &e.Reason, &e.Count); err != nil {
			return nil, false, errorf(op, err)
		}
		e.At = fromMillis(at)
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, errorf(op, err)
	}
	more := len(events) > limit
	if more {
		events = events[:limit]
	}
	return events, more, nil
}

// DeleteAuditBefore deletes events that happened before t (at millisecond
// precision) and returns how many.
func (s *Store) DeleteAuditBefore(ctx context.Context, t time.Time) (int, error) {
	return s.deleteCount(ctx, "delete audit", `DELETE FROM audit_events WHERE at < $1`, toMillis(t))
}
