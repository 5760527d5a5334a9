package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// newToken is a token of u for purpose, bound to u's address, live for an
// hour from created.
func newToken(id string, u gatehouse.User, purpose gatehouse.TokenPurpose, created time.Time) gatehouse.EmailToken {
	return gatehouse.EmailToken{
		ID:              id,
		UserID:          u.ID,
		Purpose:         purpose,
		TokenHash:       "th_" + id,
		Email:           u.Email,
		EmailNormalized: u.EmailNormalized,
		CreatedAt:       created,
		ExpiresAt:       created.Add(time.Hour),
	}
}

func storedToken(tk gatehouse.EmailToken) gatehouse.EmailToken {
	tk.CreatedAt, tk.ExpiresAt = ms(tk.CreatedAt), ms(tk.ExpiresAt)
	return tk
}

func mustIssue(t *testing.T, s Store, tk gatehouse.EmailToken) {
	t.Helper()
	if err := s.IssueEmailToken(t.Context(), tk); err != nil {
		t.Fatalf("IssueEmailToken(%s): %v", tk.ID, err)
	}
}

// tokenLive reports whether EmailTokenByHash finds tk at t0 (well within
// its life).
func tokenLive(t *testing.T, s Store, tk gatehouse.EmailToken) bool {
	t.Helper()
	_, _, err := s.EmailTokenByHash(t.Context(), tk.Purpose, tk.TokenHash, t0)
	if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("EmailTokenByHash(%s): %v", tk.ID, err)
	}
	return err == nil
}

func wantTokens(t *testing.T, s Store, live, gone []gatehouse.EmailToken) {
	t.Helper()
	for _, tk := range live {
		if !tokenLive(t, s, tk) {
			t.Fatalf("token %s is gone, want it kept", tk.ID)
		}
	}
	for _, tk := range gone {
		if tokenLive(t, s, tk) {
			t.Fatalf("token %s still resolves, want it gone", tk.ID)
		}
	}
}

// sqlCount runs a COUNT query on a SQL backend; ok is false for others.
func sqlCount(t *testing.T, s Store, query string, args ...any) (n int, ok bool) {
	t.Helper()
	sb, ok := s.(sqlBackend)
	if !ok {
		return 0, false
	}
	if err := sb.DB().QueryRow(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n, true
}

func testIssueEmailToken(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, other, "h")

	tv := newToken("tok_v1", u, gatehouse.PurposeVerifyEmail, t0)
	mustIssue(t, s, tv)
	gotT, gotU, err := s.EmailTokenByHash(ctx, gatehouse.PurposeVerifyEmail, tv.TokenHash, t0)
	if err != nil {
		t.Fatalf("EmailTokenByHash: %v", err)
	}
	if !reflect.DeepEqual(gotT, storedToken(tv)) {
		t.Fatalf("token = %+v, want %+v", gotT, storedToken(tv))
	}
	if !reflect.DeepEqual(gotU, stored(u)) {
		t.Fatalf("user = %+v, want %+v", gotU, stored(u))
	}
	_, _, err = s.EmailTokenByHash(ctx, gatehouse.PurposeResetPassword, tv.TokenHash, t0)
	wantErr(t, "EmailTokenByHash(other purpose)", err, gatehouse.ErrNotFound)
	_, _, err = s.EmailTokenByHash(ctx, gatehouse.PurposeVerifyEmail, "th_missing", t0)
	wantErr(t, "EmailTokenByHash(unknown)", err, gatehouse.ErrNotFound)
	// Looking does not consume.
	if !tokenLive(t, s, tv) {
		t.Fatal("EmailTokenByHash consumed the token")
	}

	tr := newToken("tok_r1", u, gatehouse.PurposeResetPassword, t0)
	to := newToken("tok_o1", other, gatehouse.PurposeVerifyEmail, t0)
	mustIssue(t, s, tr)
	mustIssue(t, s, to)
	wantTokens(t, s, []gatehouse.EmailToken{tv, tr, to}, nil)

	// A newer link of the same purpose invalidates the older one only.
	tv2 := newToken("tok_v2", u, gatehouse.PurposeVerifyEmail, t0.Add(time.Minute))
	mustIssue(t, s, tv2)
	wantTokens(t, s, []gatehouse.EmailToken{tv2, tr, to}, []gatehouse.EmailToken{tv})
	_, err = s.ConsumeVerification(ctx, tv.TokenHash, t0)
	wantErr(t, "ConsumeVerification(older link)", err, gatehouse.ErrNotFound)

	orphan := newToken("tok_orphan", newUser(99), gatehouse.PurposeVerifyEmail, t0)
	wantErr(t, "IssueEmailToken(missing user)", s.IssueEmailToken(ctx, orphan), gatehouse.ErrNotFound)

	dup := newToken("tok_dup", other, gatehouse.PurposeResetPassword, t0)
	dup.TokenHash = tv2.TokenHash
	wantErr(t, "IssueEmailToken(same hash)", s.IssueEmailToken(ctx, dup), gatehouse.ErrConflict)
	wantTokens(t, s, []gatehouse.EmailToken{tv2, tr, to}, nil)
}

func testEmailTokenExpiry(t *testing.T, s Store) {
	ctx := t.Context()
	u, taken := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "old")
	mustCreateUser(t, s, taken, "h")
	tv := newToken("tok_v", u, gatehouse.PurposeVerifyEmail, t0)
	tr := newToken("tok_r", u, gatehouse.PurposeResetPassword, t0)
	tc := newToken("tok_c", u, gatehouse.PurposeChangeEmail, t0)
	tc.Email, tc.EmailNormalized = "New@Example.com", "new@example.com"
	for _, tk := range []gatehouse.EmailToken{tv, tr, tc} {
		mustIssue(t, s, tk)
	}
	end := ms(tv.ExpiresAt) // live while now is before it
	last := end.Add(-time.Millisecond)
	for _, tk := range []gatehouse.EmailToken{tv, tr, tc} {
		if _, _, err := s.EmailTokenByHash(ctx, tk.Purpose, tk.TokenHash, last); err != nil {
			t.Fatalf("EmailTokenByHash(%s, last millisecond): %v", tk.ID, err)
		}
		for _, at := range []time.Time{end, end.Add(time.Hour)} {
			_, _, err := s.EmailTokenByHash(ctx, tk.Purpose, tk.TokenHash, at)
			wantErr(t, fmt.Sprintf("EmailTokenByHash(%s, at %v)", tk.ID, at), err, gatehouse.ErrNotFound)
		}
	}
	_, err := s.ConsumeVerification(ctx, tv.TokenHash, end)
	wantErr(t, "ConsumeVerification(expired)", err, gatehouse.ErrNotFound)
	_, err = s.ResetPassword(ctx, tr.TokenHash, "new", end)
	wantErr(t, "ResetPassword(expired)", err, gatehouse.ErrNotFound)
	_, _, err = s.ConfirmEmailChange(ctx, tc.TokenHash, end)
	wantErr(t, "ConfirmEmailChange(expired)", err, gatehouse.ErrNotFound)
	if got := mustUser(t, s, u.ID); !reflect.DeepEqual(got, stored(u)) {
		t.Fatalf("user changed by expired tokens: %+v", got)
	}
	if h := hashOf(t, s, u.EmailNormalized); h != "old" {
		t.Fatalf("hash = %q after an expired reset", h)
	}
	// Refused uses left the tokens alone.
	if _, err := s.ConsumeVerification(ctx, tv.TokenHash, last); err != nil {
		t.Fatalf("ConsumeVerification(last millisecond): %v", err)
	}
	if _, err := s.ResetPassword(ctx, tr.TokenHash, "new", last); err != nil {
		t.Fatalf("ResetPassword(last millisecond): %v", err)
	}
	if _, _, err := s.ConfirmEmailChange(ctx, tc.TokenHash, last); err != nil {
		t.Fatalf("ConfirmEmailChange(last millisecond): %v", err)
	}
}

func testConsumeVerification(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	if u.EmailVerified {
		t.Fatal("test user is verified already")
	}
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, other, "h")
	ses := newSession("ses_1", u.ID, t0)
	mustCreateSession(t, s, ses)
	tv := newToken("tok_v", u, gatehouse.PurposeVerifyEmail, t0)
	tr := newToken("tok_r", u, gatehouse.PurposeResetPassword, t0)
	tc := newToken("tok_c", u, gatehouse.PurposeChangeEmail, t0)
	tc.Email, tc.EmailNormalized = "New@Example.com", "new@example.com"
	to := newToken("tok_o", other, gatehouse.PurposeVerifyEmail, t0)
	for _, tk := range []gatehouse.EmailToken{tv, tr, tc, to} {
		mustIssue(t, s, tk)
	}

	// A token of another purpose is not a verification token.
	_, err := s.ConsumeVerification(ctx, tr.TokenHash, t0)
	wantErr(t, "ConsumeVerification(reset token)", err, gatehouse.ErrNotFound)
	_, err = s.ConsumeVerification(ctx, "th_missing", t0)
	wantErr(t, "ConsumeVerification(unknown)", err, gatehouse.ErrNotFound)
	wantTokens(t, s, []gatehouse.EmailToken{tv, tr, tc, to}, nil)

	now := t0.Add(time.Minute)
	got, err := s.ConsumeVerification(ctx, tv.TokenHash, now)
	if err != nil {
		t.Fatalf("ConsumeVerification: %v", err)
	}
	want := stored(u)
	want.EmailVerified, want.UpdatedAt = true, ms(now)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ConsumeVerification = %+v, want %+v", got, want)
	}
	if got := mustUser(t, s, u.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("UserByID = %+v, want %+v", got, want)
	}
	_, err = s.ConsumeVerification(ctx, tv.TokenHash, now)
	wantErr(t, "ConsumeVerification twice", err, gatehouse.ErrNotFound)
	wantTokens(t, s, []gatehouse.EmailToken{tr, tc, to}, []gatehouse.EmailToken{tv})
	if !sessionExists(t, s, ses) {
		t.Fatal("ConsumeVerification deleted a session")
	}
	if mustUser(t, s, other.ID).EmailVerified != other.EmailVerified {
		t.Fatal("another user's verification changed")
	}
}

func testConcurrentConsumeVerification(t *testing.T, s Store) {
	u := newUser(1)
	mustCreateUser(t, s, u, "h")
	tv := newToken("tok_v", u, gatehouse.PurposeVerifyEmail, t0)
	mustIssue(t, s, tv)
	errs := race(20, func(int) error {
		_, err := s.ConsumeVerification(t.Context(), tv.TokenHash, t0)
		return err
	})
	exactlyOne(t, "ConsumeVerification", errs, gatehouse.ErrNotFound)
	if !mustUser(t, s, u.ID).EmailVerified {
		t.Fatal("not verified")
	}
}

func testResetPassword(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "old")
	mustCreateUser(t, s, other, "other")
	a, b, o := newSession("ses_a", u.ID, t0), newSession("ses_b", u.ID, t0), newSession("ses_o", other.ID, t0)
	for _, ses := range []gatehouse.Session{a, b, o} {
		mustCreateSession(t, s, ses)
	}
	tr := newToken("tok_r", u, gatehouse.PurposeResetPassword, t0)
	tv := newToken("tok_v", u, gatehouse.PurposeVerifyEmail, t0)
	tc := newToken("tok_c", u, gatehouse.PurposeChangeEmail, t0)
	tc.Email, tc.EmailNormalized = "New@Example.com", "new@example.com"
	tro := newToken("tok_ro", other, gatehouse.PurposeResetPassword, t0)
	for _, tk := range []gatehouse.EmailToken{tr, tv, tc, tro} {
		mustIssue(t, s, tk)
	}

	_, err := s.ResetPassword(ctx, tv.TokenHash, "new", t0)
	wantErr(t, "ResetPassword(verification token)", err, gatehouse.ErrNotFound)
	if h := hashOf(t, s, u.EmailNormalized); h != "old" {
		t.Fatalf("hash = %q after a refused reset", h)
	}

	now := t0.Add(time.Minute)
	got, err := s.ResetPassword(ctx, tr.TokenHash, "new", now)
	if err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	want := stored(u)
	want.EmailVerified, want.UpdatedAt = true, ms(now)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ResetPassword = %+v, want %+v", got, want)
	}
	if got := mustUser(t, s, u.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("UserByID = %+v, want %+v", got, want)
	}
	if h := hashOf(t, s, u.EmailNormalized); h != "new" {
		t.Fatalf("hash = %q, want new", h)
	}
	if ids := sessionIDs(t, s, u.ID); len(ids) != 0 {
		t.Fatalf("sessions after reset: %q", ids)
	}
	if !sessionExists(t, s, o) {
		t.Fatal("another user's session was deleted")
	}
	wantTokens(t, s, []gatehouse.EmailToken{tc, tro}, []gatehouse.EmailToken{tr, tv})

	_, err = s.ResetPassword(ctx, tr.TokenHash, "newer", now)
	wantErr(t, "ResetPassword twice", err, gatehouse.ErrNotFound)
	if h := hashOf(t, s, u.EmailNormalized); h != "new" {
		t.Fatalf("hash = %q after a second use", h)
	}
}

func testConcurrentResetPassword(t *testing.T, s Store) {
	u := newUser(1)
	mustCreateUser(t, s, u, "old")
	mustCreateSession(t, s, newSession("ses_1", u.ID, t0))
	tr := newToken("tok_r", u, gatehouse.PurposeResetPassword, t0)
	mustIssue(t, s, tr)
	errs := race(20, func(i int) error {
		_, err := s.ResetPassword(t.Context(), tr.TokenHash, fmt.Sprint("new", i), t0)
		return err
	})
	w := exactlyOne(t, "ResetPassword", errs, gatehouse.ErrNotFound)
	if h := hashOf(t, s, u.EmailNormalized); h != fmt.Sprint("new", w) {
		t.Fatalf("hash = %q, want the winner's new%d", h, w)
	}
	if ids := sessionIDs(t, s, u.ID); len(ids) != 0 {
		t.Fatalf("sessions after reset: %q", ids)
	}
}

func testConfirmEmailChange(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, other, "h")
	tc := newToken("tok_c", u, gatehouse.PurposeChangeEmail, t0)
	tc.Email, tc.EmailNormalized = "New.Address@Example.com", "new.address@example.com"
	tv := newToken("tok_v", u, gatehouse.PurposeVerifyEmail, t0)
	tr := newToken("tok_r", u, gatehouse.PurposeResetPassword, t0)
	to := newToken("tok_o", other, gatehouse.PurposeChangeEmail, t0)
	to.Email, to.EmailNormalized = "Other.New@Example.com", "other.new@example.com"
	for _, tk := range []gatehouse.EmailToken{tc, tv, tr, to} {
		mustIssue(t, s, tk)
	}

	// The lookup shows the address the token sets.
	gotT, gotU, err := s.EmailTokenByHash(ctx, gatehouse.PurposeChangeEmail, tc.TokenHash, t0)
	if err != nil || !reflect.DeepEqual(gotT, storedToken(tc)) || gotU.ID != u.ID {
		t.Fatalf("EmailTokenByHash(change) = %+v, %s, %v", gotT, gotU.ID, err)
	}
	_, _, err = s.ConfirmEmailChange(ctx, tv.TokenHash, t0)
	wantErr(t, "ConfirmEmailChange(verification token)", err, gatehouse.ErrNotFound)

	now := t0.Add(time.Minute)
	before, after, err := s.ConfirmEmailChange(ctx, tc.TokenHash, now)
	if err != nil {
		t.Fatalf("ConfirmEmailChange: %v", err)
	}
	if !reflect.DeepEqual(before, stored(u)) {
		t.Fatalf("before = %+v, want %+v", before, stored(u))
	}
	want := stored(u)
	want.Email, want.EmailNormalized = tc.Email, tc.EmailNormalized
	want.EmailVerified, want.UpdatedAt = true, ms(now)
	if !reflect.DeepEqual(after, want) {
		t.Fatalf("after = %+v, want %+v", after, want)
	}
	if got, _, err := s.UserCredentials(ctx, tc.EmailNormalized); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("UserCredentials(new address) = %+v, %v", got, err)
	}
	_, _, err = s.UserCredentials(ctx, u.EmailNormalized)
	wantErr(t, "UserCredentials(old address)", err, gatehouse.ErrNotFound)
	wantTokens(t, s, []gatehouse.EmailToken{to}, []gatehouse.EmailToken{tc, tv, tr})
	if n, ok := sqlCount(t, s, `SELECT COUNT(*) FROM email_tokens WHERE user_id = $1`, u.ID); ok && n != 0 {
		t.Fatalf("%d email tokens of the user left after the change", n)
	}
	_, _, err = s.ConfirmEmailChange(ctx, tc.TokenHash, now)
	wantErr(t, "ConfirmEmailChange twice", err, gatehouse.ErrNotFound)
	// The old address is free for someone else.
	third := newUser(3)
	third.EmailNormalized = u.EmailNormalized
	mustCreateUser(t, s, third, "h")
}

func testConfirmEmailChangeConflict(t *testing.T, s Store) {
	ctx := t.Context()
	u, holder := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, holder, "h")
	tc := newToken("tok_c", u, gatehouse.PurposeChangeEmail, t0)
	tc.Email, tc.EmailNormalized = holder.Email, holder.EmailNormalized
	tv := newToken("tok_v", u, gatehouse.PurposeVerifyEmail, t0)
	mustIssue(t, s, tc)
	mustIssue(t, s, tv)

	_, _, err := s.ConfirmEmailChange(ctx, tc.TokenHash, t0.Add(time.Minute))
	wantErr(t, "ConfirmEmailChange(address taken)", err, gatehouse.ErrConflict)
	if got := mustUser(t, s, u.ID); !reflect.DeepEqual(got, stored(u)) {
		t.Fatalf("user changed by a refused change: %+v", got)
	}
	if got := mustUser(t, s, holder.ID); !reflect.DeepEqual(got, stored(holder)) {
		t.Fatalf("the holder changed: %+v", got)
	}
	wantTokens(t, s, []gatehouse.EmailToken{tc, tv}, nil)

	// Once the address is free, the kept token works.
	if err := s.DeleteUser(ctx, holder.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, after, err := s.ConfirmEmailChange(ctx, tc.TokenHash, t0.Add(time.Minute))
	if err != nil || after.EmailNormalized != holder.EmailNormalized {
		t.Fatalf("ConfirmEmailChange after the holder left = %+v, %v", after, err)
	}
}

func testConcurrentConfirmEmailChange(t *testing.T, s Store) {
	u := newUser(1)
	mustCreateUser(t, s, u, "h")
	tc := newToken("tok_c", u, gatehouse.PurposeChangeEmail, t0)
	tc.Email, tc.EmailNormalized = "New@Example.com", "new@example.com"
	mustIssue(t, s, tc)
	errs := race(20, func(int) error {
		_, _, err := s.ConfirmEmailChange(t.Context(), tc.TokenHash, t0)
		return err
	})
	exactlyOne(t, "ConfirmEmailChange", errs, gatehouse.ErrNotFound)
	if got := mustUser(t, s, u.ID); got.EmailNormalized != tc.EmailNormalized || !got.EmailVerified {
		t.Fatalf("user = %+v", got)
	}
}

// A verification or reset token works only while its address is the
// user's; refusing it changes nothing and keeps the token.
func testEmailTokenBinding(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser(1)
	mustCreateUser(t, s, u, "old")
	ses := newSession("ses_1", u.ID, t0)
	mustCreateSession(t, s, ses)

	// Tokens sent to an address the user no longer has.
	stale := func(id string, p gatehouse.TokenPurpose) gatehouse.EmailToken {
		tk := newToken(id, u, p, t0)
		tk.Email, tk.EmailNormalized = "Former@Example.com", "former@example.com"
		return tk
	}
	sv, sr := stale("tok_sv", gatehouse.PurposeVerifyEmail), stale("tok_sr", gatehouse.PurposeResetPassword)
	mustIssue(t, s, sv)
	mustIssue(t, s, sr)
	for _, tk := range []gatehouse.EmailToken{sv, sr} {
		_, _, err := s.EmailTokenByHash(ctx, tk.Purpose, tk.TokenHash, t0)
		wantErr(t, "EmailTokenByHash(stale "+string(tk.Purpose)+")", err, gatehouse.ErrNotFound)
	}
	_, err := s.ConsumeVerification(ctx, sv.TokenHash, t0)
	wantErr(t, "ConsumeVerification(stale address)", err, gatehouse.ErrNotFound)
	_, err = s.ResetPassword(ctx, sr.TokenHash, "new", t0)
	wantErr(t, "ResetPassword(stale address)", err, gatehouse.ErrNotFound)
	if got := mustUser(t, s, u.ID); !reflect.DeepEqual(got, stored(u)) {
		t.Fatalf("user changed by stale tokens: %+v", got)
	}
	if h := hashOf(t, s, u.EmailNormalized); h != "old" || !sessionExists(t, s, ses) {
		t.Fatalf("a stale reset changed something: hash %q", h)
	}

	// An email change makes the tokens sent to the old address useless.
	tv := newToken("tok_v", u, gatehouse.PurposeVerifyEmail, t0)
	tr := newToken("tok_r", u, gatehouse.PurposeResetPassword, t0)
	tc := newToken("tok_c", u, gatehouse.PurposeChangeEmail, t0)
	tc.Email, tc.EmailNormalized = "New@Example.com", "new@example.com"
	for _, tk := range []gatehouse.EmailToken{tv, tr, tc} {
		mustIssue(t, s, tk)
	}
	if _, _, err := s.ConfirmEmailChange(ctx, tc.TokenHash, t0); err != nil {
		t.Fatalf("ConfirmEmailChange: %v", err)
	}
	_, err = s.ConsumeVerification(ctx, tv.TokenHash, t0)
	wantErr(t, "ConsumeVerification(after email change)", err, gatehouse.ErrNotFound)
	_, err = s.ResetPassword(ctx, tr.TokenHash, "new", t0)
	wantErr(t, "ResetPassword(after email change)", err, gatehouse.ErrNotFound)

	// The address check itself, with the tokens still there: move the
	// address underneath them directly.
	sb, ok := s.(sqlBackend)
	if !ok {
		return
	}
	cur := mustUser(t, s, u.ID)
	tv = newToken("tok_v2", cur, gatehouse.PurposeVerifyEmail, t0)
	tr = newToken("tok_r2", cur, gatehouse.PurposeResetPassword, t0)
	mustIssue(t, s, tv)
	mustIssue(t, s, tr)
	setAddress := func(norm string) {
		t.Helper()
		if _, err := sb.DB().Exec(ctx, `UPDATE users SET email_normalized = $2 WHERE id = $1`, u.ID, norm); err != nil {
			t.Fatalf("move address: %v", err)
		}
	}
	setAddress("moved@example.com")
	_, err = s.ConsumeVerification(ctx, tv.TokenHash, t0)
	wantErr(t, "ConsumeVerification(moved address)", err, gatehouse.ErrNotFound)
	_, err = s.ResetPassword(ctx, tr.TokenHash, "newest", t0)
	wantErr(t, "ResetPassword(moved address)", err, gatehouse.ErrNotFound)
	setAddress(cur.EmailNormalized)
	if _, err := s.ConsumeVerification(ctx, tv.TokenHash, t0); err != nil {
		t.Fatalf("ConsumeVerification(address back): %v", err)
	}
	if _, err := s.ResetPassword(ctx, tr.TokenHash, "newest", t0); err != nil {
		t.Fatalf("ResetPassword(address back): %v", err)
	}
}

func testChangePasswordDeletesResetTokens(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "old")
	mustCreateUser(t, s, other, "h")
	cur := newSession("ses_cur", u.ID, t0)
	mustCreateSession(t, s, cur)
	tr := newToken("tok_r", u, gatehouse.PurposeResetPassword, t0)
	tv := newToken("tok_v", u, gatehouse.PurposeVerifyEmail, t0)
	tc := newToken("tok_c", u, gatehouse.PurposeChangeEmail, t0)
	tc.Email, tc.EmailNormalized = "New@Example.com", "new@example.com"
	tro := newToken("tok_ro", other, gatehouse.PurposeResetPassword, t0)
	for _, tk := range []gatehouse.EmailToken{tr, tv, tc, tro} {
		mustIssue(t, s, tk)
	}
	next := newSession("ses_next", u.ID, t0.Add(time.Minute))
	if err := s.ChangePassword(ctx, u.ID, "new", cur.ID, next, t0.Add(time.Minute)); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	wantTokens(t, s, []gatehouse.EmailToken{tv, tc, tro}, []gatehouse.EmailToken{tr})

	// A refused change deletes nothing.
	tr2 := newToken("tok_r2", u, gatehouse.PurposeResetPassword, t0)
	mustIssue(t, s, tr2)
	err := s.ChangePassword(ctx, u.ID, "newer", cur.ID, newSession("ses_x", u.ID, t0), t0)
	wantErr(t, "ChangePassword(revoked current)", err, gatehouse.ErrNotFound)
	wantTokens(t, s, []gatehouse.EmailToken{tr2}, nil)
}

func testDeleteExpiredEmailTokens(t *testing.T, s Store) {
	ctx := t.Context()
	now := ms(t0.Add(2 * time.Hour))
	var toks []gatehouse.EmailToken
	for i, exp := range []time.Time{now.Add(-time.Hour), now.Add(-time.Millisecond), now, now.Add(time.Millisecond)} {
		u := newUser(i)
		mustCreateUser(t, s, u, "h")
		tk := newToken(fmt.Sprint("tok_", i), u, gatehouse.PurposeVerifyEmail, t0)
		tk.ExpiresAt = exp
		mustIssue(t, s, tk)
		toks = append(toks, tk)
	}
	n, err := s.DeleteExpiredEmailTokens(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredEmailTokens = %d, %v; want 2", n, err)
	}
	if n, err := s.DeleteExpiredEmailTokens(ctx, now); err != nil || n != 0 {
		t.Fatalf("DeleteExpiredEmailTokens again = %d, %v; want 0", n, err)
	}
	// The last one is still live; the one expiring at now is not, but it
	// did not expire before now.
	if _, _, err := s.EmailTokenByHash(ctx, toks[3].Purpose, toks[3].TokenHash, now); err != nil {
		t.Fatalf("EmailTokenByHash(live): %v", err)
	}
	if n, err := s.DeleteExpiredEmailTokens(ctx, now.Add(time.Millisecond)); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredEmailTokens(now+1ms) = %d, %v; want 1", n, err)
	}
}

func testDeleteUserCascadesTokensAndDevices(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, other, "h")
	tv, tr := newToken("tok_v", u, gatehouse.PurposeVerifyEmail, t0), newToken("tok_r", u, gatehouse.PurposeResetPassword, t0)
	to := newToken("tok_o", other, gatehouse.PurposeVerifyEmail, t0)
	for _, tk := range []gatehouse.EmailToken{tv, tr, to} {
		mustIssue(t, s, tk)
	}
	mustRemember(t, s, u.ID, []string{"dev_1", "dev_2"}, t0, false, false)
	mustRemember(t, s, other.ID, []string{"dev_1"}, t0, false, false)

	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	// A new account with the same ID inherits nothing.
	mustCreateUser(t, s, u, "h")
	wantTokens(t, s, []gatehouse.EmailToken{to}, []gatehouse.EmailToken{tv, tr})
	mustRemember(t, s, u.ID, []string{"dev_1"}, t0, false, false)
	mustRemember(t, s, other.ID, []string{"dev_1"}, t0, true, false)
}

func mustRemember(t *testing.T, s Store, userID string, keys []string, now time.Time, wantSeen, wantOthers bool) {
	t.Helper()
	seen, others, err := s.RememberDevice(t.Context(), userID, keys, now)
	if err != nil {
		t.Fatalf("RememberDevice(%s, %q): %v", userID, keys, err)
	}
	if seen != wantSeen || others != wantOthers {
		t.Fatalf("RememberDevice(%s, %q) = seen %v, others %v; want %v, %v", userID, keys, seen, others, wantSeen, wantOthers)
	}
}

func testRememberDevice(t *testing.T, s Store) {
	ctx := t.Context()
	u, other := newUser(1), newUser(2)
	mustCreateUser(t, s, u, "h")
	mustCreateUser(t, s, other, "h")

	for _, step := range []struct {
		user         string
		keys         []string
		seen, others bool
	}{
		{u.ID, []string{"k1"}, false, false},
		{u.ID, []string{"k1"}, true, false},
		{u.ID, []string{"k2", "k2"}, false, true},
		{u.ID, []string{"k1", "k3"}, true, true}, // k2 is another device
		{u.ID, []string{"k3", "k2", "k1"}, true, false},
		{u.ID, []string{"k4"}, false, true},
		{other.ID, []string{"k1"}, false, false}, // devices are per user
		{other.ID, []string{"k5", "k1"}, true, false},
	} {
		mustRemember(t, s, step.user, step.keys, t0, step.seen, step.others)
	}
	_, _, err := s.RememberDevice(ctx, "usr_missing", []string{"k1"}, t0)
	wantErr(t, "RememberDevice(missing user)", err, gatehouse.ErrNotFound)
	if _, _, err := s.RememberDevice(ctx, u.ID, nil, t0); err == nil {
		t.Fatal("RememberDevice(no keys) succeeded")
	}
}

func testConcurrentRememberDevice(t *testing.T, s Store) {
	u := newUser(1)
	mustCreateUser(t, s, u, "h")
	const n = 20
	type result struct{ seen, others bool }
	results := make([]result, n)
	errs := race(n, func(i int) error {
		var err error
		results[i].seen, results[i].others, err = s.RememberDevice(t.Context(), u.ID, []string{"k_same"}, t0)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("RememberDevice %d: %v", i, err)
		}
		if results[i].others {
			t.Fatalf("RememberDevice %d reports another device", i)
		}
	}
	mustRemember(t, s, u.ID, []string{"k_same"}, t0, true, false)
}

func testForgetDevicesBefore(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser(1)
	mustCreateUser(t, s, u, "h")
	mustRemember(t, s, u.ID, []string{"a"}, t0, false, false)
	mustRemember(t, s, u.ID, []string{"b"}, t0.Add(time.Hour), false, true)
	mustRemember(t, s, u.ID, []string{"c"}, t0.Add(2*time.Hour), false, true)
	mustRemember(t, s, u.ID, []string{"a"}, t0.Add(3*time.Hour), true, true) // refreshed

	// c was last seen at the cut-off itself: kept.
	n, err := s.ForgetDevicesBefore(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("ForgetDevicesBefore = %d, %v; want 1 (b)", n, err)
	}
	if n, err := s.ForgetDevicesBefore(ctx, t0.Add(2*time.Hour)); err != nil || n != 0 {
		t.Fatalf("ForgetDevicesBefore again = %d, %v; want 0", n, err)
	}
	mustRemember(t, s, u.ID, []string{"b"}, t0.Add(4*time.Hour), false, true)
	if n, err := s.ForgetDevicesBefore(ctx, t0.Add(100*time.Hour)); err != nil || n != 3 {
		t.Fatalf("ForgetDevicesBefore(all) = %d, %v; want 3", n, err)
	}
	mustRemember(t, s, u.ID, []string{"a", "b"}, t0.Add(5*time.Hour), false, false)
}
