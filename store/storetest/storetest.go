// Package storetest is the one conformance suite every gatehouse.Store
// backend must pass. A backend's test calls Run with a function that opens
// a fresh, migrated, empty store; the suite pins the contract written in
// the doc comments of gatehouse.Store: ErrNotFound and ErrConflict,
// atomicity, "exactly one of N concurrent attempts succeeds", millisecond
// UTC times, non-nil empty slices, cascades, and plugin migrations.
//
// It is imported only by tests. It uses the store through its interface,
// plus the optional DB method of SQL backends for plugin tables.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/store/sqlstore"
)

// Store is what the suite tests: the core contract plus migrations.
type Store interface {
	gatehouse.Store
	// Migrate applies the core's and the given plugins' migrations.
	Migrate(ctx context.Context, plugins ...gatehouse.Plugin) error
}

// sqlBackend is implemented by SQL backends; the plugin case needs it to
// look at the plugin's table.
type sqlBackend interface {
	DB() *sqlstore.DB
}

// Run runs the suite. open must return a fresh, migrated, empty store each
// time it is called and arrange for its cleanup through t; it is called
// once per subtest and subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"Ping", testPing},
		{"UserCRUD", testUserCRUD},
		{"UserCredentials", testUserCredentials},
		{"DuplicateEmail", testDuplicateEmail},
		{"ConcurrentCreateUser", testConcurrentCreateUser},
		{"ListUsers", testListUsers},
		{"UpdateUserNameMissing", testUpdateUserNameMissing},
		{"UpgradePasswordHash", testUpgradePasswordHash},
		{"ChangePassword", testChangePassword},
		{"ConcurrentChangePassword", testConcurrentChangePassword},
		{"SetUserDisabled", testSetUserDisabled},
		{"SetUserRoles", testSetUserRoles},
		{"DeleteUserCascades", testDeleteUserCascades},
		{"CreateSession", testCreateSession},
		{"SessionByTokenHash", testSessionByTokenHash},
		{"TouchSession", testTouchSession},
		{"ListSessions", testListSessions},
		{"RevokeSession", testRevokeSession},
		{"ConcurrentRevokeSession", testConcurrentRevokeSession},
		{"RotateSession", testRotateSession},
		{"ConcurrentRotateSession", testConcurrentRotateSession},
		{"RevokeSessions", testRevokeSessions},
		{"DeleteExpiredSessions", testDeleteExpiredSessions},
		{"TimesRoundTrip", testTimesRoundTrip},
		{"Metacharacters", testMetacharacters},
		{"PluginMigrations", testPluginMigrations},
		{"IssueEmailToken", testIssueEmailToken},
		{"EmailTokenExpiry", testEmailTokenExpiry},
		{"ConsumeVerification", testConsumeVerification},
		{"ConcurrentConsumeVerification", testConcurrentConsumeVerification},
		{"ResetPassword", testResetPassword},
		{"ConcurrentResetPassword", testConcurrentResetPassword},
		{"ConfirmEmailChange", testConfirmEmailChange},
		{"ConfirmEmailChangeConflict", testConfirmEmailChangeConflict},
		{"ConcurrentConfirmEmailChange", testConcurrentConfirmEmailChange},
		{"EmailTokenBinding", testEmailTokenBinding},
		{"ChangePasswordDeletesResetTokens", testChangePasswordDeletesResetTokens},
		{"DeleteExpiredEmailTokens", testDeleteExpiredEmailTokens},
		{"DeleteUserCascadesTokensAndDevices", testDeleteUserCascadesTokensAndDevices},
		{"RememberDevice", testRememberDevice},
		{"ConcurrentRememberDevice", testConcurrentRememberDevice},
		{"ForgetDevicesBefore", testForgetDevicesBefore},
		{"ClaimMail", testClaimMail},
		{"MailPayloadBytes", testMailPayloadBytes},
		{"EnqueueMailLimit", testEnqueueMailLimit},
		{"ConcurrentEnqueueMailLimit", testConcurrentEnqueueMailLimit},
		{"ClaimMailLease", testClaimMailLease},
		{"ConcurrentClaimMail", testConcurrentClaimMail},
		{"MailLeaseOwner", testMailLeaseOwner},
		{"RetryMail", testRetryMail},
		{"MailReport", testMailReport},
		{"DeleteMailBefore", testDeleteMailBefore},
		{"SignUpAndEnqueue", testSignUpAndEnqueue},
		{"ConcurrentReserveAttempt", testConcurrentReserveAttempt},
		{"ReserveAttemptBackoff", testReserveAttemptBackoff},
		{"ReserveAttemptDailyBudget", testReserveAttemptDailyBudget},
		{"ReserveAttemptInvalid", testReserveAttemptInvalid},
		{"ClearAttempts", testClearAttempts},
		{"DeleteAttemptsBefore", testDeleteAttemptsBefore},
		{"ThrottleMetacharacters", testThrottleMetacharacters},
		{"AppendAudit", testAppendAudit},
		{"ListAuditFilters", testListAuditFilters},
		{"ListAuditPagination", testListAuditPagination},
		{"ListAuditTies", testListAuditTies},
		{"ListAuditCursorAndLimit", testListAuditCursorAndLimit},
		{"AuditMetacharacters", testAuditMetacharacters},
		{"DeleteAuditBefore", testDeleteAuditBefore},
		{"SigningKeys", testSigningKeys},
		{"ConcurrentAddSigningKey", testConcurrentAddSigningKey},
		{"BulkInsert", testBulkInsert},
		{"BulkInsertConflict", testBulkInsertConflict},
		{"BulkInsertMany", testBulkInsertMany},
		{"OAuthClients", testOAuthClients},
		{"OAuthConsents", testOAuthConsents},
		{"RevokeConsent", testRevokeConsent},
		{"AuthorizationCode", testAuthorizationCode},
		{"RedeemAuthorizationCodeRefused", testRedeemAuthorizationCodeRefused},
		{"RedeemAuthorizationCodeReuse", testRedeemAuthorizationCodeReuse},
		{"ConcurrentRedeemAuthorizationCode", testConcurrentRedeemAuthorizationCode},
		{"RotateRefreshToken", testRotateRefreshToken},
		{"ConcurrentRotateRefreshToken", testConcurrentRotateRefreshToken},
		{"OAuthSessionCascades", testOAuthSessionCascades},
		{"OAuthGrantsFollowSession", testOAuthGrantsFollowSession},
		{"DeleteUserCascadesOAuth", testDeleteUserCascadesOAuth},
		{"DeleteOAuthClientCascades", testDeleteOAuthClientCascades},
		{"UseClientAssertion", testUseClientAssertion},
		{"DeleteExpiredOAuth", testDeleteExpiredOAuth},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, open(t))
		})
	}
}

// t0 is the suite's "now": a time with sub-millisecond digits, so that
// truncation is exercised everywhere.
var t0 = time.Date(2026, 11, 27, 13, 5, 0, 123_456_789, time.UTC)

// ms is how a stored time comes back: truncated to the millisecond, UTC.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

func newUser(n int) gatehouse.User {
	return gatehouse.User{
		ID:              fmt.Sprintf("usr_%03d", n),
		Email:           fmt.Sprintf("User%d@Example.com", n),
		EmailNormalized: fmt.Sprintf("user%d@example.com", n),
		EmailVerified:   n%2 == 0,
		Name:            fmt.Sprintf("User %d", n),
		Roles:           []string{"editor"},
		CreatedAt:       t0,
		UpdatedAt:       t0,
	}
}

func newSession(id, userID string, created time.Time) gatehouse.Session {
	return gatehouse.Session{
		ID:                id,
		UserID:            userID,
		TokenHash:         "hash_" + id,
		CreatedAt:         created,
		LastSeenAt:        created,
		AbsoluteExpiresAt: created.Add(720 * time.Hour),
		AuthenticatedAt:   created,
		AMR:               []string{gatehouse.AMRPassword},
		AAL:               1,
		IP:                "203.0.113.7",
		UserAgent:         "Mozilla/5.0 (storetest)",
	}
}

// stored is u as the store returns it.
func stored(u gatehouse.User) gatehouse.User {
	u.CreatedAt, u.UpdatedAt = ms(u.CreatedAt), ms(u.UpdatedAt)
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return u
}

func storedSession(s gatehouse.Session) gatehouse.Session {
	s.CreatedAt, s.LastSeenAt = ms(s.CreatedAt), ms(s.LastSeenAt)
	s.AbsoluteExpiresAt, s.AuthenticatedAt = ms(s.AbsoluteExpiresAt), ms(s.AuthenticatedAt)
	if s.AMR == nil {
		s.AMR = []string{}
	}
	return s
}

func mustCreateUser(t *testing.T, s Store, u gatehouse.User, hash string) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u, hash); err != nil {
		t.Fatalf("CreateUser(%s): %v", u.ID, err)
	}
}

func mustCreateSession(t *testing.T, s Store, ses gatehouse.Session) {
	t.Helper()
	if err := s.CreateSession(t.Context(), ses, ""); err != nil {
		t.Fatalf("CreateSession(%s): %v", ses.ID, err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func mustUser(t *testing.T, s Store, id string) gatehouse.User {
	t.Helper()
	u, err := s.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID(%s): %v", id, err)
	}
	return u
}

func hashOf(t *testing.T, s Store, email string) string {
	t.Helper()
	_, h, err := s.UserCredentials(t.Context(), email)
	if err != nil {
		t.Fatalf("UserCredentials(%s): %v", email, err)
	}
	return h
}

func sessionIDs(t *testing.T, s Store, userID string) []string {
	t.Helper()
	list, err := s.ListSessions(t.Context(), userID)
	if err != nil {
		t.Fatalf("ListSessions(%s): %v", userID, err)
	}
	ids := []string{}
	for _, ses := range list {
		ids = append(ids, ses.ID)
	}
	return ids
}

func sessionExists(t *testing.T, s Store, ses gatehouse.Session) bool {
	t.Helper()
	_, _, err := s.SessionByTokenHash(t.Context(), ses.TokenHash)
	if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("SessionByTokenHash: %v", err)
	}
	return err == nil
}

// race runs n copies of fn at once (released together) and returns their
// errors in order.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// exactlyOne checks that one error is nil and all others match loser; it
// returns the index of the winner.
func exactlyOne(t *testing.T, what string, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("%s: attempts %d and %d both succeeded", what, winner, i)
			}
			winner = i
		case !errors.Is(err, loser):
			t.Errorf("%s: attempt %d: got %v, want %v", what, i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no attempt succeeded", what)
	}
	return winner
}

func testPing(t *testing.T, s Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testUserCRUD(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser(1)
	u.Roles = []string{"admin", "editor"}
	mustCreateUser(t, s, u, "hash1")
	if got := mustUser(t, s, u.ID); !reflect.DeepEqual(got, stored(u)) {
		t.Fatalf("UserByID = %+v, want %+v", got, stored(u))
	}
	_, err := s.UserByID(ctx, "usr_missing")
	wantErr(t, "UserByID(missing)", err, gatehouse.ErrNotFound)

	later := t0.Add(time.Hour)
	got, err := s.UpdateUserName(ctx, u.ID, "Ada Lovelace", later)
	if err != nil {
		t.Fatalf("UpdateUserName: %v", err)
	}
	want := stored(u)
	want.Name, want.UpdatedAt = "Ada Lovelace", ms(later)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("UpdateUserName = %+v, want %+v", got, want)
	}
	if got := mustUser(t, s, u.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("after UpdateUserName, UserByID = %+v, want %+v", got, want)
	}

	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err = s.UserByID(ctx, u.ID)
	wantErr(t, "UserByID after delete", err, gatehouse.ErrNotFound)
	wantErr(t, "DeleteUser twice", s.DeleteUser(ctx, u.ID), gatehouse.ErrNotFound)
	// The email is free again.
	mustCreateUser(t, s, u, "hash2")
}

func testUserCredentials(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser(1)
	mustCreateUser(t, s, u, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
	nopw := newUser(2)
	mustCreateUser(t, s, nopw, "")

	got, hash, err := s.UserCredentials(ctx, u.EmailNormalized)
	if err != nil {
		t.Fatalf("UserCredentials: %v", err)
	}
	if !reflect.DeepEqual(got, stored(u)) || hash != "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA" {
		t.Fatalf("UserCredentials = %+v, %q", got, hash)
	}
	if _, hash, err := s.UserCredentials(ctx, nopw.EmailNormalized); err != nil || hash != "" {
		t.Fatalf("UserCredentials(passwordless) = %q, %v; want \"\", nil", hash, err)
	}
	_, _, err = s.UserCredentials(ctx, "nobody@example.com")
	wantErr(t, "UserCredentials(missing)", err, gatehouse.ErrNotFound)
	// Matching is exact: the display form is not the key.
	_, _, err = s.UserCredentials(ctx, u.Email)
	wantErr(t, "UserCredentials(display form)", err, gatehouse.ErrNotFound)
}

func testDuplicateEmail(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser(1)
	mustCreateUser(t, s, u, "h")

	dup := newUser(2)
	dup.EmailNormalized = u.EmailNormalized
	wantErr(t, "CreateUser(same email)", s.CreateUser(ctx, dup, "h2"), gatehouse.ErrConflict)
	_, err := s.UserByID(ctx, dup.ID)
	wantErr(t, "UserByID(refused user)", err, gatehouse.ErrNotFound)

	sameID := newUser(3)
	sameID.ID = u.ID
	wantErr(t, "CreateUser(same id)", s.CreateUser(ctx, sameID, "h3"), gatehouse.ErrConflict)

	if got := mustUser(t, s, u.ID); !reflect.DeepEqual(got, stored(u)) {
		t.Fatalf("original changed: %+v", got)
	}
	if h := hashOf(t, s, u.EmailNormalized); h != "h" {
		t.Fatalf("original hash changed: %q", h)
	}
}

func testConcurrentCreateUser(t *testing.T, s Store) {
	const n = 50
	errs := race(n, func(i int) error {
		u := newUser(i)
		u.EmailNormalized = "same@example.com"
		return s.CreateUser(t.Context(), u, fmt.Sprint("hash", i))
	})
	w := exactlyOne(t, "CreateUser", errs, gatehouse.ErrConflict)
	u, hash, err := s.UserCredentials(t.Context(), "same@example.com")
	if err != nil {
		t.Fatalf("UserCredentials: %v", err)
	}
	if u.ID != newUser(w).ID || hash != fmt.Sprint("hash", w) {
		t.Fatalf("stored user %s/%s, want the winner %s", u.ID, hash, newUser(w).ID)
	}
	users, err := s.ListUsers(t.Context(), "", 100)
	if err != nil || len(users) != 1 {
		t.Fatalf("ListUsers = %d users, %v; want 1", len(users), err)
	}
}

func testListUsers(t *testing.T, s Store) {
	ctx := t.Context()
	// IDs whose byte order differs from most locales' collation order.
	ids := []string{"usr_b", "usr_B", "usr_a", "usr_-x", "usr__x", "usr_Z", "usr_0", "usr_é"}
	for i, id := range ids {
		u := newUser(i)
		u.ID = id
		mustCreateUser(t, s, u, "")
	}
	want := slices.Clone(ids)
	slices.Sort(want) // byte-wise

	var got []string
	after := ""
	for page := 0; ; page++ {
		if page > len(ids) {
			t.Fatal("ListUsers does not terminate")
		}
		users, err := s.ListUsers(ctx, after, 3)
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		if users == nil {
			t.Fatal("ListUsers returned a nil slice")
		}
		if len(users) > 3 {
			t.Fatalf("ListUsers returned %d users, limit 3", len(users))
		}
		if len(users) == 0 {
			break
		}
		for _, u := range users {
			got = append(got, u.ID)
		}
		after = users[len(users)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages = %q, want %q", got, want)
	}
	if users, err := s.ListUsers(ctx, "", 0); err != nil || users == nil || len(users) != 0 {
		t.Fatalf("ListUsers(limit 0) = %v, %v; want empty non-nil", users, err)
	}
}

func testUpdateUserNameMissing(t *testing.T, s Store) {
	_, err := s.UpdateUserName(t.Context(), "usr_missing", "x", t0)
	wantErr(t, "UpdateUserName(missing)", err, gatehouse.ErrNotFound)
}

func testUpgradePasswordHash(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser(1)
	mustCreateUser(t, s, u, "old")
	ok, err := s.UpgradePasswordHash(ctx, u.ID, "stale", "new")
	if err != nil || ok {
		t.Fatalf("UpgradePasswordHash(stale) = %v, %v; want false, nil", ok, err)
	}
	if h := hashOf(t, s, u.EmailNormalized); h != "old" {
		t.Fatalf("hash after stale CAS = %q, want old", h)
	}
	ok, err = s.UpgradePasswordHash(ctx, u.ID, "old", "new")
	if err != nil || !ok {
		t.Fatalf("UpgradePasswordHash = %v, %v; want true, nil", ok, err)
	}
	if h := hashOf(t, s, u.EmailNormalized); h != "new" {
		t.Fatalf("hash = %q, want new", h)
	}
	ok, err = s.UpgradePasswordHash(ctx, u.ID, "old", "newer")
	if err != nil || ok {
		t.Fatalf("UpgradePasswordHash(old again) = %v, %v; want false, nil", ok, err)
	}
	ok, err = s.UpgradePasswordHash(ctx, "usr_missing", "", "x")
	if err != nil || ok {
		t.Fatalf("UpgradePasswordHash(missing user) = %v, %v; want false, nil", ok, err)
	}
}

func testChangePassword(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "old")
	mustCreateUser(t, s, other, "other")
	cur := newSession("ses_cur", u.ID, t0)
	b := newSession("ses_b", u.ID, t0.Add(time.Second))
	c := newSession("ses_c", u.ID, t0.Add(2*time.Second))
	o := newSession("ses_o", other.ID, t0)
	for _, ses := range []gatehouse.Session{cur, b, c, o} {
		mustCreateSession(t, s, ses)
	}

	next := newSession("ses_next", u.ID, t0.Add(time.Minute))
	now := t0.Add(time.Minute)
	if err := s.ChangePassword(ctx, u.ID, "new", cur.ID, next, now); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if h := hashOf(t, s, u.EmailNormalized); h != "new" {
		t.Fatalf("hash = %q, want new", h)
	}
	if got := mustUser(t, s, u.ID); !got.UpdatedAt.Equal(ms(now)) {
		t.Fatalf("UpdatedAt = %v, want %v", got.UpdatedAt, ms(now))
	}
	if ids := sessionIDs(t, s, u.ID); !slices.Equal(ids, []string{next.ID}) {
		t.Fatalf("sessions after ChangePassword = %q, want only %s", ids, next.ID)
	}
	for _, gone := range []gatehouse.Session{cur, b, c} {
		if sessionExists(t, s, gone) {
			t.Fatalf("session %s (token hash) still resolves", gone.ID)
		}
	}
	if !sessionExists(t, s, o) {
		t.Fatal("another user's session was deleted")
	}

	// The current session is gone now: nothing changes.
	again := newSession("ses_again", u.ID, t0.Add(2*time.Minute))
	err := s.ChangePassword(ctx, u.ID, "newer", cur.ID, again, now)
	wantErr(t, "ChangePassword(revoked current)", err, gatehouse.ErrNotFound)
	// Someone else's session is not the user's current session.
	err = s.ChangePassword(ctx, u.ID, "newer", o.ID, again, now)
	wantErr(t, "ChangePassword(other user's session)", err, gatehouse.ErrNotFound)
	if h := hashOf(t, s, u.EmailNormalized); h != "new" {
		t.Fatalf("hash after refused change = %q, want new", h)
	}
	if ids := sessionIDs(t, s, u.ID); !slices.Equal(ids, []string{next.ID}) {
		t.Fatalf("sessions after refused change = %q", ids)
	}
	if !sessionExists(t, s, o) {
		t.Fatal("another user's session was deleted")
	}
	// next must belong to the user.
	if err := s.ChangePassword(ctx, u.ID, "newer", next.ID, newSession("ses_x", other.ID, t0), now); err == nil {
		t.Fatal("ChangePassword with another user's next session succeeded")
	}
	if h := hashOf(t, s, u.EmailNormalized); h != "new" {
		t.Fatalf("hash after refused change = %q, want new", h)
	}
}

func testConcurrentChangePassword(t *testing.T, s Store) {
	u := newUser(1)
	mustCreateUser(t, s, u, "old")
	cur := newSession("ses_cur", u.ID, t0)
	mustCreateSession(t, s, cur)
	mustCreateSession(t, s, newSession("ses_other", u.ID, t0))

	const n = 20
	next := func(i int) gatehouse.Session {
		return newSession(fmt.Sprintf("ses_next%02d", i), u.ID, t0.Add(time.Minute))
	}
	errs := race(n, func(i int) error {
		return s.ChangePassword(t.Context(), u.ID, fmt.Sprint("new", i), cur.ID, next(i), t0.Add(time.Minute))
	})
	w := exactlyOne(t, "ChangePassword", errs, gatehouse.ErrNotFound)
	if ids := sessionIDs(t, s, u.ID); !slices.Equal(ids, []string{next(w).ID}) {
		t.Fatalf("sessions = %q, want only the winner's %s", ids, next(w).ID)
	}
	if h := hashOf(t, s, u.EmailNormalized); h != fmt.Sprint("new", w) {
		t.Fatalf("hash = %q, want the winner's new%d", h, w)
	}
}

func testSetUserDisabled(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, other, "h")
	mustCreateSession(t, s, newSession("ses_1", u.ID, t0))
	mustCreateSession(t, s, newSession("ses_2", u.ID, t0))
	mustCreateSession(t, s, newSession("ses_o", other.ID, t0))

	later := t0.Add(time.Hour)
	if err := s.SetUserDisabled(ctx, u.ID, true, later); err != nil {
		t.Fatalf("SetUserDisabled(true): %v", err)
	}
	got := mustUser(t, s, u.ID)
	if !got.Disabled || !got.UpdatedAt.Equal(ms(later)) {
		t.Fatalf("after disable: Disabled=%v UpdatedAt=%v", got.Disabled, got.UpdatedAt)
	}
	if ids := sessionIDs(t, s, u.ID); len(ids) != 0 {
		t.Fatalf("sessions of a disabled user: %q", ids)
	}
	if ids := sessionIDs(t, s, other.ID); len(ids) != 1 {
		t.Fatalf("another user's sessions: %q", ids)
	}
	if err := s.SetUserDisabled(ctx, u.ID, false, later); err != nil {
		t.Fatalf("SetUserDisabled(false): %v", err)
	}
	if mustUser(t, s, u.ID).Disabled {
		t.Fatal("still disabled after SetUserDisabled(false)")
	}
	mustCreateSession(t, s, newSession("ses_3", u.ID, t0))
	if err := s.SetUserDisabled(ctx, u.ID, false, later); err != nil {
		t.Fatalf("SetUserDisabled(false) again: %v", err)
	}
	if ids := sessionIDs(t, s, u.ID); len(ids) != 1 {
		t.Fatalf("enabling deleted sessions: %q", ids)
	}
	wantErr(t, "SetUserDisabled(missing)", s.SetUserDisabled(ctx, "usr_missing", true, later), gatehouse.ErrNotFound)
}

func testSetUserRoles(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser(1)
	mustCreateUser(t, s, u, "h")
	for _, roles := range [][]string{{"admin", "editor"}, {"viewer"}, {}, nil, {"a,b", `q"uote`, "ünï"}} {
		later := t0.Add(time.Hour)
		if err := s.SetUserRoles(ctx, u.ID, roles, later); err != nil {
			t.Fatalf("SetUserRoles(%q): %v", roles, err)
		}
		got := mustUser(t, s, u.ID)
		want := roles
		if want == nil {
			want = []string{}
		}
		if got.Roles == nil || !slices.Equal(got.Roles, want) {
			t.Fatalf("Roles = %#v, want %#v", got.Roles, want)
		}
		if !got.UpdatedAt.Equal(ms(later)) {
			t.Fatalf("UpdatedAt = %v", got.UpdatedAt)
		}
	}
	wantErr(t, "SetUserRoles(missing)", s.SetUserRoles(ctx, "usr_missing", []string{"x"}, t0), gatehouse.ErrNotFound)
}

func testDeleteUserCascades(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, other, "h")
	a, o := newSession("ses_a", u.ID, t0), newSession("ses_o", other.ID, t0)
	mustCreateSession(t, s, a)
	mustCreateSession(t, s, newSession("ses_b", u.ID, t0))
	mustCreateSession(t, s, o)
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if sessionExists(t, s, a) {
		t.Fatal("session of a deleted user still resolves")
	}
	if ids := sessionIDs(t, s, u.ID); len(ids) != 0 {
		t.Fatalf("sessions of a deleted user: %q", ids)
	}
	if !sessionExists(t, s, o) {
		t.Fatal("another user's session was deleted")
	}
	wantErr(t, "DeleteUser(missing)", s.DeleteUser(ctx, u.ID), gatehouse.ErrNotFound)
}

func testCreateSession(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, other, "h")

	first := newSession("ses_1", u.ID, t0)
	if err := s.CreateSession(ctx, first, "ses_nonexistent"); err != nil {
		t.Fatalf("CreateSession(replaces nonexistent): %v", err)
	}
	// The browser presenting another user's session is leaving it.
	planted := newSession("ses_planted", other.ID, t0)
	mustCreateSession(t, s, planted)
	second := newSession("ses_2", u.ID, t0.Add(time.Second))
	if err := s.CreateSession(ctx, second, planted.ID); err != nil {
		t.Fatalf("CreateSession(replaces): %v", err)
	}
	if sessionExists(t, s, planted) {
		t.Fatal("replaced session still exists")
	}
	if ids := sessionIDs(t, s, u.ID); !slices.Equal(ids, []string{second.ID, first.ID}) {
		t.Fatalf("sessions = %q", ids)
	}

	orphan := newSession("ses_orphan", "usr_missing", t0)
	wantErr(t, "CreateSession(missing user)", s.CreateSession(ctx, orphan, ""), gatehouse.ErrNotFound)
	// A failed insert does not delete the replaced session.
	wantErr(t, "CreateSession(missing user, replaces)", s.CreateSession(ctx, orphan, first.ID), gatehouse.ErrNotFound)
	if !sessionExists(t, s, first) {
		t.Fatal("a failed CreateSession deleted the session it replaces")
	}

	dupHash := newSession("ses_3", u.ID, t0)
	dupHash.TokenHash = first.TokenHash
	wantErr(t, "CreateSession(same token hash)", s.CreateSession(ctx, dupHash, ""), gatehouse.ErrConflict)
	dupID := newSession(first.ID, u.ID, t0)
	dupID.TokenHash = "hash_fresh"
	wantErr(t, "CreateSession(same id)", s.CreateSession(ctx, dupID, ""), gatehouse.ErrConflict)
}

func testSessionByTokenHash(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser(1)
	u.Roles = []string{"admin", "support"}
	u.Disabled = true // disabled accounts may exist with sessions created before
	mustCreateUser(t, s, u, "h")
	ses := newSession("ses_1", u.ID, t0)
	ses.AMR = []string{"pwd", "otp"}
	ses.AAL = 2
	mustCreateSession(t, s, ses)

	gotS, gotU, err := s.SessionByTokenHash(ctx, ses.TokenHash)
	if err != nil {
		t.Fatalf("SessionByTokenHash: %v", err)
	}
	if !reflect.DeepEqual(gotS, storedSession(ses)) {
		t.Fatalf("session = %+v, want %+v", gotS, storedSession(ses))
	}
	if !reflect.DeepEqual(gotU, stored(u)) {
		t.Fatalf("user = %+v, want %+v", gotU, stored(u))
	}
	_, _, err = s.SessionByTokenHash(ctx, "hash_missing")
	wantErr(t, "SessionByTokenHash(missing)", err, gatehouse.ErrNotFound)

	byS, byU, err := s.SessionByID(ctx, ses.ID)
	if err != nil || !reflect.DeepEqual(byS, gotS) || !reflect.DeepEqual(byU, gotU) {
		t.Fatalf("SessionByID = %+v, %+v, %v; want what SessionByTokenHash returned", byS, byU, err)
	}
	_, _, err = s.SessionByID(ctx, "ses_missing")
	wantErr(t, "SessionByID(missing)", err, gatehouse.ErrNotFound)
	_, _, err = s.SessionByID(ctx, ses.TokenHash)
	wantErr(t, "SessionByID(a token hash)", err, gatehouse.ErrNotFound)

	// Expiry is the caller's business.
	old := newSession("ses_old", u.ID, t0.Add(-1000*time.Hour))
	mustCreateSession(t, s, old)
	if _, _, err := s.SessionByTokenHash(ctx, old.TokenHash); err != nil {
		t.Fatalf("SessionByTokenHash(expired): %v", err)
	}
	// No empty AMR comes back nil.
	bare := newSession("ses_bare", u.ID, t0)
	bare.AMR = nil
	mustCreateSession(t, s, bare)
	if got, _, err := s.SessionByTokenHash(ctx, bare.TokenHash); err != nil || got.AMR == nil {
		t.Fatalf("SessionByTokenHash(no amr) = %#v, %v", got.AMR, err)
	}
}

func testTouchSession(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser(1)
	mustCreateUser(t, s, u, "h")
	ses := newSession("ses_1", u.ID, t0)
	mustCreateSession(t, s, ses)
	seen := func() time.Time {
		got, _, err := s.SessionByTokenHash(ctx, ses.TokenHash)
		if err != nil {
			t.Fatalf("SessionByTokenHash: %v", err)
		}
		return got.LastSeenAt
	}
	later := t0.Add(90 * time.Second)
	if err := s.TouchSession(ctx, ses.ID, later); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	if got := seen(); !got.Equal(ms(later)) {
		t.Fatalf("LastSeenAt = %v, want %v", got, ms(later))
	}
	if err := s.TouchSession(ctx, ses.ID, t0.Add(time.Second)); err != nil {
		t.Fatalf("TouchSession(earlier): %v", err)
	}
	if got := seen(); !got.Equal(ms(later)) {
		t.Fatalf("LastSeenAt moved backwards to %v", got)
	}
	if err := s.TouchSession(ctx, "ses_missing", later); err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("TouchSession(missing): %v", err)
	}
}

func testListSessions(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, other, "h")
	list, err := s.ListSessions(ctx, u.ID)
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("ListSessions(none) = %v, %v; want empty non-nil", list, err)
	}
	mid := newSession("ses_mid", u.ID, t0.Add(time.Hour))
	oldest := newSession("ses_oldest", u.ID, t0)
	newest := newSession("ses_newest", u.ID, t0.Add(2*time.Hour))
	for _, ses := range []gatehouse.Session{mid, oldest, newest, newSession("ses_o", other.ID, t0.Add(3*time.Hour))} {
		mustCreateSession(t, s, ses)
	}
	list, err = s.ListSessions(ctx, u.ID)
	if err != nil {
		t.Fatalf("ListSessions: %v", err)
	}
	want := []gatehouse.Session{storedSession(newest), storedSession(mid), storedSession(oldest)}
	if !reflect.DeepEqual(list, want) {
		t.Fatalf("ListSessions = %+v, want %+v", list, want)
	}
}

func testRevokeSession(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, other, "h")
	mine, theirs := newSession("ses_mine", u.ID, t0), newSession("ses_theirs", other.ID, t0)
	mustCreateSession(t, s, mine)
	mustCreateSession(t, s, theirs)

	wantErr(t, "RevokeSession(another user's)", s.RevokeSession(ctx, u.ID, theirs.ID), gatehouse.ErrNotFound)
	if !sessionExists(t, s, theirs) {
		t.Fatal("RevokeSession deleted another user's session")
	}
	if err := s.RevokeSession(ctx, u.ID, mine.ID); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	if sessionExists(t, s, mine) {
		t.Fatal("revoked session still resolves")
	}
	wantErr(t, "RevokeSession twice", s.RevokeSession(ctx, u.ID, mine.ID), gatehouse.ErrNotFound)
}

func testConcurrentRevokeSession(t *testing.T, s Store) {
	u := newUser(1)
	mustCreateUser(t, s, u, "h")
	ses := newSession("ses_1", u.ID, t0)
	mustCreateSession(t, s, ses)
	errs := race(50, func(int) error { return s.RevokeSession(t.Context(), u.ID, ses.ID) })
	exactlyOne(t, "RevokeSession", errs, gatehouse.ErrNotFound)
	if sessionExists(t, s, ses) {
		t.Fatal("revoked session still resolves")
	}
}

func testRotateSession(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, other, "h")
	old := newSession("ses_old", u.ID, t0)
	theirs := newSession("ses_theirs", other.ID, t0)
	mustCreateSession(t, s, old)
	mustCreateSession(t, s, theirs)

	next := newSession("ses_next", u.ID, t0.Add(time.Minute))
	if err := s.RotateSession(ctx, old.ID, next); err != nil {
		t.Fatalf("RotateSession: %v", err)
	}
	if sessionExists(t, s, old) || !sessionExists(t, s, next) {
		t.Fatal("RotateSession did not replace the session")
	}
	again := newSession("ses_again", u.ID, t0.Add(time.Minute))
	wantErr(t, "RotateSession(already rotated)", s.RotateSession(ctx, old.ID, again), gatehouse.ErrNotFound)
	if sessionExists(t, s, again) {
		t.Fatal("a refused rotation inserted its session")
	}
	// next must belong to the old session's user.
	wantErr(t, "RotateSession(another user's)", s.RotateSession(ctx, theirs.ID, again), gatehouse.ErrNotFound)
	if !sessionExists(t, s, theirs) || sessionExists(t, s, again) {
		t.Fatal("a refused rotation changed something")
	}
}

func testConcurrentRotateSession(t *testing.T, s Store) {
	u := newUser(1)
	mustCreateUser(t, s, u, "h")
	old := newSession("ses_old", u.ID, t0)
	mustCreateSession(t, s, old)
	next := func(i int) gatehouse.Session {
		return newSession(fmt.Sprintf("ses_next%02d", i), u.ID, t0.Add(time.Minute))
	}
	errs := race(20, func(i int) error { return s.RotateSession(t.Context(), old.ID, next(i)) })
	w := exactlyOne(t, "RotateSession", errs, gatehouse.ErrNotFound)
	if ids := sessionIDs(t, s, u.ID); !slices.Equal(ids, []string{next(w).ID}) {
		t.Fatalf("sessions = %q, want only the winner's %s", ids, next(w).ID)
	}
}

func testRevokeSessions(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, other, "h")
	for i := range 4 {
		mustCreateSession(t, s, newSession(fmt.Sprint("ses_", i), u.ID, t0))
	}
	mustCreateSession(t, s, newSession("ses_o", other.ID, t0))

	n, err := s.RevokeSessions(ctx, u.ID, "ses_2")
	if err != nil || n != 3 {
		t.Fatalf("RevokeSessions(except) = %d, %v; want 3", n, err)
	}
	if ids := sessionIDs(t, s, u.ID); !slices.Equal(ids, []string{"ses_2"}) {
		t.Fatalf("sessions = %q, want ses_2", ids)
	}
	// The kept ID of another user protects nothing of theirs.
	n, err = s.RevokeSessions(ctx, u.ID, "ses_o")
	if err != nil || n != 1 {
		t.Fatalf("RevokeSessions(all) = %d, %v; want 1", n, err)
	}
	if n, err := s.RevokeSessions(ctx, u.ID, ""); err != nil || n != 0 {
		t.Fatalf("RevokeSessions(none left) = %d, %v", n, err)
	}
	if ids := sessionIDs(t, s, other.ID); len(ids) != 1 {
		t.Fatalf("another user's sessions = %q", ids)
	}
	mustCreateSession(t, s, newSession("ses_9", u.ID, t0))
	if n, err := s.RevokeSessions(ctx, u.ID, ""); err != nil || n != 1 {
		t.Fatalf(`RevokeSessions("") = %d, %v; want 1`, n, err)
	}
}

func testDeleteExpiredSessions(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser(1)
	mustCreateUser(t, s, u, "h")
	now := t0.Add(1000 * time.Hour)
	idleBefore := now.Add(-168 * time.Hour)

	live := newSession("ses_live", u.ID, now.Add(-time.Hour))
	absolute := newSession("ses_absolute", u.ID, now.Add(-time.Hour))
	absolute.AbsoluteExpiresAt = now.Add(-time.Millisecond)
	idle := newSession("ses_idle", u.ID, now.Add(-200*time.Hour))
	idle.LastSeenAt = idleBefore.Add(-time.Millisecond)
	edge := newSession("ses_edge", u.ID, now.Add(-200*time.Hour))
	edge.LastSeenAt = idleBefore // not before: kept
	edge.AbsoluteExpiresAt = now // not before: kept
	for _, ses := range []gatehouse.Session{live, absolute, idle, edge} {
		mustCreateSession(t, s, ses)
	}
	n, err := s.DeleteExpiredSessions(ctx, now, idleBefore)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 2", n, err)
	}
	ids := sessionIDs(t, s, u.ID)
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"ses_edge", "ses_live"}) {
		t.Fatalf("sessions left = %q", ids)
	}
	if n, err := s.DeleteExpiredSessions(ctx, now, idleBefore); err != nil || n != 0 {
		t.Fatalf("DeleteExpiredSessions again = %d, %v", n, err)
	}
}

func testTimesRoundTrip(t *testing.T, s Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	created := time.Date(2031, 2, 3, 4, 5, 6, 789_999_999, zone)
	u := newUser(1)
	u.CreatedAt, u.UpdatedAt = created, created.Add(-time.Nanosecond)
	mustCreateUser(t, s, u, "h")
	got := mustUser(t, s, u.ID)
	want := time.Date(2031, 2, 2, 22, 35, 6, 789_000_000, time.UTC)
	for _, tt := range []time.Time{got.CreatedAt, got.UpdatedAt} {
		if tt != want { // == also compares the location
			t.Fatalf("time = %v (%v), want %v in UTC", tt, tt.Location(), want)
		}
	}
	ses := newSession("ses_1", u.ID, created)
	ses.AbsoluteExpiresAt = created.Add(30 * 24 * time.Hour)
	mustCreateSession(t, s, ses)
	gotS, _, err := s.SessionByTokenHash(ctx, ses.TokenHash)
	if err != nil {
		t.Fatalf("SessionByTokenHash: %v", err)
	}
	for _, tt := range []time.Time{gotS.CreatedAt, gotS.LastSeenAt, gotS.AuthenticatedAt} {
		if tt != want {
			t.Fatalf("session time = %v, want %v", tt, want)
		}
	}
	if gotS.AbsoluteExpiresAt != want.Add(30*24*time.Hour) {
		t.Fatalf("AbsoluteExpiresAt = %v", gotS.AbsoluteExpiresAt)
	}
	// Touching within the same millisecond does not count as moving.
	if err := s.TouchSession(ctx, ses.ID, created.Add(-100*time.Microsecond)); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	if gotS, _, _ := s.SessionByTokenHash(ctx, ses.TokenHash); gotS.LastSeenAt != want {
		t.Fatalf("LastSeenAt = %v, want %v", gotS.LastSeenAt, want)
	}
}

func testMetacharacters(t *testing.T, s Store) {
	ctx := t.Context()
	nasty := []string{
		`'; DROP TABLE users; --`,
		`Robert'); DELETE FROM sessions; --`,
		`100% _real_ \ backslash "quoted" $1 ?1 ? :name @p`,
		"Zoë 山田 🎉 \u202ertl",
		"/* not a comment */ -- nor this",
	}
	for i, text := range nasty {
		u := newUser(i)
		u.Name = text
		u.Email = fmt.Sprintf("x%d+%s@example.com", i, "%_'")
		u.EmailNormalized = fmt.Sprintf("x%d+%%_'\"ü@example.com", i)
		u.Roles = []string{text}
		mustCreateUser(t, s, u, text)
		got, hash, err := s.UserCredentials(ctx, u.EmailNormalized)
		if err != nil {
			t.Fatalf("UserCredentials(%q): %v", u.EmailNormalized, err)
		}
		if !reflect.DeepEqual(got, stored(u)) || hash != text {
			t.Fatalf("round trip of %q: %+v %q", text, got, hash)
		}
		ses := newSession(fmt.Sprint("ses_", i), u.ID, t0)
		ses.UserAgent, ses.IP, ses.TokenHash = text, text, text
		mustCreateSession(t, s, ses)
		gotS, _, err := s.SessionByTokenHash(ctx, text)
		if err != nil || !reflect.DeepEqual(gotS, storedSession(ses)) {
			t.Fatalf("session round trip of %q: %+v, %v", text, gotS, err)
		}
		if _, err := s.UpdateUserName(ctx, u.ID, text+"!", t0); err != nil {
			t.Fatalf("UpdateUserName(%q): %v", text, err)
		}
	}
	// LIKE wildcards are not wildcards.
	plain := newUser(90)
	plain.EmailNormalized = "ab@x.com"
	mustCreateUser(t, s, plain, "h")
	for _, pattern := range []string{"a%@x.com", "a_@x.com", "%", "_b@x.com", "AB@x.com", "ab@x.com ", " ab@x.com"} {
		_, _, err := s.UserCredentials(ctx, pattern)
		wantErr(t, fmt.Sprintf("UserCredentials(%q)", pattern), err, gatehouse.ErrNotFound)
	}
	// Everything is still there.
	users, err := s.ListUsers(ctx, "", 100)
	if err != nil || len(users) != len(nasty)+1 {
		t.Fatalf("ListUsers = %d users, %v; want %d", len(users), err, len(nasty)+1)
	}
}

// testPlugin has one table that hangs off users.
var testPlugin = gatehouse.Plugin{
	Name: "storetest_things",
	Migrations: fstest.MapFS{
		"sqlite/00007_things.sql": {Data: []byte(`-- +goose Up
CREATE TABLE storetest_things (
    id      TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    note    TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE storetest_things;
`)},
		"postgres/00007_things.sql": {Data: []byte(`-- +goose Up
CREATE TABLE storetest_things (
    id      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    note    TEXT NOT NULL
);

-- +goose Down
DROP TABLE storetest_things;
`)},
	},
}

func testPluginMigrations(t *testing.T, s Store) {
	ctx := t.Context()
	noTables := gatehouse.Plugin{Name: "no_tables"}
	if err := s.Migrate(ctx, noTables, testPlugin); err != nil {
		t.Fatalf("Migrate(plugin): %v", err)
	}
	sb, ok := s.(sqlBackend)
	if !ok {
		t.Skip("the store has no DB method: plugin tables cannot be inspected")
	}
	db := sb.DB()
	u := newUser(1)
	mustCreateUser(t, s, u, "h")
	// Placeholders are numbered, not positional: $2 comes first here.
	if _, err := db.Exec(ctx, `INSERT INTO storetest_things (user_id, id, note) VALUES ($2, $1, $3)`,
		"thing_1", u.ID, "it's 100% $1"); err != nil {
		t.Fatalf("insert into plugin table: %v", err)
	}
	_, err := db.Exec(ctx, `INSERT INTO storetest_things (id, user_id, note) VALUES ($1, $2, $3)`, "thing_1", u.ID, "")
	if !db.Dialect().IsUniqueViolation(err) {
		t.Fatalf("duplicate insert: got %v, want a unique violation", err)
	}
	_, err = db.Exec(ctx, `INSERT INTO storetest_things (id, user_id, note) VALUES ($1, $2, $3)`, "thing_2", "usr_missing", "")
	if !db.Dialect().IsForeignKeyViolation(err) {
		t.Fatalf("orphan insert: got %v, want a foreign key violation", err)
	}

	// Idempotent, and data survives.
	for range 2 {
		if err := s.Migrate(ctx, testPlugin); err != nil {
			t.Fatalf("Migrate(plugin) again: %v", err)
		}
	}
	var note string
	if err := db.QueryRow(ctx, `SELECT note FROM storetest_things WHERE id = $1 AND user_id = $2`, "thing_1", u.ID).Scan(&note); err != nil {
		t.Fatalf("read plugin table: %v", err)
	}
	if note != "it's 100% $1" {
		t.Fatalf("note = %q", note)
	}

	// The plugin's history is its own table.
	count := func(query string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(ctx, query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	if n := count(`SELECT COUNT(*) FROM goose_db_version_storetest_things WHERE version_id = 7`); n != 1 {
		t.Fatalf("plugin history has %d rows for version 7, want 1", n)
	}
	if n := count(`SELECT COUNT(*) FROM goose_db_version WHERE version_id = 7`); n != 0 {
		t.Fatalf("core history has %d rows for the plugin's version 7", n)
	}
	if n := count(`SELECT COUNT(*) FROM goose_db_version WHERE version_id = 1`); n != 1 {
		t.Fatalf("core history has %d rows for version 1, want 1", n)
	}

	// Plugin rows hang off users: DeleteUser takes them along.
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if n := count(`SELECT COUNT(*) FROM storetest_things`); n != 0 {
		t.Fatalf("plugin rows of a deleted user: %d", n)
	}

	for _, bad := range []gatehouse.Plugin{
		{Name: "Bad-Name", Migrations: testPlugin.Migrations},
		{Name: "", Migrations: testPlugin.Migrations},
		{Name: "empty", Migrations: fstest.MapFS{"other/00001_x.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}},
	} {
		if err := s.Migrate(ctx, bad); err == nil {
			t.Fatalf("Migrate(plugin %q) succeeded", bad.Name)
		}
	}
	if err := s.Migrate(ctx, testPlugin, testPlugin); err == nil {
		t.Fatal("Migrate with one plugin twice succeeded")
	}
}
