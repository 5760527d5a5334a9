package postgres_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/fanouttest"
	"github.com/gatehouse-auth/gatehouse/internal/tcpproxy"
	"github.com/gatehouse-auth/gatehouse/internal/testpg"
	"github.com/gatehouse-auth/gatehouse/store/postgres"
)

// newFanOut opens a FanOut on dsn, closed when the test ends.
func newFanOut(t *testing.T, dsn string) *postgres.FanOut {
	t.Helper()
	f, err := postgres.NewFanOut(dsn)
	if err != nil {
		t.Fatalf("NewFanOut: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// rawConn is a plain connection on dsn, closed when the test ends.
func rawConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// channelOf computes the deployment's channel the documented way, pinning
// it: nodes of two Gatehouse versions must agree on it during an upgrade.
func channelOf(t *testing.T, c *pgx.Conn) string {
	t.Helper()
	var schema string
	if err := c.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(schema))
	return "gatehouse_" + hex.EncodeToString(sum[:])[:16]
}

func TestFanOutConformance(t *testing.T) {
	t.Parallel()
	testpg.BaseDSN(t) // skip once, not in every case
	fanouttest.Run(t, fanouttest.Harness{
		// A deployment is a DSN whose schema names the channel.
		Deployment: func(t *testing.T) string { return testpg.FreshSchema(t) },
		New:        func(t *testing.T, dsn string) fanouttest.FanOut { return newFanOut(t, dsn) },
		Inject: func(t *testing.T, dsn string) func(string) {
			raw := rawConn(t, dsn)
			ch := channelOf(t, raw)
			return func(payload string) {
				t.Helper()
				if _, err := raw.Exec(context.Background(), `SELECT pg_notify($1, $2)`, ch, payload); err != nil {
					t.Fatalf("pg_notify: %v", err)
				}
			}
		},
		Tap: func(t *testing.T, dsn string) func() string {
			raw := rawConn(t, dsn)
			if _, err := raw.Exec(context.Background(), `LISTEN `+pgx.Identifier{channelOf(t, raw)}.Sanitize()); err != nil {
				t.Fatal(err)
			}
			return func() string {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				n, err := raw.WaitForNotification(ctx)
				if err != nil {
					t.Fatalf("raw listener: %v", err)
				}
				return n.Payload
			}
		},
		Stores: func(t *testing.T, dsn string) (gatehouse.Store, gatehouse.Store) {
			open := func() *postgres.Store {
				s, err := postgres.Open(context.Background(), dsn)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			sa, sb := open(), open()
			if err := sa.Migrate(context.Background()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			return sa, sb
		},
		UpWithin:      3 * time.Second,
		DeliverWithin: 200 * time.Millisecond,
		Parallel:      true,
	})
}

// withParams returns the URL dsn with its query parameters set.
func withParams(t *testing.T, dsn string, params map[string]string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Skip("this test needs GATEHOUSE_TEST_POSTGRES as a postgres:// URL")
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// A listener whose backend dies (here terminated by an administrator)
// reports the channel down at once, reconnects and delivers again.
func TestFanOutListenerBackendKilled(t *testing.T) {
	t.Parallel()
	dsn := testpg.FreshSchema(t)
	app := "gatehouse_fanout_" + strings.ToLower(rand.Text()[:12])
	listener := newFanOut(t, withParams(t, dsn, map[string]string{"application_name": app}))
	publisher := newFanOut(t, dsn)
	r := fanouttest.Listen(t, listener)
	r.WaitUp(t, true, time.Now(), 3*time.Second)
	fanouttest.Publish(t, publisher, fanouttest.Session("ses_before"))
	r.Next(t, fanouttest.Session("ses_before"), time.Second)

	admin := rawConn(t, dsn)
	at := time.Now()
	var killed int
	if err := admin.QueryRow(context.Background(),
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d backends, want the listener's one", killed)
	}
	t.Logf("terminated: down after %v", r.WaitUp(t, false, at, fanouttest.DownWithin))
	t.Logf("reconnected: up after %v", r.WaitUp(t, true, at, 3*time.Second))
	fanouttest.Publish(t, publisher, fanouttest.Session("ses_after"))
	r.Next(t, fanouttest.Session("ses_after"), time.Second)
	r.Quiet(t)
	if st := listener.Stats(); st.Outages != 1 || st.LastError == nil {
		t.Errorf("stats %+v, want 1 outage and an error", st)
	}
}

// A connection that goes silent — the socket stays open, nothing comes
// back, as in a network partition or a frozen server — is noticed by the
// pings within a second.
func TestFanOutSilentConnection(t *testing.T) {
	t.Parallel()
	dsn := testpg.FreshSchema(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skip("this test needs GATEHOUSE_TEST_POSTGRES as a postgres:// URL with a host")
	}
	p := tcpproxy.Start(t, u.Host)
	u.Host = p.Addr()
	listener := newFanOut(t, u.String())
	publisher := newFanOut(t, dsn)
	r := fanouttest.Listen(t, listener)
	r.WaitUp(t, true, time.Now(), 3*time.Second)

	at := time.Now()
	p.Freeze()
	t.Logf("silenced: down after %v", r.WaitUp(t, false, at, fanouttest.DownWithin))
	// Published while the listener is cut off: lost, which the up(false)
	// told the Auth.
	fanouttest.Publish(t, publisher, fanouttest.Session("ses_lost"))
	// Publish is bounded by its context, even through a silent network.
	fanouttest.PublishBounded(t, newFanOut(t, u.String()), fanouttest.Session("ses_stuck"), "through a silent network")
	at = time.Now()
	p.Forward()
	t.Logf("restored: up after %v", r.WaitUp(t, true, at, 4*time.Second))
	fanouttest.Publish(t, publisher, fanouttest.Session("ses_after"))
	r.Next(t, fanouttest.Session("ses_after"), time.Second)
	r.Quiet(t)
}
