package attack_test

import "testing"

func TestZZDebug(t *testing.T) {
	p := startProvider(t)
	b := p.browser("dbg@example.com")
	r := b.Do("GET", "/auth/api/session", nil, "Host", "evil.example")
	t.Logf("%d %s", r.Status, r.Body)
	r = b.Do("GET", "/auth/api/session", nil)
	t.Logf("%d %s", r.Status, r.Body)
	t.Logf("cookies %v", b.Jar)
}
