package gatehouse

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/internal/mailtext"
	"github.com/gatehouse-auth/gatehouse/internal/normalize"
	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// SignUpInput is a self-service sign-up.
type SignUpInput struct {
	Email    string
	Password string
	Name     string
	Client   Client
	// Replaces is the session the browser presented, if any.
	Replaces string
}

// SignUp creates an account with a password. Of concurrent sign-ups with
// one email exactly one creates it; the password is hashed before the
// insert either way, so a taken address takes as long as a new one.
//
// With VerificationRequired it issues no session and returns
// StatusVerificationRequired for a new and a taken address alike: the new
// account's address gets a verification link, a taken address's owner an
// "account exists" notice (with no text from the caller). Otherwise a
// taken address is CodeEmailTaken, and a new account is signed in through
// Complete (with VerificationOptional, a verification link goes out too).
func (a *Auth) SignUp(ctx context.Context, in SignUpInput) (Result, error) {
	u, err := a.newUser(in.Email, in.Name, nil, false)
	if err != nil {
		return Result{}, err
	}
	if err := a.Limit(ctx, LimitSignUp, in.Client.IP, u.EmailNormalized); err != nil {
		return Result{}, err
	}
	pw, err := a.newPassword(ctx, in.Password, u.Email, "password")
	if err != nil {
		return Result{}, err
	}
	hash, err := a.hasher.Hash(ctx, pw)
	if err != nil {
		return Result{}, hashError(err)
	}
	locale := a.texts.Match(in.Client.Languages)
	if a.cfg.EmailVerification == VerificationRequired {
		return a.signUpPending(ctx, u, hash, locale)
	}
	err = a.insertUser(ctx, u, hash)
	if err != nil {
		return Result{}, err
	}
	a.afterSignUp(ctx, u)
	if a.cfg.EmailVerification == VerificationOptional {
		if err := a.enqueue(ctx, mailIntent{Kind: mailtext.VerifyEmail, Email: u.Email, Locale: locale}); err != nil {
			a.log.ErrorContext(ctx, "verification mail not queued; the user can ask again", "user_id", u.ID, "err", err)
		}
	}
	return a.Complete(ctx, Authentication{User: u, AMR: []string{AMRPassword}, AAL: 1, Client: in.Client, Replaces: in.Replaces})
}

// signUpPending is sign-up in required mode: the account (unless the
// address is taken) and the mail are stored in one transaction that does
// the same work either way, and the answer is the same.
func (a *Auth) signUpPending(ctx context.Context, u User, hash, locale string) (Result, error) {
	m, limit, err := a.outboxMail(mailIntent{Kind: kindSignUp, Email: u.Email, UserID: u.ID, Locale: locale})
	if err != nil {
		return Result{}, err
	}
	created, queued, err := a.store.SignUpAndEnqueue(ctx, u, hash, m, limit)
	if err != nil {
		return Result{}, storeError("sign up", err, nil)
	}
	if created {
		a.log.InfoContext(ctx, "user created", "user_id", u.ID)
		a.afterSignUp(ctx, u)
	}
	if !queued {
		a.mailDropped(ctx, m)
	} else {
		a.wakeDeliverySoon()
	}
	return Result{Status: StatusVerificationRequired}, nil
}

func (a *Auth) afterSignUp(ctx context.Context, u User) {
	a.audit(ctx, AuditEvent{Type: EventSignUp, ActorID: u.ID, SubjectID: u.ID})
	for _, p := range a.plugins {
		if p.Hooks.AfterSignUp != nil {
			if err := p.Hooks.AfterSignUp(ctx, u); err != nil {
				a.log.ErrorContext(ctx, "plugin AfterSignUp hook failed", "plugin", p.Name, "err", err)
			}
		}
	}
}

// SignInInput is a password sign-in.
type SignInInput struct {
	Email    string
	Password string
	Client   Client
	// Replaces is the session the browser presented, if any; it is revoked
	// and a new token issued (no session fixation).
	Replaces string
}

var errInvalidCredentials = &Error{Code: CodeInvalidCredentials, Message: "The email or password is incorrect."}

// SignIn verifies an email and password and completes the sign-in. A failure
// looks and takes the same whether or not the account exists: unknown
// emails cost a dummy argon2id verification, and every failure is
// CodeInvalidCredentials. Only after the password was right does a disabled
// account learn it is disabled. A hash that is not argon2id with the
// current cost is upgraded on success.
func (a *Auth) SignIn(ctx context.Context, in SignInInput) (Result, error) {
	// A missing field says nothing about any account: answer at once.
	if strings.TrimSpace(in.Email) == "" {
		return Result{}, &Error{Code: CodeInvalidRequest, Field: "email", Message: "Enter your email address."}
	}
	if in.Password == "" {
		return Result{}, &Error{Code: CodeInvalidRequest, Field: "password", Message: "Enter your password."}
	}
	_, norm, emailErr := normalize.Email(in.Email)
	if emailErr != nil {
		// Still counted, under what was typed.
		norm = strings.ToLower(strings.TrimSpace(in.Email))
	}
	if err := a.Limit(ctx, LimitSignIn, in.Client.IP, norm); err != nil {
		return Result{}, err
	}
	pw, pwErr := normalize.Password(in.Password)
	var (
		u    User
		hash string
	)
	if emailErr == nil {
		var err error
		u, hash, err = a.store.UserCredentials(ctx, norm)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Result{}, storeError("load credentials", err, nil)
		}
	}
	guard, err := a.guardPassword(ctx, norm, u.ID, in.Client)
	if err != nil {
		return Result{}, err
	}
	failed := func(reason string) (Result, error) {
		a.audit(ctx, AuditEvent{Type: EventSignInFailed, SubjectID: u.ID, Reason: reason})
		return Result{}, errInvalidCredentials
	}
	if emailErr != nil || pwErr != nil || hash == "" {
		// No account can match; still spend the same work.
		if err := a.hasher.DummyVerify(ctx, in.Password[:min(len(in.Password), normalize.MaxPasswordBytes)]); err != nil {
			return Result{}, hashError(err)
		}
		return failed("unknown_user")
	}
	ok, rehash, err := a.hasher.Verify(ctx, pw, hash)
	if err != nil {
		if errors.Is(err, secret.ErrMalformedHash) || errors.Is(err, secret.ErrUnsupportedHash) {
			a.log.ErrorContext(ctx, "stored password hash unusable", "user_id", u.ID, "err", err)
			return failed("unusable_hash")
		}
		return Result{}, hashError(err)
	}
	if !ok {
		return failed("wrong_password")
	}
	guard.succeeded(ctx)
	if rehash && !u.Disabled {
		a.upgradeHash(ctx, u.ID, hash, pw)
	}
	return a.Complete(ctx, Authentication{User: u, AMR: []string{AMRPassword}, AAL: 1, Client: in.Client, Replaces: in.Replaces})
}

// upgradeHash re-hashes a password with the current cost after a successful
// verify. Failure is logged, never fatal: the old hash still works.
func (a *Auth) upgradeHash(ctx context.Context, userID, oldHash, pw string) {
	newHash, err := a.hasher.Hash(ctx, pw)
	if err != nil {
		a.log.WarnContext(ctx, "password rehash skipped", "user_id", userID, "err", err)
		return
	}
	if _, err := a.store.UpgradePasswordHash(ctx, userID, oldHash, newHash); err != nil {
		a.log.WarnContext(ctx, "password rehash not stored", "user_id", userID, "err", err)
		return
	}
	a.log.InfoContext(ctx, "password hash upgraded", "user_id", userID)
}

var errIncorrectPassword = &Error{Code: CodeIncorrectPassword, Field: "password", Message: "The password is incorrect."}

// checkPassword verifies the principal's own password, under endpoint's
// rate limits and the account throttle (a stolen session must not become a
// password oracle).
func (a *Auth) checkPassword(ctx context.Context, endpoint string, p Principal, password string, client Client) error {
	if err := a.Limit(ctx, endpoint, client.IP, p.User.ID); err != nil {
		return err
	}
	guard, err := a.guardPassword(ctx, p.User.EmailNormalized, p.User.ID, client)
	if err != nil {
		return err
	}
	pw, err := normalize.Password(password)
	if err != nil {
		return errIncorrectPassword
	}
	u, hash, err := a.store.UserCredentials(ctx, p.User.EmailNormalized)
	if err != nil {
		return storeError("load credentials", err, errUnauthenticated)
	}
	if u.ID != p.User.ID || hash == "" {
		return errIncorrectPassword
	}
	ok, _, err := a.hasher.Verify(ctx, pw, hash)
	if err != nil {
		if errors.Is(err, secret.ErrMalformedHash) || errors.Is(err, secret.ErrUnsupportedHash) {
			return errIncorrectPassword
		}
		return hashError(err)
	}
	if !ok {
		a.audit(ctx, AuditEvent{Type: EventSignInFailed, SubjectID: p.User.ID, Reason: "incorrect_password:" + endpoint})
		return errIncorrectPassword
	}
	guard.succeeded(ctx)
	return nil
}

// Reauthenticate proves again who the principal is. Like any privilege
// change it rotates the session: the result carries a new token for a
// session authenticated now (same creation time and absolute expiry), and
// the old token stops working. Of concurrent re-authentications of one
// session one wins; the others are CodeUnauthenticated.
func (a *Auth) Reauthenticate(ctx context.Context, p Principal, password string, client Client) (Result, error) {
	if err := a.checkPassword(ctx, LimitReauthenticate, p, password, client); err != nil {
		return Result{}, err
	}
	s, token := a.successor(p.Session, client)
	if !slices.Contains(s.AMR, AMRPassword) {
		s.AMR = append(slices.Clone(s.AMR), AMRPassword)
	}
	err := a.store.RotateSession(ctx, p.Session.ID, s)
	a.invalidateSession(p.Session.ID)
	if err != nil {
		return Result{}, storeError("rotate session", err, errUnauthenticated)
	}
	a.log.InfoContext(ctx, "re-authenticated", "user_id", p.User.ID, "session_id", s.ID)
	a.audit(ctx, AuditEvent{Type: EventReauthenticated, ActorID: p.User.ID, SubjectID: p.User.ID})
	return Result{Status: StatusSignedIn, User: p.User, Session: s, Token: token}, nil
}

// successor returns the session that replaces old when the user proves who
// they are again: a new id and token, authenticated and seen now from
// client, otherwise the same (creation time, absolute expiry, AMR, AAL).
func (a *Auth) successor(old Session, client Client) (Session, string) {
	now := a.Now()
	token := secret.NewToken()
	s := old
	s.ID, s.TokenHash = secret.NewID("ses"), secret.HashToken(token)
	s.LastSeenAt, s.AuthenticatedAt = now, now
	s.IP, s.UserAgent = client.IP, cleanUserAgent(client.UserAgent)
	return s, token
}

// RequireRecentAuthentication returns CodeReauthenticationRequired unless the
// principal's session proved its identity within Config.ReauthWindow.
func (a *Auth) RequireRecentAuthentication(p Principal) error {
	if a.Now().Sub(p.Session.AuthenticatedAt) > a.cfg.ReauthWindow {
		return &Error{Code: CodeReauthenticationRequired, Message: "Please confirm your password to continue."}
	}
	return nil
}

// ChangePassword replaces the principal's password after checking the
// current one. In one transaction every other session is revoked and the
// current one is replaced by a new session (new token) authenticated now;
// the result carries the new token. Two concurrent changes from one session
// cannot both succeed.
func (a *Auth) ChangePassword(ctx context.Context, p Principal, current, next string, client Client) (Result, error) {
	if err := a.checkPassword(ctx, LimitPasswordChange, p, current, client); err != nil {
		if e, ok := err.(*Error); ok && e.Code == CodeIncorrectPassword {
			return Result{}, &Error{Code: CodeIncorrectPassword, Field: "current_password", Message: e.Message}
		}
		return Result{}, err
	}
	pw, err := a.newPassword(ctx, next, p.User.Email, "new_password")
	if err != nil {
		return Result{}, err
	}
	hash, err := a.hasher.Hash(ctx, pw)
	if err != nil {
		return Result{}, hashError(err)
	}
	s, token := a.successor(p.Session, client)
	// A new password starts a new session lifetime.
	s.CreatedAt, s.AbsoluteExpiresAt = s.AuthenticatedAt, s.AuthenticatedAt.Add(a.cfg.SessionLifetime)
	err = a.store.ChangePassword(ctx, p.User.ID, hash, p.Session.ID, s, s.AuthenticatedAt)
	a.invalidateUser(p.User.ID)
	if err != nil {
		return Result{}, storeError("change password", err, errUnauthenticated)
	}
	a.log.InfoContext(ctx, "password changed", "user_id", p.User.ID, "session_id", s.ID)
	a.audit(ctx, AuditEvent{Type: EventPasswordChanged, ActorID: p.User.ID, SubjectID: p.User.ID})
	a.notify(ctx, mailtext.PasswordChanged, p.User, client)
	return Result{Status: StatusSignedIn, User: p.User, Session: s, Token: token}, nil
}

// UpdateProfile changes the fields a user may change about themselves
// (today: the display name) and returns the updated user.
func (a *Auth) UpdateProfile(ctx context.Context, p Principal, name string) (User, error) {
	n, err := parseName(name)
	if err != nil {
		return User{}, err
	}
	u, err := a.store.UpdateUserName(ctx, p.User.ID, n, a.Now())
	a.invalidateUser(p.User.ID)
	if err != nil {
		return User{}, storeError("update profile", err, errUnauthenticated)
	}
	return u, nil
}

// DeleteAccount deletes the principal's account and every session of it. It
// requires a recent re-authentication.
func (a *Auth) DeleteAccount(ctx context.Context, p Principal) error {
	if err := a.RequireRecentAuthentication(p); err != nil {
		return err
	}
	err := a.store.DeleteUser(ctx, p.User.ID)
	a.invalidateUser(p.User.ID)
	if err != nil {
		return storeError("delete user", err, errUnauthenticated)
	}
	a.log.InfoContext(ctx, "account deleted", "user_id", p.User.ID)
	a.audit(ctx, AuditEvent{Type: EventAccountDeleted, ActorID: p.User.ID, SubjectID: p.User.ID})
	return nil
}

// newPassword normalizes a new password and applies the policy, with the
// product name and the account's email as context words, then the
// breached-password check. Errors name field.
func (a *Auth) newPassword(ctx context.Context, password, email, field string) (string, error) {
	pw, err := normalize.Password(password)
	if err != nil {
		return "", passwordError(err, field)
	}
	local, _, _ := strings.Cut(email, "@")
	if err := a.policy.Check(pw, a.cfg.ProductName, email, local); err != nil {
		return "", passwordError(err, field)
	}
	if err := a.checkBreached(ctx, pw, field); err != nil {
		return "", err
	}
	return pw, nil
}

func passwordError(err error, field string) *Error {
	msg := "Choose a different password."
	var pe *normalize.PolicyError
	switch {
	case errors.As(err, &pe):
		msg = pe.Error()
	case errors.Is(err, normalize.ErrPasswordTooLong):
		msg = "Use a password of at most 4096 bytes."
	case errors.Is(err, normalize.ErrPasswordInvalid):
		msg = "The password contains characters that cannot be used."
	}
	return &Error{Code: CodeInvalidPassword, Field: field, Message: msg, Err: err}
}

func parseEmail(s string) (display, norm string, err error) {
	display, norm, err = normalize.Email(s)
	if err != nil {
		return "", "", &Error{Code: CodeInvalidEmail, Field: "email", Message: "Enter a valid email address, like name@example.com.", Err: err}
	}
	return display, norm, nil
}

// maxNameLen bounds display names, in code points.
const maxNameLen = 100

func parseName(s string) (string, error) {
	bad := &Error{Code: CodeInvalidName, Field: "name", Message: "Use a name of at most 100 characters, without control characters."}
	if !utf8.ValidString(s) {
		return "", bad
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxNameLen {
		return "", bad
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) && r != '\u200d' {
			return "", bad
		}
	}
	return s, nil
}
