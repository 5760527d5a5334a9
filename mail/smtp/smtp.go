// Package smtp delivers gatehouse mail through an SMTP submission server
// (github.com/wneessen/go-mail): STARTTLS or implicit TLS with
// certificate verification and TLS 1.2 at least, or plain text to a relay
// on the loopback interface only.
//
// Credentials never travel without TLS and never appear in an error text
// or in String. The package reads no files and no environment: the
// password comes in through Config.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gmsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/gatehouse-auth/gatehouse"
)

// DefaultTimeout is used when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Config configures SMTP delivery. It is validated by New.
type Config struct {
	// URL says where and how to deliver:
	//
	//   - smtp://[user[:password]@]host[:port] — STARTTLS, required: a
	//     server that does not offer it gets nothing (default port 587);
	//   - smtps://[user[:password]@]host[:port] — implicit TLS (RFC 8314,
	//     default port 465);
	//   - smtp://host[:port]?starttls=off — plain text (default port 25),
	//     allowed only when host is "localhost" or a loopback address (a
	//     local relay), and without credentials.
	//
	// Special characters in the user or password must be percent-encoded;
	// prefer Password for the password.
	URL string
	// From is the sender, "Name <addr@example.com>" or "addr@example.com".
	// Required. Its domain, which must be ASCII (an IDNA A-label), also
	// names the Message-ID.
	From string
	// Password, if set, overrides the URL's password (so it can come from a
	// file). It requires a user in the URL.
	Password string
	// Timeout bounds connecting, the TLS handshake and the whole send of
	// one message (default DefaultTimeout). Negative is an error.
	Timeout time.Duration
	// TLSConfig, if set, is cloned and used for TLS (tests set RootCAs).
	// ServerName defaults to the URL's host and MinVersion is raised to
	// TLS 1.2. Setting InsecureSkipVerify exposes the credentials and
	// every message to anyone on the path; never do it outside tests.
	TLSConfig *tls.Config
}

// security is how a connection is protected.
type security int

const (
	startTLS security = iota
	implicitTLS
	plainText
)

// Mailer sends messages over SMTP, one connection per message. It is a
// gatehouse.Mailer, safe for concurrent use, and holds no connection
// between sends.
type Mailer struct {
	host     string
	port     int
	security security
	username string
	password string
	from     *mail.Address
	domain   string // From's domain, for Message-IDs
	timeout  time.Duration
	tls      *tls.Config
}

var _ gatehouse.Mailer = (*Mailer)(nil)

// New validates c and returns a Mailer. It does not connect: a server that
// is down shows up as a (retryable) Send error. Error texts say what to
// fix and never contain the password.
func New(c Config) (*Mailer, error) {
	if strings.TrimSpace(c.URL) == "" {
		return nil, errors.New("smtp: URL is required, e.g. smtp://user@mail.example.com:587 (STARTTLS) or smtps://user@mail.example.com:465 (implicit TLS)")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Error repeats the whole URL, password included: say nothing
		// of it.
		return nil, errors.New("smtp: URL is not a valid URL; the form is smtp://[user[:password]@]host[:port] or smtps://…, with special characters in the user and password percent-encoded")
	}
	m := &Mailer{timeout: c.Timeout}
	switch u.Scheme {
	case "smtp":
		m.security, m.port = startTLS, 587
	case "smtps":
		m.security, m.port = implicitTLS, 465
	default:
		return nil, fmt.Errorf("smtp: URL scheme must be smtp (STARTTLS) or smtps (implicit TLS), not %q", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, errors.New("smtp: URL has no host; the form is smtp://[user[:password]@]host[:port]")
	}
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return nil, errors.New("smtp: URL must not have a path or fragment; the form is smtp://[user[:password]@]host[:port]")
	}
	m.host = u.Hostname()
	if m.host == "" {
		return nil, errors.New("smtp: URL has no host; the form is smtp://[user[:password]@]host[:port]")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("smtp: URL port %q is not a number from 1 to 65535", p)
		}
		m.port = n
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errors.New("smtp: URL query cannot be parsed; the only option is ?starttls=off")
	}
	for k, v := range q {
		if k != "starttls" {
			return nil, fmt.Errorf("smtp: unknown URL option %q; the only option is ?starttls=off", k)
		}
		if len(v) != 1 || v[0] != "off" {
			return nil, errors.New("smtp: the URL option starttls takes only the value off (STARTTLS is otherwise required)")
		}
		if m.security == implicitTLS {
			return nil, errors.New("smtp: starttls=off makes no sense with smtps:// (implicit TLS); use smtp://host?starttls=off for a local relay")
		}
		if !isLoopback(m.host) {
			return nil, fmt.Errorf("smtp: starttls=off sends mail in plain text and is allowed only to a relay on this machine (localhost or a loopback address such as 127.0.0.1 or ::1), not to %q; use smtp:// (STARTTLS) or smtps:// (implicit TLS)", m.host)
		}
		m.security = plainText
		if u.Port() == "" {
			m.port = 25
		}
	}

	if u.User != nil {
		m.username = u.User.Username()
		m.password, _ = u.User.Password()
	}
	if c.Password != "" {
		m.password = c.Password
	}
	if m.username == "" && m.password != "" {
		return nil, errors.New("smtp: a password is set but the URL names no user; write smtp://user@host")
	}
	if m.username != "" && m.security == plainText {
		return nil, errors.New("smtp: credentials are sent only over TLS; remove the user from a starttls=off URL, or use STARTTLS or implicit TLS")
	}
	if hasCRLF(m.username) || hasCRLF(m.password) {
		return nil, errors.New("smtp: the user or password contains a line break")
	}

	if strings.TrimSpace(c.From) == "" {
		return nil, errors.New(`smtp: From is required, e.g. "Example <no-reply@example.com>"`)
	}
	if hasCRLF(c.From) {
		return nil, errors.New("smtp: From contains a line break")
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf(`smtp: From %q is not an address like "Example <no-reply@example.com>" or "no-reply@example.com": %w`, c.From, err)
	}
	at := strings.LastIndexByte(from.Address, '@')
	m.domain = from.Address[at+1:]
	if !isASCII(from.Address) || m.domain == "" {
		return nil, fmt.Errorf("smtp: From address %q must be ASCII; write an international domain as its A-label (xn--…)", from.Address)
	}
	m.from = from

	if m.timeout < 0 {
		return nil, fmt.Errorf("smtp: Timeout %v is negative", c.Timeout)
	}
	if m.timeout == 0 {
		m.timeout = DefaultTimeout
	}

	if c.TLSConfig != nil {
		m.tls = c.TLSConfig.Clone()
	} else {
		m.tls = &tls.Config{}
	}
	if m.tls.ServerName == "" {
		m.tls.ServerName = m.host
	}
	if m.tls.MinVersion < tls.VersionTLS12 {
		m.tls.MinVersion = tls.VersionTLS12
	}

	// Let go-mail check the settings once, so Send cannot fail on them.
	if _, err := m.client(context.Background()); err != nil {
		return nil, fmt.Errorf("smtp: %s", m.redact(err.Error()))
	}
	return m, nil
}

// String describes the Mailer without its password, for logs:
// "smtp://user@host:587 (STARTTLS)".
func (m *Mailer) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(m.host, strconv.Itoa(m.port))}
	if m.username != "" {
		u.User = url.User(m.username)
	}
	mode := "STARTTLS"
	switch m.security {
	case implicitTLS:
		u.Scheme, mode = "smtps", "implicit TLS"
	case plainText:
		u.RawQuery, mode = "starttls=off", "plain text, loopback only"
	}
	return u.String() + " (" + mode + ")"
}

// GoString is String, so that %#v cannot print the password either.
func (m *Mailer) GoString() string { return m.String() }

// Send delivers msg in one SMTP session bounded by ctx and Config.Timeout.
// The message is multipart/alternative when msg.HTML is set (text/plain
// alone otherwise) and carries Date, Auto-Submitted: auto-generated and,
// when msg.ID is set, the stable Message-ID <msg.ID@from-domain>, so a
// receiver can drop the duplicate of a retried send.
//
// Errors: a message that cannot be sent as given (a line break in a
// header value, a bad recipient address, no text) and a 5xx refusal by
// the server wrap gatehouse.ErrMailRejected, as retrying cannot help.
// Anything else — connection refused, timeouts, TLS failures, 4xx
// replies, an authentication failure (fixed by the operator, not by the
// message) — is retryable. When ctx ends first, the error wraps ctx's
// error; when Config.Timeout does, it wraps context.DeadlineExceeded. The
// error text carries the server's reply but never the password. A message
// the server accepted is reported delivered even if closing the session
// fails afterwards.
func (m *Mailer) Send(ctx context.Context, msg gatehouse.Message) error {
	gm, err := m.message(msg)
	if err != nil {
		return &sendError{text: "smtp: " + err.Error(), kinds: []error{gatehouse.ErrMailRejected}}
	}
	if err := ctx.Err(); err != nil {
		return &sendError{text: "smtp: not sent: " + err.Error(), kinds: []error{err}}
	}
	sendCtx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	c, err := m.client(sendCtx)
	if err != nil { // checked by New; kept for safety
		return &sendError{text: "smtp: " + m.redact(err.Error())}
	}
	err = c.DialAndSendWithContext(sendCtx, gm)
	if gm.IsDelivered() {
		return nil
	}
	if err == nil {
		return &sendError{text: fmt.Sprintf("smtp: %s did not confirm delivery", m)}
	}
	reason := m.redact(err.Error())
	switch {
	case ctx.Err() != nil:
		return &sendError{text: fmt.Sprintf("smtp: sending through %s interrupted: %v (%s)", m, ctx.Err(), reason), kinds: []error{ctx.Err()}}
	case sendCtx.Err() != nil:
		return &sendError{text: fmt.Sprintf("smtp: sending through %s timed out after %v (%s)", m, m.timeout, reason), kinds: []error{context.DeadlineExceeded}}
	}
	var se *gomail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 && se.ErrorCode() <= 599 {
		return &sendError{text: fmt.Sprintf("smtp: %s refused the message: %s", m, reason), kinds: []error{gatehouse.ErrMailRejected}}
	}
	return &sendError{text: fmt.Sprintf("smtp: sending through %s: %s", m, reason)}
}

// message builds the go-mail message, refusing anything that could inject
// a header.
func (m *Mailer) message(msg gatehouse.Message) (*gomail.Msg, error) {
	if hasCRLF(msg.To) {
		return nil, errors.New("recipient address contains a line break")
	}
	if hasCRLF(msg.Subject) {
		return nil, errors.New("subject contains a line break")
	}
	if hasCRLF(msg.ID) {
		return nil, errors.New("message ID contains a line break")
	}
	if strings.TrimSpace(msg.Text) == "" {
		return nil, errors.New("message has no text body")
	}
	to, err := mail.ParseAddress(msg.To)
	if err != nil {
		return nil, fmt.Errorf("recipient %q is not an email address: %w", msg.To, err)
	}
	if msg.ID != "" && !isMsgIDLocal(msg.ID) {
		return nil, fmt.Errorf("message ID %q is not usable in a Message-ID (letters, digits and ._-+= only)", msg.ID)
	}
	gm := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	gm.FromMailAddress(m.from)
	gm.ToMailAddress(to)
	gm.Subject(msg.Subject)
	gm.SetDate()
	if msg.ID != "" {
		gm.SetMessageIDWithValue(msg.ID + "@" + m.domain)
	}
	gm.SetGenHeader("Auto-Submitted", "auto-generated")
	gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		gm.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	return gm, nil
}

// client makes a go-mail client for one send. Its connections close when
// ctx ends, which bounds the whole session (go-mail alone applies ctx to
// dialing only).
func (m *Mailer) client(ctx context.Context) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(m.port),
		// The send's context bounds the session (see dialer); go-mail's
		// own per-command deadline is only a backstop, so that a timeout
		// is reported as one.
		gomail.WithTimeout(m.timeout + time.Second),
		gomail.WithTLSConfig(m.tls),
		gomail.WithDialContextFunc(m.dialer(ctx)),
	}
	switch m.security {
	case startTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case implicitTLS, plainText:
		// Implicit TLS is done by the dialer; STARTTLS inside TLS is
		// meaningless.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if m.username != "" {
		opts = append(opts, gomail.WithSMTPAuthCustom(&tlsOnlyAuth{user: m.username, pass: m.password, host: m.host}))
	}
	return gomail.NewClient(m.host, opts...)
}

// dialer connects to the server (ignoring go-mail's address, which is
// wrong for IPv6 literals), does the implicit TLS handshake, and closes the
// connection when sendCtx ends. It returns the *tls.Conn itself so that
// go-mail knows the session is encrypted.
func (m *Mailer) dialer(sendCtx context.Context) gomail.DialContextFunc {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(m.host, strconv.Itoa(m.port)))
		if err != nil {
			return nil, err
		}
		context.AfterFunc(sendCtx, func() { _ = conn.Close() })
		switch m.security {
		case plainText:
			// "localhost" is resolved by the system; plain text must
			// still never leave the machine.
			if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err != nil || !ap.Addr().Unmap().IsLoopback() {
				_ = conn.Close()
				return nil, fmt.Errorf("refusing plain text: %s resolved to %v, not a loopback address", m.host, conn.RemoteAddr())
			}
			return conn, nil
		case startTLS:
			return conn, nil
		}
		tc := tls.Client(conn, m.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		return tc, nil
	}
}

// redact removes the password from an error text, in case a server or a
// library echoes it.
func (m *Mailer) redact(s string) string {
	if m.password == "" {
		return s
	}
	for _, p := range []string{m.password, url.QueryEscape(m.password), url.PathEscape(m.password)} {
		s = strings.ReplaceAll(s, p, "[redacted]")
	}
	return s
}

// tlsOnlyAuth chooses PLAIN, else LOGIN, from what the server offers, and
// refuses to send credentials on a connection without TLS.
type tlsOnlyAuth struct {
	user, pass, host string
	inner            gmsmtp.Auth
}

func (a *tlsOnlyAuth) Start(s *gmsmtp.ServerInfo) (string, []byte, error) {
	if !s.TLS {
		return "", nil, errors.New("refusing to send credentials on a connection without TLS")
	}
	switch {
	case offers(s.Auth, "PLAIN"):
		a.inner = gmsmtp.PlainAuth("", a.user, a.pass, a.host, false)
	case offers(s.Auth, "LOGIN"):
		a.inner = gmsmtp.LoginAuth(a.user, a.pass, a.host, false)
	default:
		return "", nil, fmt.Errorf("server offers no PLAIN or LOGIN authentication (offers %q)", strings.Join(s.Auth, " "))
	}
	return a.inner.Start(s)
}

func (a *tlsOnlyAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if a.inner == nil {
		return nil, errors.New("authentication not started")
	}
	return a.inner.Next(fromServer, more)
}

func offers(mechs []string, mech string) bool {
	for _, m := range mechs {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// sendError is Send's error: a redacted text and the sentinel errors it
// matches. It does not wrap the library's error, whose text is not
// redacted.
type sendError struct {
	text  string
	kinds []error
}

func (e *sendError) Error() string   { return e.text }
func (e *sendError) Unwrap() []error { return e.kinds }

func hasCRLF(s string) bool { return strings.ContainsAny(s, "\r\n") }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isMsgIDLocal reports whether id is safe as the left part of a Message-ID
// (a dot-atom, RFC 5322 §3.6.4, restricted to a conservative alphabet).
func isMsgIDLocal(id string) bool {
	if len(id) > 200 || id[0] == '.' || id[len(id)-1] == '.' || strings.Contains(id, "..") {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("._-+=", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
