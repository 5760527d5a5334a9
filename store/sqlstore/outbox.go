package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// mailColumns are the columns of an OutboxMail, payload included; the
// lease columns are the store's business.
const mailColumns = `id, kind, recipient_hint, payload, state, attempts, last_error,
	created_at, next_attempt_at, sent_at`

// mailColumnsNoPayload is mailColumns without the payload, for reports.
const mailColumnsNoPayload = `id, kind, recipient_hint, state, attempts, last_error,
	created_at, next_attempt_at, sent_at`

// toMillisOrZero and fromMillisOrZero store the zero time.Time as 0 and
// return 0 as the zero time.Time ("none": SentAt of a pending mail).
func toMillisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return toMillis(t)
}

func fromMillisOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return fromMillis(ms)
}

// payloadArg binds a payload: an empty one is stored as NULL, so both
// engines return it the same way (nil).
func payloadArg(p []byte) any {
	if len(p) == 0 {
		return nil
	}
	return p
}

func scanMail(row scanner, withPayload bool) (gatehouse.OutboxMail, error) {
	var (
		m                   gatehouse.OutboxMail
		state               string
		created, next, sent int64
		payload             []byte
	)
	dest := []any{&m.ID, &m.Kind, &m.RecipientHint}
	if withPayload {
		dest = append(dest, &payload)
	}
	dest = append(dest, &state, &m.Attempts, &m.LastError, &created, &next, &sent)
	if err := row.Scan(dest...); err != nil {
		return gatehouse.OutboxMail{}, err
	}
	if len(payload) > 0 {
		m.Payload = payload
	}
	m.State = gatehouse.MailState(state)
	m.CreatedAt, m.NextAttemptAt, m.SentAt = fromMillisOrZero(created), fromMillisOrZero(next), fromMillisOrZero(sent)
	return m, nil
}

// EnqueueMail inserts m as pending (whatever m.State and m.SentAt say), due
// at m.NextAttemptAt, in one transaction with the rate counter: when
// limit.Max > 0 the counter for limit.Key is incremented atomically (an
// upsert, so concurrent enqueues serialise on its row) and, past Max, the
// transaction is rolled back — nothing queued, nothing counted — and the
// error wraps gatehouse.ErrRateLimited. A counter whose window is older
// than limit.WindowStart restarts at 1; a call with an older window than
// the counter's (a node whose clock lags) counts against the newer window
// rather than resetting it. ErrConflict when the ID is taken.
func (s *Store) EnqueueMail(ctx context.Context, m gatehouse.OutboxMail, limit gatehouse.MailLimit) error {
	const op = "enqueue mail"
	if err := checkLimit(op, limit); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		ok, err := countMail(ctx, tx, op, limit)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("sqlstore: %s: %w", op, gatehouse.ErrRateLimited)
		}
		return s.insertMail(ctx, tx, op, m)
	})
}

// SignUpAndEnqueue inserts u unless its normalized email is taken (INSERT …
// ON CONFLICT DO NOTHING: the same statement either way) and queues m
// within limit, in one transaction. Over the limit the account is still
// created and the mail not queued.
func (s *Store) SignUpAndEnqueue(ctx context.Context, u gatehouse.User, passwordHash string, m gatehouse.OutboxMail, limit gatehouse.MailLimit) (created, queued bool, err error) {
	const op = "sign up and enqueue"
	if err := checkLimit(op, limit); err != nil {
		return false, false, err
	}
	roles, err := encodeList(u.Roles)
	if err != nil {
		return false, false, errorf(op, err)
	}
	err = s.db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `INSERT INTO users (id, email, email_normalized, email_verified, name, roles,
			disabled, password_hash, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (email_normalized) DO NOTHING`,
			u.ID, u.Email, u.EmailNormalized, u.EmailVerified, u.Name, roles,
			u.Disabled, passwordHash, toMillis(u.CreatedAt), toMillis(u.UpdatedAt))
		if err != nil {
			return s.insertError(op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return errorf(op, err)
		}
		created = n == 1
		if queued, err = countMail(ctx, tx, op, limit); err != nil || !queued {
			return err
		}
		return s.insertMail(ctx, tx, op, m)
	})
	if err != nil {
		return false, false, err
	}
	return created, queued, nil
}

func checkLimit(op string, limit gatehouse.MailLimit) error {
	if limit.Max < 0 {
		return fmt.Errorf("sqlstore: %s: negative limit", op)
	}
	if limit.Max > 0 && limit.Key == "" {
		return fmt.Errorf("sqlstore: %s: limit without a key", op)
	}
	return nil
}

// countMail counts one mail against limit and reports whether it is within
// it. A counter resets only when the window is newer than the stored one,
// so a node whose clock lags counts against the current window instead of
// resetting it. Over the limit the caller must roll back or skip the mail;
// the count then stays as it was only if the transaction rolls back.
func countMail(ctx context.Context, tx *Tx, op string, limit gatehouse.MailLimit) (bool, error) {
	if limit.Max == 0 {
		return true, nil
	}
	var count int
	err := tx.QueryRow(ctx, `INSERT INTO mail_rate (key, window_start, count) VALUES ($1, $2, 1)
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN excluded.window_start > mail_rate.window_start
				THEN 1 ELSE mail_rate.count + 1 END,
			window_start = CASE WHEN excluded.window_start > mail_rate.window_start
				THEN excluded.window_start ELSE mail_rate.window_start END
		RETURNING count`, limit.Key, toMillis(limit.WindowStart)).Scan(&count)
	if err != nil {
		return false, errorf(op, err)
	}
	return count <= limit.Max, nil
}

// insertMail inserts m as pending.
func (s *Store) insertMail(ctx context.Context, tx *Tx, op string, m gatehouse.OutboxMail) error {
	_, err := tx.Exec(ctx, `INSERT INTO mail_outbox (id, kind, recipient_hint, payload, state, attempts,
		last_error, created_at, next_attempt_at, sent_at, lease_owner, lease_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, '', 0)`,
		m.ID, m.Kind, m.RecipientHint, payloadArg(m.Payload), string(gatehouse.MailPending), m.Attempts,
		m.LastError, toMillisOrZero(m.CreatedAt), toMillisOrZero(m.NextAttemptAt))
	if err != nil {
		return s.insertError(op, err)
	}
	return nil
}

// ClaimMail leases to owner, until leaseUntil, up to n pending mails due at
// or before now whose lease (if any) has ended, oldest due first, and
// returns them ordered by NextAttemptAt then ID, payloads included. It is
// one UPDATE: the conditions of the candidate query are repeated on the
// rows updated, so on PostgreSQL a claimer that waited for a concurrent
// claim of the same rows re-checks them after that one commits and skips
// them. n <= 0 claims nothing. owner must not be empty and leaseUntil must
// be after now (at millisecond precision).
func (s *Store) ClaimMail(ctx context.Context, owner string, now, leaseUntil time.Time, n int) ([]gatehouse.OutboxMail, error) {
	const op = "claim mail"
	if owner == "" {
		return nil, fmt.Errorf("sqlstore: %s: empty owner", op)
	}
	if toMillis(leaseUntil) <= toMillis(now) {
		return nil, fmt.Errorf("sqlstore: %s: the lease ends before it starts", op)
	}
	mails := []gatehouse.OutboxMail{}
	if n <= 0 {
		return mails, nil
	}
	err := s.db.InTx(ctx, func(tx *Tx) error {
		mails = mails[:0]
		rows, err := tx.Query(ctx, `UPDATE mail_outbox SET lease_owner = $1, lease_until = $2
			WHERE id IN (SELECT id FROM mail_outbox
				WHERE state = 'pending' AND next_attempt_at <= $3 AND lease_until <= $3
				ORDER BY next_attempt_at, id LIMIT $4)
			AND state = 'pending' AND next_attempt_at <= $3 AND lease_until <= $3
			RETURNING `+mailColumns, owner, toMillis(leaseUntil), toMillis(now), n)
		if err != nil {
			return errorf(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMail(rows, true)
			if err != nil {
				return errorf(op, err)
			}
			mails = append(mails, m)
		}
		if err := rows.Err(); err != nil {
			return errorf(op, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// RETURNING has no order; IDs compare byte-wise, as in the subquery.
	slices.SortFunc(mails, func(a, b gatehouse.OutboxMail) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return mails, nil
}

// leased is the condition of every change by a lease holder.
const leased = `WHERE id = $1 AND lease_owner = $2 AND state = 'pending'`

// SetMailPayload replaces the payload of a pending mail owner holds (an
// empty payload is stored as none). ErrNotFound otherwise.
func (s *Store) SetMailPayload(ctx context.Context, id, owner string, payload []byte) error {
	const op = "set mail payload"
	if owner == "" {
		return notFound(op)
	}
	return s.changeOne(ctx, op, `UPDATE mail_outbox SET payload = $3 `+leased, id, owner, payloadArg(payload))
}

// FinishMail moves a pending mail owner holds to a terminal state at now
// (SentAt), deleting its payload, recording lastError and ending the
// lease. ErrNotFound when owner does not hold it; an error for a state
// that is not terminal.
func (s *Store) FinishMail(ctx context.Context, id, owner string, state gatehouse.MailState, lastError string, now time.Time) error {
	const op = "finish mail"
	switch state {
	case gatehouse.MailSent, gatehouse.MailSkipped, gatehouse.MailFailed:
	default:
		return fmt.Errorf("sqlstore: %s: %q is not a terminal state", op, state)
	}
	if owner == "" {
		return notFound(op)
	}
	return s.changeOne(ctx, op, `UPDATE mail_outbox SET payload = NULL, state = $3, last_error = $4,
		sent_at = $5, lease_owner = '', lease_until = 0 `+leased,
		id, owner, string(state), lastError, toMillisOrZero(now))
}

// RetryMail counts a failed attempt of a pending mail owner holds, records
// lastError, ends the lease and makes the mail due at next; the payload
// stays. ErrNotFound when owner does not hold it.
func (s *Store) RetryMail(ctx context.Context, id, owner string, lastError string, next time.Time) error {
	const op = "retry mail"
	if owner == "" {
		return notFound(op)
	}
	return s.changeOne(ctx, op, `UPDATE mail_outbox SET attempts = attempts + 1, last_error = $3,
		next_attempt_at = $4, lease_owner = '', lease_until = 0 `+leased,
		id, owner, lastError, toMillisOrZero(next))
}

// MailReport counts mails by state (one statement, so the counts agree)
// and lists up to n problem mails — failed ones and pending ones with at
// least one failed attempt — newest first (CreatedAt, then ID, descending),
// without payloads.
func (s *Store) MailReport(ctx context.Context, n int) (gatehouse.MailReport, error) {
	const op = "mail report"
	r := gatehouse.MailReport{Problems: []gatehouse.OutboxMail{}}
	var oldest sql.NullInt64
	err := s.db.QueryRow(ctx, `SELECT
		COUNT(CASE WHEN state = 'pending' THEN 1 END),
		COUNT(CASE WHEN state = 'sent' THEN 1 END),
		COUNT(CASE WHEN state = 'skipped' THEN 1 END),
		COUNT(CASE WHEN state = 'failed' THEN 1 END),
		MIN(CASE WHEN state = 'pending' THEN created_at END)
		FROM mail_outbox`).Scan(&r.Pending, &r.Sent, &r.Skipped, &r.Failed, &oldest)
	if err != nil {
		return gatehouse.MailReport{}, errorf(op, err)
	}
	if oldest.Valid {
		r.OldestPending = fromMillisOrZero(oldest.Int64)
	}
	if n <= 0 {
		return r, nil
	}
	rows, err := s.db.Query(ctx, `SELECT `+mailColumnsNoPayload+` FROM mail_outbox
		WHERE state = 'failed' OR (state = 'pending' AND attempts > 0)
		ORDER BY created_at DESC, id DESC LIMIT $1`, n)
	if err != nil {
		return gatehouse.MailReport{}, errorf(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMail(rows, false)
		if err != nil {
			return gatehouse.MailReport{}, errorf(op, err)
		}
		r.Problems = append(r.Problems, m)
	}
	if err := rows.Err(); err != nil {
		return gatehouse.MailReport{}, errorf(op, err)
	}
	return r, nil
}

// DeleteMailBefore deletes, in one transaction, mails in a terminal state
// that reached it before t, and rate counters whose window started before
// t; it returns how many mails.
func (s *Store) DeleteMailBefore(ctx context.Context, t time.Time) (int, error) {
	const op = "delete mail"
	var n int64
	err := s.db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM mail_outbox
			WHERE state IN ('sent', 'skipped', 'failed') AND sent_at > 0 AND sent_at < $1`, toMillis(t))
		if err != nil {
			return errorf(op, err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return errorf(op, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM mail_rate WHERE window_start < $1`, toMillis(t)); err != nil {
			return errorf(op, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
