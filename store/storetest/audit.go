package storetest

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// newEvent is a sign-in failure at `at` with every field set.
func newEvent(id string, at time.Time) gatehouse.AuditEvent {
	return gatehouse.AuditEvent{
		ID:        id,
		At:        at,
		Type:      "sign_in.failed",
		ActorID:   "",
		SubjectID: "usr_001",
		IP:        "203.0.113.7",
		UserAgent: "Mozilla/5.0 (storetest)",
		RequestID: "req_" + id,
		Reason:    "invalid_credentials",
		Count:     1,
	}
}

// storedEvent is e as ListAudit returns it.
func storedEvent(e gatehouse.AuditEvent) gatehouse.AuditEvent {
	e.At = ms(e.At)
	if e.Count < 1 {
		e.Count = 1
	}
	return e
}

func mustAppendAudit(t *testing.T, s Store, events ...gatehouse.AuditEvent) {
	t.Helper()
	if err := s.AppendAudit(t.Context(), events); err != nil {
		t.Fatalf("AppendAudit(%d events): %v", len(events), err)
	}
}

func mustListAudit(t *testing.T, s Store, q gatehouse.AuditQuery) ([]gatehouse.AuditEvent, bool) {
	t.Helper()
	events, more, err := s.ListAudit(t.Context(), q)
	if err != nil {
		t.Fatalf("ListAudit(%+v): %v", q, err)
	}
	if events == nil {
		t.Fatalf("ListAudit(%+v) returned a nil slice", q)
	}
	return events, more
}

func eventIDs(events []gatehouse.AuditEvent) []string {
	ids := []string{}
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}

// newestFirst sorts events as ListAudit returns them: At, then ID
// (byte-wise), descending.
func newestFirst(events []gatehouse.AuditEvent) {
	slices.SortFunc(events, func(a, b gatehouse.AuditEvent) int {
		if c := ms(b.At).Compare(ms(a.At)); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}

// matches is the reference for AuditQuery's filters (not the cursor).
func matches(e gatehouse.AuditEvent, q gatehouse.AuditQuery) bool {
	at := e.At.UnixMilli()
	return (len(q.Types) == 0 || slices.Contains(q.Types, e.Type)) &&
		(q.UserID == "" || e.ActorID == q.UserID || e.SubjectID == q.UserID) &&
		(q.IP == "" || e.IP == q.IP) &&
		(q.Since.IsZero() || at >= q.Since.UnixMilli()) &&
		(q.Until.IsZero() || at < q.Until.UnixMilli())
}

// walkAudit reads every page of q (q.Before is where it starts) and checks
// the page sizes and the more flags.
func walkAudit(t *testing.T, s Store, q gatehouse.AuditQuery, pageSize int) []string {
	t.Helper()
	var ids []string
	for page := 0; ; page++ {
		if page > 2000 {
			t.Fatal("ListAudit does not terminate")
		}
		events, more := mustListAudit(t, s, q)
		if len(events) > pageSize {
			t.Fatalf("page %d has %d events, limit %d", page, len(events), pageSize)
		}
		if more && len(events) != pageSize {
			t.Fatalf("page %d has %d events and more follow, want a full page of %d", page, len(events), pageSize)
		}
		ids = append(ids, eventIDs(events)...)
		if !more {
			break
		}
		q.Before = events[len(events)-1].ID
	}
	return ids
}

func testAppendAudit(t *testing.T, s Store) {
	ctx := t.Context()
	full := newEvent("aud_full", t0)
	full.ActorID, full.Count = "admin:cli", 7
	zero := gatehouse.AuditEvent{ID: "aud_zero", At: t0.Add(-time.Second), Type: "limit.hit"} // Count 0
	zone := time.FixedZone("UTC-3", -3*3600)
	local := newEvent("aud_local", time.Date(2026, 11, 27, 10, 4, 59, 999_999_999, zone))
	mustAppendAudit(t, s, full, zero, local)

	got, more := mustListAudit(t, s, gatehouse.AuditQuery{})
	want := []gatehouse.AuditEvent{storedEvent(full), storedEvent(local), storedEvent(zero)}
	if more || !reflect.DeepEqual(got, want) {
		t.Fatalf("ListAudit = %+v, %v; want %+v, false", got, more, want)
	}
	if got[2].Count != 1 {
		t.Fatalf("Count 0 stored as %d, want 1", got[2].Count)
	}
	if got[1].At.Location() != time.UTC {
		t.Fatalf("At is in %v, want UTC", got[1].At.Location())
	}

	// Nothing to append is nothing to do.
	if err := s.AppendAudit(ctx, nil); err != nil {
		t.Fatalf("AppendAudit(nil): %v", err)
	}
	if err := s.AppendAudit(ctx, []gatehouse.AuditEvent{}); err != nil {
		t.Fatalf("AppendAudit(empty): %v", err)
	}

	// All or nothing: a batch with a taken ID (here, its last event, past
	// the first hundred) inserts none of its events.
	batch := []gatehouse.AuditEvent{}
	for i := range 150 {
		batch = append(batch, newEvent(fmt.Sprintf("aud_batch_%03d", i), t0.Add(time.Duration(i)*time.Millisecond)))
	}
	bad := append(slices.Clone(batch), newEvent(full.ID, t0))
	wantErr(t, "AppendAudit(taken ID)", s.AppendAudit(ctx, bad), gatehouse.ErrConflict)
	dup := append(slices.Clone(batch[:3]), batch[1])
	wantErr(t, "AppendAudit(ID twice in one batch)", s.AppendAudit(ctx, dup), gatehouse.ErrConflict)
	if got, _ := mustListAudit(t, s, gatehouse.AuditQuery{Limit: 1000}); len(got) != 3 {
		t.Fatalf("after refused batches, %d events stored, want 3", len(got))
	}
	// The same batch without the bad event goes in whole.
	mustAppendAudit(t, s, batch...)
	if got, _ := mustListAudit(t, s, gatehouse.AuditQuery{Limit: 1000}); len(got) != 153 {
		t.Fatalf("after the batch, %d events stored, want 153", len(got))
	}
	// An event needs an ID.
	if err := s.AppendAudit(ctx, []gatehouse.AuditEvent{newEvent("", t0)}); err == nil {
		t.Fatal("AppendAudit(no ID) succeeded")
	}
}

// auditFixture stores a varied log and returns it.
func auditFixture(t *testing.T, s Store) []gatehouse.AuditEvent {
	t.Helper()
	types := []string{"sign_in.failed", "sign_in.succeeded", "session.revoked", "throttle.started"}
	users := []string{"usr_001", "usr_002", "usr_003", ""}
	ips := []string{"203.0.113.7", "198.51.100.1", "2001:db8::1"}
	var events []gatehouse.AuditEvent
	for i := range 120 {
		e := newEvent(fmt.Sprintf("aud_%03d", (i*37)%120), t0.Add(time.Duration(i/2)*time.Second))
		e.Type = types[i%len(types)]
		e.ActorID = users[(i/3)%len(users)]
		e.SubjectID = users[(i/5)%len(users)]
		e.IP = ips[(i/7)%len(ips)]
		events = append(events, e)
	}
	mustAppendAudit(t, s, events...)
	return events
}

func testListAuditFilters(t *testing.T, s Store) {
	events := auditFixture(t, s)
	since, until := t0.Add(10*time.Second), t0.Add(40*time.Second)
	queries := []gatehouse.AuditQuery{
		{},
		{Types: []string{"sign_in.failed"}},
		{Types: []string{"sign_in.failed", "throttle.started"}},
		{Types: []string{"sign_in.failed", "sign_in.failed"}},
		{Types: []string{"no.such.type"}},
		{Types: []string{}},
		{UserID: "usr_001"},
		{UserID: "usr_003"},
		{UserID: "usr_missing"},
		{IP: "2001:db8::1"},
		{IP: "203.0.113"},
		{Since: since},
		{Until: until},
		{Since: since, Until: until},
		{Since: until, Until: since},
		{Since: ms(since), Until: ms(since).Add(time.Millisecond)},
		{Types: []string{"sign_in.failed", "session.revoked"}, UserID: "usr_002"},
		{Types: []string{"sign_in.succeeded"}, UserID: "usr_001", IP: "198.51.100.1"},
		{UserID: "usr_002", IP: "203.0.113.7", Since: since, Until: until},
		{Types: []string{"throttle.started", "sign_in.failed"}, UserID: "usr_003", IP: "2001:db8::1", Since: since, Until: until.Add(time.Hour)},
	}
	for _, q := range queries {
		q.Limit = 1000
		var want []gatehouse.AuditEvent
		for _, e := range events {
			if matches(e, q) {
				want = append(want, storedEvent(e))
			}
		}
		newestFirst(want)
		got, more := mustListAudit(t, s, q)
		if more || !slices.Equal(eventIDs(got), eventIDs(want)) {
			t.Fatalf("ListAudit(%+v) = %q, more %v; want %q", q, eventIDs(got), more, eventIDs(want))
		}
		if len(want) > 0 && !reflect.DeepEqual(got, want) {
			t.Fatalf("ListAudit(%+v) events differ: %+v", q, got)
		}
	}
	// The filters select something, so the comparisons above mean something.
	some := func(q gatehouse.AuditQuery) {
		t.Helper()
		if got, _ := mustListAudit(t, s, q); len(got) == 0 {
			t.Fatalf("ListAudit(%+v) is empty: the fixture does not exercise it", q)
		}
	}
	some(queries[16])
	some(queries[17])
	some(queries[18])
	some(queries[19])

	// Since is inclusive, Until exclusive.
	at := ms(t0.Add(20 * time.Second))
	got, _ := mustListAudit(t, s, gatehouse.AuditQuery{Since: at, Until: at.Add(time.Millisecond)})
	if len(got) != 2 {
		t.Fatalf("events at exactly %v: %q, want 2", at, eventIDs(got))
	}
	if got, _ := mustListAudit(t, s, gatehouse.AuditQuery{Since: at.Add(time.Millisecond), Until: at.Add(time.Second)}); len(got) != 0 {
		t.Fatalf("events strictly between two seconds: %q", eventIDs(got))
	}
	if got, _ := mustListAudit(t, s, gatehouse.AuditQuery{Until: at}); len(got) != 40 {
		t.Fatalf("events before %v: %d, want 40", at, len(got))
	}
}

func testListAuditPagination(t *testing.T, s Store) {
	// 250 events, three to a millisecond, inserted in an order that is
	// neither time nor ID order, with IDs that sort differently from their
	// insertion.
	var events []gatehouse.AuditEvent
	for i := range 250 {
		n := (i * 101) % 250
		e := newEvent(fmt.Sprintf("aud_%03d", (n*7)%250), t0.Add(time.Duration(n/3)*time.Millisecond))
		if n%2 == 0 {
			e.Type = "sign_in.succeeded"
		}
		events = append(events, e)
	}
	mustAppendAudit(t, s, events...)
	want := slices.Clone(events)
	newestFirst(want)

	q := gatehouse.AuditQuery{Limit: 100}
	p1, more := mustListAudit(t, s, q)
	if len(p1) != 100 || !more {
		t.Fatalf("first page: %d events, more %v; want 100, true", len(p1), more)
	}
	got := walkAudit(t, s, q, 100)
	if !slices.Equal(got, eventIDs(want)) {
		t.Fatalf("walk = %q\nwant %q", got, eventIDs(want))
	}
	// The last page: 50 events, nothing more.
	last, more := mustListAudit(t, s, gatehouse.AuditQuery{Limit: 100, Before: got[199]})
	if len(last) != 50 || more {
		t.Fatalf("last page: %d events, more %v; want 50, false", len(last), more)
	}
	// A cursor at the very end gives an empty page.
	if end, more := mustListAudit(t, s, gatehouse.AuditQuery{Before: got[249]}); len(end) != 0 || more {
		t.Fatalf("page after the oldest event = %q, %v", eventIDs(end), more)
	}
	// A page of exactly what is left says nothing more follows.
	if rest, more := mustListAudit(t, s, gatehouse.AuditQuery{Limit: 50, Before: got[199]}); len(rest) != 50 || more {
		t.Fatalf("exact last page: %d events, more %v; want 50, false", len(rest), more)
	}

	// Paging a filtered log, with odd page sizes and a cursor in the middle
	// of a millisecond.
	fq := gatehouse.AuditQuery{Types: []string{"sign_in.succeeded"}, Limit: 7}
	var wantF []string
	for _, e := range want {
		if e.Type == "sign_in.succeeded" {
			wantF = append(wantF, e.ID)
		}
	}
	if got := walkAudit(t, s, fq, 7); !slices.Equal(got, wantF) {
		t.Fatalf("filtered walk = %q\nwant %q", got, wantF)
	}
	// The cursor need not match the filters.
	cursor := want[100]
	if cursor.Type == "sign_in.succeeded" {
		cursor = want[101]
	}
	fq.Before, fq.Limit = cursor.ID, 1000
	var wantAfter []string
	for _, e := range want[slices.IndexFunc(want, func(e gatehouse.AuditEvent) bool { return e.ID == cursor.ID })+1:] {
		if e.Type == "sign_in.succeeded" {
			wantAfter = append(wantAfter, e.ID)
		}
	}
	if got, _ := mustListAudit(t, s, fq); !slices.Equal(eventIDs(got), wantAfter) {
		t.Fatalf("after a non-matching cursor = %q, want %q", eventIDs(got), wantAfter)
	}
}

func testListAuditTies(t *testing.T, s Store) {
	// IDs whose byte order differs from most locales' collation order, all
	// in one millisecond (and one a millisecond later).
	ids := []string{"aud_b", "aud_B", "aud_a", "aud_-x", "aud__x", "aud_Z", "aud_0", "aud_é", "aud_a0"}
	var events []gatehouse.AuditEvent
	for i, id := range ids {
		// Sub-millisecond differences vanish: all are one millisecond.
		events = append(events, newEvent(id, ms(t0).Add(time.Duration(i)*100*time.Microsecond)))
	}
	events = append(events, newEvent("aud_0later", ms(t0).Add(time.Millisecond)))
	mustAppendAudit(t, s, events...)
	want := slices.Clone(ids)
	slices.SortFunc(want, func(a, b string) int { return cmp.Compare(b, a) }) // byte-wise, descending
	want = append([]string{"aud_0later"}, want...)

	if got, _ := mustListAudit(t, s, gatehouse.AuditQuery{}); !slices.Equal(eventIDs(got), want) {
		t.Fatalf("ListAudit = %q, want %q", eventIDs(got), want)
	}
	if got := walkAudit(t, s, gatehouse.AuditQuery{Limit: 2}, 2); !slices.Equal(got, want) {
		t.Fatalf("walk by 2 = %q, want %q", got, want)
	}
	if got := walkAudit(t, s, gatehouse.AuditQuery{Limit: 1}, 1); !slices.Equal(got, want) {
		t.Fatalf("walk by 1 = %q, want %q", got, want)
	}
}

func testListAuditCursorAndLimit(t *testing.T, s Store) {
	ctx := t.Context()
	_, _, err := s.ListAudit(ctx, gatehouse.AuditQuery{Before: "aud_missing"})
	wantErr(t, "ListAudit(unknown cursor)", err, gatehouse.ErrNotFound)
	if got, more := mustListAudit(t, s, gatehouse.AuditQuery{}); len(got) != 0 || more {
		t.Fatalf("ListAudit(empty log) = %q, %v", eventIDs(got), more)
	}

	var events []gatehouse.AuditEvent
	for i := range 1005 {
		events = append(events, newEvent(fmt.Sprintf("aud_%04d", i), t0.Add(time.Duration(i)*time.Millisecond)))
	}
	mustAppendAudit(t, s, events...)
	_, _, err = s.ListAudit(ctx, gatehouse.AuditQuery{Before: "aud_missing"})
	wantErr(t, "ListAudit(unknown cursor)", err, gatehouse.ErrNotFound)
	_, _, err = s.ListAudit(ctx, gatehouse.AuditQuery{Before: "AUD_0001"})
	wantErr(t, "ListAudit(cursor in another case)", err, gatehouse.ErrNotFound)

	for _, tc := range []struct {
		limit, want int
	}{{0, 100}, {-5, 100}, {1, 1}, {100, 100}, {999, 999}, {1000, 1000}, {1001, 1000}, {1 << 30, 1000}} {
		got, more := mustListAudit(t, s, gatehouse.AuditQuery{Limit: tc.limit})
		if len(got) != tc.want || !more {
			t.Fatalf("ListAudit(Limit %d) = %d events, more %v; want %d, true", tc.limit, len(got), more, tc.want)
		}
		if got[0].ID != "aud_1004" {
			t.Fatalf("ListAudit(Limit %d) starts at %s, want the newest", tc.limit, got[0].ID)
		}
	}
	if got, more := mustListAudit(t, s, gatehouse.AuditQuery{Limit: 1000, Before: "aud_1000"}); len(got) != 1000 || more {
		t.Fatalf("ListAudit(1000 left) = %d events, more %v; want 1000, false", len(got), more)
	}
}

func testAuditMetacharacters(t *testing.T, s Store) {
	nasty := []string{
		`'; DROP TABLE audit_events; --`,
		`Robert'); DELETE FROM audit_events; --`,
		`100% _real_ \ backslash "quoted" $1 ?1 ? :name @p`,
		"Zoë 山田 🎉 \u202ertl",
		"/* not a comment */ -- nor this",
		"%",
		"_",
	}
	var events []gatehouse.AuditEvent
	for i, text := range nasty {
		e := gatehouse.AuditEvent{
			ID: fmt.Sprintf("aud_%d_%s", i, text), At: t0.Add(time.Duration(i) * time.Second),
			Type: text, ActorID: text, SubjectID: text + "!", IP: text, UserAgent: text, RequestID: text, Reason: text, Count: i + 1,
		}
		events = append(events, e)
	}
	plain := newEvent("aud_plain", t0.Add(time.Hour))
	events = append(events, plain)
	mustAppendAudit(t, s, events...)

	for i, text := range nasty {
		want := []gatehouse.AuditEvent{storedEvent(events[i])}
		for _, q := range []gatehouse.AuditQuery{
			{Types: []string{text}},
			{Types: []string{"sign_in.failed' OR '1'='1", text}},
			{UserID: text},
			{UserID: text + "!"},
			{IP: text},
			{Types: []string{text}, UserID: text, IP: text},
		} {
			got, more := mustListAudit(t, s, q)
			if more || !reflect.DeepEqual(got, want) {
				t.Fatalf("ListAudit(%+v) = %+v, want only event %d", q, got, i)
			}
		}
		// The ID is a cursor like any other.
		got, _ := mustListAudit(t, s, gatehouse.AuditQuery{Before: events[i].ID})
		if len(got) != i {
			t.Fatalf("ListAudit(Before %q) = %d events, want %d", events[i].ID, len(got), i)
		}
	}
	// LIKE wildcards and injections are not patterns.
	for _, v := range []string{"%%", "203.0.113.%", "203.0.113._", "' OR '1'='1", "sign_in%"} {
		for _, q := range []gatehouse.AuditQuery{{Types: []string{v}}, {UserID: v}, {IP: v}} {
			if got, _ := mustListAudit(t, s, q); len(got) != 0 {
				t.Fatalf("ListAudit(%+v) = %q, want none", q, eventIDs(got))
			}
		}
	}
	_, _, err := s.ListAudit(t.Context(), gatehouse.AuditQuery{Before: "' OR '1'='1"})
	wantErr(t, "ListAudit(injected cursor)", err, gatehouse.ErrNotFound)
	// Everything is still there.
	if got, _ := mustListAudit(t, s, gatehouse.AuditQuery{}); len(got) != len(events) {
		t.Fatalf("ListAudit = %d events, want %d", len(got), len(events))
	}
}

func testDeleteAuditBefore(t *testing.T, s Store) {
	ctx := t.Context()
	var events []gatehouse.AuditEvent
	for i := range 10 {
		events = append(events, newEvent(fmt.Sprintf("aud_%02d", i), t0.Add(time.Duration(i)*time.Hour)))
	}
	mustAppendAudit(t, s, events...)
	if n, err := s.DeleteAuditBefore(ctx, t0.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("DeleteAuditBefore(before all) = %d, %v; want 0", n, err)
	}
	// aud_04 happened at exactly t: it is not before t.
	n, err := s.DeleteAuditBefore(ctx, ms(t0).Add(4*time.Hour))
	if err != nil || n != 4 {
		t.Fatalf("DeleteAuditBefore = %d, %v; want 4", n, err)
	}
	if n, err := s.DeleteAuditBefore(ctx, ms(t0).Add(4*time.Hour)); err != nil || n != 0 {
		t.Fatalf("DeleteAuditBefore again = %d, %v; want 0", n, err)
	}
	got, _ := mustListAudit(t, s, gatehouse.AuditQuery{})
	if want := []string{"aud_09", "aud_08", "aud_07", "aud_06", "aud_05", "aud_04"}; !slices.Equal(eventIDs(got), want) {
		t.Fatalf("events left = %q, want %q", eventIDs(got), want)
	}
	// A deleted event is no longer a cursor.
	_, _, err = s.ListAudit(ctx, gatehouse.AuditQuery{Before: "aud_00"})
	wantErr(t, "ListAudit(deleted cursor)", err, gatehouse.ErrNotFound)
	if n, err := s.DeleteAuditBefore(ctx, t0.Add(100*time.Hour)); err != nil || n != 6 {
		t.Fatalf("DeleteAuditBefore(after all) = %d, %v; want 6", n, err)
	}
}
