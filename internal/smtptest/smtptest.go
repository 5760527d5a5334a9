// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests: plain, STARTTLS or implicit TLS with a self-signed
// certificate made for the test, optional AUTH PLAIN/LOGIN, scripted
// rejections, and outages (Stop, then Restart on the same address) so that
// end-to-end tests can check that mail survives a mail server being down.
//
// It is for tests only: it listens on loopback only, keeps every message in
// memory and must never be imported by production code.
package smtptest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	mathrand "math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode says how the server protects connections.
type TLSMode int

const (
	// Plain offers no TLS at all (a local relay). With a Username set, the
	// server accepts AUTH in plain text.
	Plain TLSMode = iota
	// STARTTLS greets in plain text and offers STARTTLS; AUTH is offered
	// only after the upgrade.
	STARTTLS
	// ImplicitTLS speaks TLS from the first byte (the "smtps" port).
	ImplicitTLS
)

// String names the mode.
func (m TLSMode) String() string {
	switch m {
	case Plain:
		return "plain"
	case STARTTLS:
		return "STARTTLS"
	case ImplicitTLS:
		return "implicit TLS"
	}
	return "TLSMode(" + strconv.Itoa(int(m)) + ")"
}

// Stage is the SMTP command at which a Rejection is answered.
type Stage int

const (
	// AtRcpt rejects the RCPT TO command (the usual place for "no such
	// user").
	AtRcpt Stage = iota
	// AtMail rejects the MAIL FROM command.
	AtMail
	// AtData rejects the message after its content was received.
	AtData
)

// Rejection scripts the server's refusal of every message until it is
// cleared. Code is the SMTP reply code: 5xx is a permanent refusal, 4xx a
// temporary one.
type Rejection struct {
	Code    int
	Message string
	At      Stage
}

// Options configure a Server. The zero value is a plain server without
// authentication.
type Options struct {
	// TLS selects plain, STARTTLS or implicit TLS.
	TLS TLSMode
	// Username and Password, when Username is set, make authentication
	// mandatory: MAIL FROM is refused until the client authenticated with
	// exactly these credentials (a wrong pair gets 535).
	Username string
	Password string
	// AuthMechanisms are the SASL mechanisms offered, from "PLAIN" and
	// "LOGIN" (default: PLAIN only).
	AuthMechanisms []string
	// Reject, if set, is the initial rejection (see Server.Reject).
	Reject *Rejection
	// Hang, if set, starts the server hanging (see Server.Hang).
	Hang bool
}

// Received is one message the server accepted.
type Received struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// To are the envelope recipients (RCPT TO).
	To []string
	// Data is the message as transmitted (headers and body, CRLF line
	// endings, dot-unstuffed).
	Data []byte
	// Username is who authenticated, "" when nobody did.
	Username string
	// TLS reports whether the message travelled over TLS.
	TLS bool
}

// Server is a running test SMTP server. Its methods are safe for
// concurrent use; Stop, Restart, Reject and Hang may be called from any
// goroutine. It stops itself when the test ends.
type Server struct {
	t       testing.TB
	opts    Options
	addr    string // fixed for the server's life, so Restart keeps the address
	tlsConf *tls.Config
	pool    *x509.CertPool

	mu       sync.Mutex
	srv      *smtp.Server // nil while stopped
	lis      *hangListener
	served   chan struct{} // closed when srv's Serve returns
	msgs     []Received
	changed  chan struct{} // closed and replaced whenever msgs grows
	reject   *Rejection
	hang     bool
	finished bool // the test ended: no more logging to t
}

// Start starts a server on 127.0.0.1 at a free port and registers its
// shutdown with t.Cleanup. It fails the test if the server cannot start.
// Start must be called from the test's goroutine.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if len(o.AuthMechanisms) == 0 {
		o.AuthMechanisms = []string{sasl.Plain}
	}
	for _, m := range o.AuthMechanisms {
		if m != sasl.Plain && m != sasl.Login {
			t.Fatalf("smtptest: unsupported AUTH mechanism %q (PLAIN or LOGIN)", m)
		}
	}
	s := &Server{t: t, opts: o, changed: make(chan struct{}), hang: o.Hang}
	if o.Reject != nil {
		r := *o.Reject
		s.reject = &r
	}
	if o.TLS != Plain {
		conf, pool, err := selfSigned()
		if err != nil {
			t.Fatalf("smtptest: certificate: %v", err)
		}
		s.tlsConf, s.pool = conf, pool
	}
	l, err := listenFree()
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	s.addr = l.Addr().String()
	s.mu.Lock()
	s.serveLocked(l)
	s.mu.Unlock()
	t.Cleanup(func() {
		s.Stop()
		s.mu.Lock()
		s.finished = true
		s.mu.Unlock()
	})
	return s
}

// listenFree listens on a random loopback port below the usual ephemeral
// range (Linux 32768–60999, others 49152–65535), so that while the server
// is stopped an outgoing connection cannot be given its port and Restart
// can bind it again. It falls back to a kernel-chosen port.
func listenFree() (net.Listener, error) {
	for range 50 {
		port := 20000 + mathrand.IntN(12000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return l, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	return l, nil
}

// serveLocked starts serving on the raw listener l. s.mu must be held.
func (s *Server) serveLocked(l net.Listener) {
	hl := &hangListener{Listener: l, s: s}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(logWriter{s}, "smtptest: ", 0)
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 50
	srv.AllowInsecureAuth = s.opts.TLS == Plain
	var ln net.Listener = hl
	switch s.opts.TLS {
	case STARTTLS:
		srv.TLSConfig = s.tlsConf
	case ImplicitTLS:
		ln = tls.NewListener(hl, s.tlsConf)
	}
	done := make(chan struct{})
	s.srv, s.lis, s.served = srv, hl, done
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
}

// Addr is the server's "127.0.0.1:port"; it stays the same across Restart.
func (s *Server) Addr() string { return s.addr }

// Host is "127.0.0.1".
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.addr)
	return h
}

// Port is the server's TCP port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// URL is the server in the form mail/smtp's Config.URL takes, with the
// credentials of Options: smtp://… for STARTTLS, smtps://… for implicit
// TLS and smtp://…?starttls=off for plain.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.addr}
	if s.opts.Username != "" {
		u.User = url.UserPassword(s.opts.Username, s.opts.Password)
	}
	switch s.opts.TLS {
	case ImplicitTLS:
		u.Scheme = "smtps"
	case Plain:
		u.RawQuery = "starttls=off"
	}
	return u.String()
}

// CACert is a pool holding the server's self-signed certificate (valid for
// 127.0.0.1, ::1 and localhost), nil for a Plain server.
func (s *Server) CACert() *x509.CertPool { return s.pool }

// ClientTLSConfig is a client configuration that trusts the server's
// certificate, with ServerName "127.0.0.1" (nil for a Plain server). Each
// call returns a new value.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.pool == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.pool, ServerName: s.Host(), MinVersion: tls.VersionTLS12}
}

// Messages returns copies of the messages accepted so far, oldest first.
// Messages survive Stop and Restart.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = m.clone()
	}
	return out
}

// Wait blocks until at least n messages were accepted and returns them
// (as Messages does), or returns ctx's error.
func (s *Server) Wait(ctx context.Context, n int) ([]Received, error) {
	for {
		s.mu.Lock()
		have, ch := len(s.msgs), s.changed
		s.mu.Unlock()
		if have >= n {
			return s.Messages(), nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("smtptest: waiting for %d messages, have %d: %w", n, have, ctx.Err())
		}
	}
}

// Reject makes the server refuse every message with r until Reject(nil).
func (s *Server) Reject(r *Rejection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r == nil {
		s.reject = nil
		return
	}
	c := *r
	s.reject = &c
}

// Hang, while on, makes the server accept TCP connections and then never
// answer (no greeting, no TLS handshake): a server that is up but stuck,
// for timeout tests. Connections held this way are closed by Stop.
// Hang(false) affects only new connections.
func (s *Server) Hang(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = on
}

// Running reports whether the server is serving (not stopped).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv != nil
}

// Stop simulates an outage: it closes the listener and every open
// connection, so new connections are refused and sessions in progress
// break. When Stop returns, the port no longer accepts connections.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, lis, served := s.srv, s.lis, s.served
	s.srv, s.lis, s.served = nil, nil, nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close() // closes the listener and the SMTP connections
	// Close the listener too, in case Serve had not registered it yet.
	_ = lis.Close()
	lis.closeHung()
	<-served
}

// Restart stops the server if it is running and serves again on the same
// address, keeping the messages received so far. Binding the address is
// retried for up to 10 seconds; a failure is reported with t.Errorf, so
// Restart may be called from any goroutine (for example from
// time.AfterFunc in a test of an outage).
func (s *Server) Restart() {
	s.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := net.Listen("tcp", s.addr)
		if err == nil {
			s.mu.Lock()
			if s.srv != nil { // a concurrent Restart won
				s.mu.Unlock()
				_ = l.Close()
				return
			}
			s.serveLocked(l)
			s.mu.Unlock()
			return
		}
		if s.Running() { // a concurrent Restart won
			return
		}
		if time.Now().After(deadline) {
			s.t.Errorf("smtptest: restart on %s: %v", s.addr, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) record(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) rejection(at Stage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reject
	if r == nil || r.At != at {
		return nil
	}
	msg := r.Message
	if msg == "" {
		msg = "rejected by smtptest"
	}
	return &smtp.SMTPError{Code: r.Code, EnhancedCode: smtp.EnhancedCode{r.Code / 100, 0, 0}, Message: msg}
}

func (r Received) clone() Received {
	r.To = slices.Clone(r.To)
	r.Data = bytes.Clone(r.Data)
	return r
}

// hangListener parks accepted connections while the server hangs, and
// otherwise hands them to go-smtp.
type hangListener struct {
	net.Listener
	s *Server

	mu   sync.Mutex
	hung []net.Conn
	done bool
}

func (l *hangListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.s.mu.Lock()
		hang := l.s.hang
		l.s.mu.Unlock()
		if !hang {
			return c, nil
		}
		l.mu.Lock()
		if l.done {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.hung = append(l.hung, c)
		l.mu.Unlock()
	}
}

func (l *hangListener) closeHung() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
	for _, c := range l.hung {
		_ = c.Close()
	}
	l.hung = nil
}

// logWriter sends go-smtp's log to the test log while the test runs.
type logWriter struct{ s *Server }

func (w logWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if !w.s.finished {
		w.s.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{s: b.s, tls: isTLS}, nil
}

// session is one SMTP session; go-smtp calls it from one goroutine.
type session struct {
	s    *Server
	tls  bool
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (se *session) AuthMechanisms() []string {
	if se.s.opts.Username == "" {
		return nil
	}
	return se.s.opts.AuthMechanisms
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		if username != se.s.opts.Username || password != se.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		se.user = username
		return nil
	}
	switch {
	case mech == sasl.Plain && slices.Contains(se.s.opts.AuthMechanisms, sasl.Plain):
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return smtp.ErrAuthFailed
			}
			return check(username, password)
		}), nil
	case mech == sasl.Login && slices.Contains(se.s.opts.AuthMechanisms, sasl.Login):
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.Username != "" && se.user == "" {
		return smtp.ErrAuthRequired
	}
	if err := se.s.rejection(AtMail); err != nil {
		return err
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := se.s.rejection(AtRcpt); err != nil {
		return err
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := se.s.rejection(AtData); err != nil {
		return err
	}
	se.s.record(Received{From: se.from, To: slices.Clone(se.to), Data: data, Username: se.user, TLS: se.tls})
	return nil
}

func (se *session) Reset() { se.from, se.to = "", nil }

func (se *session) Logout() error { return nil }

// loginServer is the server side of the (obsolete but common) LOGIN
// mechanism, which go-sasl does not provide.
type loginServer struct {
	check    func(username, password string) error
	step     int
	username string
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step++
		if len(response) > 0 { // initial response carries the username
			l.username = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.step++
		l.username = string(response)
		return []byte("Password:"), false, nil
	case 2:
		l.step++
		return nil, true, l.check(l.username, string(response))
	}
	return nil, false, errors.New("unexpected LOGIN response")
}

// selfSigned makes an ECDSA P-256 certificate for 127.0.0.1, ::1 and
// localhost that is its own CA, and a pool trusting it.
func selfSigned() (*tls.Config, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	conf := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}
	return conf, pool, nil
}
