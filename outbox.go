package gatehouse

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/internal/mailtext"
	"github.com/gatehouse-auth/gatehouse/internal/normalize"
	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// The outbox. A request never talks to a mail server: it stores what to
// send (a mailIntent) in the outbox, sealed, and returns. DeliverMail, on any
// node, claims due mail under a lease, resolves the intent — looks the
// account up, issues the one-time token, renders the message — stores the
// rendered message in place of the intent (so retries send the same link),
// and hands it to the Mailer, retrying with backoff.
//
// Because every request only stores an intent, asking for a password reset
// or a verification link does the same work whether or not the address has
// an account: the answer is the same in status, body and time.

// Outbox timing.
const (
	mailPollInterval = time.Second
	mailLease        = 2 * time.Minute
	mailSendTimeout  = time.Minute
	mailBatch        = 8
	mailRetryMin     = 2 * time.Second
	mailRetryMax     = 10 * time.Minute
	mailErrorLen     = 300
)

// sealPurpose names the key that seals outbox payloads.
const sealPurpose = "gatehouse mail outbox v1"

// Mail buckets: requested mail and security notices are limited separately.
const (
	bucketRequested = "requested"
	bucketNotice    = "notice"
)

// mailIntent is what a request asks the outbox to send. Every field comes
// from Gatehouse (the account, the configuration, a fixed vocabulary); none
// is free text from whoever triggered it.
type mailIntent struct {
	Kind   string    `json:"kind"`
	Email  string    `json:"email,omitempty"`
	UserID string    `json:"user_id,omitempty"`
	Locale string    `json:"locale"`
	Device string    `json:"device,omitempty"`
	IP     string    `json:"ip,omitempty"`
	At     time.Time `json:"at"`
}

type mailPayload struct {
	Intent  *mailIntent `json:"intent,omitempty"`
	Message *Message    `json:"message,omitempty"`
}

// kindSignUp is the intent of a sign-up in required mode: a verification
// link for the new account, or an "account exists" notice to the owner of
// a taken address, decided when the mail is prepared.
const kindSignUp = "sign_up"

// bucketOf says which limit a kind counts against.
func bucketOf(kind string) string {
	switch kind {
	case mailtext.PasswordChanged, mailtext.EmailChanged, mailtext.NewDevice:
		return bucketNotice
	}
	return bucketRequested
}

// enqueue stores an intent for delivery. The address is normalized for the
// per-address limit; over the limit the intent is dropped and logged (the
// caller answers as usual, so the limit reveals nothing). Only a storage
// failure is an error.
func (a *Auth) enqueue(ctx context.Context, in mailIntent) error {
	m, limit, err := a.outboxMail(in)
	if err != nil {
		return err
	}
	err = a.store.EnqueueMail(ctx, m, limit)
	if errors.Is(err, ErrRateLimited) {
		a.mailDropped(ctx, m)
		return nil
	}
	if err != nil {
		return storeError("enqueue mail", err, nil)
	}
	a.wakeDeliverySoon()
	return nil
}

// outboxMail seals an intent into a pending mail and returns the limit it
// counts against.
func (a *Auth) outboxMail(in mailIntent) (OutboxMail, MailLimit, error) {
	now := a.Now()
	in.At = now
	norm := in.Email
	if _, n, err := normalize.Email(in.Email); err == nil {
		norm = n
	}
	m := OutboxMail{
		ID: secret.NewID("mail"), Kind: in.Kind, RecipientHint: maskAddress(norm),
		State: MailPending, CreatedAt: now, NextAttemptAt: now,
	}
	var err error
	if m.Payload, err = a.seal(m.ID, mailPayload{Intent: &in}); err != nil {
		return OutboxMail{}, MailLimit{}, internalError("seal mail", err)
	}
	limit := MailLimit{
		Key:         a.keyedHash(hashMailRate, bucketOf(in.Kind)+"\x00"+norm),
		Max:         a.cfg.MailPerAddress,
		WindowStart: now.Truncate(a.cfg.MailWindow),
	}
	return m, limit, nil
}

func (a *Auth) mailDropped(ctx context.Context, m OutboxMail) {
	a.log.WarnContext(ctx, "mail not queued: too many for this address", "kind", m.Kind, "recipient", m.RecipientHint)
}

// wakeDeliverySoon nudges this node's DeliverMail after 100–200 ms. By
// then the answer to the request that queued the mail is out, so the work
// of preparing it — which only an address with an account causes — cannot
// show in that answer's timing, even on a busy machine.
func (a *Auth) wakeDeliverySoon() {
	time.AfterFunc(100*time.Millisecond+rand.N(100*time.Millisecond), a.wakeDelivery)
}

// wakeDelivery nudges this node's DeliverMail.
func (a *Auth) wakeDelivery() {
	select {
	case a.mailWake <- struct{}{}:
	default:
	}
}

// seal encrypts a payload bound to the mail's id.
func (a *Auth) seal(id string, p mailPayload) ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return a.keys.Seal(sealPurpose, b, []byte(id)), nil
}

func (a *Auth) open(m OutboxMail) (mailPayload, error) {
	var p mailPayload
	b, err := a.keys.Open(sealPurpose, m.Payload, []byte(m.ID))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, err
	}
	if (p.Intent == nil) == (p.Message == nil) {
		return p, errors.New("payload holds neither an intent nor a message")
	}
	return p, nil
}

// hashPurpose names a keyed hash's key; each purpose has its own.
type hashPurpose int

const (
	hashMailRate hashPurpose = iota
	hashRate
	hashThrottle
	hashDevice
	// hashRefreshSuccessor derives a refresh token's successor from it,
	// so a retry within the grace window gets the same one.
	hashRefreshSuccessor
	// hashLoginAfter seals the sign-in time an authorization request waits for.
	hashLoginAfter
	numHashPurposes
)

// hashPurposeNames are the derivation labels. Stored hashes (devices) depend
// on them: never rename one.
var hashPurposeNames = [numHashPurposes]string{"mail-rate", "rate", "throttle", "device", "refresh-successor", "login-after"}

// deriveHashKeys derives every keyedHash key once, at New: the sign-in path
// hashes four or five values, and HKDF need not run for each.
func deriveHashKeys(k *secret.Keyring) (keys [numHashPurposes][]byte) {
	for p, name := range hashPurposeNames {
		keys[p] = k.Derive("gatehouse keyed hash: "+name, 32)
	}
	return keys
}

// keyedHash returns a base64url HMAC-SHA256 of v under purpose's key, for
// lookups that must not store the value (addresses, device identifiers).
func (a *Auth) keyedHash(purpose hashPurpose, v string) string {
	mac := hmac.New(sha256.New, a.hashKeys[purpose])
	mac.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// maskAddress keeps the first character of the local part and the domain:
// enough for an operator to tell mails apart, not enough to read the list.
func maskAddress(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" {
		return "•••"
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "•••@" + domain
}

// DeliverMail sends queued mail through m until ctx ends, then finishes
// the sends in flight (each bounded by a minute) and returns ctx's error. Run it on every node that should send (at least one): leases
// make sure concurrent deliverers, here or on other nodes, never send one
// mail twice as long as a send finishes within the lease (2 minutes; sends
// time out after 1). Mail queued on this node is picked up within 200 ms
// (deliberately not at once, see wakeDeliverySoon), mail from other nodes
// within a second.
func (a *Auth) DeliverMail(ctx context.Context, m Mailer) error {
	if m == nil {
		return errors.New("gatehouse: DeliverMail needs a Mailer")
	}
	owner := secret.NewID("node")
	t := time.NewTicker(mailPollInterval)
	defer t.Stop()
	for {
		n, err := a.deliverBatch(ctx, owner, m)
		if err != nil && ctx.Err() == nil {
			a.log.WarnContext(ctx, "claiming mail failed; will retry", "err", err)
		}
		if n == mailBatch {
			continue // there may be more due right now
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-a.mailWake:
		}
	}
}

// deliverBatch claims and processes one batch, concurrently, and returns
// how many it claimed.
func (a *Auth) deliverBatch(ctx context.Context, owner string, m Mailer) (int, error) {
	now := a.Now()
	batch, err := a.store.ClaimMail(ctx, owner, now, now.Add(mailLease), mailBatch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, om := range batch {
		wg.Go(func() { a.deliverOne(ctx, owner, m, om) })
	}
	wg.Wait()
	return len(batch), nil
}

// deliverOne resolves (if needed) and sends one claimed mail, recording the
// outcome. Errors are logged and recorded on the mail, never returned.
//
// Once claimed, a mail is carried through even when ctx ends (shutdown):
// an interrupted send or an unrecorded success would be sent again when
// the lease runs out, so the send (bounded by mailSendTimeout) and the
// bookkeeping ignore cancellation.
func (a *Auth) deliverOne(ctx context.Context, owner string, mailer Mailer, om OutboxMail) {
	ctx = context.WithoutCancel(ctx)
	log := a.log.With("mail_id", om.ID, "kind", om.Kind, "recipient", om.RecipientHint)
	finish := func(state MailState, reason string) {
		if err := a.store.FinishMail(ctx, om.ID, owner, state, truncate(reason, mailErrorLen), a.Now()); err != nil {
			log.WarnContext(ctx, "recording mail outcome failed", "state", state, "err", err)
		}
	}
	retry := func(reason string) {
		if a.Now().Sub(om.CreatedAt) > a.cfg.MailGiveUpAfter {
			log.ErrorContext(ctx, "mail given up", "attempts", om.Attempts+1, "reason", reason)
			finish(MailFailed, reason)
			return
		}
		next := a.Now().Add(retryDelay(om.Attempts))
		log.WarnContext(ctx, "mail delivery failed; will retry", "attempts", om.Attempts+1, "next_attempt_at", next, "reason", reason)
		if err := a.store.RetryMail(ctx, om.ID, owner, truncate(reason, mailErrorLen), next); err != nil {
			log.WarnContext(ctx, "recording mail retry failed", "err", err)
		}
	}

	p, err := a.open(om)
	if err != nil {
		log.ErrorContext(ctx, "queued mail cannot be decrypted (was the master secret changed without keeping the old one as previous?)", "err", err)
		finish(MailFailed, "payload cannot be decrypted with the configured master secrets")
		return
	}
	msg := p.Message
	if msg == nil {
		msg, err = a.resolve(ctx, om.ID, *p.Intent)
		if err != nil {
			// The cause (a database error) stays in the server log; the
			// record that operators and the admin API see says what failed.
			log.WarnContext(ctx, "preparing the mail failed", "err", err)
			retry("preparing the message failed (database or template); see the server log")
			return
		}
		if msg == nil {
			log.InfoContext(ctx, "mail skipped: nothing to send for this address")
			finish(MailSkipped, "")
			return
		}
		sealed, err := a.seal(om.ID, mailPayload{Message: msg})
		if err != nil {
			log.WarnContext(ctx, "sealing the mail failed", "err", err)
			retry("sealing the message failed; see the server log")
			return
		}
		if err := a.store.SetMailPayload(ctx, om.ID, owner, sealed); err != nil {
			log.WarnContext(ctx, "storing the rendered mail failed", "err", err)
			return // the lease runs out and the mail is claimed again
		}
	}
	sctx, cancel := context.WithTimeout(ctx, mailSendTimeout)
	err = mailer.Send(sctx, *msg)
	cancel()
	switch {
	case err == nil:
		log.InfoContext(ctx, "mail sent", "attempts", om.Attempts+1)
		finish(MailSent, "")
	case errors.Is(err, ErrMailRejected):
		log.ErrorContext(ctx, "mail rejected by the mail server", "err", err)
		finish(MailFailed, err.Error())
	default:
		retry(err.Error())
	}
}

// retryDelay is exponential from mailRetryMin to mailRetryMax, with ±20 %
// jitter so nodes that failed together do not retry together.
func retryDelay(attempts int) time.Duration {
	d := mailRetryMin << min(attempts, 20)
	if d > mailRetryMax || d <= 0 {
		d = mailRetryMax
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// MailReport summarizes the outbox for operators: counts by state, the
// oldest pending mail, and recent problems (without addresses or bodies).
func (a *Auth) MailReport(ctx context.Context) (MailReport, error) {
	r, err := a.store.MailReport(ctx, 50)
	if err != nil {
		return MailReport{}, storeError("mail report", err, nil)
	}
	return r, nil
}

// resolve turns an intent into the message to send, or nil when there is
// nothing to send (no such account, already verified…). It issues the
// one-time token the message carries.
func (a *Auth) resolve(ctx context.Context, id string, in mailIntent) (*Message, error) {
	d := mailtext.Data{
		Product:           a.cfg.ProductName,
		SignInURL:         a.link("/sign-in", ""),
		ForgotPasswordURL: a.link("/forgot-password", ""),
		Time:              in.At.UTC(),
		Device:            in.Device,
		IP:                in.IP,
	}
	to := in.Email
	switch in.Kind {
	case mailtext.VerifyEmail:
		u, ok, err := a.userByEmail(ctx, in.Email)
		if err != nil || !ok || u.EmailVerified || u.Disabled {
			return nil, err
		}
		token, err := a.issueToken(ctx, u, PurposeVerifyEmail, u.Email, u.EmailNormalized, a.cfg.VerificationTTL)
		if err != nil {
			return nil, err
		}
		to, d.Link, d.ExpiresIn = u.Email, a.link("/verify-email", token), a.cfg.VerificationTTL
	case mailtext.PasswordReset:
		u, ok, err := a.userByEmail(ctx, in.Email)
		if err != nil || !ok || u.Disabled {
			return nil, err
		}
		token, err := a.issueToken(ctx, u, PurposeResetPassword, u.Email, u.EmailNormalized, a.cfg.PasswordResetTTL)
		if err != nil {
			return nil, err
		}
		to, d.Link, d.ExpiresIn = u.Email, a.link("/reset-password", token), a.cfg.PasswordResetTTL
	case kindSignUp:
		// The sign-up created in.UserID, or found the address taken by
		// another account, whose owner is told instead.
		u, ok, err := a.userByEmail(ctx, in.Email)
		if err != nil || !ok {
			return nil, err
		}
		if u.ID != in.UserID {
			return a.render(id, in.Locale, mailtext.AccountExists, u.Email, d)
		}
		in.Kind = mailtext.VerifyEmail
		return a.resolve(ctx, id, in)
	case mailtext.ConfirmEmailChange:
		u, err := a.store.UserByID(ctx, in.UserID)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		display, norm, err := normalize.Email(in.Email)
		if err != nil || norm == u.EmailNormalized {
			return nil, nil
		}
		holder, taken, err := a.userByEmail(ctx, display)
		if err != nil {
			return nil, err
		}
		if taken && holder.ID != u.ID {
			// The address has an account of its own: tell its owner
			// nothing changed, and issue nothing.
			return a.render(id, in.Locale, mailtext.EmailInUse, display, d)
		}
		token, err := a.issueToken(ctx, u, PurposeChangeEmail, display, norm, a.cfg.VerificationTTL)
		if err != nil {
			return nil, err
		}
		to, d.Link, d.ExpiresIn = display, a.link("/confirm-email-change", token), a.cfg.VerificationTTL
	case mailtext.PasswordChanged, mailtext.NewDevice:
		u, err := a.store.UserByID(ctx, in.UserID)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		to = u.Email
	case mailtext.EmailChanged:
		// Goes to the old address, given in the intent.
	default:
		return nil, fmt.Errorf("unknown mail kind %q", in.Kind)
	}
	return a.render(id, in.Locale, in.Kind, to, d)
}

func (a *Auth) render(id, locale, kind, to string, d mailtext.Data) (*Message, error) {
	r, err := a.texts.Render(locale, kind, d)
	if err != nil {
		return nil, err
	}
	return &Message{ID: id, Kind: kind, To: to, Subject: r.Subject, Text: r.Text, HTML: r.HTML}, nil
}

// userByEmail looks an account up by address; ok is false when there is
// none (or the address is malformed).
func (a *Auth) userByEmail(ctx context.Context, email string) (User, bool, error) {
	_, norm, err := normalize.Email(email)
	if err != nil {
		return User{}, false, nil
	}
	u, _, err := a.store.UserCredentials(ctx, norm)
	if errors.Is(err, ErrNotFound) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, err
	}
	return u, true, nil
}

// issueToken stores a new one-time token for u (replacing older ones of the
// same purpose) bound to the given address and returns the token.
func (a *Auth) issueToken(ctx context.Context, u User, purpose TokenPurpose, email, norm string, ttl time.Duration) (string, error) {
	now := a.Now()
	token := secret.NewToken()
	err := a.store.IssueEmailToken(ctx, EmailToken{
		ID: secret.NewID("etk"), UserID: u.ID, Purpose: purpose, TokenHash: secret.HashToken(token),
		Email: email, EmailNormalized: norm, CreatedAt: now, ExpiresAt: now.Add(ttl),
	})
	return token, err
}

// link builds an absolute URL to a page from the configured public URL —
// never from a request's Host or X-Forwarded-* headers.
func (a *Auth) link(page, token string) string {
	u := a.cfg.PublicURL + a.cfg.BasePath + page
	if token != "" {
		u += "?token=" + token
	}
	return u
}
