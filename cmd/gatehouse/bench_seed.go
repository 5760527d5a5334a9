package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// benchPassword is the password of every seeded user.
const benchPassword = "bench correct horse battery staple"

// seedBatch is how many users (and as many sessions) go in one transaction.
const seedBatch = 50_000

// bulkInserter is what seeding needs from the store beyond gatehouse.Store.
type bulkInserter interface {
	BulkInsertUsers(ctx context.Context, users []gatehouse.User, passwordHash string) error
	BulkInsertSessions(ctx context.Context, sessions []gatehouse.Session) error
}

// seeder names the seeded users and derives their session tokens from a
// per-run key, so a million tokens need not be kept in memory.
type seeder struct {
	key []byte
}

func newSeeder() seeder {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return seeder{key: key}
}

// email is the address of the i-th seeded user.
func (seeder) email(i int) string { return fmt.Sprintf("user%d@bench.example.com", i) }

// token is the session token of the i-th seeded user's session: 43
// base64url characters, like the tokens Gatehouse issues.
func (s seeder) token(i int) string {
	m := hmac.New(sha256.New, s.key)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// seed inserts n verified users, all with the password hash of
// benchPassword (hashed once, at the configured cost), and one live session
// each, in transactions of seedBatch, reporting progress on w.
func (s seeder) seed(ctx context.Context, st bulkInserter, auth *gatehouse.Auth, n int, w io.Writer) error {
	hash, err := auth.HashPassword(ctx, benchPassword)
	if err != nil {
		return fmt.Errorf("hashing the seed password: %w", err)
	}
	cfg := auth.Config()
	now := auth.Now()
	began := time.Now()
	next := n / 10 // progress every tenth
	users := make([]gatehouse.User, 0, seedBatch)
	sessions := make([]gatehouse.Session, 0, seedBatch)
	for from := 0; from < n; from += seedBatch {
		users, sessions = users[:0], sessions[:0]
		for i := from; i < min(from+seedBatch, n); i++ {
			u := gatehouse.User{ID: secret.NewID("usr"), Email: s.email(i), EmailVerified: true, CreatedAt: now, UpdatedAt: now}
			u.EmailNormalized = u.Email // already lower-case ASCII
			users = append(users, u)
			sessions = append(sessions, gatehouse.Session{
				ID: secret.NewID("ses"), UserID: u.ID, TokenHash: secret.HashToken(s.token(i)),
				CreatedAt: now, LastSeenAt: now, AuthenticatedAt: now, AbsoluteExpiresAt: now.Add(cfg.SessionLifetime),
				AMR: []string{"pwd"}, AAL: 1, IP: "127.0.0.1", UserAgent: "gatehouse bench",
			})
		}
		if err := st.BulkInsertUsers(ctx, users, hash); err != nil {
			return fmt.Errorf("seeding users: %w", err)
		}
		if err := st.BulkInsertSessions(ctx, sessions); err != nil {
			return fmt.Errorf("seeding sessions: %w", err)
		}
		if done := from + len(users); done >= next || done == n {
			fmt.Fprintf(w, "  seeded %d of %d users and sessions (%.1f s)\n", done, n, time.Since(began).Seconds())
			next = done + max(n/10, 1)
		}
	}
	return nil
}
