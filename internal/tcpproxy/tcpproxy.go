// Package tcpproxy forwards TCP connections from a loopback port to a
// server and plays that server's outages on demand, so a test can break a
// shared PostgreSQL or Redis for its own client only. Only for tests.
package tcpproxy

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mode is what the proxy does with traffic.
type mode int

const (
	forward   mode = iota // pass traffic through
	refuse                // close every connection at once
	blackhole             // accept connections, never answer
	freeze                // keep connections open, drop every byte
	cut                   // not listening: connections are refused
)

// Proxy is a TCP proxy to one target. Its methods are safe for concurrent
// use; it is closed when the test that started it ends.
type Proxy struct {
	t      testing.TB
	addr   string // host:port it listens on, stable across Cut and Forward
	target string

	mu    sync.Mutex
	mode  mode
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target (host:port).
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(func() {
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port, for the client to dial instead of the
// target's.
func (p *Proxy) Addr() string { return p.addr }

// Refuse closes every connection and closes new ones as soon as they are
// accepted: a server that is up but dropping its clients.
func (p *Proxy) Refuse() { p.set(refuse, true) }

// Blackhole closes every connection and accepts new ones that are never
// answered: a server that hangs.
func (p *Proxy) Blackhole() { p.set(blackhole, true) }

// Freeze keeps every connection open but drops whatever is sent either
// way, and new connections get no answer: a frozen server or a network
// that silently loses packets, which only timeouts and pings reveal.
func (p *Proxy) Freeze() { p.set(freeze, false) }

// Cut stops listening, so new connections are refused, and resets every
// open one: a host whose server process died.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = cut
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.closeAllLocked(true)
}

// Forward ends an outage: traffic passes again (after Cut, on the same
// port). Connections held during the outage lost bytes, so they are closed.
func (p *Proxy) Forward() {
	p.t.Helper()
	p.mu.Lock()
	wasCut := p.ln == nil
	p.mu.Unlock()
	if wasCut {
		var ln net.Listener
		var err error
		for range 50 { // the port was ours a moment ago; retry a transient EADDRINUSE
			if ln, err = net.Listen("tcp", p.addr); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			p.t.Errorf("tcpproxy: listening again on %s: %v", p.addr, err)
			return
		}
		p.serve(ln)
	}
	p.set(forward, true)
}

// set switches the mode, closing every connection when drop is set.
func (p *Proxy) set(m mode, drop bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == cut && m != forward {
		return // a cut proxy stays cut until Forward
	}
	p.mode = m
	if drop {
		p.closeAllLocked(false)
	}
}

// closeAllLocked closes every connection; with reset, the client side gets
// an RST instead of a FIN, so its peer notices at once.
func (p *Proxy) closeAllLocked(reset bool) {
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok && reset {
			_ = tc.SetLinger(0)
		}
		c.Close()
		delete(p.conns, c)
	}
}

func (p *Proxy) current() mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Cut
			}
			p.wg.Go(func() { p.handle(c) })
		}
	})
}

// handle serves one client connection in the current mode.
func (p *Proxy) handle(client net.Conn) {
	switch p.current() {
	case refuse, cut:
		client.Close()
		return
	case blackhole, freeze:
		if p.track(client) {
			p.pipe(nil, client)
		}
		return
	}
	upstream, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, upstream) {
		upstream.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(upstream, client) })
	wg.Go(func() { p.pipe(client, upstream) })
	wg.Wait()
	p.untrack(client, upstream)
}

// track records connections so outages can close them. It refuses (and
// closes them) when the proxy changed to refuse or cut meanwhile.
func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == refuse || p.mode == cut {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

// pipe copies src to dst until either side closes, dropping what is read
// while the proxy is not forwarding (and everything when dst is nil), then
// closes both.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer src.Close()
	if dst != nil {
		defer dst.Close()
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && dst != nil && p.current() == forward {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
