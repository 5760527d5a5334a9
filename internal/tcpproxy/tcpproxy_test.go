package tcpproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// echo starts a server that sends back every line it reads.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

type conn struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{c, bufio.NewReader(c)}
}

// roundTrip sends a line and returns the answer or the error reading it
// within 300 ms.
func (c *conn) roundTrip(line string) (string, error) {
	c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	s, err := c.r.ReadString('\n')
	return s, err
}

func TestModes(t *testing.T) {
	p := Start(t, echo(t))
	a := dial(t, p.Addr())
	if got, err := a.roundTrip("hello"); got != "hello\n" || err != nil {
		t.Fatalf("forward: %q, %v", got, err)
	}

	p.Freeze()
	if _, err := a.roundTrip("lost"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("frozen connection answered or closed: %v", err)
	}
	p.Forward()
	if _, err := a.roundTrip("after"); err == nil {
		t.Fatal("a connection that lost bytes while frozen was kept")
	}
	if got, err := dial(t, p.Addr()).roundTrip("again"); got != "again\n" || err != nil {
		t.Fatalf("forward after freeze: %q, %v", got, err)
	}

	b := dial(t, p.Addr())
	if _, err := b.roundTrip("x"); err != nil {
		t.Fatal(err)
	}
	p.Refuse()
	if _, err := b.roundTrip("y"); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("refuse left a connection open: %v", err)
	}
	if _, err := dial(t, p.Addr()).roundTrip("z"); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("refuse served a new connection: %v", err)
	}

	p.Blackhole()
	if _, err := dial(t, p.Addr()).roundTrip("void"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blackhole answered or closed: %v", err)
	}

	p.Cut()
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Fatal("a cut proxy accepted a connection")
	}
	p.Refuse() // stays cut
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Fatal("Refuse reopened a cut proxy")
	}
	p.Forward()
	if got, err := dial(t, p.Addr()).roundTrip("back"); got != "back\n" || err != nil {
		t.Fatalf("forward after cut, same port: %q, %v", got, err)
	}
}
