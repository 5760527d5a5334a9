package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var noLimit = gatehouse.MailLimit{}

// newMail is a pending mail created and due at created.
func newMail(id string, created time.Time) gatehouse.OutboxMail {
	return gatehouse.OutboxMail{
		ID:            id,
		Kind:          "verify_email",
		RecipientHint: "u•••@example.com",
		Payload:       []byte("sealed:" + id),
		State:         gatehouse.MailPending,
		CreatedAt:     created,
		NextAttemptAt: created,
	}
}

// storedMail is m as ClaimMail returns it.
func storedMail(m gatehouse.OutboxMail) gatehouse.OutboxMail {
	m.State = gatehouse.MailPending
	m.CreatedAt, m.NextAttemptAt, m.SentAt = ms(m.CreatedAt), ms(m.NextAttemptAt), time.Time{}
	return m
}

func mustEnqueue(t *testing.T, s Store, m gatehouse.OutboxMail) {
	t.Helper()
	if err := s.EnqueueMail(t.Context(), m, noLimit); err != nil {
		t.Fatalf("EnqueueMail(%s): %v", m.ID, err)
	}
}

func mustClaim(t *testing.T, s Store, owner string, now, until time.Time, n int) []gatehouse.OutboxMail {
	t.Helper()
	got, err := s.ClaimMail(t.Context(), owner, now, until, n)
	if err != nil {
		t.Fatalf("ClaimMail(%s): %v", owner, err)
	}
	if got == nil {
		t.Fatalf("ClaimMail(%s) returned a nil slice", owner)
	}
	return got
}

func mailIDs(mails []gatehouse.OutboxMail) []string {
	ids := []string{}
	for _, m := range mails {
		ids = append(ids, m.ID)
	}
	return ids
}

func mustReport(t *testing.T, s Store, n int) gatehouse.MailReport {
	t.Helper()
	r, err := s.MailReport(t.Context(), n)
	if err != nil {
		t.Fatalf("MailReport: %v", err)
	}
	if r.Problems == nil {
		t.Fatal("MailReport.Problems is nil")
	}
	return r
}

func wantCounts(t *testing.T, r gatehouse.MailReport, pending, sent, skipped, failed int) {
	t.Helper()
	if r.Pending != pending || r.Sent != sent || r.Skipped != skipped || r.Failed != failed {
		t.Fatalf("MailReport counts = %d pending, %d sent, %d skipped, %d failed; want %d, %d, %d, %d",
			r.Pending, r.Sent, r.Skipped, r.Failed, pending, sent, skipped, failed)
	}
}

func testClaimMail(t *testing.T, s Store) {
	now := t0.Add(time.Minute)
	until := now.Add(time.Minute)
	late := newMail("mail_late", t0)
	late.NextAttemptAt = now // due exactly now
	b, a := newMail("mail_b", t0), newMail("mail_a", t0)
	first := newMail("mail_z", t0)
	first.NextAttemptAt = t0.Add(-time.Hour)
	future := newMail("mail_future", t0)
	future.NextAttemptAt = now.Add(time.Millisecond)
	for _, m := range []gatehouse.OutboxMail{late, b, future, a, first} {
		mustEnqueue(t, s, m)
	}
	if got := mustClaim(t, s, "w0", now, until, 0); len(got) != 0 {
		t.Fatalf("ClaimMail(n=0) = %q", mailIDs(got))
	}
	// Oldest due first; ties by ID.
	got := mustClaim(t, s, "w1", now, until, 2)
	if want := []gatehouse.OutboxMail{storedMail(first), storedMail(a)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ClaimMail(n=2) = %+v, want %+v", got, want)
	}
	got = mustClaim(t, s, "w2", now, until, 10)
	if want := []gatehouse.OutboxMail{storedMail(b), storedMail(late)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ClaimMail(rest) = %+v, want %+v", got, want)
	}
	if got := mustClaim(t, s, "w3", now, until, 10); len(got) != 0 {
		t.Fatalf("ClaimMail(nothing due) = %q", mailIDs(got))
	}
	// A mail without a payload comes back without one.
	bare := newMail("mail_bare", t0)
	bare.Payload = nil
	mustEnqueue(t, s, bare)
	got = mustClaim(t, s, "w4", now, until, 10)
	if len(got) != 1 || got[0].ID != bare.ID || got[0].Payload != nil {
		t.Fatalf("ClaimMail(no payload) = %+v", got)
	}
	// A duplicate ID is refused.
	err := s.EnqueueMail(t.Context(), newMail("mail_a", t0), noLimit)
	wantErr(t, "EnqueueMail(same id)", err, gatehouse.ErrConflict)
}

func testMailPayloadBytes(t *testing.T, s Store) {
	ctx := t.Context()
	payload := []byte{0x00, 0xff, 0xfe, 'a', 0x00, 0x80, 0xc3, 0x28, '\'', '"', '\\', 0x00}
	for i := range 4096 {
		payload = append(payload, byte(i*7+i/256))
	}
	m := newMail("mail_1", t0)
	m.Payload = slices.Clone(payload)
	mustEnqueue(t, s, m)
	got := mustClaim(t, s, "w1", t0, t0.Add(time.Minute), 1)
	if len(got) != 1 || !bytes.Equal(got[0].Payload, payload) {
		t.Fatalf("payload did not round-trip: %d mails, %d bytes", len(got), len(got[0].Payload))
	}

	rendered := []byte{0x00, 0x00, 0xef, 0xbb, 0xbf, 0xed, 0xa0, 0x80, 0x00}
	if err := s.SetMailPayload(ctx, m.ID, "w1", rendered); err != nil {
		t.Fatalf("SetMailPayload: %v", err)
	}
	if err := s.RetryMail(ctx, m.ID, "w1", "timeout", t0.Add(time.Minute)); err != nil {
		t.Fatalf("RetryMail: %v", err)
	}
	got = mustClaim(t, s, "w2", t0.Add(time.Minute), t0.Add(2*time.Minute), 1)
	if len(got) != 1 || !bytes.Equal(got[0].Payload, rendered) {
		t.Fatalf("payload after SetMailPayload and RetryMail = %x, want %x", got[0].Payload, rendered)
	}
	if err := s.FinishMail(ctx, m.ID, "w2", gatehouse.MailFailed, "rejected", t0.Add(time.Minute)); err != nil {
		t.Fatalf("FinishMail: %v", err)
	}
	r := mustReport(t, s, 10)
	if len(r.Problems) != 1 || r.Problems[0].Payload != nil {
		t.Fatalf("report problems = %+v", r.Problems)
	}
	if n, ok := sqlCount(t, s, `SELECT COUNT(*) FROM mail_outbox WHERE id = $1 AND payload IS NULL`, m.ID); ok && n != 1 {
		t.Fatal("the payload of a finished mail is still stored")
	}
}

func testEnqueueMailLimit(t *testing.T, s Store) {
	ctx := t.Context()
	w0 := t0
	lim := func(key string, max int, window time.Time) gatehouse.MailLimit {
		return gatehouse.MailLimit{Key: key, Max: max, WindowStart: window}
	}
	seq := 0
	enqueue := func(l gatehouse.MailLimit) error {
		seq++
		return s.EnqueueMail(ctx, newMail(fmt.Sprintf("mail_%03d", seq), t0), l)
	}
	for i := range 3 {
		if err := enqueue(lim("rk_a", 3, w0)); err != nil {
			t.Fatalf("EnqueueMail %d under the limit: %v", i, err)
		}
	}
	refused := newMail("mail_refused", t0)
	wantErr(t, "EnqueueMail over the limit", s.EnqueueMail(ctx, refused, lim("rk_a", 3, w0)), gatehouse.ErrRateLimited)
	wantErr(t, "EnqueueMail over the limit again", enqueue(lim("rk_a", 3, w0)), gatehouse.ErrRateLimited)
	wantCounts(t, mustReport(t, s, 0), 3, 0, 0, 0)
	// Nothing of the refused mail was stored: its ID is free.
	mustEnqueue(t, s, refused)

	// Keys are counted apart; no limit is no limit.
	if err := enqueue(lim("rk_b", 3, w0)); err != nil {
		t.Fatalf("EnqueueMail(other key): %v", err)
	}
	for range 5 {
		if err := enqueue(lim("rk_a", 0, w0)); err != nil {
			t.Fatalf("EnqueueMail(Max 0): %v", err)
		}
	}
	// A new window starts from zero.
	w1 := w0.Add(time.Hour)
	for i := range 3 {
		if err := enqueue(lim("rk_a", 3, w1)); err != nil {
			t.Fatalf("EnqueueMail %d in a new window: %v", i, err)
		}
	}
	wantErr(t, "EnqueueMail over the limit in the new window", enqueue(lim("rk_a", 3, w1)), gatehouse.ErrRateLimited)

	// A refused insert does not count.
	err := s.EnqueueMail(ctx, newMail("mail_001", t0), lim("rk_c", 1, w0))
	wantErr(t, "EnqueueMail(same id)", err, gatehouse.ErrConflict)
	if err := enqueue(lim("rk_c", 1, w0)); err != nil {
		t.Fatalf("EnqueueMail after a refused insert: %v", err)
	}
	wantCounts(t, mustReport(t, s, 0), 3+1+1+5+3+1, 0, 0, 0)
}

func testConcurrentEnqueueMailLimit(t *testing.T, s Store) {
	const n, max = 20, 5
	l := gatehouse.MailLimit{Key: "rk_race", Max: max, WindowStart: t0}
	errs := race(n, func(i int) error {
		return s.EnqueueMail(t.Context(), newMail(fmt.Sprintf("mail_%02d", i), t0), l)
	})
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, gatehouse.ErrRateLimited):
			t.Errorf("EnqueueMail %d: %v", i, err)
		}
	}
	if ok != max {
		t.Fatalf("%d enqueues succeeded, want exactly %d", ok, max)
	}
	wantCounts(t, mustReport(t, s, 0), max, 0, 0, 0)
}

func testClaimMailLease(t *testing.T, s Store) {
	ctx := t.Context()
	m := newMail("mail_1", t0)
	mustEnqueue(t, s, m)
	until := t0.Add(time.Minute)
	if got := mustClaim(t, s, "w1", t0, until, 10); len(got) != 1 {
		t.Fatalf("ClaimMail = %q", mailIDs(got))
	}
	// Invisible to others while the lease holds...
	for _, at := range []time.Time{t0, t0.Add(30 * time.Second), ms(until).Add(-time.Millisecond)} {
		if got := mustClaim(t, s, "w2", at, at.Add(time.Minute), 10); len(got) != 0 {
			t.Fatalf("ClaimMail during another's lease at %v = %q", at, mailIDs(got))
		}
	}
	// ...and up for grabs when it ends.
	got := mustClaim(t, s, "w2", until, until.Add(time.Minute), 10)
	if !reflect.DeepEqual(got, []gatehouse.OutboxMail{storedMail(m)}) {
		t.Fatalf("ClaimMail after the lease = %+v", got)
	}
	// The first owner lost it.
	wantErr(t, "SetMailPayload(lost lease)", s.SetMailPayload(ctx, m.ID, "w1", []byte("x")), gatehouse.ErrNotFound)
	wantErr(t, "FinishMail(lost lease)", s.FinishMail(ctx, m.ID, "w1", gatehouse.MailSent, "", until), gatehouse.ErrNotFound)
	wantErr(t, "RetryMail(lost lease)", s.RetryMail(ctx, m.ID, "w1", "x", until), gatehouse.ErrNotFound)
	if err := s.FinishMail(ctx, m.ID, "w2", gatehouse.MailSent, "", until); err != nil {
		t.Fatalf("FinishMail: %v", err)
	}
	// A finished mail is never claimed again.
	if got := mustClaim(t, s, "w3", t0.Add(time.Hour), t0.Add(2*time.Hour), 10); len(got) != 0 {
		t.Fatalf("ClaimMail after finish = %q", mailIDs(got))
	}
}

func testConcurrentClaimMail(t *testing.T, s Store) {
	const mails, claimers, batch = 60, 10, 7
	now := t0.Add(time.Hour)
	due := []string{}
	for i := range mails {
		m := newMail(fmt.Sprintf("mail_%02d", i), t0)
		m.NextAttemptAt = t0.Add(time.Duration(i%5) * time.Second)
		mustEnqueue(t, s, m)
		due = append(due, m.ID)
	}
	for i := range 5 {
		m := newMail(fmt.Sprintf("mail_later_%d", i), t0)
		m.NextAttemptAt = now.Add(time.Second)
		mustEnqueue(t, s, m)
	}
	var mu sync.Mutex
	owner := map[string]string{}
	errs := race(claimers, func(i int) error {
		me := fmt.Sprint("worker_", i)
		for {
			got, err := s.ClaimMail(t.Context(), me, now, now.Add(time.Minute), batch)
			if err != nil {
				return err
			}
			if len(got) == 0 {
				return nil
			}
			if len(got) > batch {
				return fmt.Errorf("claimed %d mails, asked for %d", len(got), batch)
			}
			mu.Lock()
			for _, m := range got {
				if prev, dup := owner[m.ID]; dup {
					mu.Unlock()
					return fmt.Errorf("%s claimed by %s and %s", m.ID, prev, me)
				}
				owner[m.ID] = me
			}
			mu.Unlock()
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("claimer %d: %v", i, err)
		}
	}
	claimed := []string{}
	for id := range owner {
		claimed = append(claimed, id)
	}
	slices.Sort(claimed)
	if !slices.Equal(claimed, due) {
		t.Fatalf("claimed %d mails %q, want the %d due", len(claimed), claimed, len(due))
	}
	// Each lease is its claimer's.
	for id, w := range owner {
		if err := s.FinishMail(t.Context(), id, w, gatehouse.MailSent, "", now); err != nil {
			t.Fatalf("FinishMail(%s by %s): %v", id, w, err)
		}
	}
	wantCounts(t, mustReport(t, s, 0), 5, mails, 0, 0)
}

func testMailLeaseOwner(t *testing.T, s Store) {
	ctx := t.Context()
	m := newMail("mail_1", t0)
	mustEnqueue(t, s, m)
	check := func(what, owner string) {
		t.Helper()
		wantErr(t, what+": SetMailPayload", s.SetMailPayload(ctx, m.ID, owner, []byte("x")), gatehouse.ErrNotFound)
		wantErr(t, what+": FinishMail", s.FinishMail(ctx, m.ID, owner, gatehouse.MailSent, "", t0), gatehouse.ErrNotFound)
		wantErr(t, what+": RetryMail", s.RetryMail(ctx, m.ID, owner, "x", t0), gatehouse.ErrNotFound)
	}
	check("unclaimed", "w1")
	check("unclaimed, empty owner", "")
	mustClaim(t, s, "w1", t0, t0.Add(time.Minute), 1)
	check("another owner", "w2")
	check("empty owner", "")
	wantErr(t, "SetMailPayload(missing)", s.SetMailPayload(ctx, "mail_missing", "w1", []byte("x")), gatehouse.ErrNotFound)
	// Nothing changed: no attempt counted, payload intact.
	r := mustReport(t, s, 10)
	wantCounts(t, r, 1, 0, 0, 0)
	if len(r.Problems) != 0 {
		t.Fatalf("problems = %+v", r.Problems)
	}
	if err := s.FinishMail(ctx, m.ID, "w1", gatehouse.MailPending, "", t0); err == nil {
		t.Fatal("FinishMail(pending) succeeded")
	}
	if err := s.FinishMail(ctx, m.ID, "w1", gatehouse.MailSkipped, "", t0); err != nil {
		t.Fatalf("FinishMail: %v", err)
	}
	check("finished", "w1")
	wantCounts(t, mustReport(t, s, 10), 0, 0, 1, 0)
}

func testRetryMail(t *testing.T, s Store) {
	ctx := t.Context()
	m := newMail("mail_1", t0)
	mustEnqueue(t, s, m)
	mustClaim(t, s, "w1", t0, t0.Add(5*time.Minute), 1)
	next := t0.Add(2 * time.Minute)
	if err := s.RetryMail(ctx, m.ID, "w1", "421 try later", next); err != nil {
		t.Fatalf("RetryMail: %v", err)
	}
	wantErr(t, "RetryMail twice", s.RetryMail(ctx, m.ID, "w1", "x", next), gatehouse.ErrNotFound)
	// The lease is released, but the mail waits for next.
	if got := mustClaim(t, s, "w2", ms(next).Add(-time.Millisecond), next.Add(time.Hour), 1); len(got) != 0 {
		t.Fatalf("ClaimMail before next = %q", mailIDs(got))
	}
	got := mustClaim(t, s, "w2", next, next.Add(time.Minute), 1)
	want := storedMail(m)
	want.Attempts, want.LastError, want.NextAttemptAt = 1, "421 try later", ms(next)
	if !reflect.DeepEqual(got, []gatehouse.OutboxMail{want}) {
		t.Fatalf("ClaimMail after retry = %+v, want %+v", got, want)
	}
	r := mustReport(t, s, 10)
	want.Payload = nil
	if !reflect.DeepEqual(r.Problems, []gatehouse.OutboxMail{want}) {
		t.Fatalf("problems = %+v, want %+v", r.Problems, want)
	}
	if err := s.RetryMail(ctx, m.ID, "w2", "again", next.Add(time.Minute)); err != nil {
		t.Fatalf("RetryMail: %v", err)
	}
	if r := mustReport(t, s, 10); len(r.Problems) != 1 || r.Problems[0].Attempts != 2 || r.Problems[0].LastError != "again" {
		t.Fatalf("problems = %+v", r.Problems)
	}
}

func testMailReport(t *testing.T, s Store) {
	ctx := t.Context()
	r := mustReport(t, s, 10)
	if !reflect.DeepEqual(r, gatehouse.MailReport{Problems: []gatehouse.OutboxMail{}}) {
		t.Fatalf("empty report = %+v", r)
	}
	finish := func(id string, state gatehouse.MailState, lastError string, at time.Time) {
		t.Helper()
		got := mustClaim(t, s, "w_"+id, at, at.Add(time.Minute), 1)
		if len(got) != 1 || got[0].ID != id {
			t.Fatalf("claim %s: got %q", id, mailIDs(got))
		}
		if err := s.FinishMail(ctx, id, "w_"+id, state, lastError, at); err != nil {
			t.Fatalf("FinishMail(%s): %v", id, err)
		}
	}
	// Enqueued and handled one at a time, so each claim takes the one.
	p2 := newMail("mail_p2", t0)
	mustEnqueue(t, s, newMail("mail_p1", t0.Add(time.Second)))
	mustEnqueue(t, s, p2)
	mustEnqueue(t, s, newMail("mail_p3", t0.Add(2*time.Second)))
	f1, f2 := newMail("mail_f1", t0.Add(3*time.Second)), newMail("mail_f2", t0.Add(3*time.Second))
	sent, skipped := newMail("mail_s1", t0), newMail("mail_k1", t0)
	for _, m := range []*gatehouse.OutboxMail{&f1, &f2, &sent, &skipped} {
		m.NextAttemptAt = t0.Add(-time.Hour) // due before the pending ones
		mustEnqueue(t, s, *m)
	}
	finish("mail_f1", gatehouse.MailFailed, "550 no such user", t0.Add(time.Hour))
	finish("mail_f2", gatehouse.MailFailed, "gave up", t0.Add(2*time.Hour))
	finish("mail_k1", gatehouse.MailSkipped, "", t0.Add(time.Hour))
	finish("mail_s1", gatehouse.MailSent, "", t0.Add(time.Hour))
	// p3 fails once and waits; p1 and p2 stay claimed, never failed.
	got := mustClaim(t, s, "w_p", t0.Add(time.Hour), t0.Add(2*time.Hour), 3)
	if ids := mailIDs(got); !slices.Equal(ids, []string{"mail_p2", "mail_p1", "mail_p3"}) {
		t.Fatalf("pending claimed = %q", ids)
	}
	if err := s.RetryMail(ctx, "mail_p3", "w_p", "421", t0.Add(3*time.Hour)); err != nil {
		t.Fatalf("RetryMail: %v", err)
	}

	r = mustReport(t, s, 10)
	wantCounts(t, r, 3, 1, 1, 2)
	if !r.OldestPending.Equal(ms(p2.CreatedAt)) || r.OldestPending.Location() != time.UTC {
		t.Fatalf("OldestPending = %v, want %v", r.OldestPending, ms(p2.CreatedAt))
	}
	// Newest first; equal creation times by ID, descending.
	if ids := mailIDs(r.Problems); !slices.Equal(ids, []string{"mail_f2", "mail_f1", "mail_p3"}) {
		t.Fatalf("problems = %q", ids)
	}
	wantF2 := f2
	wantF2.Payload, wantF2.State, wantF2.LastError = nil, gatehouse.MailFailed, "gave up"
	wantF2.CreatedAt, wantF2.NextAttemptAt, wantF2.SentAt = ms(f2.CreatedAt), ms(f2.NextAttemptAt), ms(t0.Add(2*time.Hour))
	if !reflect.DeepEqual(r.Problems[0], wantF2) {
		t.Fatalf("problem[0] = %+v, want %+v", r.Problems[0], wantF2)
	}
	for _, m := range r.Problems {
		if m.Payload != nil {
			t.Fatalf("problem %s carries its payload", m.ID)
		}
	}
	if r := mustReport(t, s, 2); !slices.Equal(mailIDs(r.Problems), []string{"mail_f2", "mail_f1"}) {
		t.Fatalf("problems(n=2) = %q", mailIDs(r.Problems))
	}
	if r := mustReport(t, s, 0); len(r.Problems) != 0 || r.Pending != 3 {
		t.Fatalf("report(n=0) = %+v", r)
	}
}

func testDeleteMailBefore(t *testing.T, s Store) {
	ctx := t.Context()
	for _, id := range []string{"mail_s", "mail_f", "mail_k", "mail_p"} {
		mustEnqueue(t, s, newMail(id, t0))
	}
	finish := func(id string, state gatehouse.MailState, at time.Time) {
		t.Helper()
		if got := mustClaim(t, s, "w", at, at.Add(time.Minute), 1); len(got) != 1 || got[0].ID != id {
			t.Fatalf("claim %s: got %q", id, mailIDs(got))
		}
		if err := s.FinishMail(ctx, id, "w", state, "", at); err != nil {
			t.Fatalf("FinishMail(%s): %v", id, err)
		}
	}
	// Claims go by ID among equally due mails.
	finish("mail_f", gatehouse.MailFailed, t0.Add(2*time.Hour))
	finish("mail_k", gatehouse.MailSkipped, t0.Add(3*time.Hour))
	// mail_p stays pending: push it back.
	if got := mustClaim(t, s, "w", t0.Add(3*time.Hour), t0.Add(4*time.Hour), 1); len(got) != 1 || got[0].ID != "mail_p" {
		t.Fatalf("claim mail_p: %q", mailIDs(got))
	}
	if err := s.RetryMail(ctx, "mail_p", "w", "x", t0.Add(1000*time.Hour)); err != nil {
		t.Fatalf("RetryMail: %v", err)
	}
	finish("mail_s", gatehouse.MailSent, t0.Add(time.Hour))

	// mail_f finished at the cut-off itself: kept.
	n, err := s.DeleteMailBefore(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("DeleteMailBefore = %d, %v; want 1", n, err)
	}
	wantCounts(t, mustReport(t, s, 0), 1, 0, 1, 1)
	n, err = s.DeleteMailBefore(ctx, t0.Add(2000*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("DeleteMailBefore(all) = %d, %v; want 2", n, err)
	}
	wantCounts(t, mustReport(t, s, 0), 1, 0, 0, 0) // pending mail is never deleted

	// Rate counters of windows that started before t go too.
	l := gatehouse.MailLimit{Key: "rk", Max: 1, WindowStart: t0}
	if err := s.EnqueueMail(ctx, newMail("mail_r1", t0), l); err != nil {
		t.Fatalf("EnqueueMail: %v", err)
	}
	wantErr(t, "EnqueueMail over the limit", s.EnqueueMail(ctx, newMail("mail_r2", t0), l), gatehouse.ErrRateLimited)
	if _, err := s.DeleteMailBefore(ctx, t0); err != nil { // window started at t0: kept
		t.Fatalf("DeleteMailBefore: %v", err)
	}
	wantErr(t, "EnqueueMail over the kept limit", s.EnqueueMail(ctx, newMail("mail_r2", t0), l), gatehouse.ErrRateLimited)
	if _, err := s.DeleteMailBefore(ctx, ms(t0).Add(time.Millisecond)); err != nil {
		t.Fatalf("DeleteMailBefore: %v", err)
	}
	if err := s.EnqueueMail(ctx, newMail("mail_r2", t0), l); err != nil {
		t.Fatalf("EnqueueMail after the counter was deleted: %v", err)
	}
}

func testSignUpAndEnqueue(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser(1)
	lim := gatehouse.MailLimit{Key: "rk_signup", Max: 2, WindowStart: t0}
	created, queued, err := s.SignUpAndEnqueue(ctx, u, "hash-1", newMail("mail_s1", t0), lim)
	if err != nil || !created || !queued {
		t.Fatalf("SignUpAndEnqueue(new) = %v, %v, %v", created, queued, err)
	}
	got, hash, err := s.UserCredentials(ctx, u.EmailNormalized)
	if err != nil || got.ID != u.ID || hash != "hash-1" {
		t.Fatalf("the new user: %+v %q %v", got, hash, err)
	}
	// A taken address: nothing inserted, the mail still queued.
	dup := newUser(2)
	dup.EmailNormalized, dup.Email = u.EmailNormalized, u.Email
	created, queued, err = s.SignUpAndEnqueue(ctx, dup, "hash-2", newMail("mail_s2", t0), lim)
	if err != nil || created || !queued {
		t.Fatalf("SignUpAndEnqueue(taken) = %v, %v, %v", created, queued, err)
	}
	if _, hash, _ := s.UserCredentials(ctx, u.EmailNormalized); hash != "hash-1" {
		t.Fatalf("a taken address's account changed: hash %q", hash)
	}
	if _, err := s.UserByID(ctx, dup.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("the duplicate was stored: %v", err)
	}
	// Over the limit the account is created and the mail not queued.
	other := newUser(3)
	other.Email, other.EmailNormalized = "third@example.com", "third@example.com"
	created, queued, err = s.SignUpAndEnqueue(ctx, other, "hash-3", newMail("mail_s3", t0), lim)
	if err != nil || !created || queued {
		t.Fatalf("SignUpAndEnqueue(over the limit) = %v, %v, %v", created, queued, err)
	}
	wantCounts(t, mustReport(t, s, 0), 2, 0, 0, 0)

	// Concurrent sign-ups with one address: one account, every mail queued.
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	createdN := 0
	for i := range n {
		wg.Go(func() {
			v := newUser(100 + i)
			v.Email, v.EmailNormalized = "race@example.com", "race@example.com"
			c, q, err := s.SignUpAndEnqueue(ctx, v, "h", newMail(fmt.Sprintf("mail_r%02d", i), t0), gatehouse.MailLimit{})
			if err != nil || !q {
				t.Errorf("concurrent SignUpAndEnqueue: %v, %v", q, err)
			}
			if c {
				mu.Lock()
				createdN++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if createdN != 1 {
		t.Fatalf("%d of %d concurrent sign-ups created the account", createdN, n)
	}
	wantCounts(t, mustReport(t, s, 0), 2+n, 0, 0, 0)
}
