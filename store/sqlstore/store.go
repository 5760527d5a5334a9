package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// Store implements gatehouse.Store on a DB. Every security state change is
// one transaction (or one statement); the single-use operations
// (RevokeSession, RotateSession, ChangePassword) delete the old session with
// "WHERE id = $1 AND user_id = $2" and go on only when exactly one row went,
// so of N concurrent attempts exactly one succeeds on either engine.
//
// A Store is safe for concurrent use. The backends (store/sqlite,
// store/postgres) construct it; Migrate must have run before use.
type Store struct {
	db *DB
}

var _ gatehouse.Store = (*Store)(nil)

// New returns a Store over db. It does not migrate; call Migrate.
func New(db *DB) *Store { return &Store{db: db} }

// DB returns the handle the store uses, for plugins' own tables.
func (s *Store) DB() *DB { return s.db }

// Ping checks the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Close releases the database pools.
func (s *Store) Close() error { return s.db.Close() }

const userColumns = `id, email, email_normalized, email_verified, name, roles, disabled, created_at, updated_at`

const sessionColumns = `id, user_id, token_hash, created_at, last_seen_at, absolute_expires_at,
	authenticated_at, amr, aal, ip, user_agent`

// toMillis and fromMillis convert between time.Time and the stored unix
// milliseconds. Sub-millisecond precision is truncated.
func toMillis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func encodeList(v []string) (string, error) {
	if len(v) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode list: %w", err)
	}
	return string(b), nil
}

func decodeList(s string) ([]string, error) {
	v := []string{}
	if s == "" {
		return v, nil
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	if v == nil { // the JSON literal null
		v = []string{}
	}
	return v, nil
}

type scanner interface{ Scan(dest ...any) error }

// scanUser reads userColumns (plus extra destinations) from row.
func scanUser(row scanner, extra ...any) (gatehouse.User, error) {
	var (
		u                  gatehouse.User
		roles              string
		created, updated   int64
		verified, disabled bool
	)
	dest := append([]any{&u.ID, &u.Email, &u.EmailNormalized, &verified, &u.Name, &roles, &disabled, &created, &updated}, extra...)
	if err := row.Scan(dest...); err != nil {
		return gatehouse.User{}, err
	}
	var err error
	if u.Roles, err = decodeList(roles); err != nil {
		return gatehouse.User{}, fmt.Errorf("user roles: %w", err)
	}
	u.EmailVerified, u.Disabled = verified, disabled
	u.CreatedAt, u.UpdatedAt = fromMillis(created), fromMillis(updated)
	return u, nil
}

func scanSession(row scanner, extra ...any) (gatehouse.Session, error) {
	var (
		ses                                     gatehouse.Session
		amr                                     string
		created, seen, expires, authenticatedAt int64
	)
	dest := append([]any{&ses.ID, &ses.UserID, &ses.TokenHash, &created, &seen, &expires,
		&authenticatedAt, &amr, &ses.AAL, &ses.IP, &ses.UserAgent}, extra...)
	if err := row.Scan(dest...); err != nil {
		return gatehouse.Session{}, err
	}
	var err error
	if ses.AMR, err = decodeList(amr); err != nil {
		return gatehouse.Session{}, fmt.Errorf("session amr: %w", err)
	}
	ses.CreatedAt, ses.LastSeenAt = fromMillis(created), fromMillis(seen)
	ses.AbsoluteExpiresAt, ses.AuthenticatedAt = fromMillis(expires), fromMillis(authenticatedAt)
	return ses, nil
}

// errorf wraps err with the operation name; a missing row becomes
// gatehouse.ErrNotFound. Driver errors carry no bound values, so the text
// holds no user data.
func errorf(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", op, gatehouse.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// insertError classifies the error of an INSERT: a uniqueness violation is
// gatehouse.ErrConflict, a missing referenced row gatehouse.ErrNotFound.
func (s *Store) insertError(op string, err error) error {
	switch {
	case s.db.dialect.IsUniqueViolation(err):
		return fmt.Errorf("sqlstore: %s: %w (%w)", op, gatehouse.ErrConflict, err)
	case s.db.dialect.IsForeignKeyViolation(err):
		return fmt.Errorf("sqlstore: %s: %w (%w)", op, gatehouse.ErrNotFound, err)
	}
	return errorf(op, err)
}

func notFound(op string) error {
	return fmt.Errorf("sqlstore: %s: %w", op, gatehouse.ErrNotFound)
}

// CreateUser inserts u with its password hash. ErrConflict when the ID or
// EmailNormalized is taken; the unique index decides, so of N concurrent
// creations with one email exactly one wins.
func (s *Store) CreateUser(ctx context.Context, u gatehouse.User, passwordHash string) error {
	roles, err := encodeList(u.Roles)
	if err != nil {
		return errorf("create user", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO users (id, email, email_normalized, email_verified, name, roles,
		disabled, password_hash, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		u.ID, u.Email, u.EmailNormalized, u.EmailVerified, u.Name, roles,
		u.Disabled, passwordHash, toMillis(u.CreatedAt), toMillis(u.UpdatedAt))
	if err != nil {
		return s.insertError("create user", err)
	}
	return nil
}

// UserByID returns the user or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (gatehouse.User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return gatehouse.User{}, errorf("user by id", err)
	}
	return u, nil
}

// UserCredentials returns the user with this normalized email (an exact,
// byte-wise match) and their password hash, or ErrNotFound.
func (s *Store) UserCredentials(ctx context.Context, emailNormalized string) (gatehouse.User, string, error) {
	var hash string
	u, err := scanUser(s.db.QueryRow(ctx,
		`SELECT `+userColumns+`, password_hash FROM users WHERE email_normalized = $1`, emailNormalized), &hash)
	if err != nil {
		return gatehouse.User{}, "", errorf("user credentials", err)
	}
	return u, hash, nil
}

// ListUsers returns up to limit users ordered by ID (byte-wise), starting
// after afterID ("" for the first page). A limit of zero or less returns
// an empty slice.
func (s *Store) ListUsers(ctx context.Context, afterID string, limit int) ([]gatehouse.User, error) {
	if limit <= 0 {
		return []gatehouse.User{}, nil
	}
	return queryList(ctx, s.db, "list users", func(r scanner) (gatehouse.User, error) { return scanUser(r) }, `SELECT `+userColumns+` FROM users WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
}

// UpdateUserName sets the display name and UpdatedAt and returns the
// updated user, or ErrNotFound.
func (s *Store) UpdateUserName(ctx context.Context, userID, name string, now time.Time) (gatehouse.User, error) {
	var u gatehouse.User
	err := s.db.InTx(ctx, func(tx *Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET name = $2, updated_at = $3 WHERE id = $1
			RETURNING `+userColumns, userID, name, toMillis(now)))
		return err
	})
	if err != nil {
		return gatehouse.User{}, errorf("update user name", err)
	}
	return u, nil
}

// UpgradePasswordHash replaces the hash only if it still equals oldHash,
// and reports whether it did. A missing user is false, not an error.
// UpdatedAt is left alone: a rehash is not a change the user made.
func (s *Store) UpgradePasswordHash(ctx context.Context, userID, oldHash, newHash string) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2`,
		userID, oldHash, newHash)
	if err != nil {
		return false, errorf("upgrade password hash", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, errorf("upgrade password hash", err)
	}
	return n == 1, nil
}

// ChangePassword sets the new hash, deletes every other session of the
// user and their password-reset tokens, and replaces session currentID
// with next, in one transaction.
// ErrNotFound, with nothing changed, when currentID is not a session of
// userID (revoked, already rotated, or someone else's). next must belong
// to userID.
func (s *Store) ChangePassword(ctx context.Context, userID, newHash, currentID string, next gatehouse.Session, now time.Time) error {
	const op = "change password"
	if next.UserID != userID {
		return fmt.Errorf("sqlstore: %s: the next session belongs to another user", op)
	}
	err := s.db.InTx(ctx, func(tx *Tx) error {
		// Deleting the current session first takes its row lock, so
		// concurrent changes on one session serialise here and all but one
		// find nothing to delete.
		ok, err := execOne(ctx, tx, `DELETE FROM sessions WHERE id = $1 AND user_id = $2`, currentID, userID)
		if err != nil {
			return errorf(op, err)
		}
		if !ok {
			return notFound(op)
		}
		ok, err = execOne(ctx, tx, `UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1`,
			userID, newHash, toMillis(now))
		if err != nil {
			return errorf(op, err)
		}
		if !ok {
			return notFound(op)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
			return errorf(op, err)
		}
		// A reset link mailed before the change must not undo it.
		if _, err := tx.Exec(ctx, `DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2`,
			userID, string(gatehouse.PurposeResetPassword)); err != nil {
			return errorf(op, err)
		}
		return s.insertSession(ctx, tx, op, next)
	})
	return err
}

// SetUserDisabled disables or enables the user; disabling deletes all of
// the user's sessions in the same transaction. ErrNotFound for no user.
func (s *Store) SetUserDisabled(ctx context.Context, userID string, disabled bool, now time.Time) error {
	const op = "set user disabled"
	return s.db.InTx(ctx, func(tx *Tx) error {
		ok, err := execOne(ctx, tx, `UPDATE users SET disabled = $2, updated_at = $3 WHERE id = $1`,
			userID, disabled, toMillis(now))
		if err != nil {
			return errorf(op, err)
		}
		if !ok {
			return notFound(op)
		}
		if disabled {
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
				return errorf(op, err)
			}
		}
		return nil
	})
}

// SetUserRoles replaces the user's global roles (stored as a JSON array, in
// the order given). ErrNotFound for no user.
func (s *Store) SetUserRoles(ctx context.Context, userID string, roles []string, now time.Time) error {
	const op = "set user roles"
	enc, err := encodeList(roles)
	if err != nil {
		return errorf(op, err)
	}
	return s.changeOne(ctx, op, `UPDATE users SET roles = $2, updated_at = $3 WHERE id = $1`, userID, enc, toMillis(now))
}

// DeleteUser deletes the user; their sessions (and plugin rows declared
// with ON DELETE CASCADE) go with them. ErrNotFound for no user.
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	return s.changeOne(ctx, "delete user", `DELETE FROM users WHERE id = $1`, userID)
}

func (s *Store) insertSession(ctx context.Context, tx *Tx, op string, ses gatehouse.Session) error {
	amr, err := encodeList(ses.AMR)
	if err != nil {
		return errorf(op, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at,
		absolute_expires_at, authenticated_at, amr, aal, ip, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		ses.ID, ses.UserID, ses.TokenHash, toMillis(ses.CreatedAt), toMillis(ses.LastSeenAt),
		toMillis(ses.AbsoluteExpiresAt), toMillis(ses.AuthenticatedAt), amr, ses.AAL, ses.IP, ses.UserAgent)
	if err != nil {
		return s.insertError(op, err)
	}
	return nil
}

// CreateSession inserts ses, first deleting session replaces (whoever's it
// is) when not empty, in one transaction. ErrNotFound if ses.UserID does
// not exist; ErrConflict if the ID or token hash is taken.
func (s *Store) CreateSession(ctx context.Context, ses gatehouse.Session, replaces string) error {
	const op = "create session"
	return s.db.InTx(ctx, func(tx *Tx) error {
		if err := s.insertSession(ctx, tx, op, ses); err != nil || replaces == "" {
			return err
		}
		// The same user signing in again keeps the apps they authorized
		// from the old session; another user's are revoked with it.
		if err := moveGrants(ctx, tx, replaces, ses); err != nil {
			return errorf(op, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, replaces); err != nil {
			return errorf(op, err)
		}
		return nil
	})
}

// moveGrants hands the OAuth codes and refresh-token families of session
// oldID to next when both are the same user's, so that re-authenticating
// does not sign that user out of every app.
func moveGrants(ctx context.Context, tx *Tx, oldID string, next gatehouse.Session) error {
	for _, table := range []string{"oauth_families", "oauth_codes"} {
		if _, err := tx.Exec(ctx, `UPDATE `+table+` SET session_id = $1 WHERE session_id = $2 AND user_id = $3`, next.ID, oldID, next.UserID); err != nil {
			return err
		}
	}
	return nil
}

// RotateSession deletes session oldID of next.UserID and inserts next, in
// one transaction. Of N concurrent rotations of one session exactly one
// succeeds; the others get ErrNotFound and change nothing. A session of
// another user counts as missing.
func (s *Store) RotateSession(ctx context.Context, oldID string, next gatehouse.Session) error {
	const op = "rotate session"
	return s.db.InTx(ctx, func(tx *Tx) error {
		if err := s.insertSession(ctx, tx, op, next); err != nil {
			return err
		}
		if err := moveGrants(ctx, tx, oldID, next); err != nil {
			return errorf(op, err)
		}
		ok, err := execOne(ctx, tx, `DELETE FROM sessions WHERE id = $1 AND user_id = $2`, oldID, next.UserID)
		if err != nil {
			return errorf(op, err)
		}
		if !ok {
			return notFound(op)
		}
		return nil
	})
}

// SessionByTokenHash returns the session and its user (with roles and
// disabled state) in one query, or ErrNotFound. It does not check expiry.
func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash string) (gatehouse.Session, gatehouse.User, error) {
	return s.sessionWhere(ctx, "session by token hash", "s.token_hash", tokenHash)
}

// SessionByID returns the session with this id and its user, or ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (gatehouse.Session, gatehouse.User, error) {
	return s.sessionWhere(ctx, "session by id", "s.id", id)
}

// sessionWhere loads the session whose column (a constant) equals value.
func (s *Store) sessionWhere(ctx context.Context, op, column, value string) (gatehouse.Session, gatehouse.User, error) {
	var (
		u                gatehouse.User
		roles            string
		verified, dis    bool
		created, updated int64
	)
	ses, err := scanSession(s.db.QueryRow(ctx, `SELECT s.id, s.user_id, s.token_hash, s.created_at, s.last_seen_at,
		s.absolute_expires_at, s.authenticated_at, s.amr, s.aal, s.ip, s.user_agent,
		u.id, u.email, u.email_normalized, u.email_verified, u.name, u.roles, u.disabled, u.created_at, u.updated_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE `+column+` = $1`, value),
		&u.ID, &u.Email, &u.EmailNormalized, &verified, &u.Name, &roles, &dis, &created, &updated)
	if err != nil {
		return gatehouse.Session{}, gatehouse.User{}, errorf(op, err)
	}
	if u.Roles, err = decodeList(roles); err != nil {
		return gatehouse.Session{}, gatehouse.User{}, errorf(op, err)
	}
	u.EmailVerified, u.Disabled = verified, dis
	u.CreatedAt, u.UpdatedAt = fromMillis(created), fromMillis(updated)
	return ses, u, nil
}

// TouchSession sets LastSeenAt to at unless it is already at or after it.
// A missing session is not an error: there is nothing left to keep alive.
func (s *Store) TouchSession(ctx context.Context, sessionID string, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2`,
		sessionID, toMillis(at))
	if err != nil {
		return errorf("touch session", err)
	}
	return nil
}

// ListSessions returns the user's sessions, newest first (by CreatedAt,
// then ID descending); expired ones included.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]gatehouse.Session, error) {
	return queryList(ctx, s.db, "list sessions", func(r scanner) (gatehouse.Session, error) { return scanSession(r) }, `SELECT `+sessionColumns+` FROM sessions WHERE user_id = $1
		ORDER BY created_at DESC, id DESC`, userID)
}

// RevokeSession deletes one session of the user. Exactly one of N
// concurrent revocations succeeds; the rest, and any attempt on another
// user's session, get ErrNotFound.
func (s *Store) RevokeSession(ctx context.Context, userID, sessionID string) error {
	const op = "revoke session"
	return s.db.InTx(ctx, func(tx *Tx) error {
		ok, err := execOne(ctx, tx, `DELETE FROM sessions WHERE id = $1 AND user_id = $2`, sessionID, userID)
		if err != nil {
			return errorf(op, err)
		}
		if !ok {
			return notFound(op)
		}
		return nil
	})
}

// RevokeSessions deletes all of the user's sessions except exceptID (""
// for none) and returns how many it deleted.
func (s *Store) RevokeSessions(ctx context.Context, userID, exceptID string) (int, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, userID, exceptID)
	if err != nil {
		return 0, errorf("revoke sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, errorf("revoke sessions", err)
	}
	return int(n), nil
}

// DeleteExpiredSessions removes sessions whose absolute expiry is before
// now or that were last seen before idleBefore, and returns how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE absolute_expires_at < $1 OR last_seen_at < $2`,
		toMillis(now), toMillis(idleBefore))
	if err != nil {
		return 0, errorf("delete expired sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, errorf("delete expired sessions", err)
	}
	return int(n), nil
}

// changeOne runs a single-row write outside a transaction: ErrNotFound when
// no row matched.
func (s *Store) changeOne(ctx context.Context, op, query string, args ...any) error {
	res, err := s.db.Exec(ctx, query, args...)
	if err != nil {
		return errorf(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return errorf(op, err)
	} else if n != 1 {
		return notFound(op)
	}
	return nil
}
