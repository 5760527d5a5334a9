package gatehouse

import (
	"context"
	"errors"

	"github.com/gatehouse-auth/gatehouse/internal/mailtext"
	"github.com/gatehouse-auth/gatehouse/internal/secret"
	"github.com/gatehouse-auth/gatehouse/internal/useragent"
)

// The email flows: verification, password reset, email change and the
// security notices. Every link is single-use (consumed by an atomic store
// method), expires, is bound to its user and to the address it was sent to,
// and is replaced by a newer request. Requests for a link answer the same
// whether or not an account exists; the outbox decides, later, whether
// there is anything to send.

var errInvalidToken = &Error{Code: CodeInvalidToken, Field: "token", Message: "This link is invalid or has expired. Ask for a new one."}

// tokenHash checks a presented token's shape and returns its hash.
func tokenHash(token string) (string, error) {
	if len(token) != tokenLen {
		return "", errInvalidToken
	}
	return secret.HashToken(token), nil
}

// ResendVerification asks for a new verification link for email. It
// answers nil for every well-formed address — with an account or without,
// verified or not — and a link goes out only to an account that still needs
// one. A malformed address is CodeInvalidEmail (it says nothing about
// accounts).
func (a *Auth) ResendVerification(ctx context.Context, email string, client Client) error {
	display, norm, err := parseEmail(email)
	if err != nil {
		return err
	}
	if err := a.Limit(ctx, LimitEmailVerifySend, client.IP, norm); err != nil {
		return err
	}
	return a.enqueue(ctx, mailIntent{Kind: mailtext.VerifyEmail, Email: display, Locale: a.texts.Match(client.Languages)})
}

// VerifyEmail consumes a verification link and returns the verified user.
// A used, expired, replaced or foreign token is CodeInvalidToken.
func (a *Auth) VerifyEmail(ctx context.Context, token string) (User, error) {
	if err := a.Limit(ctx, LimitEmailVerify, RequestFrom(ctx).IP, ""); err != nil {
		return User{}, err
	}
	h, err := tokenHash(token)
	if err != nil {
		return User{}, err
	}
	u, err := a.store.ConsumeVerification(ctx, h, a.Now())
	if err != nil {
		return User{}, storeError("consume verification", err, errInvalidToken)
	}
	a.invalidateUser(u.ID)
	a.log.InfoContext(ctx, "email verified", "user_id", u.ID)
	a.audit(ctx, AuditEvent{Type: EventEmailVerified, SubjectID: u.ID})
	return u, nil
}

// ForgotPassword asks for a password-reset link for email. It answers nil
// for every well-formed address, with an account or without; only an
// account's owner gets a mail.
func (a *Auth) ForgotPassword(ctx context.Context, email string, client Client) error {
	display, norm, err := parseEmail(email)
	if err != nil {
		return err
	}
	if err := a.Limit(ctx, LimitPasswordForgot, client.IP, norm); err != nil {
		return err
	}
	return a.enqueue(ctx, mailIntent{Kind: mailtext.PasswordReset, Email: display, Locale: a.texts.Match(client.Languages)})
}

// CheckLink reports whether a one-time link is still good, without using
// it, so a page can say at once that a link expired. It returns
// CodeInvalidToken when it is not.
func (a *Auth) CheckLink(ctx context.Context, purpose TokenPurpose, token string) error {
	h, err := tokenHash(token)
	if err != nil {
		return err
	}
	t, u, err := a.store.EmailTokenByHash(ctx, purpose, h, a.Now())
	if err != nil {
		return storeError("check link", err, errInvalidToken)
	}
	if purpose != PurposeChangeEmail && t.EmailNormalized != u.EmailNormalized {
		return errInvalidToken
	}
	return nil
}

// ResetPassword sets a new password with a reset link. In one transaction
// the link is used up, the password replaced, the address marked verified
// (the link proved control of it), and every session of the user revoked.
// The user is not signed in: they sign in with the new password.
func (a *Auth) ResetPassword(ctx context.Context, token, password string, client Client) (User, error) {
	if err := a.Limit(ctx, LimitPasswordReset, client.IP, ""); err != nil {
		return User{}, err
	}
	h, err := tokenHash(token)
	if err != nil {
		return User{}, err
	}
	t, u, err := a.store.EmailTokenByHash(ctx, PurposeResetPassword, h, a.Now())
	if err != nil {
		return User{}, storeError("check reset link", err, errInvalidToken)
	}
	if t.EmailNormalized != u.EmailNormalized {
		return User{}, errInvalidToken
	}
	pw, err := a.newPassword(ctx, password, u.Email, "password")
	if err != nil {
		return User{}, err
	}
	hash, err := a.hasher.Hash(ctx, pw)
	if err != nil {
		return User{}, hashError(err)
	}
	u, err = a.store.ResetPassword(ctx, h, hash, a.Now())
	a.invalidateUser(t.UserID)
	if err != nil {
		return User{}, storeError("reset password", err, errInvalidToken)
	}
	a.log.InfoContext(ctx, "password reset", "user_id", u.ID)
	a.audit(ctx, AuditEvent{Type: EventPasswordReset, SubjectID: u.ID})
	a.notify(ctx, mailtext.PasswordChanged, u, client)
	return u, nil
}

// RequestEmailChange starts moving the principal's account to newEmail. It
// needs a recent re-authentication. A confirmation link goes to the new
// address; nothing changes until it is used. The answer is the same
// whether or not the new address has an account of its own (its owner is
// told nothing changed).
func (a *Auth) RequestEmailChange(ctx context.Context, p Principal, newEmail string, client Client) error {
	if err := a.RequireRecentAuthentication(p); err != nil {
		return err
	}
	if err := a.Limit(ctx, LimitEmailChange, client.IP, p.User.ID); err != nil {
		return err
	}
	display, norm, err := parseEmail(newEmail)
	if err != nil {
		return err
	}
	if norm == p.User.EmailNormalized {
		return &Error{Code: CodeInvalidEmail, Field: "email", Message: "That is already your email address."}
	}
	return a.enqueue(ctx, mailIntent{Kind: mailtext.ConfirmEmailChange, Email: display, UserID: p.User.ID, Locale: a.texts.Match(client.Languages)})
}

// ConfirmEmailChange uses an email-change link: the account's address
// becomes the new one (verified), every other outstanding link of the user
// dies, and the old address is told. CodeEmailTaken when another account
// took the address meanwhile.
func (a *Auth) ConfirmEmailChange(ctx context.Context, token string, client Client) (User, error) {
	if err := a.Limit(ctx, LimitEmailChangeConfirm, client.IP, ""); err != nil {
		return User{}, err
	}
	h, err := tokenHash(token)
	if err != nil {
		return User{}, err
	}
	before, after, err := a.store.ConfirmEmailChange(ctx, h, a.Now())
	if errors.Is(err, ErrConflict) {
		return User{}, &Error{Code: CodeEmailTaken, Field: "email", Message: "Another account uses this email address now.", Err: err}
	}
	if err != nil {
		return User{}, storeError("confirm email change", err, errInvalidToken)
	}
	a.invalidateUser(after.ID)
	a.log.InfoContext(ctx, "email changed", "user_id", after.ID)
	a.audit(ctx, AuditEvent{Type: EventEmailChanged, SubjectID: after.ID})
	if !a.cfg.Notifications.DisableEmailChanged {
		if err := a.enqueue(ctx, mailIntent{Kind: mailtext.EmailChanged, Email: before.Email, UserID: after.ID, Locale: a.texts.Match(client.Languages)}); err != nil {
			a.log.ErrorContext(ctx, "email-changed notice not queued", "user_id", after.ID, "err", err)
		}
	}
	return after, nil
}

// notify queues a security notice to the account's current address unless
// the configuration turned it off. A failure is logged: the change it
// reports has already happened.
func (a *Auth) notify(ctx context.Context, kind string, u User, client Client) {
	switch {
	case kind == mailtext.PasswordChanged && a.cfg.Notifications.DisablePasswordChanged,
		kind == mailtext.NewDevice && a.cfg.Notifications.DisableNewDevice:
		return
	}
	in := mailIntent{Kind: kind, Email: u.Email, UserID: u.ID, Locale: a.texts.Match(client.Languages)}
	if kind == mailtext.NewDevice {
		in.Device, in.IP = useragent.Describe(client.UserAgent), client.IP
	}
	if err := a.enqueue(ctx, in); err != nil {
		a.log.ErrorContext(ctx, "security notice not queued", "kind", kind, "user_id", u.ID, "err", err)
	}
}

// rememberDevice records the device a session was created from and sends
// a new-sign-in notice when the user has signed in from other devices
// before but never from this one. A device is known by its device cookie
// and by its user agent and address together, so a client without cookies
// is not "new" on every sign-in.
func (a *Auth) rememberDevice(ctx context.Context, u User, c Client) {
	keys := []string{a.keyedHash(hashDevice, "fingerprint\x00"+c.UserAgent+"\x00"+c.IP)}
	if c.Device != "" {
		keys = append(keys, a.deviceCookieKey(c.Device))
	}
	seen, others, err := a.store.RememberDevice(ctx, u.ID, keys, a.Now())
	if err != nil {
		a.log.WarnContext(ctx, "remembering the device failed", "user_id", u.ID, "err", err)
		return
	}
	if !seen && others {
		a.notify(ctx, mailtext.NewDevice, u, c)
	}
}
