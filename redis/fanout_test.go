package redis

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/internal/fanouttest"
)

// uniquePrefix is a deployment prefix of the test's own: the server is
// shared. Pub/sub leaves no keys behind.
func uniquePrefix() string {
	return "gatehouse-test:" + strings.ToLower(rand.Text()[:16]) + ":"
}

// nodeClient opens a client the way a node does (Open), closed when the
// test ends.
func nodeClient(t *testing.T, rawURL string) *goredis.Client {
	t.Helper()
	l, err := Open(context.Background(), Options{URL: rawURL, Fallback: gatehouse.NewMemoryLimiter(0, nil)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Client()
}

func TestFanOutConformance(t *testing.T) {
	rawURL := testURL(t)
	fanouttest.Run(t, fanouttest.Harness{
		// A deployment is a prefix on the shared server.
		Deployment: func(*testing.T) string { return uniquePrefix() },
		New: func(t *testing.T, prefix string) fanouttest.FanOut {
			return NewFanOut(nodeClient(t, rawURL), prefix)
		},
		Inject: func(t *testing.T, prefix string) func(string) {
			admin := adminClient(t, rawURL)
			return func(payload string) {
				t.Helper()
				if err := admin.Publish(context.Background(), prefix+"invalidate", payload).Err(); err != nil {
					t.Fatal(err)
				}
			}
		},
		Tap: func(t *testing.T, prefix string) func() string {
			raw := adminClient(t, rawURL).Subscribe(context.Background(), prefix+"invalidate")
			t.Cleanup(func() { raw.Close() })
			if _, err := raw.ReceiveTimeout(context.Background(), 2*time.Second); err != nil {
				t.Fatalf("raw subscribe: %v", err)
			}
			return func() string {
				t.Helper()
				msg, err := raw.ReceiveTimeout(context.Background(), time.Second)
				if err != nil {
					t.Fatalf("raw receive: %v", err)
				}
				m, ok := msg.(*goredis.Message)
				if !ok {
					t.Fatalf("raw receive: %v, want a message", msg)
				}
				return m.Payload
			}
		},
		// Both nodes share one SQLite store: the fan-out is what is tested.
		Stores: func(t *testing.T, _ string) (gatehouse.Store, gatehouse.Store) {
			s := authtest.Store(t)
			return s, s
		},
		UpWithin:      2 * time.Second,
		DeliverWithin: 100 * time.Millisecond,
	})
}

// privateRedis is a redis-server of the test's own, to kill and freeze.
type privateRedis struct {
	t    *testing.T
	path string
	port int
	cmd  *exec.Cmd
	out  bytes.Buffer
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		const msg = "redis-server is not installed: skipping the Redis outage tests"
		if os.Getenv("GATEHOUSE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &privateRedis{t: t, path: path, port: ln.Addr().(*net.TCPAddr).Port}
	ln.Close()
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil {
			s.kill()
		}
	})
	return s
}

func (s *privateRedis) url() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0" }

// start runs the server and waits until it answers PING.
func (s *privateRedis) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.path, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir())
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port), DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d does not answer: %v\n%s", s.port, err, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server with SIGKILL: no goodbye to its clients.
func (s *privateRedis) kill() {
	s.t.Helper()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func (s *privateRedis) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

// An outage is reported within a second, whether Redis dies (the socket
// closes) or freezes (the socket stays open and nothing comes back: only
// the pings notice), and the channel comes back by itself.
func TestFanOutOutageAndRecovery(t *testing.T) {
	srv := startPrivateRedis(t)
	prefix := uniquePrefix()
	listener := NewFanOut(nodeClient(t, srv.url()), prefix)
	publisher := NewFanOut(nodeClient(t, srv.url()), prefix)
	r := fanouttest.Listen(t, listener)
	r.WaitUp(t, true, time.Now(), 2*time.Second)
	fanouttest.Publish(t, publisher, fanouttest.Session("ses_before"))
	r.Next(t, fanouttest.Session("ses_before"), time.Second)

	at := time.Now()
	srv.kill()
	t.Logf("killed: down after %v", r.WaitUp(t, false, at, fanouttest.DownWithin))
	at = time.Now()
	srv.start()
	t.Logf("restarted: up after %v", r.WaitUp(t, true, at, 3*time.Second))
	fanouttest.Publish(t, publisher, fanouttest.Session("ses_after_restart"))
	r.Next(t, fanouttest.Session("ses_after_restart"), time.Second)

	at = time.Now()
	srv.signal(syscall.SIGSTOP)
	stopped := true
	t.Cleanup(func() {
		if stopped {
			srv.signal(syscall.SIGCONT)
		}
	})
	t.Logf("frozen: down after %v", r.WaitUp(t, false, at, fanouttest.DownWithin))
	// Publish is bounded by its context, even against a frozen server.
	fanouttest.PublishBounded(t, publisher, fanouttest.Session("ses_lost"), "to a frozen server")
	at = time.Now()
	srv.signal(syscall.SIGCONT)
	stopped = false
	t.Logf("thawed: up after %v", r.WaitUp(t, true, at, 5*time.Second))
	fanouttest.Publish(t, publisher, fanouttest.Session("ses_after_thaw"))
	r.Next(t, fanouttest.Session("ses_after_thaw"), time.Second)
	r.Quiet(t)
	if st := listener.Stats(); st.Outages != 2 || st.LastError == nil {
		t.Errorf("stats %+v, want 2 outages and an error", st)
	}
}
