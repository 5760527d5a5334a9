package gatehouse

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, machine-readable error code. Clients branch on it; the
// catalogue below is part of the public contract and codes are never renamed.
type Code string

// The error code catalogue. The HTTP status each maps to is decided in exactly
// one place, the web edge; it is listed here so the catalogue reads whole.
const (
	// CodeInvalidRequest (400): the request is malformed — bad JSON, unknown
	// fields, trailing data, invalid UTF-8, a missing or wrongly typed field.
	CodeInvalidRequest Code = "invalid_request"
	// CodeInvalidEmail (400, field "email"): not an address we accept.
	CodeInvalidEmail Code = "invalid_email"
	// CodeInvalidPassword (400, field "password"): the password breaks the
	// password policy (too short, too long, too common, contains the email or
	// product name). The message says which rule and how to fix it.
	CodeInvalidPassword Code = "invalid_password"
	// CodeInvalidName (400, field "name"): a display name that is too long or
	// carries control characters.
	CodeInvalidName Code = "invalid_name"
	// CodeInvalidToken (400, field "token"): a one-time link (verification,
	// password reset, email change) is unknown, used, expired, replaced by a
	// newer one or no longer matches the account's address.
	CodeInvalidToken Code = "invalid_token"
	// CodeUnauthenticated (401): no valid session or token was presented.
	CodeUnauthenticated Code = "unauthenticated"
	// CodeInvalidAccessToken (401): the Authorization: Bearer token is not
	// a valid first-party access token, or its session ended; answered with
	// WWW-Authenticate: Bearer error="invalid_token" (RFC 6750 §3.1).
	CodeInvalidAccessToken Code = "invalid_access_token"
	// CodeInvalidCredentials (401): the email and password do not match an
	// account. Identical whether or not the account exists.
	CodeInvalidCredentials Code = "invalid_credentials"
	// CodeForbidden (403): signed in, but lacking the required permission.
	CodeForbidden Code = "forbidden"
	// CodeCrossOrigin (403): a state-changing request came from another origin.
	CodeCrossOrigin Code = "cross_origin_request"
	// CodeReauthenticationRequired (403): the action needs a sign-in more recent
	// than the re-authentication window; call reauthenticate first.
	CodeReauthenticationRequired Code = "reauthentication_required"
	// CodeAccountDisabled (403): the password was right but the account is
	// disabled by an administrator.
	CodeAccountDisabled Code = "account_disabled"
	// CodeEmailNotVerified (403): the password was right but the address must
	// be verified first.
	CodeEmailNotVerified Code = "email_not_verified"
	// CodeIncorrectPassword (403, field "password" or "current_password"):
	// a signed-in user's confirmation of their own password was wrong.
	CodeIncorrectPassword Code = "incorrect_password"
	// CodeNotFound (404): no such resource, or it belongs to someone else.
	CodeNotFound Code = "not_found"
	// CodeMethodNotAllowed (405): the path exists but not with this method.
	CodeMethodNotAllowed Code = "method_not_allowed"
	// CodeEmailTaken (409, field "email"): sign-up with an address that already
	// has an account (only when email verification is not required).
	CodeEmailTaken Code = "email_taken"
	// CodeBodyTooLarge (413): the request body exceeds the limit (64 KiB).
	CodeBodyTooLarge Code = "body_too_large"
	// CodeUnsupportedMediaType (415): a JSON endpoint got another content type.
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	// CodeRateLimited (429): too many attempts; retry after Error.RetryAfter.
	CodeRateLimited Code = "rate_limited"
	// CodeInternal (500): something failed on our side. Details are logged with
	// the request id, never sent.
	CodeInternal Code = "internal_error"
	// CodeOverloaded (503): the server is shedding load (the password hashing
	// queue is full); retry after Error.RetryAfter.
	CodeOverloaded Code = "overloaded"
	// CodeUnavailable (503): a dependency (the database) is unreachable.
	CodeUnavailable Code = "unavailable"
)

// Error is the one error type of Gatehouse. Message is safe to show to the
// person at the other end; Err is the wrapped cause for logs and errors.Is and
// never reaches a client.
type Error struct {
	Code    Code
	Message string
	// Field names the single input at fault, when there is one.
	Field string
	// RetryAfter tells the client when to retry (rate_limited, overloaded).
	RetryAfter time.Duration
	Err        error
}

// Error describes the error for logs: code, message and cause. Clients get
// the code and message only.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so
// errors.Is(err, &Error{Code: CodeNotFound}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none: anything unrecognised is internal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrNotFound is returned by stores when a record does not exist (or is not
// visible to the caller). It is an *Error, so it maps to 404 unless the core
// turns it into something else first.
var ErrNotFound = &Error{Code: CodeNotFound, Message: "Not found."}

// ErrConflict is returned by stores when a uniqueness constraint refuses a
// write (a second account with the same normalized email).
var ErrConflict = errors.New("gatehouse: unique constraint violated")

func internalError(op string, err error) *Error {
	return &Error{Code: CodeInternal, Message: "Something went wrong on our side. Please try again.", Err: fmt.Errorf("%s: %w", op, err)}
}

var errUnauthenticated = &Error{Code: CodeUnauthenticated, Message: "Sign in to continue."}
