package attack_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// limitFileSize sets the running server's RLIMIT_FSIZE soft limit with
// prlimit(2) and returns the previous limit. With 0, every write(2) of
// the process to a regular file fails with EFBIG (Go ignores SIGXFSZ),
// while reads, pipes and sockets are unaffected.
func limitFileSize(t *testing.T, s *Server, limit syscall.Rlimit) syscall.Rlimit {
	t.Helper()
	var old syscall.Rlimit
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(s.cmd.Process.Pid), syscall.RLIMIT_FSIZE,
		uintptr(unsafe.Pointer(&limit)), uintptr(unsafe.Pointer(&old)), 0, 0); errno != 0 {
		t.Skipf("prlimit(2) on the server process: %v", errno)
	}
	return old
}

// TestBinaryFailsClosedWhenTheDiskRefusesWrites is the realistic outage
// of an embedded SQLite database: the disk stops taking writes (full, over
// quota, or remounted read-only after I/O errors) while the server runs.
// The test makes the kernel refuse every write of the unmodified server
// process to its files by lowering its file-size limit to 0 with
// prlimit(2) — each write(2) then fails (EFBIG), as it would with ENOSPC
// or EROFS — and restores the limit afterwards. Reads still work, so a
// session check may honestly answer 200; what the test pins is that no
// state change is claimed that was not stored: sign-up, sign-in, session
// revocation, sign-out and a one-time link answer 5xx, and afterwards the
// session that was "not revoked" still works, the link that was "not
// used" still works once, and the address that was "not signed up" is
// free. When the disk takes writes again, the same server recovers
// without a restart.
//
// ASVS 5.0: V16.5.2 (operate securely when a resource fails), V16.5.3
// (no fail-open: nothing reported done that was not done), V7.4.1 (a
// revocation is only claimed when the session is gone), V15.4.2.
func TestBinaryFailsClosedWhenTheDiskRefusesWrites(t *testing.T) {
	s := Start(t, append([]string{"GATEHOUSE_EMAIL_VERIFICATION=optional"}, Relaxed...)...)
	const email = "disk@example.com"
	warm := s.Client()
	warm.SignUp(email)
	cold, victim := s.Client(), s.Client()
	signInSession(t, cold, email, Password)
	victimID := signInSession(t, victim, email, Password)
	verify := s.WaitMail("verify_email", email, nil).Token(t, "/verify-email")
	if r := warm.Do("GET", "/auth/api/session", nil); r.Status != 200 {
		t.Fatalf("before: %d %s", r.Status, r.Body)
	}

	old := limitFileSize(t, s, syscall.Rlimit{Cur: 0, Max: ^uint64(0)})
	restored := false
	restore := func() {
		if !restored {
			restored = true
			limitFileSize(t, s, old)
		}
	}
	defer restore()
	if old.Max != ^uint64(0) {
		restore()
		t.Skipf("the server's hard RLIMIT_FSIZE is %d, not unlimited", old.Max)
	}

	const during = "while the disk refuses writes"
	refused := func(what string, r Reply) {
		t.Helper()
		if r.Status < 500 {
			t.Errorf("%s, %s: %d %s (want 5xx: nothing was stored)", during, what, r.Status, r.Body)
		}
	}
	refused("sign-up", s.Client().Do("POST", "/auth/api/sign-up", map[string]string{"email": "later@example.com", "password": Password}))
	refused("sign-in", s.Client().Do("POST", "/auth/api/sign-in", map[string]string{"email": email, "password": Password}))
	refused("revoking another session", warm.Do("DELETE", "/auth/api/sessions/"+victimID, nil))
	coldCookie := cold.Cookie(sessionCookie)
	refused("sign-out", cold.Do("POST", "/auth/api/sign-out", nil))
	if cold.Cookie(sessionCookie) != coldCookie {
		t.Errorf("%s, the failed sign-out cleared the cookie", during)
		cold.SetCookie(sessionCookie, coldCookie)
	}
	refused("using a verification link", s.Client().Do("POST", "/auth/api/email/verify", map[string]string{"token": verify}))
	// Reading still works: an honest 200, or a 5xx; never 401.
	for name, c := range map[string]*Client{"warm": warm, "cold": cold, "victim": victim} {
		if r := c.Do("GET", "/auth/api/session", nil); r.Status != 200 && r.Status < 500 {
			t.Errorf("%s, %s session check: %d %s", during, name, r.Status, r.Body)
		} else {
			t.Logf("%s, %s session check: %d", during, name, r.Status)
		}
	}
	t.Logf("%s: /readyz %d, forgot-password %d", during,
		s.Client().Do("GET", "/readyz", nil).Status,
		s.Client().Do("POST", "/auth/api/password/forgot", map[string]string{"email": email}).Status)

	t.Logf("%s, the server logged:\n%s", during, lastMatching(s.Logs(), "level=ERROR", 3))

	restore()
	back := time.Now()
	var failures []string
	for {
		r := s.Client().Do("POST", "/auth/api/sign-up", map[string]string{"email": "later@example.com", "password": Password})
		if r.Status == 201 {
			break
		}
		failures = append(failures, fmt.Sprint(r.Status, " ", r.Code()))
		if r.Status != 503 && r.Status != 500 {
			t.Fatalf("after the disk came back, sign-up of the address refused earlier: %d %s", r.Status, r.Body)
		}
		if time.Since(back) > 15*time.Second {
			t.Fatalf("15 s after the disk came back, sign-up still fails: %d %s\n%s", r.Status, r.Body, lastLines(s.Logs(), 10))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("writing again %v after the disk came back (failed attempts before: %v)", time.Since(back).Round(time.Millisecond), failures)
	for name, c := range map[string]*Client{"warm": warm, "cold (its sign-out failed)": cold, "victim (its revocation failed)": victim} {
		if r := c.Do("GET", "/auth/api/session", nil); r.Status != 200 {
			t.Errorf("after, %s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := s.Client().Do("POST", "/auth/api/email/verify", map[string]string{"token": verify}); r.Status != 200 {
		t.Errorf("after, the verification link whose use failed: %d %s", r.Status, r.Body)
	}
	if r := warm.Do("DELETE", "/auth/api/sessions/"+victimID, nil); r.Status != 204 {
		t.Errorf("after, revoking: %d %s", r.Status, r.Body)
	}
	if r := victim.Do("GET", "/auth/api/session", nil); r.Status != 401 {
		t.Errorf("after, the revoked session: %d %s", r.Status, r.Body)
	}
	signInSession(t, s.Client(), email, Password)
}
