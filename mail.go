package gatehouse

import (
	"context"
	"errors"
	"time"
)

// Message is one rendered email. ID is the outbox id: it stays the same
// across delivery attempts, so a Mailer can derive a stable Message-ID from
// it and receivers can drop a duplicate.
type Message struct {
	ID string
	// Kind names what the mail is for ("verify_email", "password_reset",
	// "new_device"…), for logs and mailboxes; it is not sent.
	Kind    string
	To      string
	Subject string
	Text    string
	HTML    string
}

// Mailer delivers rendered messages. Implementations: mail/smtp for
// production, mail/mailbox for development and tests. Send must be safe for
// concurrent use and must return only once the message was handed over (or
// not): the outbox retries a failed send, with backoff, until it succeeds or
// the message is older than Config.MailGiveUpAfter. A Mailer wraps
// ErrMailRejected when the receiving server refused the message for good
// (an SMTP 5xx), so it is not retried.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// ErrMailRejected marks a permanent delivery failure: retrying the same
// message cannot succeed.
var ErrMailRejected = errors.New("gatehouse: message rejected")

// ErrRateLimited is returned by MailStore.EnqueueMail when the recipient's
// limit is reached; nothing was queued.
var ErrRateLimited = errors.New("gatehouse: rate limit reached")

// MailState is where a queued mail is in its life.
type MailState string

// States of a queued mail. Only pending mail has a payload; the others
// are kept, without it, as a delivery record for operators.
const (
	// MailPending: waiting for its first or next attempt.
	MailPending MailState = "pending"
	// MailSent: handed to the mail server.
	MailSent MailState = "sent"
	// MailSkipped: nothing to send (for example a password reset asked
	// for an address without an account).
	MailSkipped MailState = "skipped"
	// MailFailed: given up (rejected for good, or still failing after
	// Config.MailGiveUpAfter).
	MailFailed MailState = "failed"
)

// OutboxMail is a queued email as the store holds it. Payload is sealed
// (AES-GCM under the master secret, bound to ID): it holds what to send, and
// later the rendered message with its live links, so it never sits in the
// database in the clear and is deleted once the mail leaves a terminal
// state's reach (sent, skipped or failed).
type OutboxMail struct {
	// ID is "mail_…".
	ID string
	// Kind names what the mail is for ("verify_email", "password_reset"…).
	Kind string
	// RecipientHint is a masked address for operators ("a•••@example.com");
	// the real address is inside Payload.
	RecipientHint string
	Payload       []byte
	State         MailState
	// Attempts counts failed delivery attempts.
	Attempts      int
	LastError     string
	CreatedAt     time.Time
	NextAttemptAt time.Time
	// SentAt is when the mail reached a terminal state (zero while pending).
	SentAt time.Time
}

// MailLimit is a fixed-window counter checked atomically with an enqueue:
// at most Max mails per Key per window, the window starting at
// WindowStart. Key is a keyed hash of the recipient and a bucket name, never
// the address itself.
type MailLimit struct {
	Key         string
	Max         int
	WindowStart time.Time
}

// MailReport summarizes the outbox for operators.
type MailReport struct {
	Pending, Sent, Skipped, Failed int
	// OldestPending is the creation time of the oldest pending mail (zero
	// when none is pending).
	OldestPending time.Time
	// Problems lists failed mails and pending ones that have failed at
	// least once, newest first, without payloads.
	Problems []OutboxMail
}

// MailStore is the outbox. Claims are leases: a claimed mail is invisible
// to other claimers until the lease ends, so many nodes never send one mail
// twice as long as a send finishes within the lease. Every method that takes
// an owner changes the mail only while that owner's lease holds, and
// reports ErrNotFound otherwise.
type MailStore interface {
	// EnqueueMail inserts m as pending, due at m.NextAttemptAt, after
	// counting it against limit in the same transaction; over the limit it
	// inserts nothing and returns ErrRateLimited. A zero limit.Max means no
	// limit.
	EnqueueMail(ctx context.Context, m OutboxMail, limit MailLimit) error
	// SignUpAndEnqueue inserts u with its password hash unless its
	// normalized email is taken, and queues m (counted against limit) in the
	// same transaction either way, doing the same work in both cases so a
	// sign-up takes as long for a taken address as for a new one. created
	// reports whether u was inserted; queued whether m was (false over the
	// limit, which never stops the account being created).
	SignUpAndEnqueue(ctx context.Context, u User, passwordHash string, m OutboxMail, limit MailLimit) (created, queued bool, err error)
	// ClaimMail leases up to n pending mails due at or before now (oldest
	// due first) to owner until leaseUntil and returns them, payloads
	// included.
	ClaimMail(ctx context.Context, owner string, now, leaseUntil time.Time, n int) ([]OutboxMail, error)
	// SetMailPayload replaces the payload of a mail owner holds (the
	// rendered message replacing the request for it).
	SetMailPayload(ctx context.Context, id, owner string, payload []byte) error
	// FinishMail moves a mail owner holds to a terminal state (sent,
	// skipped or failed) at now, deleting its payload and recording
	// lastError.
	FinishMail(ctx context.Context, id, owner string, state MailState, lastError string, now time.Time) error
	// RetryMail counts a failed attempt, records lastError, releases the
	// lease and makes the mail due again at next.
	RetryMail(ctx context.Context, id, owner string, lastError string, next time.Time) error
	// MailReport counts mails by state and lists up to n problem mails.
	MailReport(ctx context.Context, n int) (MailReport, error)
	// DeleteMailBefore deletes terminal mails finished before t, and rate
	// counters whose window started before t; it returns how many mails.
	DeleteMailBefore(ctx context.Context, t time.Time) (int, error)
}
