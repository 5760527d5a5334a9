package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

const tokenColumns = `id, user_id, purpose, token_hash, email, email_normalized, created_at, expires_at`

// prefixedUserColumns is userColumns for a query that joins users as u.
const prefixedUserColumns = `u.id, u.email, u.email_normalized, u.email_verified, u.name, u.roles,
	u.disabled, u.created_at, u.updated_at`

// tokenRow receives tokenColumns; call finish after Scan.
type tokenRow struct {
	t                gatehouse.EmailToken
	purpose          string
	created, expires int64
}

func (r *tokenRow) dest() []any {
	return []any{&r.t.ID, &r.t.UserID, &r.purpose, &r.t.TokenHash, &r.t.Email, &r.t.EmailNormalized,
		&r.created, &r.expires}
}

func (r *tokenRow) finish() gatehouse.EmailToken {
	r.t.Purpose = gatehouse.TokenPurpose(r.purpose)
	r.t.CreatedAt, r.t.ExpiresAt = fromMillis(r.created), fromMillis(r.expires)
	return r.t
}

// boundToAddress reports whether a token of this purpose is good only while
// its address is still the user's. A change_email token carries the
// address it sets; every other purpose (verification, reset, and any later
// one, to fail safe) is bound.
func boundToAddress(p gatehouse.TokenPurpose) bool { return p != gatehouse.PurposeChangeEmail }

// IssueEmailToken inserts t and deletes the user's other tokens of the same
// purpose, in one transaction. ErrNotFound if the user does not exist;
// ErrConflict if the ID or token hash is taken.
func (s *Store) IssueEmailToken(ctx context.Context, t gatehouse.EmailToken) error {
	const op = "issue email token"
	if t.Purpose == "" {
		return fmt.Errorf("sqlstore: %s: empty purpose", op)
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2`,
			t.UserID, string(t.Purpose)); err != nil {
			return errorf(op, err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO email_tokens (`+tokenColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			t.ID, t.UserID, string(t.Purpose), t.TokenHash, t.Email, t.EmailNormalized,
			toMillis(t.CreatedAt), toMillis(t.ExpiresAt))
		if err != nil {
			return s.insertError(op, err)
		}
		return nil
	})
}

// EmailTokenByHash returns the live token with this purpose and hash and
// its user, without consuming it: ErrNotFound when it is unknown, of
// another purpose, expired at now (a token is live while now is before
// ExpiresAt), or bound to an address that is no longer the user's — the
// same tokens the consuming methods refuse.
func (s *Store) EmailTokenByHash(ctx context.Context, purpose gatehouse.TokenPurpose, tokenHash string, now time.Time) (gatehouse.EmailToken, gatehouse.User, error) {
	const op = "email token by hash"
	var r tokenRow
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+prefixedUserColumns+`,
		t.id, t.user_id, t.purpose, t.token_hash, t.email, t.email_normalized, t.created_at, t.expires_at
		FROM email_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = $1 AND t.purpose = $2 AND t.expires_at > $3`,
		tokenHash, string(purpose), toMillis(now)), r.dest()...)
	if err != nil {
		return gatehouse.EmailToken{}, gatehouse.User{}, errorf(op, err)
	}
	tok := r.finish()
	if boundToAddress(tok.Purpose) && tok.EmailNormalized != u.EmailNormalized {
		return gatehouse.EmailToken{}, gatehouse.User{}, notFound(op)
	}
	return tok, u, nil
}

// takeToken deletes the live token with this hash and purpose and returns
// it; ErrNotFound when there is none. It is the first statement of every
// consuming transaction: the DELETE takes the row lock, so of concurrent
// uses exactly one deletes the row and the others, re-checking after it
// commits (PostgreSQL) or waiting for the writer (SQLite), find nothing.
func takeToken(ctx context.Context, tx *Tx, op string, purpose gatehouse.TokenPurpose, tokenHash string, now time.Time) (gatehouse.EmailToken, error) {
	var r tokenRow
	err := tx.QueryRow(ctx, `DELETE FROM email_tokens
		WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3
		RETURNING `+tokenColumns, tokenHash, string(purpose), toMillis(now)).Scan(r.dest()...)
	if err != nil {
		return gatehouse.EmailToken{}, errorf(op, err)
	}
	return r.finish(), nil
}

// ConsumeVerification uses a verify_email token in one transaction: the
// token is deleted, the user's address marked verified (UpdatedAt = now)
// and the user's other verify_email tokens deleted. ErrNotFound, with
// nothing changed, when the token is unknown, expired or of another
// purpose, or when its address is no longer the user's.
func (s *Store) ConsumeVerification(ctx context.Context, tokenHash string, now time.Time) (gatehouse.User, error) {
	const op = "consume verification"
	var u gatehouse.User
	err := s.db.InTx(ctx, func(tx *Tx) error {
		tok, err := takeToken(ctx, tx, op, gatehouse.PurposeVerifyEmail, tokenHash, now)
		if err != nil {
			return err
		}
		// The address check is part of the UPDATE, so a concurrent email
		// change cannot slip between a read and the write.
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET email_verified = $3, updated_at = $4
			WHERE id = $1 AND email_normalized = $2
			RETURNING `+userColumns, tok.UserID, tok.EmailNormalized, true, toMillis(now)))
		if err != nil {
			return errorf(op, err) // no row: the address changed; roll back, keep the token
		}
		if _, err := tx.Exec(ctx, `DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2`,
			tok.UserID, string(gatehouse.PurposeVerifyEmail)); err != nil {
			return errorf(op, err)
		}
		return nil
	})
	if err != nil {
		return gatehouse.User{}, err
	}
	return u, nil
}

// ResetPassword uses a reset_password token in one transaction: the token
// is deleted, the password hash set, the address marked verified
// (UpdatedAt = now), and every session of the user and their
// reset_password and verify_email tokens deleted. ErrNotFound, with
// nothing changed, when the token is unknown, expired or of another
// purpose, or when its address is no longer the user's.
func (s *Store) ResetPassword(ctx context.Context, tokenHash, newHash string, now time.Time) (gatehouse.User, error) {
	const op = "reset password"
	var u gatehouse.User
	err := s.db.InTx(ctx, func(tx *Tx) error {
		tok, err := takeToken(ctx, tx, op, gatehouse.PurposeResetPassword, tokenHash, now)
		if err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET password_hash = $3, email_verified = $4, updated_at = $5
			WHERE id = $1 AND email_normalized = $2
			RETURNING `+userColumns, tok.UserID, tok.EmailNormalized, newHash, true, toMillis(now)))
		if err != nil {
			return errorf(op, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, tok.UserID); err != nil {
			return errorf(op, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM email_tokens WHERE user_id = $1 AND purpose IN ($2, $3)`,
			tok.UserID, string(gatehouse.PurposeResetPassword), string(gatehouse.PurposeVerifyEmail)); err != nil {
			return errorf(op, err)
		}
		return nil
	})
	if err != nil {
		return gatehouse.User{}, err
	}
	return u, nil
}

// ConfirmEmailChange uses a change_email token in one transaction: the
// token is deleted, the user's address becomes the token's (verified,
// UpdatedAt = now) and every other email token of the user is deleted. It
// returns the user before and after. ErrConflict, with nothing changed and
// the token kept, when another account holds the address; ErrNotFound when
// the token is unknown, expired or of another purpose.
func (s *Store) ConfirmEmailChange(ctx context.Context, tokenHash string, now time.Time) (before, after gatehouse.User, err error) {
	const op = "confirm email change"
	err = s.db.InTx(ctx, func(tx *Tx) error {
		tok, err := takeToken(ctx, tx, op, gatehouse.PurposeChangeEmail, tokenHash, now)
		if err != nil {
			return err
		}
		// A no-op UPDATE is the portable SELECT … FOR UPDATE: it locks the
		// row on PostgreSQL, so "before" is what the change replaces.
		before, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET updated_at = updated_at WHERE id = $1
			RETURNING `+userColumns, tok.UserID))
		if err != nil {
			return errorf(op, err)
		}
		after, err = scanUser(tx.QueryRow(ctx, `UPDATE users
			SET email = $2, email_normalized = $3, email_verified = $4, updated_at = $5
			WHERE id = $1
			RETURNING `+userColumns, tok.UserID, tok.Email, tok.EmailNormalized, true, toMillis(now)))
		if err != nil {
			// The unique index on email_normalized decides, whatever the
			// concurrency: another account holds the address.
			return s.insertError(op, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM email_tokens WHERE user_id = $1`, tok.UserID); err != nil {
			return errorf(op, err)
		}
		return nil
	})
	if err != nil {
		return gatehouse.User{}, gatehouse.User{}, err
	}
	return before, after, nil
}

// DeleteExpiredEmailTokens removes tokens whose expiry is before now and
// returns how many.
func (s *Store) DeleteExpiredEmailTokens(ctx context.Context, now time.Time) (int, error) {
	return s.deleteCount(ctx, "delete expired email tokens",
		`DELETE FROM email_tokens WHERE expires_at < $1`, toMillis(now))
}

// deleteCount runs a statement outside a transaction and returns the
// number of rows it affected.
func (s *Store) deleteCount(ctx context.Context, op, query string, args ...any) (int, error) {
	res, err := s.db.Exec(ctx, query, args...)
	if err != nil {
		return 0, errorf(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, errorf(op, err)
	}
	return int(n), nil
}
