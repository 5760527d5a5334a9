package gatehouse_test

import (
	"errors"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

// TestInvalidationWire pins the message every FanOut writes, which nodes of
// two versions must both read during an upgrade.
func TestInvalidationWire(t *testing.T) {
	for inv, want := range map[gatehouse.Invalidation]string{
		{Kind: gatehouse.InvalidateSession, ID: "ses_1"}: `{"v":1,"k":"session","id":"ses_1"}`,
		{Kind: gatehouse.InvalidateUser, ID: "usr_1"}:    `{"v":1,"k":"user","id":"usr_1"}`,
		{Kind: gatehouse.InvalidateAll}:                  `{"v":1,"k":"all"}`,
		{Kind: gatehouse.InvalidateKeys}:                 `{"v":1,"k":"keys"}`,
	} {
		b, err := gatehouse.MarshalInvalidation(inv)
		if err != nil || string(b) != want {
			t.Errorf("MarshalInvalidation(%v) = %s, %v; want %s", inv, b, err, want)
		}
		if got, err := gatehouse.ParseInvalidation(b); err != nil || got != inv {
			t.Errorf("ParseInvalidation(%s) = %v, %v", b, got, err)
		}
	}
	for _, bad := range []gatehouse.Invalidation{{Kind: gatehouse.InvalidateSession}, {Kind: "nope", ID: "x"}} {
		if _, err := gatehouse.MarshalInvalidation(bad); err == nil {
			t.Errorf("MarshalInvalidation(%v) succeeded", bad)
		}
	}
	all := gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}
	for msg, want := range map[string]error{
		`{"v":2,"k":"session","id":"x"}`:           gatehouse.ErrUnknownInvalidation,
		`{"v":1,"k":"tenant","id":"x"}`:            gatehouse.ErrUnknownInvalidation,
		`{"v":1,"k":"session","id":"x","extra":1}`: nil,
		`{"v":1,"k":"session"}`:                    gatehouse.ErrMalformedInvalidation,
		`{"k":"all"}`:                              gatehouse.ErrMalformedInvalidation,
		`{"v":"1","k":"all"}`:                      gatehouse.ErrMalformedInvalidation,
		`not json`:                                 gatehouse.ErrMalformedInvalidation,
		`{"v":1,"k":"all","id":"` + string(make([]byte, 1100)) + `"}`: gatehouse.ErrMalformedInvalidation,
	} {
		got, err := gatehouse.ParseInvalidation([]byte(msg))
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("ParseInvalidation(%.60s) error %v, want %v", msg, err, want)
		}
		if errors.Is(err, gatehouse.ErrUnknownInvalidation) && got != all {
			t.Errorf("an unknown invalidation reads as %v, want %v", got, all)
		}
	}
}

// FuzzParseInvalidation: any message from the channel parses into a known
// kind or an error, never a panic; what parses marshals back to a message
// that parses the same.
func FuzzParseInvalidation(f *testing.F) {
	for _, s := range []string{`{"v":1,"k":"session","id":"ses_1"}`, `{"v":1,"k":"all"}`, `{"v":9}`, `{}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		inv, err := gatehouse.ParseInvalidation(b)
		if err != nil {
			return
		}
		again, err := gatehouse.MarshalInvalidation(inv)
		if err != nil {
			t.Fatalf("%q parsed as %v, which does not marshal: %v", b, inv, err)
		}
		if back, err := gatehouse.ParseInvalidation(again); err != nil || back != inv {
			t.Fatalf("%v round-trips to %v, %v", inv, back, err)
		}
	})
}
