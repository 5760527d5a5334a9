package sqlstore

import (
	"bytes"
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// SigningKeys returns every stored signing key, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]gatehouse.SigningKey, error) {
	const op = "signing keys"
	rows, err := s.db.Query(ctx, `SELECT id, algorithm, generation, private_key, created_at, active_at, expires_at
		FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, errorf(op, err)
	}
	defer rows.Close()
	out := []gatehouse.SigningKey{}
	for rows.Next() {
		var (
			k                        gatehouse.SigningKey
			created, active, expires int64
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.Generation, &k.Sealed, &created, &active, &expires); err != nil {
			return nil, errorf(op, err)
		}
		k.CreatedAt, k.ActiveAt = fromMillis(created), fromMillis(active)
		if expires != 0 {
			k.ExpiresAt = fromMillis(expires)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, errorf(op, err)
	}
	return out, nil
}

// AddSigningKey inserts k and retires the algorithm's keys that have no
// expiry yet, in one transaction. The unique (algorithm, generation) pair
// makes concurrent rotations conflict: exactly one wins.
func (s *Store) AddSigningKey(ctx context.Context, k gatehouse.SigningKey, retireOthersAt time.Time) error {
	const op = "add signing key"
	var expires int64
	if !k.ExpiresAt.IsZero() {
		expires = toMillis(k.ExpiresAt)
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (id, algorithm, generation, private_key, created_at, active_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			k.ID, k.Algorithm, k.Generation, k.Sealed, toMillis(k.CreatedAt), toMillis(k.ActiveAt), expires); err != nil {
			return s.insertError(op, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET expires_at = $3
			WHERE algorithm = $1 AND id <> $2 AND expires_at = 0`, k.Algorithm, k.ID, toMillis(retireOthersAt)); err != nil {
			return errorf(op, err)
		}
		return nil
	})
}

// ResealSigningKey swaps the sealed private key if it is still old.
func (s *Store) ResealSigningKey(ctx context.Context, id string, old, new []byte) (bool, error) {
	if bytes.Equal(old, new) {
		return false, nil
	}
	n, err := s.deleteCount(ctx, "reseal signing key", `UPDATE signing_keys SET private_key = $3 WHERE id = $1 AND private_key = $2`, id, old, new)
	return n == 1, err
}

// DeleteExpiredSigningKeys removes keys expired before now.
func (s *Store) DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error) {
	return s.deleteCount(ctx, "delete expired signing keys",
		`DELETE FROM signing_keys WHERE expires_at <> 0 AND expires_at < $1`, toMillis(now))
}
