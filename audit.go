package gatehouse

import (
	"context"
	"time"
)

// AuditEvent is one security event. It never holds a password, token, code
// or secret: only who, what, to whom, from where and why.
type AuditEvent struct {
	// ID is "aud_…"; IDs order events by time within one node.
	ID   string
	At   time.Time
	Type string
	// ActorID is who acted (a user id, "admin:cli", or "" when unknown,
	// like a failed sign-in); SubjectID the user acted on ("" for none).
	ActorID   string
	SubjectID string
	IP        string
	UserAgent string
	RequestID string
	// Reason is a machine-readable code (the error code of a failure,
	// "unknown_user", "throttled"…).
	Reason string
	// Count is how many occurrences one row stands for (aggregated
	// limiter events); 1 otherwise.
	Count int
}

// AuditQuery selects events, newest first.
type AuditQuery struct {
	// Types, when not empty, keeps events of these types.
	Types []string
	// UserID, when set, keeps events whose actor or subject it is.
	UserID string
	// IP, when set, keeps events from this address.
	IP string
	// Since and Until bound At (inclusive, exclusive); zero is unbounded.
	Since, Until time.Time
	// Before is the cursor: only events strictly older than the event with
	// this ID (in the order (At, ID) descending). "" starts at the newest.
	Before string
	// Limit is at most 1000 (default 100).
	Limit int
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// AppendAudit inserts events (one transaction).
	AppendAudit(ctx context.Context, events []AuditEvent) error
	// ListAudit returns events matching q, newest first (At desc, ID
	// desc), and whether more follow.
	ListAudit(ctx context.Context, q AuditQuery) (events []AuditEvent, more bool, err error)
	// DeleteAuditBefore deletes events older than t and returns how many.
	DeleteAuditBefore(ctx context.Context, t time.Time) (int, error)
}
