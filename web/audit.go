package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// AuditEventJSON is the wire shape of an audit event, shared by the admin
// endpoint and `gatehouse audit --json` / `audit export`.
type AuditEventJSON struct {
	ID        string    `json:"id"`
	At        time.Time `json:"at"`
	Type      string    `json:"type"`
	ActorID   string    `json:"actor_id,omitempty"`
	SubjectID string    `json:"subject_id,omitempty"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Count     int       `json:"count"`
}

// NewAuditEventJSON converts an event to its wire shape.
func NewAuditEventJSON(e gatehouse.AuditEvent) AuditEventJSON {
	return AuditEventJSON{ID: e.ID, At: e.At.UTC(), Type: e.Type, ActorID: e.ActorID, SubjectID: e.SubjectID,
		IP: e.IP, UserAgent: e.UserAgent, RequestID: e.RequestID, Reason: e.Reason, Count: e.Count}
}

// apiAdminAudit lists audit events: ?type=a,b&user_id=&ip=&since=&until=
// (RFC 3339)&before=<event id>&limit=(1-1000). The answer's next_before,
// when set, fetches the next page.
func (h *Handler) apiAdminAudit(w http.ResponseWriter, r *http.Request) {
	if err := gatehouse.Authorize(r.Context(), gatehouse.PermissionAdmin); err != nil {
		h.writeError(w, r, err)
		return
	}
	q, err := auditQuery(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	evs, more, err := h.auth.Audit(r.Context(), q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := struct {
		Events     []AuditEventJSON `json:"events"`
		NextBefore *string          `json:"next_before"`
	}{Events: make([]AuditEventJSON, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, NewAuditEventJSON(e))
	}
	if more && len(evs) > 0 {
		out.NextBefore = &evs[len(evs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// auditQuery reads the filters from the query string.
func auditQuery(r *http.Request) (gatehouse.AuditQuery, error) {
	v := r.URL.Query()
	bad := func(field, msg string) error {
		return &gatehouse.Error{Code: gatehouse.CodeInvalidRequest, Field: field, Message: msg}
	}
	q := gatehouse.AuditQuery{UserID: v.Get("user_id"), IP: v.Get("ip"), Before: v.Get("before")}
	for _, t := range v["type"] {
		for part := range strings.SplitSeq(t, ",") {
			if part = strings.TrimSpace(part); part != "" {
				q.Types = append(q.Types, part)
			}
		}
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := v.Get(f.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, bad(f.name, "Give "+f.name+" as an RFC 3339 time, like 2026-11-27T13:00:00Z.")
			}
			*f.dst = t
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return q, bad("limit", "Give limit as a number from 1 to 1000.")
		}
		q.Limit = n
	}
	return q, nil
}
