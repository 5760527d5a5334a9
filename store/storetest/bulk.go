package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// bulkBackend is implemented by backends that can seed large datasets (the
// SQL backends); the bulk cases skip the others.
type bulkBackend interface {
	BulkInsertUsers(ctx context.Context, users []gatehouse.User, passwordHash string) error
	BulkInsertSessions(ctx context.Context, sessions []gatehouse.Session) error
}

func mustBulk(t *testing.T, s Store) bulkBackend {
	t.Helper()
	b, ok := s.(bulkBackend)
	if !ok {
		t.Skip("the store has no bulk insert methods")
	}
	return b
}

// bulkRows is more rows than one statement of either engine holds:
// PostgreSQL takes at most 65535 parameters, 6553 users or 5957 sessions.
const bulkRows = 7000

// bulkUser is the i-th user of a bulk test; fields vary with i so that a
// row read back from the wrong place, or a column shifted in a statement,
// shows.
func bulkUser(i int) gatehouse.User {
	u := gatehouse.User{
		ID:              fmt.Sprintf("usr_bulk_%05d", i),
		Email:           fmt.Sprintf("Bulk%d@Example.com", i),
		EmailNormalized: fmt.Sprintf("bulk%d@example.com", i),
		EmailVerified:   i%2 == 0,
		Name:            fmt.Sprintf("Bulk %d", i),
		Disabled:        i%3 == 0,
		CreatedAt:       t0.Add(time.Duration(i) * time.Second),
		UpdatedAt:       t0.Add(time.Duration(i)*time.Second + 1500*time.Microsecond),
	}
	switch i % 3 {
	case 1:
		u.Roles = []string{"editor"}
	case 2:
		u.Roles = []string{"admin", fmt.Sprint("role-", i)}
	}
	return u
}

func bulkUsers(n int) []gatehouse.User {
	users := make([]gatehouse.User, n)
	for i := range users {
		users[i] = bulkUser(i)
	}
	return users
}

func bulkSession(i int, userID string) gatehouse.Session {
	ses := newSession(fmt.Sprintf("ses_bulk_%05d", i), userID, t0.Add(time.Duration(i)*time.Millisecond+123*time.Microsecond))
	ses.LastSeenAt = ses.CreatedAt.Add(time.Duration(i) * time.Minute)
	ses.AuthenticatedAt = ses.CreatedAt.Add(time.Second)
	ses.AAL = 1 + i%2
	ses.IP = fmt.Sprintf("198.51.100.%d", i%256)
	ses.UserAgent = fmt.Sprint("agent ", i)
	if i%4 == 0 {
		ses.AMR = nil
	} else if i%4 == 1 {
		ses.AMR = []string{gatehouse.AMRPassword, "otp"}
	}
	return ses
}

// wantBulkUser checks that u reads back field for field, through UserByID
// and UserCredentials.
func wantBulkUser(t *testing.T, s Store, u gatehouse.User, hash string) {
	t.Helper()
	if got := mustUser(t, s, u.ID); !reflect.DeepEqual(got, stored(u)) {
		t.Fatalf("UserByID(%s) = %+v, want %+v", u.ID, got, stored(u))
	}
	got, h, err := s.UserCredentials(t.Context(), u.EmailNormalized)
	if err != nil {
		t.Fatalf("UserCredentials(%s): %v", u.EmailNormalized, err)
	}
	if !reflect.DeepEqual(got, stored(u)) || h != hash {
		t.Fatalf("UserCredentials(%s) = %+v, %q; want %+v, %q", u.EmailNormalized, got, h, stored(u), hash)
	}
}

func wantBulkSession(t *testing.T, s Store, ses gatehouse.Session, u gatehouse.User) {
	t.Helper()
	got, gotU, err := s.SessionByTokenHash(t.Context(), ses.TokenHash)
	if err != nil {
		t.Fatalf("SessionByTokenHash(%s): %v", ses.TokenHash, err)
	}
	if !reflect.DeepEqual(got, storedSession(ses)) || !reflect.DeepEqual(gotU, stored(u)) {
		t.Fatalf("SessionByTokenHash(%s) = %+v, %+v; want %+v, %+v", ses.TokenHash, got, gotU, storedSession(ses), stored(u))
	}
}

func wantUserCount(t *testing.T, s Store, want int) {
	t.Helper()
	if n, ok := sqlCount(t, s, `SELECT COUNT(*) FROM users`); ok && n != want {
		t.Fatalf("%d users in the table, want %d", n, want)
	}
}

func wantSessionCount(t *testing.T, s Store, want int) {
	t.Helper()
	if n, ok := sqlCount(t, s, `SELECT COUNT(*) FROM sessions`); ok && n != want {
		t.Fatalf("%d sessions in the table, want %d", n, want)
	}
}

func testBulkInsert(t *testing.T, s Store) {
	ctx := t.Context()
	b := mustBulk(t, s)
	if err := b.BulkInsertUsers(ctx, nil, "h"); err != nil {
		t.Fatalf("BulkInsertUsers(none): %v", err)
	}
	if err := b.BulkInsertSessions(ctx, nil); err != nil {
		t.Fatalf("BulkInsertSessions(none): %v", err)
	}

	users := bulkUsers(25)
	users[7].Name = `'; DROP TABLE users; -- $1 ?1 "q"`
	users[8].Roles = []string{} // stored like nil
	const hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	if err := b.BulkInsertUsers(ctx, users, hash); err != nil {
		t.Fatalf("BulkInsertUsers: %v", err)
	}
	sessions := make([]gatehouse.Session, 0, 2*len(users))
	for i, u := range users {
		sessions = append(sessions, bulkSession(2*i, u.ID), bulkSession(2*i+1, u.ID))
	}
	sessions[3].UserAgent = users[7].Name
	if err := b.BulkInsertSessions(ctx, sessions); err != nil {
		t.Fatalf("BulkInsertSessions: %v", err)
	}

	for _, u := range users {
		wantBulkUser(t, s, u, hash)
	}
	for i, ses := range sessions {
		wantBulkSession(t, s, ses, users[i/2])
	}
	// They are ordinary rows: the normal methods work on them.
	if err := s.RevokeSession(ctx, users[0].ID, sessions[0].ID); err != nil {
		t.Fatalf("RevokeSession of a bulk session: %v", err)
	}
	if got := sessionIDs(t, s, users[1].ID); !reflect.DeepEqual(got, []string{sessions[3].ID, sessions[2].ID}) &&
		!reflect.DeepEqual(got, []string{sessions[2].ID, sessions[3].ID}) {
		t.Fatalf("ListSessions(%s) = %v", users[1].ID, got)
	}
	wantUserCount(t, s, len(users))
	wantSessionCount(t, s, len(sessions)-1)
}

func testBulkInsertConflict(t *testing.T, s Store) {
	ctx := t.Context()
	b := mustBulk(t, s)
	taken := newUser(1)
	mustCreateUser(t, s, taken, "h")
	takenSes := newSession("ses_taken", taken.ID, t0)
	mustCreateSession(t, s, takenSes)

	// The conflicting row comes last, after whole statements have gone in:
	// the call must take them back.
	users := bulkUsers(bulkRows)
	users[len(users)-1].EmailNormalized = taken.EmailNormalized
	err := b.BulkInsertUsers(ctx, users, "h")
	wantErr(t, "BulkInsertUsers(email taken)", err, gatehouse.ErrConflict)
	for _, u := range []gatehouse.User{users[0], users[len(users)/2]} {
		_, err := s.UserByID(ctx, u.ID)
		wantErr(t, "UserByID after a failed bulk insert", err, gatehouse.ErrNotFound)
	}
	wantUserCount(t, s, 1)

	users = bulkUsers(30)
	users[29].ID = taken.ID
	wantErr(t, "BulkInsertUsers(id taken)", b.BulkInsertUsers(ctx, users, "h"), gatehouse.ErrConflict)
	users = bulkUsers(30)
	users[20].EmailNormalized = users[3].EmailNormalized
	wantErr(t, "BulkInsertUsers(email twice)", b.BulkInsertUsers(ctx, users, "h"), gatehouse.ErrConflict)
	wantUserCount(t, s, 1)

	// Sessions: a taken token hash, an id given twice, a missing user.
	sessions := make([]gatehouse.Session, bulkRows)
	for i := range sessions {
		sessions[i] = bulkSession(i, taken.ID)
	}
	sessions[len(sessions)-1].TokenHash = takenSes.TokenHash
	err = b.BulkInsertSessions(ctx, sessions)
	wantErr(t, "BulkInsertSessions(token hash taken)", err, gatehouse.ErrConflict)
	sessions[len(sessions)-1] = bulkSession(len(sessions)-1, taken.ID)
	sessions[40].ID = sessions[2].ID
	wantErr(t, "BulkInsertSessions(id twice)", b.BulkInsertSessions(ctx, sessions), gatehouse.ErrConflict)
	sessions[40] = bulkSession(40, taken.ID)
	sessions[len(sessions)-1].UserID = "usr_missing"
	wantErr(t, "BulkInsertSessions(missing user)", b.BulkInsertSessions(ctx, sessions), gatehouse.ErrNotFound)
	if sessionExists(t, s, sessions[0]) {
		t.Fatal("a session of a failed bulk insert exists")
	}
	wantSessionCount(t, s, 1)

	// The store is still usable, and the same rows go in once fixed.
	sessions[len(sessions)-1].UserID = taken.ID
	if err := b.BulkInsertSessions(ctx, sessions); err != nil {
		t.Fatalf("BulkInsertSessions after the failures: %v", err)
	}
	wantSessionCount(t, s, 1+len(sessions))
}

// More rows than one statement holds, and a count that leaves a remainder
// of every size below it.
func testBulkInsertMany(t *testing.T, s Store) {
	ctx := t.Context()
	b := mustBulk(t, s)
	for _, n := range []int{1, 2, 3, 17, 255, bulkRows} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			users := bulkUsers(n)
			prefix := fmt.Sprintf("n%d_", n)
			sessions := make([]gatehouse.Session, n)
			for i := range users {
				users[i].ID = prefix + users[i].ID
				users[i].EmailNormalized = prefix + users[i].EmailNormalized
				sessions[i] = bulkSession(i, users[i].ID)
				sessions[i].ID = prefix + sessions[i].ID
				sessions[i].TokenHash = prefix + sessions[i].TokenHash
			}
			hash := "hash " + prefix
			if err := b.BulkInsertUsers(ctx, users, hash); err != nil {
				t.Fatalf("BulkInsertUsers(%d): %v", n, err)
			}
			if err := b.BulkInsertSessions(ctx, sessions); err != nil {
				t.Fatalf("BulkInsertSessions(%d): %v", n, err)
			}
			if n, ok := sqlCount(t, s, `SELECT COUNT(*) FROM users WHERE password_hash = $1`, hash); ok && n != len(users) {
				t.Fatalf("%d users inserted, want %d", n, len(users))
			}
			if got, ok := sqlCount(t, s, `SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.password_hash = $1`, hash); ok && got != n {
				t.Fatalf("%d sessions inserted, want %d", got, n)
			}
			// Every row of the first and last few hundred, where the
			// statements and their remainders begin and end, and a sample
			// between.
			for i := range n {
				if i < 300 || i >= n-600 || i%97 == 0 {
					wantBulkUser(t, s, users[i], hash)
					wantBulkSession(t, s, sessions[i], users[i])
				}
			}
		})
	}
}
