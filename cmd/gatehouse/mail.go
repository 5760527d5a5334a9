package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
	"github.com/gatehouse-auth/gatehouse/mail/smtp"
	"github.com/gatehouse-auth/gatehouse/web"
)

// smtpSettings is where mail goes. url may carry credentials: never print
// it; print the mailer's String instead.
type smtpSettings struct {
	url          string
	from         string
	passwordFile string
}

// parseSMTP validates the SMTP settings (without reading the password
// file, which only serve needs).
func parseSMTP(raw rawConfig) (smtpSettings, error) {
	s := smtpSettings{url: strings.TrimSpace(raw.SMTPURL), from: strings.TrimSpace(raw.SMTPFrom), passwordFile: raw.SMTPPasswordFile}
	if s.url == "" {
		if s.from != "" || s.passwordFile != "" {
			return s, fmt.Errorf("%s or %s is set but %s is not: set the mail server, like smtp://user@mail.example.com:587", setting("smtp_from"), setting("smtp_password_file"), setting("smtp_url"))
		}
		return s, nil
	}
	if s.from == "" {
		return s, fmt.Errorf("%s is set but %s is not: set the sender, like \"Example <no-reply@example.com>\"", setting("smtp_url"), setting("smtp_from"))
	}
	if _, err := smtp.New(smtp.Config{URL: s.url, From: s.from}); err != nil {
		return s, fmt.Errorf("%s / %s: %w", setting("smtp_url"), setting("smtp_from"), err)
	}
	return s, nil
}

// newMailer returns where serve delivers mail: the SMTP server when one is
// configured; otherwise, in development, the development mailbox (also
// returned, for its page); production without a mail server is refused.
func newMailer(s *settings) (gatehouse.Mailer, *mailbox.Mailbox, string, error) {
	if s.smtp.url == "" {
		if !s.development {
			return nil, nil, "", fmt.Errorf("production mode needs a mail server for verification and password-reset mail: set %s (smtp://user@host:587 for STARTTLS, smtps://user@host:465 for TLS) and %s", setting("smtp_url"), setting("smtp_from"))
		}
		mb := mailbox.New(0)
		return mb, mb, "development mailbox", nil
	}
	c := smtp.Config{URL: s.smtp.url, From: s.smtp.from}
	if s.smtp.passwordFile != "" {
		b, err := os.ReadFile(s.smtp.passwordFile)
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s: %w", setting("smtp_password_file"), err)
		}
		c.Password = strings.TrimRight(string(b), "\r\n")
	}
	m, err := smtp.New(c)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", setting("smtp_url"), err)
	}
	return m, nil, m.String(), nil
}

// mailCmd groups the mail commands.
type mailCmd struct {
	Status mailStatusCmd `cmd:"" help:"Show the outbox: mail pending, sent, skipped and failed, and recent delivery problems."`
}

type mailStatusCmd struct {
	JSON bool `name:"json" help:"Print JSON instead of a table."`
}

// Run prints the outbox report. It reads the database only: no secret is
// needed and nothing is sent.
func (c *mailStatusCmd) Run(ctx context.Context, ce *commandEnv) error {
	return withStore(ctx, ce, func(st backend) error {
		rep, err := st.MailReport(ctx, 20)
		if err != nil {
			return fmt.Errorf("reading the outbox (has `gatehouse migrate` run?): %w", err)
		}
		if c.JSON {
			return printMailJSON(ce.stdout, rep)
		}
		printMailReport(ce.stdout, rep, time.Now())
		return nil
	})
}

func printMailReport(w io.Writer, rep gatehouse.MailReport, now time.Time) {
	fmt.Fprintf(w, "Pending: %d   Sent: %d   Skipped: %d   Failed: %d\n", rep.Pending, rep.Sent, rep.Skipped, rep.Failed)
	if !rep.OldestPending.IsZero() {
		fmt.Fprintf(w, "Oldest pending mail was queued %s ago.\n", now.Sub(rep.OldestPending).Round(time.Second))
	}
	if len(rep.Problems) == 0 {
		fmt.Fprintln(w, "No delivery problems.")
		return
	}
	fmt.Fprintln(w, "\nDelivery problems (newest first):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tTO\tSTATE\tATTEMPTS\tNEXT TRY\tLAST ERROR")
	for _, m := range rep.Problems {
		next := "-"
		if m.State == gatehouse.MailPending {
			next = m.NextAttemptAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.Kind, m.RecipientHint, m.State, m.Attempts, next, oneLine(m.LastError))
	}
	tw.Flush()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func printMailJSON(w io.Writer, rep gatehouse.MailReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(web.NewMailReportJSON(rep))
}
