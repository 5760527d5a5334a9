package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

func TestRateLimitsSetting(t *testing.T) {
	s, err := loadConfig("", []string{"GATEHOUSE_RATE_LIMITS=sign_in.per_ip=60/1m burst 20; sign_in.per_identifier=off; sign_up.per_ip=5/1h"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.core.RateLimits[gatehouse.LimitSignIn]; got.PerIP != (gatehouse.Rate{Limit: 60, Period: time.Minute, Burst: 20}) || got.PerIdentifier != (gatehouse.Rate{}) {
		t.Fatalf("sign_in limits %+v", got)
	}
	def := gatehouse.DefaultRateLimits()[gatehouse.LimitSignUp]
	if got := s.core.RateLimits[gatehouse.LimitSignUp]; got.PerIP != (gatehouse.Rate{Limit: 5, Period: time.Hour}) || got.PerIdentifier != def.PerIdentifier {
		t.Fatalf("sign_up limits %+v (the unnamed kind keeps its default)", got)
	}
	for _, bad := range []string{"sign_in.per_ip=lots", "nosuch.per_ip=1/1m", "sign_in.per_everyone=1/1m", "sign_in.per_ip=0/1m", "sign_in.per_ip=5/1m burst x", "sign_in=5/1m"} {
		if _, err := loadConfig("", []string{"GATEHOUSE_RATE_LIMITS=" + bad}); err == nil || !strings.Contains(strings.ToLower(err.Error()), "rate_limits") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	y := writeFile(t, "gatehouse.yaml", "rate_limits:\n  password_forgot: {per_ip: 10/1h burst 5}\n", 0o600)
	s, err = loadConfig(y, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.core.RateLimits[gatehouse.LimitPasswordForgot].PerIP; got != (gatehouse.Rate{Limit: 10, Period: time.Hour, Burst: 5}) {
		t.Fatalf("YAML limits %+v", got)
	}
}

func TestThrottleAndBreachSettings(t *testing.T) {
	s, err := loadConfig("", []string{"GATEHOUSE_THROTTLE_FREE=3", "GATEHOUSE_THROTTLE_MAX_DELAY=5m", "GATEHOUSE_THROTTLE_DAILY_BUDGET=50", "GATEHOUSE_AUDIT_RETENTION=2160h"})
	if err != nil {
		t.Fatal(err)
	}
	if s.core.Throttle.Free != 3 || s.core.Throttle.MaxDelay != 5*time.Minute || s.core.Throttle.DailyBudget != 50 || s.core.AuditRetention != 2160*time.Hour {
		t.Fatalf("throttle %+v retention %v", s.core.Throttle, s.core.AuditRetention)
	}
	if _, err := loadConfig("", []string{"GATEHOUSE_THROTTLE_FREE=-1"}); err == nil {
		t.Error("a negative throttle accepted")
	}
	// The breach check: on in production, off in development unless asked.
	prod, _ := loadConfig("", []string{"GATEHOUSE_PUBLIC_URL=https://a.example.com"})
	dev, _ := loadConfig("", nil)
	devOn, _ := loadConfig("", []string{"GATEHOUSE_BREACHED_PASSWORDS=on"})
	prodOff, _ := loadConfig("", []string{"GATEHOUSE_PUBLIC_URL=https://a.example.com", "GATEHOUSE_BREACHED_PASSWORDS=off"})
	if prod.core.BreachedPasswords.Off || !dev.core.BreachedPasswords.Off || devOn.core.BreachedPasswords.Off || !prodOff.core.BreachedPasswords.Off {
		t.Fatalf("breach check: prod %v dev %v dev-on %v prod-off %v", prod.core.BreachedPasswords, dev.core.BreachedPasswords, devOn.core.BreachedPasswords, prodOff.core.BreachedPasswords)
	}
	if _, err := loadConfig("", []string{"GATEHOUSE_BREACHED_PASSWORDS_FILE=/no/such/file"}); err == nil || !strings.Contains(err.Error(), "breached_passwords_file") {
		t.Errorf("a missing corpus file: %v", err)
	}
}

func TestAuditCommand(t *testing.T) {
	env := baseEnv(t)
	gh(t, env, goodPassword+"\n", "users", "create", "--email", "aud@example.com", "--password-stdin").ok(t)
	users := listUsers(t, env)
	gh(t, env, "", "users", "set-role", users[0].ID, "admin").ok(t)
	gh(t, env, "", "users", "disable", users[0].ID).ok(t)

	out := gh(t, env, "", "audit").ok(t).stdout
	for _, want := range []string{"TYPE", "user_created", "role_changed", "user_disabled", "cli"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit lacks %q:\n%s", want, out)
		}
	}
	js := gh(t, env, "", "audit", "list", "--json", "--type", "role_changed").ok(t).stdout
	var ev struct{ Type, SubjectID, ActorID, Reason string }
	if err := json.Unmarshal([]byte(strings.TrimSpace(js)), &ev); err != nil {
		t.Fatalf("audit --json: %v\n%s", err, js)
	}
	if ev.Type != "role_changed" || ev.Reason != "admin" {
		t.Fatalf("event %+v", ev)
	}
	export := gh(t, env, "", "audit", "export", "--since", "1h").ok(t)
	if n := strings.Count(export.stdout, "\n"); n != 3 || !strings.Contains(export.stderr, "exported 3 events") {
		t.Fatalf("export wrote %d lines:\n%s\n%s", n, export.stdout, export.stderr)
	}
	if r := gh(t, env, "", "audit", "--since", "yesterday"); r.err == nil || !strings.Contains(r.stderr, "--since") {
		t.Fatalf("a bad --since: %v %s", r.err, r.stderr)
	}
}
