package smtptest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

// send delivers one message with the standard library's client, which is
// independent of the code under test elsewhere.
func send(t *testing.T, s *smtptest.Server, o smtptest.Options, rcpt string) error {
	t.Helper()
	var conn net.Conn
	var err error
	d := net.Dialer{Timeout: 5 * time.Second}
	if o.TLS == smtptest.ImplicitTLS {
		conn, err = tls.DialWithDialer(&d, "tcp", s.Addr(), s.ClientTLSConfig())
	} else {
		conn, err = d.Dial("tcp", s.Addr())
	}
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	c, err := smtp.NewClient(conn, s.Host())
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if o.TLS == smtptest.STARTTLS {
		if err := c.StartTLS(s.ClientTLSConfig()); err != nil {
			return err
		}
	}
	if o.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", o.Username, o.Password, s.Host())); err != nil {
			return err
		}
	}
	if err := c.Mail("from@example.com"); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte("Subject: hi\r\n\r\nhello\r\n")); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func TestModes(t *testing.T) {
	for _, o := range []smtptest.Options{
		{TLS: smtptest.Plain},
		{TLS: smtptest.STARTTLS, Username: "u", Password: "p"},
		{TLS: smtptest.ImplicitTLS, Username: "u", Password: "p"},
	} {
		t.Run(o.TLS.String(), func(t *testing.T) {
			s := smtptest.Start(t, o)
			if err := send(t, s, o, "ada@example.com"); err != nil {
				t.Fatalf("send: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := s.Wait(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			r := got[0]
			if r.From != "from@example.com" || len(r.To) != 1 || r.To[0] != "ada@example.com" {
				t.Errorf("envelope = %q → %q", r.From, r.To)
			}
			if !strings.Contains(string(r.Data), "hello") {
				t.Errorf("data = %q", r.Data)
			}
			if r.Username != o.Username || r.TLS != (o.TLS != smtptest.Plain) {
				t.Errorf("username %q, TLS %v", r.Username, r.TLS)
			}
		})
	}
}

func TestAuthRequiredAndChecked(t *testing.T) {
	o := smtptest.Options{TLS: smtptest.STARTTLS, Username: "u", Password: "p"}
	s := smtptest.Start(t, o)
	bad := o
	bad.Password = "wrong"
	err := send(t, s, bad, "ada@example.com")
	if err == nil || !strings.HasPrefix(err.Error(), "535") {
		t.Errorf("wrong password: err = %v, want 535", err)
	}
	none := o
	none.Username = ""
	if err := send(t, s, none, "ada@example.com"); err == nil {
		t.Error("unauthenticated MAIL accepted")
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages stored", n)
	}
}

func TestReject(t *testing.T) {
	o := smtptest.Options{}
	s := smtptest.Start(t, o)
	for _, r := range []smtptest.Rejection{
		{Code: 550, Message: "no such user", At: smtptest.AtRcpt},
		{Code: 451, At: smtptest.AtMail},
		{Code: 554, At: smtptest.AtData},
	} {
		s.Reject(&r)
		err := send(t, s, o, "ada@example.com")
		if err == nil || !strings.HasPrefix(err.Error(), strconv.Itoa(r.Code)) {
			t.Errorf("reject %d at %d: err = %v", r.Code, r.At, err)
		}
	}
	s.Reject(nil)
	if err := send(t, s, o, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestStopRestartSameAddress(t *testing.T) {
	for _, mode := range []smtptest.TLSMode{smtptest.Plain, smtptest.ImplicitTLS} {
		t.Run(mode.String(), func(t *testing.T) {
			o := smtptest.Options{TLS: mode}
			s := smtptest.Start(t, o)
			addr := s.Addr()
			if err := send(t, s, o, "a@example.com"); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				s.Stop()
				s.Stop() // idempotent
				if s.Running() {
					t.Fatal("running after Stop")
				}
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err == nil {
					c.Close()
					t.Fatalf("round %d: connection accepted while stopped", i)
				}
				if err := send(t, s, o, "b@example.com"); err == nil {
					t.Fatal("sent while stopped")
				}
				s.Restart()
				if s.Addr() != addr {
					t.Fatalf("address changed: %s → %s", addr, s.Addr())
				}
				if err := send(t, s, o, "c@example.com"); err != nil {
					t.Fatalf("round %d after restart: %v", i, err)
				}
			}
			if n := len(s.Messages()); n != 4 {
				t.Errorf("%d messages kept across restarts, want 4", n)
			}
		})
	}
}

func TestRestartFromAnotherGoroutine(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	s.Stop()
	time.AfterFunc(100*time.Millisecond, s.Restart)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := send(t, s, smtptest.Options{}, "a@example.com"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not come back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHang(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{Hang: true})
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var b [1]byte
	if _, err := c.Read(b[:]); !isTimeout(err) {
		t.Fatalf("read from hanging server: %v, want timeout", err)
	}
	s.Hang(false)
	if err := send(t, s, smtptest.Options{}, "a@example.com"); err != nil {
		t.Fatalf("after Hang(false): %v", err)
	}
	// Stop closes the parked connection.
	s.Stop()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(b[:]); err == nil || isTimeout(err) {
		t.Fatalf("parked connection after Stop: %v, want closed", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestWaitHonoursContext(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Wait(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v", err)
	}
}

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		o    smtptest.Options
		want string
	}{
		{smtptest.Options{}, "smtp://" + "ADDR" + "?starttls=off"},
		{smtptest.Options{TLS: smtptest.STARTTLS, Username: "u", Password: "p@ss"}, "smtp://u:p%40ss@ADDR"},
		{smtptest.Options{TLS: smtptest.ImplicitTLS}, "smtps://ADDR"},
	} {
		s := smtptest.Start(t, tc.o)
		if got, want := s.URL(), strings.Replace(tc.want, "ADDR", s.Addr(), 1); got != want {
			t.Errorf("URL = %q, want %q", got, want)
		}
	}
}
