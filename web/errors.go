package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gatehouse-auth/gatehouse"
)

// status maps an error code to its HTTP status. It is the only place that
// does: every JSON error, page error and middleware refusal goes through it.
func status(c gatehouse.Code) int {
	switch c {
	case gatehouse.CodeInvalidRequest, gatehouse.CodeInvalidEmail, gatehouse.CodeInvalidPassword, gatehouse.CodeInvalidName, gatehouse.CodeInvalidToken:
		return http.StatusBadRequest
	case gatehouse.CodeUnauthenticated, gatehouse.CodeInvalidCredentials, gatehouse.CodeInvalidAccessToken:
		return http.StatusUnauthorized
	case gatehouse.CodeForbidden, gatehouse.CodeCrossOrigin, gatehouse.CodeReauthenticationRequired,
		gatehouse.CodeAccountDisabled, gatehouse.CodeEmailNotVerified, gatehouse.CodeIncorrectPassword:
		return http.StatusForbidden
	case gatehouse.CodeNotFound:
		return http.StatusNotFound
	case gatehouse.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case gatehouse.CodeEmailTaken:
		return http.StatusConflict
	case gatehouse.CodeBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	case gatehouse.CodeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case gatehouse.CodeRateLimited:
		return http.StatusTooManyRequests
	case gatehouse.CodeOverloaded, gatehouse.CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// publicError reduces any error to what a client may see: the *Error's code,
// message and field, or a generic internal error. It logs what the client
// does not see.
func publicError(ctx context.Context, log *slog.Logger, err error) *gatehouse.Error {
	var e *gatehouse.Error
	if !errors.As(err, &e) || status(e.Code) == http.StatusInternalServerError {
		log.ErrorContext(ctx, "request failed", "err", err)
		return &gatehouse.Error{Code: gatehouse.CodeInternal, Message: "Something went wrong on our side. Please try again."}
	}
	if e.Err != nil && status(e.Code) >= 500 {
		log.WarnContext(ctx, "request refused", "code", e.Code, "err", e.Err)
	}
	return &gatehouse.Error{Code: e.Code, Message: e.Message, Field: e.Field, RetryAfter: e.RetryAfter}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    gatehouse.Code `json:"code"`
	Message string         `json:"message"`
	Field   string         `json:"field,omitempty"`
}

// writeError writes err as the JSON error shape with its status, adding
// WWW-Authenticate to 401s and Retry-After where the error carries one.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := publicError(r.Context(), h.log, err)
	st := status(e.Code)
	setErrorHeaders(w, e, st)
	writeJSON(w, st, errorBody{Error: errorDetail{Code: e.Code, Message: e.Message, Field: e.Field}})
}

func setErrorHeaders(w http.ResponseWriter, e *gatehouse.Error, st int) {
	switch {
	case e.Code == gatehouse.CodeInvalidAccessToken:
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
	case st == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Cookie realm="gatehouse", Bearer realm="gatehouse"`)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+999_999_999)/1_000_000_000)))
	}
}
