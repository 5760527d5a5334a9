package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// The OpenID Connect provider's tables (migration 00005). Codes and
// families reference their session with ON DELETE CASCADE, so every way a
// session ends (RevokeSession, ChangePassword, ResetPassword,
// SetUserDisabled, DeleteUser, DeleteExpiredSessions) ends what was
// authorized from it in the same statement, with no code here.

const clientColumns = `id, name, auth_method, secret_hash, jwks, redirect_uris, post_logout_redirect_uris,
	grant_types, scopes, id_token_algorithm, first_party, created_at, updated_at`

const consentColumns = `user_id, client_id, scopes, granted_at, updated_at`

const codeColumns = `code_hash, client_id, user_id, session_id, redirect_uri, scopes, nonce, code_challenge,
	created_at, expires_at`

const familyColumns = `id, client_id, user_id, session_id, scopes, code_hash, refresh_hash, previous_hash,
	rotated_at, created_at, expires_at`

// prefixedFamilyColumns is familyColumns for a query that joins
// oauth_families as f.
const prefixedFamilyColumns = `f.id, f.client_id, f.user_id, f.session_id, f.scopes, f.code_hash,
	f.refresh_hash, f.previous_hash, f.rotated_at, f.created_at, f.expires_at`

// encodeLists encodes each list with encodeList.
func encodeLists(lists ...[]string) ([]string, error) {
	out := make([]string, len(lists))
	for i, l := range lists {
		var err error
		if out[i], err = encodeList(l); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func scanClient(row scanner) (gatehouse.OAuthClient, error) {
	var (
		c                                  gatehouse.OAuthClient
		redirects, logouts, grants, scopes string
		created, updated                   int64
		firstParty                         bool
	)
	if err := row.Scan(&c.ID, &c.Name, &c.AuthMethod, &c.SecretHash, &c.JWKS, &redirects, &logouts,
		&grants, &scopes, &c.IDTokenAlgorithm, &firstParty, &created, &updated); err != nil {
		return gatehouse.OAuthClient{}, err
	}
	for _, l := range []struct {
		dst *[]string
		src string
	}{{&c.RedirectURIs, redirects}, {&c.PostLogoutRedirectURIs, logouts}, {&c.GrantTypes, grants}, {&c.Scopes, scopes}} {
		var err error
		if *l.dst, err = decodeList(l.src); err != nil {
			return gatehouse.OAuthClient{}, fmt.Errorf("client lists: %w", err)
		}
	}
	c.FirstParty = firstParty
	c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
	return c, nil
}

func scanConsent(row scanner) (gatehouse.OAuthConsent, error) {
	var (
		c                gatehouse.OAuthConsent
		scopes           string
		granted, updated int64
	)
	if err := row.Scan(&c.UserID, &c.ClientID, &scopes, &granted, &updated); err != nil {
		return gatehouse.OAuthConsent{}, err
	}
	var err error
	if c.Scopes, err = decodeList(scopes); err != nil {
		return gatehouse.OAuthConsent{}, fmt.Errorf("consent scopes: %w", err)
	}
	c.GrantedAt, c.UpdatedAt = fromMillis(granted), fromMillis(updated)
	return c, nil
}

func scanCode(row scanner) (gatehouse.AuthorizationCode, error) {
	var (
		c                gatehouse.AuthorizationCode
		scopes           string
		created, expires int64
	)
	if err := row.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI, &scopes, &c.Nonce,
		&c.CodeChallenge, &created, &expires); err != nil {
		return gatehouse.AuthorizationCode{}, err
	}
	var err error
	if c.Scopes, err = decodeList(scopes); err != nil {
		return gatehouse.AuthorizationCode{}, fmt.Errorf("code scopes: %w", err)
	}
	c.CreatedAt, c.ExpiresAt = fromMillis(created), fromMillis(expires)
	return c, nil
}

func scanFamily(row scanner) (gatehouse.RefreshFamily, error) {
	var (
		f                         gatehouse.RefreshFamily
		scopes                    string
		rotated, created, expires int64
	)
	if err := row.Scan(&f.ID, &f.ClientID, &f.UserID, &f.SessionID, &scopes, &f.CodeHash, &f.RefreshHash,
		&f.PreviousHash, &rotated, &created, &expires); err != nil {
		return gatehouse.RefreshFamily{}, err
	}
	var err error
	if f.Scopes, err = decodeList(scopes); err != nil {
		return gatehouse.RefreshFamily{}, fmt.Errorf("family scopes: %w", err)
	}
	if rotated != 0 {
		f.RotatedAt = fromMillis(rotated)
	}
	f.CreatedAt, f.ExpiresAt = fromMillis(created), fromMillis(expires)
	return f, nil
}

// millisOrZero is toMillis, with the zero time stored as 0 ("none").
func millisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return toMillis(t)
}

// CreateOAuthClient inserts c; ErrConflict when the id exists.
func (s *Store) CreateOAuthClient(ctx context.Context, c gatehouse.OAuthClient) error {
	const op = "create oauth client"
	l, err := encodeLists(c.RedirectURIs, c.PostLogoutRedirectURIs, c.GrantTypes, c.Scopes)
	if err != nil {
		return errorf(op, err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO oauth_clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		c.ID, c.Name, c.AuthMethod, c.SecretHash, c.JWKS, l[0], l[1], l[2], l[3],
		c.IDTokenAlgorithm, c.FirstParty, toMillis(c.CreatedAt), toMillis(c.UpdatedAt))
	if err != nil {
		return s.insertError(op, err)
	}
	return nil
}

// OAuthClientByID returns the client or ErrNotFound.
func (s *Store) OAuthClientByID(ctx context.Context, id string) (gatehouse.OAuthClient, error) {
	c, err := scanClient(s.db.QueryRow(ctx, `SELECT `+clientColumns+` FROM oauth_clients WHERE id = $1`, id))
	if err != nil {
		return gatehouse.OAuthClient{}, errorf("oauth client by id", err)
	}
	return c, nil
}

// ListOAuthClients returns every client ordered by ID (byte-wise).
func (s *Store) ListOAuthClients(ctx context.Context) ([]gatehouse.OAuthClient, error) {
	return queryList(ctx, s.db, "list oauth clients", scanClient, `SELECT `+clientColumns+` FROM oauth_clients ORDER BY id`)
}

// UpdateOAuthClient replaces every field of the client with c.ID but ID and
// CreatedAt. ErrNotFound when there is none. Codes and families already
// issued are left alone: callers that narrow a client's grants or scopes
// decide what to revoke.
func (s *Store) UpdateOAuthClient(ctx context.Context, c gatehouse.OAuthClient) error {
	const op = "update oauth client"
	l, err := encodeLists(c.RedirectURIs, c.PostLogoutRedirectURIs, c.GrantTypes, c.Scopes)
	if err != nil {
		return errorf(op, err)
	}
	return s.changeOne(ctx, op, `UPDATE oauth_clients SET name = $2, auth_method = $3, secret_hash = $4,
		jwks = $5, redirect_uris = $6, post_logout_redirect_uris = $7, grant_types = $8, scopes = $9,
		id_token_algorithm = $10, first_party = $11, updated_at = $12
		WHERE id = $1`,
		c.ID, c.Name, c.AuthMethod, c.SecretHash, c.JWKS, l[0], l[1], l[2], l[3],
		c.IDTokenAlgorithm, c.FirstParty, toMillis(c.UpdatedAt))
}

// DeleteOAuthClient deletes the client; its consents, codes, families and
// assertion records go with it (ON DELETE CASCADE). ErrNotFound when there
// is none.
func (s *Store) DeleteOAuthClient(ctx context.Context, id string) error {
	return s.changeOne(ctx, "delete oauth client", `DELETE FROM oauth_clients WHERE id = $1`, id)
}

// SaveConsent inserts or replaces the user's consent to the client: on
// replacement Scopes and UpdatedAt are set and GrantedAt is kept. One
// statement (an upsert on the primary key), so concurrent saves never
// conflict. ErrNotFound when the user or client does not exist.
func (s *Store) SaveConsent(ctx context.Context, c gatehouse.OAuthConsent) error {
	const op = "save consent"
	scopes, err := encodeList(c.Scopes)
	if err != nil {
		return errorf(op, err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO oauth_consents (`+consentColumns+`)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at`,
		c.UserID, c.ClientID, scopes, toMillis(c.GrantedAt), toMillis(c.UpdatedAt))
	if err != nil {
		return s.insertError(op, err)
	}
	return nil
}

// Consent returns the user's consent to the client, or ErrNotFound.
func (s *Store) Consent(ctx context.Context, userID, clientID string) (gatehouse.OAuthConsent, error) {
	c, err := scanConsent(s.db.QueryRow(ctx, `SELECT `+consentColumns+` FROM oauth_consents
		WHERE user_id = $1 AND client_id = $2`, userID, clientID))
	if err != nil {
		return gatehouse.OAuthConsent{}, errorf("consent", err)
	}
	return c, nil
}

// Consents returns the user's consents, oldest first (by GrantedAt, then
// client ID).
func (s *Store) Consents(ctx context.Context, userID string) ([]gatehouse.OAuthConsent, error) {
	return queryList(ctx, s.db, "consents", scanConsent, `SELECT `+consentColumns+` FROM oauth_consents WHERE user_id = $1
		ORDER BY granted_at, client_id`, userID)
}

// RevokeConsent deletes the user's consent to the client, every family of
// that user and client and the codes not yet redeemed that the client
// holds for the user (so none becomes a family after the revocation), in
// one transaction. ErrNotFound when there was none of these (a
// first-party client has families without a consent). Redeemed codes are
// kept, so that presenting one again is still reported as a reuse.
func (s *Store) RevokeConsent(ctx context.Context, userID, clientID string) error {
	const op = "revoke consent"
	return s.db.InTx(ctx, func(tx *Tx) error {
		var total int64
		for _, q := range []string{
			`DELETE FROM oauth_consents WHERE user_id = $1 AND client_id = $2`,
			`DELETE FROM oauth_families WHERE user_id = $1 AND client_id = $2`,
			`DELETE FROM oauth_codes WHERE user_id = $1 AND client_id = $2 AND redeemed_at = 0`,
		} {
			res, err := tx.Exec(ctx, q, userID, clientID)
			if err != nil {
				return errorf(op, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return errorf(op, err)
			}
			total += n
		}
		if total == 0 {
			return notFound(op)
		}
		return nil
	})
}

// CreateAuthorizationCode inserts c. ErrNotFound when its session no
// longer exists or is not c.UserID's, or the client does not exist;
// ErrConflict when the hash is taken. The row is inserted from the
// session's in one statement, so a session deleted concurrently either
// takes the code with it or keeps it from being inserted.
func (s *Store) CreateAuthorizationCode(ctx context.Context, c gatehouse.AuthorizationCode) error {
	const op = "create authorization code"
	scopes, err := encodeList(c.Scopes)
	if err != nil {
		return errorf(op, err)
	}
	res, err := s.db.Exec(ctx, `INSERT INTO oauth_codes (`+codeColumns+`)
		SELECT $1, $2, s.user_id, s.id, $5, $6, $7, $8, $9, $10
		FROM sessions s WHERE s.id = $4 AND s.user_id = $3`,
		c.Hash, c.ClientID, c.UserID, c.SessionID, c.RedirectURI, scopes, c.Nonce, c.CodeChallenge,
		toMillis(c.CreatedAt), toMillis(c.ExpiresAt))
	if err != nil {
		return s.insertError(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return errorf(op, err)
	} else if n != 1 {
		return notFound(op)
	}
	return nil
}

// errMismatch rolls back a redemption whose family does not belong to the
// code; it is reported as ErrNotFound.
var errMismatch = errors.New("the family does not belong to the code")

// bindFamily completes fam from the code it is created from: the client,
// user, session and code hash are the code's (an empty field is filled in,
// a different one refused), and empty Scopes are the code's scopes. The
// caller cannot know the user and session before the code is redeemed,
// and a family bound to another session would outlive a sign-out.
func bindFamily(fam *gatehouse.RefreshFamily, c gatehouse.AuthorizationCode) bool {
	for _, f := range []struct {
		dst *string
		src string
	}{{&fam.ClientID, c.ClientID}, {&fam.UserID, c.UserID}, {&fam.SessionID, c.SessionID}, {&fam.CodeHash, c.Hash}} {
		switch *f.dst {
		case "":
			*f.dst = f.src
		case f.src:
		default:
			return false
		}
	}
	if len(fam.Scopes) == 0 {
		fam.Scopes = c.Scopes
	}
	return true
}

// RedeemAuthorizationCode marks the code with this hash redeemed and
// inserts fam, in one transaction, and returns the code.
//
// fam's ClientID, UserID, SessionID and CodeHash are the code's: empty
// ones are filled in, and a different one (a code presented by a client it
// was not issued to, RFC 6749 §4.1.3) is ErrNotFound with nothing changed,
// the code still redeemable by its client. Empty Scopes are the code's.
//
// The redemption is "UPDATE … WHERE redeemed_at = 0": it takes the code's
// row lock, so of N concurrent redemptions exactly one marks it and the
// others, re-checking after it commits (PostgreSQL) or waiting for the
// writer (SQLite), find it redeemed. A code found redeemed (while its row
// is kept, until DeleteExpiredOAuth removes it after expiry) is a reuse:
// the families created from it are deleted, that deletion committed, and
// ErrCodeReused returned (RFC 9700 §4.2.4 / RFC 6749 §4.1.2). Unknown, or
// expired at now: ErrNotFound. The session gone: ErrNotFound, nothing
// changed (it took the code with it).
func (s *Store) RedeemAuthorizationCode(ctx context.Context, codeHash string, fam gatehouse.RefreshFamily, now time.Time) (gatehouse.AuthorizationCode, error) {
	const op = "redeem authorization code"
	var (
		code   gatehouse.AuthorizationCode
		reused bool
	)
	err := s.db.InTx(ctx, func(tx *Tx) error {
		reused = false
		var err error
		code, err = scanCode(tx.QueryRow(ctx, `UPDATE oauth_codes SET redeemed_at = $2
			WHERE code_hash = $1 AND redeemed_at = 0 AND expires_at > $2
			RETURNING `+codeColumns, codeHash, toMillis(now)))
		if errors.Is(err, sql.ErrNoRows) {
			var redeemed int64
			err := tx.QueryRow(ctx, `SELECT redeemed_at FROM oauth_codes WHERE code_hash = $1`, codeHash).Scan(&redeemed)
			if err != nil {
				return errorf(op, err) // unknown: ErrNotFound
			}
			if redeemed == 0 {
				return notFound(op) // expired
			}
			if _, err := tx.Exec(ctx, `DELETE FROM oauth_families WHERE code_hash = $1`, codeHash); err != nil {
				return errorf(op, err)
			}
			reused = true
			return nil // commit the revocation
		}
		if err != nil {
			return errorf(op, err)
		}
		f := fam
		if !bindFamily(&f, code) {
			return fmt.Errorf("sqlstore: %s: %w (%w)", op, gatehouse.ErrNotFound, errMismatch)
		}
		return s.insertFamily(ctx, tx, op, f)
	})
	if err != nil {
		return gatehouse.AuthorizationCode{}, err
	}
	if reused {
		return gatehouse.AuthorizationCode{}, fmt.Errorf("sqlstore: %s: %w", op, gatehouse.ErrCodeReused)
	}
	return code, nil
}

// insertFamily inserts f and records its refresh token, if any.
func (s *Store) insertFamily(ctx context.Context, tx *Tx, op string, f gatehouse.RefreshFamily) error {
	scopes, err := encodeList(f.Scopes)
	if err != nil {
		return errorf(op, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO oauth_families (`+familyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		f.ID, f.ClientID, f.UserID, f.SessionID, scopes, f.CodeHash, f.RefreshHash, f.PreviousHash,
		millisOrZero(f.RotatedAt), toMillis(f.CreatedAt), toMillis(f.ExpiresAt)); err != nil {
		return s.insertError(op, err)
	}
	if f.RefreshHash == "" {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO oauth_refresh_tokens (token_hash, family_id) VALUES ($1, $2)`,
		f.RefreshHash, f.ID); err != nil {
		return s.insertError(op, err)
	}
	return nil
}

// RefreshFamilyByID returns the family, or ErrNotFound when it was revoked
// or expired at now (a family is live while now is before ExpiresAt).
func (s *Store) RefreshFamilyByID(ctx context.Context, id string, now time.Time) (gatehouse.RefreshFamily, error) {
	f, err := scanFamily(s.db.QueryRow(ctx, `SELECT `+familyColumns+` FROM oauth_families
		WHERE id = $1 AND expires_at > $2`, id, toMillis(now)))
	if err != nil {
		return gatehouse.RefreshFamily{}, errorf("refresh family by id", err)
	}
	return f, nil
}

// RefreshFamilyByToken returns the live family that issued the refresh
// token with this hash (current or retired), or ErrNotFound.
func (s *Store) RefreshFamilyByToken(ctx context.Context, tokenHash string, now time.Time) (gatehouse.RefreshFamily, error) {
	f, err := scanFamily(s.db.QueryRow(ctx, `SELECT `+prefixedFamilyColumns+`
		FROM oauth_refresh_tokens t JOIN oauth_families f ON f.id = t.family_id
		WHERE t.token_hash = $1 AND f.expires_at > $2`, tokenHash, toMillis(now)))
	if err != nil {
		return gatehouse.RefreshFamily{}, errorf("refresh family by token", err)
	}
	return f, nil
}

// RotateRefreshToken replaces the family's current refresh token,
// presented by hash, with nextHash and returns the updated family, in one
// transaction.
//
// The rotation is "UPDATE … WHERE id = $1 AND refresh_hash = presented":
// of N concurrent rotations of one token exactly one changes the row, and
// the others, re-reading the family once it has, see the presented token
// retired. A retired token is answered with the family unchanged when it
// is the one just replaced, RotatedAt is within grace of now and the
// current token is nextHash (a retry of a lost response, or a concurrent
// duplicate, gets the same successor; callers derive nextHash from the
// presented token for that). Any other retired token revokes the family
// (RFC 9700 §4.14.2): the deletion is committed and ErrRefreshReused
// returned. Unknown token, or family expired at now: ErrNotFound.
func (s *Store) RotateRefreshToken(ctx context.Context, presentedHash, nextHash string, now time.Time, grace time.Duration) (gatehouse.RefreshFamily, error) {
	const op = "rotate refresh token"
	if nextHash == "" {
		return gatehouse.RefreshFamily{}, fmt.Errorf("sqlstore: %s: empty next hash", op)
	}
	nowMS := toMillis(now)
	var (
		out    gatehouse.RefreshFamily
		reused bool
	)
	err := s.db.InTx(ctx, func(tx *Tx) error {
		reused = false
		f, err := scanFamily(tx.QueryRow(ctx, `SELECT `+prefixedFamilyColumns+`
			FROM oauth_refresh_tokens t JOIN oauth_families f ON f.id = t.family_id
			WHERE t.token_hash = $1 AND f.expires_at > $2`, presentedHash, nowMS))
		if err != nil {
			return errorf(op, err)
		}
		if f.RefreshHash == presentedHash {
			out, err = scanFamily(tx.QueryRow(ctx, `UPDATE oauth_families
				SET previous_hash = $2, refresh_hash = $3, rotated_at = $4
				WHERE id = $1 AND refresh_hash = $2
				RETURNING `+familyColumns, f.ID, presentedHash, nextHash, nowMS))
			if err == nil {
				if _, err := tx.Exec(ctx, `INSERT INTO oauth_refresh_tokens (token_hash, family_id) VALUES ($1, $2)`,
					nextHash, f.ID); err != nil {
					return s.insertError(op, err)
				}
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return errorf(op, err)
			}
			// Another rotation won; judge the presented token against
			// what it left (or ErrNotFound if the family is gone).
			f, err = scanFamily(tx.QueryRow(ctx, `SELECT `+familyColumns+` FROM oauth_families WHERE id = $1`, f.ID))
			if err != nil {
				return errorf(op, err)
			}
		}
		if grace > 0 && f.PreviousHash == presentedHash && f.RefreshHash == nextHash &&
			fromMillis(nowMS).Sub(f.RotatedAt) <= grace {
			out = f
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_families WHERE id = $1`, f.ID); err != nil {
			return errorf(op, err)
		}
		reused = true
		return nil // commit the revocation
	})
	if err != nil {
		return gatehouse.RefreshFamily{}, err
	}
	if reused {
		return gatehouse.RefreshFamily{}, fmt.Errorf("sqlstore: %s: %w", op, gatehouse.ErrRefreshReused)
	}
	return out, nil
}

// DeleteRefreshFamily revokes the family and its refresh tokens;
// ErrNotFound when there is none.
func (s *Store) DeleteRefreshFamily(ctx context.Context, id string) error {
	return s.changeOne(ctx, "delete refresh family", `DELETE FROM oauth_families WHERE id = $1`, id)
}

// UseClientAssertion records the jti of a client's private_key_jwt
// assertion until expiresAt. The primary key (client_id, jti) decides, so
// of N concurrent uses exactly one succeeds and the others get
// ErrConflict; a record is kept until DeleteExpiredOAuth removes it after
// expiresAt. ErrNotFound when the client does not exist.
func (s *Store) UseClientAssertion(ctx context.Context, clientID, jti string, expiresAt time.Time) error {
	const op = "use client assertion"
	_, err := s.db.Exec(ctx, `INSERT INTO oauth_client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3)`,
		clientID, jti, toMillis(expiresAt))
	if err != nil {
		return s.insertError(op, err)
	}
	return nil
}

// DeleteExpiredOAuth removes codes (redeemed or not), families and
// assertion records whose expiry is before now, in one transaction, and
// returns how many. The refresh tokens of a removed family go with it and
// are not counted.
func (s *Store) DeleteExpiredOAuth(ctx context.Context, now time.Time) (int, error) {
	const op = "delete expired oauth"
	var total int
	err := s.db.InTx(ctx, func(tx *Tx) error {
		total = 0
		for _, q := range []string{
			`DELETE FROM oauth_codes WHERE expires_at < $1`,
			`DELETE FROM oauth_families WHERE expires_at < $1`,
			`DELETE FROM oauth_client_assertions WHERE expires_at < $1`,
		} {
			res, err := tx.Exec(ctx, q, toMillis(now))
			if err != nil {
				return errorf(op, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return errorf(op, err)
			}
			total += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}
