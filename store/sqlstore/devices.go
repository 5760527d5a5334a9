package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// maxDeviceKeys bounds the keys of one RememberDevice call (each is a bound
// parameter); a device is known by a handful at most.
const maxDeviceKeys = 32

// RememberDevice records a sign-in of userID from the device known by keys,
// in one transaction: each key already recorded for the user is refreshed
// (seen), the others are inserted, all at now. others reports whether the
// user had a device recorded under any other key before the call.
// Duplicate keys count once. ErrNotFound if the user does not exist; an
// error if keys is empty.
func (s *Store) RememberDevice(ctx context.Context, userID string, keys []string, now time.Time) (seen, others bool, err error) {
	const op = "remember device"
	if len(keys) == 0 {
		return false, false, fmt.Errorf("sqlstore: %s: no device keys", op)
	}
	if len(keys) > maxDeviceKeys {
		return false, false, fmt.Errorf("sqlstore: %s: %d device keys, at most %d", op, len(keys), maxDeviceKeys)
	}
	uniq := make([]string, 0, len(keys))
	for _, k := range keys {
		if !slices.Contains(uniq, k) {
			uniq = append(uniq, k)
		}
	}
	at := toMillis(now)
	err = s.db.InTx(ctx, func(tx *Tx) error {
		seen, others = false, false
		var exists int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE id = $1`, userID).Scan(&exists); err != nil {
			return errorf(op, err)
		}
		if exists == 0 {
			return notFound(op)
		}
		var missing []string
		for _, k := range uniq {
			ok, err := execOne(ctx, tx, `UPDATE known_devices SET last_seen_at = $3 WHERE user_id = $1 AND key_hash = $2`,
				userID, k, at)
			if err != nil {
				return errorf(op, err)
			}
			if ok {
				seen = true
			} else {
				missing = append(missing, k)
			}
		}
		// Nothing has been inserted yet, so any row under another key was
		// there before this call.
		args := []any{userID}
		ph := make([]string, len(uniq))
		for i, k := range uniq {
			args = append(args, k)
			ph[i] = fmt.Sprintf("$%d", i+2)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM known_devices
			WHERE user_id = $1 AND key_hash NOT IN (`+strings.Join(ph, ", ")+`) LIMIT 1) AS other_devices`,
			args...).Scan(&n); err != nil {
			return errorf(op, err)
		}
		others = n > 0
		for _, k := range missing {
			// A concurrent sign-in from the same device may have inserted
			// the key meanwhile: it was recorded at (nearly) now either way.
			if _, err := tx.Exec(ctx, `INSERT INTO known_devices (user_id, key_hash, first_seen_at, last_seen_at)
				VALUES ($1, $2, $3, $3) ON CONFLICT (user_id, key_hash) DO NOTHING`, userID, k, at); err != nil {
				return s.insertError(op, err)
			}
		}
		return nil
	})
	if err != nil {
		return false, false, err
	}
	return seen, others, nil
}

// DeviceKnown reports whether key is recorded for userID: one indexed
// lookup, the same whether or not the user exists.
func (s *Store) DeviceKnown(ctx context.Context, userID, key string) (bool, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM known_devices WHERE user_id = $1 AND key_hash = $2`, userID, key).Scan(&n)
	if err != nil {
		return false, errorf("device known", err)
	}
	return n > 0, nil
}

// ForgetDevicesBefore deletes devices last seen before t and returns how
// many.
func (s *Store) ForgetDevicesBefore(ctx context.Context, t time.Time) (int, error) {
	return s.deleteCount(ctx, "forget devices", `DELETE FROM known_devices WHERE last_seen_at < $1`, toMillis(t))
}
