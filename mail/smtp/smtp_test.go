package smtp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/gatehouse-auth/gatehouse/mail/smtp"
)

const (
	user     = "mailer"
	password = "s3cret-Pa55w0rd"
	from     = "Gatehouse <no-reply@example.com>"
)

func newMailer(t *testing.T, s *smtptest.Server, mod func(*smtp.Config)) *smtp.Mailer {
	t.Helper()
	c := smtp.Config{URL: s.URL(), From: from, TLSConfig: s.ClientTLSConfig(), Timeout: 5 * time.Second}
	if mod != nil {
		mod(&c)
	}
	m, err := smtp.New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func testMessage() gatehouse.Message {
	return gatehouse.Message{
		ID:      "mail_01HXYZ-abc",
		To:      "ada@example.com",
		Subject: "Vérifiez votre adresse — Gatehouse",
		Text:    "Hello Ada,\n\nverify here: https://auth.example.com/auth/verify-email?token=abc\n\n= a line starting with an equals sign\n",
		HTML:    `<p>Hello Ada,</p><p><a href="https://auth.example.com/auth/verify-email?token=abc">Verify</a></p>`,
	}
}

func waitOne(t *testing.T, s *smtptest.Server) smtptest.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := s.Wait(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	return got[0]
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// checkMessage parses r as the delivery of msg and checks every part.
func checkMessage(t *testing.T, r smtptest.Received, msg gatehouse.Message) {
	t.Helper()
	if r.From != "no-reply@example.com" || len(r.To) != 1 || r.To[0] != msg.To {
		t.Errorf("envelope %q → %q", r.From, r.To)
	}
	pm, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, r.Data)
	}
	h := pm.Header
	var dec mime.WordDecoder
	if subj, err := dec.DecodeHeader(h.Get("Subject")); err != nil || subj != msg.Subject {
		t.Errorf("Subject = %q (%v), want %q", subj, err, msg.Subject)
	}
	if f, err := h.AddressList("From"); err != nil || len(f) != 1 || f[0].Address != "no-reply@example.com" || f[0].Name != "Gatehouse" {
		t.Errorf("From = %v (%v)", f, err)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != msg.To {
		t.Errorf("To = %v (%v)", to, err)
	}
	if d, err := h.Date(); err != nil || time.Since(d).Abs() > time.Minute {
		t.Errorf("Date = %v (%v)", d, err)
	}
	if got, want := h.Get("Message-ID"), "<"+msg.ID+"@example.com>"; got != want {
		t.Errorf("Message-ID = %q, want %q", got, want)
	}
	if got := h.Get("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", got)
	}
	if ua := h.Get("User-Agent") + h.Get("X-Mailer"); ua != "" {
		t.Errorf("mailer advertised: %q", ua)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v)", h.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(pm.Body, params["boundary"])
	want := []struct{ typ, body string }{{"text/plain", msg.Text}, {"text/html", msg.HTML}}
	for i, w := range want {
		p, err := mr.NextPart() // decodes quoted-printable
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		pt, pp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if pt != w.typ || !strings.EqualFold(pp["charset"], "utf-8") {
			t.Errorf("part %d Content-Type = %q", i, p.Header.Get("Content-Type"))
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimRight(string(b), "\r\n"); got != strings.TrimRight(crlf(w.body), "\r\n") {
			t.Errorf("part %d body = %q, want %q", i, got, w.body)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("extra part: %v", err)
	}
}

func TestSTARTTLSWithAuth(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{TLS: smtptest.STARTTLS, Username: user, Password: password})
	m := newMailer(t, s, nil)
	msg := testMessage()
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := waitOne(t, s)
	if !r.TLS || r.Username != user {
		t.Errorf("TLS %v, user %q", r.TLS, r.Username)
	}
	checkMessage(t, r, msg)
}

func TestImplicitTLS(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{TLS: smtptest.ImplicitTLS, Username: user, Password: password})
	// The URL's password is wrong; Config.Password wins.
	url := strings.Replace(s.URL(), password, "wrong", 1)
	m := newMailer(t, s, func(c *smtp.Config) { c.URL, c.Password = url, password })
	msg := testMessage()
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := waitOne(t, s)
	if !r.TLS || r.Username != user {
		t.Errorf("TLS %v, user %q", r.TLS, r.Username)
	}
	checkMessage(t, r, msg)
}

func TestLOGINWhenPLAINIsNotOffered(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{TLS: smtptest.STARTTLS, Username: user, Password: password, AuthMechanisms: []string{"LOGIN"}})
	if err := newMailer(t, s, nil).Send(context.Background(), testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if r := waitOne(t, s); r.Username != user {
		t.Errorf("user %q", r.Username)
	}
}

func TestPlainToLoopback(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	for _, host := range []string{"127.0.0.1", "localhost"} {
		url := fmt.Sprintf("smtp://%s:%d?starttls=off", host, s.Port())
		m := newMailer(t, s, func(c *smtp.Config) { c.URL = url })
		if got, want := m.String(), fmt.Sprintf("smtp://%s:%d?starttls=off (plain text, loopback only)", host, s.Port()); got != want {
			t.Errorf("String = %q, want %q", got, want)
		}
		msg := testMessage()
		msg.HTML = "" // text only: a single text/plain body
		if err := m.Send(context.Background(), msg); err != nil {
			if host == "localhost" && strings.Contains(err.Error(), "refused") {
				t.Logf("localhost does not resolve to 127.0.0.1 here: %v", err)
				continue
			}
			t.Fatalf("Send via %s: %v", host, err)
		}
	}
	r := waitOne(t, s)
	if r.TLS {
		t.Error("plain server reports TLS")
	}
	pm, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatal(err)
	}
	if mt, _, _ := mime.ParseMediaType(pm.Header.Get("Content-Type")); mt != "text/plain" {
		t.Errorf("Content-Type = %q", pm.Header.Get("Content-Type"))
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    smtp.Config
		want string // in the error
	}{
		{"no URL", smtp.Config{From: from}, "URL is required"},
		{"plain to remote", smtp.Config{URL: "smtp://mail.example.com?starttls=off", From: from}, "loopback"},
		{"plain to public IP", smtp.Config{URL: "smtp://192.0.2.1:25?starttls=off", From: from}, "loopback"},
		{"plain with user", smtp.Config{URL: "smtp://u:" + password + "@127.0.0.1?starttls=off", From: from}, "only over TLS"},
		{"smtps starttls=off", smtp.Config{URL: "smtps://127.0.0.1?starttls=off", From: from}, "smtps"},
		{"starttls=on", smtp.Config{URL: "smtp://mail.example.com?starttls=on", From: from}, "only the value off"},
		{"unknown option", smtp.Config{URL: "smtp://mail.example.com?tls=no", From: from}, "unknown URL option"},
		{"scheme", smtp.Config{URL: "http://mail.example.com", From: from}, "scheme"},
		{"no host", smtp.Config{URL: "smtp://", From: from}, "no host"},
		{"opaque", smtp.Config{URL: "smtp:mail.example.com", From: from}, "no host"},
		{"path", smtp.Config{URL: "smtp://mail.example.com/x", From: from}, "path"},
		{"port", smtp.Config{URL: "smtp://mail.example.com:0", From: from}, "port"},
		{"bad URL with password", smtp.Config{URL: "smtp://u:" + password + "%zz@mail.example.com", From: from}, "not a valid URL"},
		{"password without user", smtp.Config{URL: "smtp://mail.example.com", From: from, Password: password}, "names no user"},
		{"no From", smtp.Config{URL: "smtp://mail.example.com"}, "From is required"},
		{"bad From", smtp.Config{URL: "smtp://mail.example.com", From: "not an address"}, "From"},
		{"From with CRLF", smtp.Config{URL: "smtp://mail.example.com", From: "a@example.com\r\nBcc: x@example.com"}, "line break"},
		{"From not ASCII", smtp.Config{URL: "smtp://mail.example.com", From: "a@exämple.com"}, "A-label"},
		{"negative timeout", smtp.Config{URL: "smtp://mail.example.com", From: from, Timeout: -time.Second}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := smtp.New(tc.c)
			if err == nil {
				t.Fatalf("New accepted %+v as %v", tc.c, m)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error contains the password: %q", err)
			}
		})
	}
}

func TestStringAndDefaults(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"smtp://mailer:" + password + "@mail.example.com", "smtp://mailer@mail.example.com:587 (STARTTLS)"},
		{"smtps://mailer:" + password + "@mail.example.com", "smtps://mailer@mail.example.com:465 (implicit TLS)"},
		{"smtp://mail.example.com:2525", "smtp://mail.example.com:2525 (STARTTLS)"},
		{"smtp://[::1]?starttls=off", "smtp://[::1]:25?starttls=off (plain text, loopback only)"},
		{"smtp://localhost:1025?starttls=off", "smtp://localhost:1025?starttls=off (plain text, loopback only)"},
	} {
		m, err := smtp.New(smtp.Config{URL: tc.url, From: from})
		if err != nil {
			t.Fatalf("New(%q): %v", tc.url, err)
		}
		if got := m.String(); got != tc.want {
			t.Errorf("String = %q, want %q", got, tc.want)
		}
		if s := fmt.Sprintf("%v %+v %#v %s", m, m, m, m); strings.Contains(s, password) {
			t.Errorf("formatting shows the password: %s", s)
		}
	}
}

func TestWrongPassword(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{TLS: smtptest.STARTTLS, Username: user, Password: password})
	const wrong = "not-the-Pa55w0rd"
	m := newMailer(t, s, func(c *smtp.Config) { c.Password = wrong })
	err := m.Send(context.Background(), testMessage())
	if err == nil {
		t.Fatal("Send with a wrong password succeeded")
	}
	t.Logf("error: %v", err)
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), password) {
		t.Errorf("error contains the password: %q", err)
	}
	if !strings.Contains(err.Error(), "535") {
		t.Errorf("error does not carry the server's reply: %q", err)
	}
	if errors.Is(err, gatehouse.ErrMailRejected) {
		t.Error("an authentication failure is the operator's to fix, not the message's: it must stay retryable")
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestSTARTTLSRequired(t *testing.T) {
	// A server without STARTTLS gets neither the message nor credentials.
	s := smtptest.Start(t, smtptest.Options{Username: user, Password: password})
	url := fmt.Sprintf("smtp://%s:%s@%s", user, password, s.Addr())
	m := newMailer(t, s, func(c *smtp.Config) { c.URL = url })
	err := m.Send(context.Background(), testMessage())
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Send = %v, want a STARTTLS error", err)
	}
	if errors.Is(err, gatehouse.ErrMailRejected) || strings.Contains(err.Error(), password) {
		t.Errorf("err = %q", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages delivered in plain text", n)
	}
}

func TestUntrustedCertificate(t *testing.T) {
	for _, mode := range []smtptest.TLSMode{smtptest.STARTTLS, smtptest.ImplicitTLS} {
		s := smtptest.Start(t, smtptest.Options{TLS: mode, Username: user, Password: password})
		m := newMailer(t, s, func(c *smtp.Config) { c.TLSConfig = nil })
		err := m.Send(context.Background(), testMessage())
		if err == nil || errors.Is(err, gatehouse.ErrMailRejected) || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%v: Send = %v, want a retryable certificate error", mode, err)
		}
	}
}

func TestRejections(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{TLS: smtptest.STARTTLS, Username: user, Password: password})
	m := newMailer(t, s, nil)
	for _, tc := range []struct {
		r         smtptest.Rejection
		permanent bool
	}{
		{smtptest.Rejection{Code: 550, Message: "5.1.1 no such user", At: smtptest.AtRcpt}, true},
		{smtptest.Rejection{Code: 553, At: smtptest.AtMail}, true},
		{smtptest.Rejection{Code: 554, Message: "content refused", At: smtptest.AtData}, true},
		{smtptest.Rejection{Code: 450, Message: "mailbox busy", At: smtptest.AtRcpt}, false},
		{smtptest.Rejection{Code: 421, At: smtptest.AtMail}, false},
		{smtptest.Rejection{Code: 451, At: smtptest.AtData}, false},
	} {
		s.Reject(&tc.r)
		err := m.Send(context.Background(), testMessage())
		if err == nil {
			t.Fatalf("%d: Send succeeded", tc.r.Code)
		}
		if got := errors.Is(err, gatehouse.ErrMailRejected); got != tc.permanent {
			t.Errorf("%d at %d: ErrMailRejected = %v, want %v (%v)", tc.r.Code, tc.r.At, got, tc.permanent, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprint(tc.r.Code)) {
			t.Errorf("error does not carry the reply: %q", err)
		}
	}
	s.Reject(nil)
	if err := m.Send(context.Background(), testMessage()); err != nil {
		t.Fatalf("after the rejections: %v", err)
	}
}

func TestConnectionRefusedThenBack(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{TLS: smtptest.ImplicitTLS, Username: user, Password: password})
	m := newMailer(t, s, nil)
	s.Stop()
	err := m.Send(context.Background(), testMessage())
	if err == nil || errors.Is(err, gatehouse.ErrMailRejected) {
		t.Fatalf("Send to a stopped server = %v, want a retryable error", err)
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("error = %q", err)
	}
	s.Restart()
	if err := m.Send(context.Background(), testMessage()); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	checkMessage(t, waitOne(t, s), testMessage())
}

func TestTimeout(t *testing.T) {
	for _, mode := range []smtptest.TLSMode{smtptest.STARTTLS, smtptest.ImplicitTLS} {
		t.Run(mode.String(), func(t *testing.T) {
			s := smtptest.Start(t, smtptest.Options{TLS: mode, Hang: true})
			const timeout = 400 * time.Millisecond
			m := newMailer(t, s, func(c *smtp.Config) { c.Timeout = timeout })
			start := time.Now()
			err := m.Send(context.Background(), testMessage())
			took := time.Since(start)
			if err == nil || errors.Is(err, gatehouse.ErrMailRejected) {
				t.Fatalf("Send = %v, want a retryable error", err)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want DeadlineExceeded", err)
			}
			if took < timeout-50*time.Millisecond || took > timeout+2*time.Second {
				t.Errorf("Send took %v with Timeout %v", took, timeout)
			}
		})
	}
}

func TestContextCancellation(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{TLS: smtptest.STARTTLS, Hang: true})
	m := newMailer(t, s, func(c *smtp.Config) { c.Timeout = time.Minute })

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	err := m.Send(ctx, testMessage())
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Send took %v after cancellation", took)
	}
	if !errors.Is(err, context.Canceled) || errors.Is(err, gatehouse.ErrMailRejected) {
		t.Errorf("Send = %v, want context.Canceled", err)
	}

	// A context that is already done sends nothing.
	s.Hang(false)
	if err := m.Send(ctx, testMessage()); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a done context = %v", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestHeaderInjectionRefused(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{TLS: smtptest.STARTTLS})
	m := newMailer(t, s, nil)
	for name, mod := range map[string]func(*gatehouse.Message){
		"subject CRLF":  func(m *gatehouse.Message) { m.Subject = "hi\r\nBcc: eve@example.com" },
		"subject LF":    func(m *gatehouse.Message) { m.Subject = "hi\nBcc: eve@example.com" },
		"subject CR":    func(m *gatehouse.Message) { m.Subject = "hi\rBcc: eve@example.com" },
		"to CRLF":       func(m *gatehouse.Message) { m.To = "ada@example.com\r\nBcc: eve@example.com" },
		"to LF":         func(m *gatehouse.Message) { m.To = "ada@example.com\nBcc: eve@example.com" },
		"to list":       func(m *gatehouse.Message) { m.To = "ada@example.com, eve@example.com" },
		"to invalid":    func(m *gatehouse.Message) { m.To = "not an address" },
		"to empty":      func(m *gatehouse.Message) { m.To = "" },
		"id CRLF":       func(m *gatehouse.Message) { m.ID = "mail_1\r\nBcc: eve@example.com" },
		"id with space": func(m *gatehouse.Message) { m.ID = "mail 1>" },
		"no text":       func(m *gatehouse.Message) { m.Text = "" },
	} {
		msg := testMessage()
		mod(&msg)
		err := m.Send(context.Background(), msg)
		if !errors.Is(err, gatehouse.ErrMailRejected) {
			t.Errorf("%s: Send = %v, want ErrMailRejected", name, err)
		}
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestNoIDGetsAMessageID(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{TLS: smtptest.STARTTLS})
	msg := testMessage()
	msg.ID = ""
	if err := newMailer(t, s, nil).Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	pm, err := mail.ReadMessage(bytes.NewReader(waitOne(t, s).Data))
	if err != nil {
		t.Fatal(err)
	}
	if id := pm.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, ">") {
		t.Errorf("Message-ID = %q", id)
	}
}

func TestConcurrentSends(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{TLS: smtptest.STARTTLS, Username: user, Password: password})
	m := newMailer(t, s, nil)
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			msg := testMessage()
			msg.ID = fmt.Sprintf("mail_%d", i)
			if err := m.Send(context.Background(), msg); err != nil {
				t.Errorf("Send %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Wait(ctx, n); err != nil {
		t.Fatal(err)
	}
}
