package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

func TestSMTPSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		wantErr string
	}{
		{"none", nil, ""},
		{"starttls", []string{"GATEHOUSE_SMTP_URL=smtp://mailer@smtp.example.com:587", "GATEHOUSE_SMTP_FROM=Example <no-reply@example.com>"}, ""},
		{"implicit tls", []string{"GATEHOUSE_SMTP_URL=smtps://smtp.example.com", "GATEHOUSE_SMTP_FROM=no-reply@example.com"}, ""},
		{"loopback relay", []string{"GATEHOUSE_SMTP_URL=smtp://127.0.0.1:25?starttls=off", "GATEHOUSE_SMTP_FROM=no-reply@example.com"}, ""},
		{"plain to a remote host", []string{"GATEHOUSE_SMTP_URL=smtp://smtp.example.com:25?starttls=off", "GATEHOUSE_SMTP_FROM=no-reply@example.com"}, "loopback"},
		{"no sender", []string{"GATEHOUSE_SMTP_URL=smtp://smtp.example.com"}, "smtp_from"},
		{"sender without server", []string{"GATEHOUSE_SMTP_FROM=no-reply@example.com"}, "smtp_url"},
		{"not a url", []string{"GATEHOUSE_SMTP_URL=http://smtp.example.com", "GATEHOUSE_SMTP_FROM=no-reply@example.com"}, "smtp_url"},
		{"password never echoed", []string{"GATEHOUSE_SMTP_URL=smtp://u:hunter2-secret@smtp.example.com:99999", "GATEHOUSE_SMTP_FROM=no-reply@example.com"}, "smtp_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig("", tt.env)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

func TestSecurityNotificationsSetting(t *testing.T) {
	tests := []struct {
		value   string
		want    gatehouse.Notifications
		wantErr bool
	}{
		{"password_changed,email_changed,new_device", gatehouse.Notifications{}, false},
		{"new_device", gatehouse.Notifications{DisablePasswordChanged: true, DisableEmailChanged: true}, false},
		{"none", gatehouse.Notifications{DisablePasswordChanged: true, DisableEmailChanged: true, DisableNewDevice: true}, false},
		{"none,new_device", gatehouse.Notifications{}, true},
		{"password_change", gatehouse.Notifications{}, true},
	}
	for _, tt := range tests {
		s, err := loadConfig("", []string{"GATEHOUSE_SECURITY_NOTIFICATIONS=" + tt.value})
		if tt.wantErr {
			if err == nil {
				t.Errorf("%q accepted", tt.value)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tt.value, err)
		}
		if s.core.Notifications != tt.want {
			t.Errorf("%q: %+v, want %+v", tt.value, s.core.Notifications, tt.want)
		}
	}
	// Unset: every notice.
	s, err := loadConfig("", nil)
	if err != nil || s.core.Notifications != (gatehouse.Notifications{}) {
		t.Fatalf("default notifications %+v, %v", s.core.Notifications, err)
	}
}

func TestServeProductionNeedsMailServer(t *testing.T) {
	r := gh(t, baseEnv(t, "GATEHOUSE_PUBLIC_URL=https://auth.example.com", "GATEHOUSE_SECRET="+testSecret, "GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_OPS_ADDR="), "", "serve")
	if r.err == nil || !strings.Contains(r.stderr, "GATEHOUSE_SMTP_URL") {
		t.Fatalf("production without a mail server: %v\n%s", r.err, r.stderr)
	}
}

// TestServeSendsThroughSMTPAndReportsStatus runs serve with a local SMTP
// relay: mail asked for over HTTP arrives through SMTP, and `mail status`
// reports it; while the relay is down, the mail waits and is reported.
func TestServeSendsThroughSMTPAndReportsStatus(t *testing.T) {
	relay := smtptest.Start(t, smtptest.Options{TLS: smtptest.Plain})
	env := baseEnv(t, "GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_OPS_ADDR=",
		"GATEHOUSE_SMTP_URL="+relay.URL(), "GATEHOUSE_SMTP_FROM=Gatehouse <no-reply@example.com>")
	srv := startServe(t, env)
	if !strings.Contains(srv.stdout.String(), "Mail: smtp://127.0.0.1") {
		t.Errorf("banner does not say where mail goes:\n%s", srv.stdout)
	}
	post := func(path, body string) int {
		req, _ := http.NewRequest("POST", srv.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if st := post("/auth/api/sign-up", `{"email":"ann@example.com","password":"`+goodPassword+`"}`); st != 201 {
		t.Fatalf("sign-up %d", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := relay.Wait(ctx, 1); err != nil {
		t.Fatalf("the verification mail did not arrive: %v", err)
	}
	// The development mailbox is off when a mail server is configured.
	if st, _, _ := get(t, srv.url+"/auth/dev/mailbox"); st != 404 {
		t.Errorf("dev mailbox %d with SMTP configured", st)
	}

	// The relay records a message before its reply reaches the sender, so
	// stopping it now could break the first delivery: wait until the
	// sender has marked it sent.
	waitSent := time.Now().Add(10 * time.Second)
	for !strings.Contains(gh(t, env, "", "mail", "status").ok(t).stdout, "Sent: 1") {
		if time.Now().After(waitSent) {
			t.Fatal("the verification mail was never marked sent")
		}
		time.Sleep(50 * time.Millisecond)
	}

	relay.Stop()
	if st := post("/auth/api/password/forgot", `{"email":"ann@example.com"}`); st != 202 {
		t.Fatalf("forgot %d", st)
	}
	var rep struct {
		Pending, Sent int
		Problems      []struct {
			Kind, Recipient, State string
			LastError              string `json:"last_error"`
			Attempts               int
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := gh(t, env, "", "mail", "status", "--json").ok(t)
		if err := json.Unmarshal([]byte(out.stdout), &rep); err != nil {
			t.Fatalf("mail status --json: %v\n%s", err, out.stdout)
		}
		if len(rep.Problems) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rep.Pending != 1 || rep.Sent != 1 || len(rep.Problems) != 1 || rep.Problems[0].Kind != "password_reset" ||
		rep.Problems[0].Recipient != "a•••@example.com" || rep.Problems[0].Attempts < 1 || rep.Problems[0].LastError == "" {
		t.Fatalf("mail status while the relay is down: %+v", rep)
	}
	table := gh(t, env, "", "mail", "status").ok(t).stdout
	for _, want := range []string{"Pending: 1", "Sent: 1", "password_reset", "a•••@example.com"} {
		if !strings.Contains(table, want) {
			t.Errorf("mail status lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "ann@example.com") {
		t.Errorf("mail status shows an address:\n%s", table)
	}

	relay.Restart()
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msgs, err := relay.Wait(ctx, 2)
	if err != nil {
		t.Fatalf("the reset mail did not arrive after the relay came back: %v", err)
	}
	if !bytes.Contains(msgs[1].Data, []byte("/auth/reset-password?token=")) {
		t.Fatalf("second mail is not the reset mail:\n%s", msgs[1].Data)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if logs := srv.stderr.String(); strings.Contains(logs, "token=") {
		t.Errorf("a link reached the log:\n%s", logs)
	}
}

func TestMailTemplatesDir(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadConfig("", []string{"GATEHOUSE_MAIL_TEMPLATES_DIR=" + filepath.Join(dir, "missing")}); err == nil || !strings.Contains(err.Error(), "mail_templates_dir") {
		t.Fatalf("a missing directory: %v", err)
	}
	// A broken override fails the start with the file's name.
	if err := os.MkdirAll(filepath.Join(dir, "en"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "en", "verify_email.txt"), []byte("{{define \"subject\"}}{{.Nope}}{{end}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := gh(t, baseEnv(t, "GATEHOUSE_MAIL_TEMPLATES_DIR="+dir, "GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_OPS_ADDR="), "", "serve")
	if r.err == nil || !strings.Contains(r.stderr, "verify_email.txt") {
		t.Fatalf("a broken template: %v\n%s", r.err, r.stderr)
	}
}
