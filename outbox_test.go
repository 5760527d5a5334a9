package gatehouse_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/gatehouse-auth/gatehouse/internal/testpg"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
	"github.com/gatehouse-auth/gatehouse/mail/smtp"
	"github.com/gatehouse-auth/gatehouse/store/postgres"
	"github.com/gatehouse-auth/gatehouse/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/store/sqlstore"
)

// nodeStore is a store two "nodes" can open on one database.
type nodeStore interface {
	gatehouse.Store
	DB() *sqlstore.DB
	Migrate(ctx context.Context, plugins ...gatehouse.Plugin) error
}

// twoNodes opens the same database twice, as two processes would.
type twoNodes func(t *testing.T) (a, b nodeStore)

var nodeBackends = []struct {
	name string
	open twoNodes
}{
	{"sqlite", func(t *testing.T) (nodeStore, nodeStore) {
		path := filepath.Join(t.TempDir(), "gatehouse.db")
		return twice(t, func() (nodeStore, error) { return sqlite.Open(context.Background(), path) })
	}},
	{"postgres", func(t *testing.T) (nodeStore, nodeStore) {
		dsn := testpg.FreshSchema(t)
		return twice(t, func() (nodeStore, error) { return postgres.Open(context.Background(), dsn) })
	}},
}

// twice opens and migrates a store twice, closing both when the test ends.
func twice(t *testing.T, open func() (nodeStore, error)) (nodeStore, nodeStore) {
	var s [2]nodeStore
	for i := range s {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		s[i] = st
	}
	return s[0], s[1]
}

// node is an Auth on one of the nodes, sharing the master secret.
func node(t *testing.T, s gatehouse.Store, opts ...gatehouse.Option) *gatehouse.Auth {
	t.Helper()
	all := append([]gatehouse.Option{testSecret, gatehouse.WithInsecurePasswordHashingForTests(),
		gatehouse.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	a, err := gatehouse.New(gatehouse.Config{PublicURL: "http://localhost:8080"}, s, all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// deliver runs a's DeliverMail with m until the test ends.
func deliver(t *testing.T, a *gatehouse.Auth, m gatehouse.Mailer) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.DeliverMail(ctx, m) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// eventually polls cond every 20 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOutboxSurvivesMailServerOutage: two nodes queue mail while the SMTP
// server is down; nothing is lost, everything arrives once it is back, and
// no mail is sent twice.
func TestOutboxSurvivesMailServerOutage(t *testing.T) {
	for _, b := range nodeBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			sa, sb := b.open(t)
			a, bb := node(t, sa), node(t, sb)
			srv := smtptest.Start(t, smtptest.Options{TLS: smtptest.Plain})
			mailer, err := smtp.New(smtp.Config{URL: srv.URL(), From: "Gatehouse <no-reply@example.com>", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			const n = 12
			for i := range n {
				if _, err := a.CreateUser(t.Context(), gatehouse.NewUser{Email: fmt.Sprintf("u%d@example.com", i), Password: pw, EmailVerified: true}); err != nil {
					t.Fatal(err)
				}
			}
			srv.Stop()
			deliver(t, a, mailer)
			deliver(t, bb, mailer)
			for i := range n {
				on := a
				if i%2 == 1 {
					on = bb
				}
				if err := on.ForgotPassword(t.Context(), fmt.Sprintf("u%d@example.com", i), gatehouse.Client{}); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, 15*time.Second, "every mail failed once", func() bool {
				rep, err := a.MailReport(t.Context())
				return err == nil && rep.Pending == n && len(rep.Problems) == n
			})
			// Queued bodies are sealed: neither the address nor a link is
			// readable in the database.
			assertSealed(t, sa.DB())

			srv.Restart()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if _, err := srv.Wait(ctx, n); err != nil {
				t.Fatalf("only %d of %d mails arrived: %v", len(srv.Messages()), n, err)
			}
			eventually(t, 10*time.Second, "the outbox records every mail as sent", func() bool {
				rep, err := bb.MailReport(t.Context())
				return err == nil && rep.Pending == 0 && rep.Sent == n
			})
			time.Sleep(500 * time.Millisecond) // a duplicate would show up by now
			perRecipient, ids := map[string]int{}, map[string]bool{}
			for _, m := range srv.Messages() {
				for _, to := range m.To {
					perRecipient[to]++
				}
				msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
				if err != nil {
					t.Fatal(err)
				}
				id := msg.Header.Get("Message-Id")
				if id == "" || ids[id] {
					t.Fatalf("message id %q missing or repeated", id)
				}
				ids[id] = true
			}
			if len(srv.Messages()) != n || len(perRecipient) != n {
				t.Fatalf("%d messages to %d recipients, want %d each once: %v", len(srv.Messages()), len(perRecipient), n, perRecipient)
			}
			// Delivered mail keeps no body.
			var left int
			if err := sa.DB().QueryRow(t.Context(), `SELECT count(*) FROM mail_outbox WHERE payload IS NOT NULL`).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left != 0 {
				t.Fatalf("%d delivered mails still hold a payload", left)
			}
		})
	}
}

// assertSealed checks that no queued payload shows an address or a link.
func assertSealed(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	rows, err := db.Query(t.Context(), `SELECT payload FROM mail_outbox WHERE payload IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var p []byte
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		seen++
		for _, clear := range []string{"example.com", "token", "http", "password_reset", `"kind"`} {
			if bytes.Contains(p, []byte(clear)) {
				t.Fatalf("queued payload shows %q in the clear", clear)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("no queued payload to inspect")
	}
}

// TestOutboxRejectedMailIsNotRetried: a permanent refusal (SMTP 5xx) ends
// the mail at once as failed, visible in the report with the reason.
func TestOutboxRejectedMailIsNotRetried(t *testing.T) {
	a := authtest.New(t, gatehouse.Config{})
	srv := smtptest.Start(t, smtptest.Options{TLS: smtptest.Plain, Reject: &smtptest.Rejection{Code: 550, Message: "no such mailbox"}})
	mailer, err := smtp.New(smtp.Config{URL: srv.URL(), From: "no-reply@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, a, mailer)
	if _, err := a.CreateUser(t.Context(), gatehouse.NewUser{Email: "gone@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	if err := a.ResendVerification(t.Context(), "gone@example.com", gatehouse.Client{}); err != nil {
		t.Fatal(err)
	}
	var rep gatehouse.MailReport
	eventually(t, 10*time.Second, "the mail fails", func() bool {
		rep, err = a.MailReport(t.Context())
		return err == nil && rep.Failed == 1
	})
	p := rep.Problems[0]
	if p.State != gatehouse.MailFailed || p.Kind != "verify_email" || !strings.Contains(p.LastError, "550") || p.RecipientHint != "g•••@example.com" {
		t.Fatalf("problem %+v", p)
	}
}

// TestOutboxGivesUp: a mail that cannot be delivered for
// MailGiveUpAfter is marked failed; until then it stays pending.
func TestOutboxGivesUp(t *testing.T) {
	clock := authtest.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	a := authtest.New(t, gatehouse.Config{MailGiveUpAfter: time.Hour}, gatehouse.WithClock(clock))
	mb := mailbox.New(0)
	mb.Down(errors.New("connection refused"))
	deliver(t, a, mb)
	if _, err := a.CreateUser(t.Context(), gatehouse.NewUser{Email: "late@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	if err := a.ForgotPassword(t.Context(), "late@example.com", gatehouse.Client{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a first failed attempt", func() bool {
		rep, err := a.MailReport(t.Context())
		return err == nil && len(rep.Problems) == 1 && rep.Problems[0].Attempts >= 1
	})
	clock.Advance(61 * time.Minute)
	eventually(t, 10*time.Second, "the mail is given up", func() bool {
		rep, err := a.MailReport(t.Context())
		return err == nil && rep.Failed == 1 && rep.Pending == 0
	})
	mb.Down(nil)
	time.Sleep(1500 * time.Millisecond)
	if n := len(mb.Messages()); n != 0 {
		t.Fatalf("a given-up mail was sent (%d)", n)
	}
}

// TestOutboxRetriesWithTheSameLink: a retry sends the message rendered the
// first time, so the link in the mail that finally arrives is the one
// issued, and only one link exists.
func TestOutboxRetriesWithTheSameLink(t *testing.T) {
	clock := authtest.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	a := authtest.New(t, gatehouse.Config{}, gatehouse.WithClock(clock))
	mb := mailbox.New(0)
	mb.Down(errors.New("421 try later"))
	deliver(t, a, mb)
	if _, err := a.CreateUser(t.Context(), gatehouse.NewUser{Email: "re@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	if err := a.ForgotPassword(t.Context(), "re@example.com", gatehouse.Client{}); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		eventually(t, 10*time.Second, fmt.Sprintf("attempt %d", attempt), func() bool {
			rep, err := a.MailReport(t.Context())
			return err == nil && len(rep.Problems) == 1 && rep.Problems[0].Attempts >= attempt
		})
		clock.Advance(20 * time.Second) // past the backoff (≤ 2 s · 2² · 1.2)
	}
	mb.Down(nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := mb.Wait(ctx, func(mailbox.Entry) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	var token string
	for _, l := range m.Links {
		if _, tok, ok := strings.Cut(l, "/reset-password?token="); ok {
			token = tok
		}
	}
	if err := a.CheckLink(t.Context(), gatehouse.PurposeResetPassword, token); err != nil {
		t.Fatalf("the delivered link does not work: %v", err)
	}
}

// TestOutboxWrongSecret: mail sealed under another master secret cannot
// be read; it fails visibly instead of being sent garbled or retried
// forever.
func TestOutboxWrongSecret(t *testing.T) {
	s := authtest.Store(t)
	a := node(t, s)
	if _, err := a.CreateUser(t.Context(), gatehouse.NewUser{Email: "k@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	if err := a.ForgotPassword(t.Context(), "k@example.com", gatehouse.Client{}); err != nil {
		t.Fatal(err)
	}
	other := node(t, s, gatehouse.WithSecret(bytes.Repeat([]byte{7}, 32)))
	mb := mailbox.New(0)
	deliver(t, other, mb)
	eventually(t, 10*time.Second, "the mail fails", func() bool {
		rep, err := other.MailReport(t.Context())
		return err == nil && rep.Failed == 1 && strings.Contains(rep.Problems[0].LastError, "decrypt")
	})
	if len(mb.Messages()) != 0 {
		t.Fatal("sent a mail it could not read")
	}
}
