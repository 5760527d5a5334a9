package gatehouse

import (
	"context"
	"fmt"
)

// BreachedPasswordChecker reports how often a password was seen in known
// breaches (0: never). internal/pwned implements it with the k-anonymity
// range API and with a local corpus file.
type BreachedPasswordChecker interface {
	Breached(ctx context.Context, password string) (int, error)
}

// checkBreached refuses a new password seen in a breach. When the checker
// fails (unreachable, slow), the password is accepted and a warning logged:
// the policy's other rules still hold, and an outage of a third party must
// not stop sign-ups.
func (a *Auth) checkBreached(ctx context.Context, pw, field string) error {
	if a.breach == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.BreachedPasswords.Timeout)
	defer cancel()
	n, err := a.breach.Breached(ctx, pw)
	if err != nil {
		a.log.WarnContext(ctx, "breached-password check unavailable; password accepted without it", "err", err)
		return nil
	}
	if n > 0 {
		return &Error{Code: CodeInvalidPassword, Field: field, Message: fmt.Sprintf("This password has appeared in a data breach (%s), so attackers try it first. Choose another one.", timesSeen(n))}
	}
	return nil
}

func timesSeen(n int) string {
	if n == 1 {
		return "seen once"
	}
	return fmt.Sprintf("seen %d times", n)
}
