package attack_test

import "testing"

// TestHarness checks the harness itself: the binary starts, answers, signs
// up, restarts with its data.
func TestHarness(t *testing.T) {
	s := Start(t, Relaxed...)
	c := s.Client()
	c.SignUp("harness@example.com")
	if r := c.Do("GET", "/auth/api/session", nil); r.Status != 200 {
		t.Fatalf("session %d", r.Status)
	}
	s.WaitMail("verify_email", "harness@example.com", nil) // the mailbox is in memory: read it before a restart
	s.Restart()
	if r := c.Do("GET", "/auth/api/session", nil); r.Status != 200 {
		t.Fatalf("session after restart %d", r.Status)
	}
}
