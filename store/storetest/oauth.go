package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// familyLife is how long the suite's refresh families live.
const familyLife = 30 * 24 * time.Hour

func newClient(id string) gatehouse.OAuthClient {
	return gatehouse.OAuthClient{
		ID:                     id,
		Name:                   "Client " + id,
		AuthMethod:             gatehouse.ClientAuthSecretBasic,
		SecretHash:             "sh_" + id,
		RedirectURIs:           []string{"https://app.example/cb", "http://127.0.0.1/cb"},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"},
		GrantTypes:             []string{gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken},
		Scopes:                 []string{gatehouse.ScopeOpenID, gatehouse.ScopeEmail, gatehouse.ScopeOfflineAccess},
		IDTokenAlgorithm:       "RS256",
		CreatedAt:              t0,
		UpdatedAt:              t0,
	}
}

// nonNil is l, or an empty slice for nil: how the store returns lists.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func storedClient(c gatehouse.OAuthClient) gatehouse.OAuthClient {
	c.CreatedAt, c.UpdatedAt = ms(c.CreatedAt), ms(c.UpdatedAt)
	c.RedirectURIs, c.PostLogoutRedirectURIs = nonNil(c.RedirectURIs), nonNil(c.PostLogoutRedirectURIs)
	c.GrantTypes, c.Scopes = nonNil(c.GrantTypes), nonNil(c.Scopes)
	return c
}

func mustCreateClient(t *testing.T, s Store, c gatehouse.OAuthClient) {
	t.Helper()
	if err := s.CreateOAuthClient(t.Context(), c); err != nil {
		t.Fatalf("CreateOAuthClient(%s): %v", c.ID, err)
	}
}

// newCode is a code for clientID on session ses, live for a minute from
// created.
func newCode(hash, clientID string, ses gatehouse.Session, created time.Time) gatehouse.AuthorizationCode {
	return gatehouse.AuthorizationCode{
		Hash:          hash,
		ClientID:      clientID,
		UserID:        ses.UserID,
		SessionID:     ses.ID,
		RedirectURI:   "https://app.example/cb?x='1'",
		Scopes:        []string{gatehouse.ScopeOpenID, gatehouse.ScopeOfflineAccess},
		Nonce:         "nonce-" + hash,
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CreatedAt:     created,
		ExpiresAt:     created.Add(time.Minute),
	}
}

func storedCode(c gatehouse.AuthorizationCode) gatehouse.AuthorizationCode {
	c.CreatedAt, c.ExpiresAt = ms(c.CreatedAt), ms(c.ExpiresAt)
	c.Scopes = nonNil(c.Scopes)
	return c
}

func mustCreateCode(t *testing.T, s Store, c gatehouse.AuthorizationCode) {
	t.Helper()
	if err := s.CreateAuthorizationCode(t.Context(), c); err != nil {
		t.Fatalf("CreateAuthorizationCode(%s): %v", c.Hash, err)
	}
}

// familyFor is the family a redemption of c creates, with refresh as its
// first refresh token ("" for none).
func familyFor(id string, c gatehouse.AuthorizationCode, refresh string) gatehouse.RefreshFamily {
	return gatehouse.RefreshFamily{
		ID:          id,
		ClientID:    c.ClientID,
		UserID:      c.UserID,
		SessionID:   c.SessionID,
		Scopes:      c.Scopes,
		CodeHash:    c.Hash,
		RefreshHash: refresh,
		CreatedAt:   c.CreatedAt,
		ExpiresAt:   c.CreatedAt.Add(familyLife),
	}
}

func storedFamily(f gatehouse.RefreshFamily) gatehouse.RefreshFamily {
	f.CreatedAt, f.ExpiresAt, f.RotatedAt = ms(f.CreatedAt), ms(f.ExpiresAt), msOrZero(f.RotatedAt)
	f.Scopes = nonNil(f.Scopes)
	return f
}

// issueFamily creates a code on ses for clientID at created, redeems it
// at once into a family with the refresh token refresh, and returns the
// family as stored.
func issueFamily(t *testing.T, s Store, famID, refresh, clientID string, ses gatehouse.Session, created time.Time) gatehouse.RefreshFamily {
	t.Helper()
	c := newCode("ch_"+famID, clientID, ses, created)
	mustCreateCode(t, s, c)
	f := familyFor(famID, c, refresh)
	if _, err := s.RedeemAuthorizationCode(t.Context(), c.Hash, f, created); err != nil {
		t.Fatalf("RedeemAuthorizationCode(%s): %v", c.Hash, err)
	}
	return storedFamily(f)
}

// familyLive reports whether the family is found by ID at t0.
func familyLive(t *testing.T, s Store, id string) bool {
	t.Helper()
	_, err := s.RefreshFamilyByID(t.Context(), id, t0)
	if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("RefreshFamilyByID(%s): %v", id, err)
	}
	return err == nil
}

func wantFamilies(t *testing.T, s Store, live, gone []string) {
	t.Helper()
	for _, id := range live {
		if !familyLive(t, s, id) {
			t.Fatalf("family %s is gone, want it kept", id)
		}
	}
	for _, id := range gone {
		if familyLive(t, s, id) {
			t.Fatalf("family %s still resolves, want it revoked", id)
		}
	}
}

// wantFamily checks what RefreshFamilyByID and RefreshFamilyByToken (for
// each of tokens) return at t0.
func wantFamily(t *testing.T, s Store, want gatehouse.RefreshFamily, tokens ...string) {
	t.Helper()
	got, err := s.RefreshFamilyByID(t.Context(), want.ID, t0)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("RefreshFamilyByID(%s) = %+v, %v;\nwant %+v", want.ID, got, err, want)
	}
	for _, tok := range tokens {
		got, err := s.RefreshFamilyByToken(t.Context(), tok, t0)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("RefreshFamilyByToken(%s) = %+v, %v;\nwant %+v", tok, got, err, want)
		}
	}
}

// oauthFixture is a user with a session and a client.
type oauthFixture struct {
	user   gatehouse.User
	ses    gatehouse.Session
	client gatehouse.OAuthClient
}

func newOAuthFixture(t *testing.T, s Store, n int) oauthFixture {
	t.Helper()
	f := oauthFixture{user: newUser(n), client: newClient(fmt.Sprintf("cli_%03d", n))}
	f.ses = newSession(fmt.Sprintf("ses_%03d", n), f.user.ID, t0)
	mustCreateUser(t, s, f.user, "h")
	mustCreateSession(t, s, f.ses)
	mustCreateClient(t, s, f.client)
	return f
}

func testOAuthClients(t *testing.T, s Store) {
	ctx := t.Context()
	list, err := s.ListOAuthClients(ctx)
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("ListOAuthClients on an empty store = %v, %v; want an empty, non-nil slice", list, err)
	}
	a := newClient("cli_b")
	a.Name = `O'Brien's "app" $1 ?1 -- 🎉`
	a.RedirectURIs = []string{"https://app.example/cb?a=1&b='2'", "myapp:/cb"}
	a.AuthMethod, a.SecretHash, a.JWKS = gatehouse.ClientAuthPrivateKeyJWT, "", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`
	b := gatehouse.OAuthClient{ID: "cli_B", Name: "public", AuthMethod: gatehouse.ClientAuthNone, FirstParty: true,
		CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second)} // nil lists
	c := newClient("cli_a")
	for _, cl := range []gatehouse.OAuthClient{a, b, c} {
		mustCreateClient(t, s, cl)
	}
	for _, cl := range []gatehouse.OAuthClient{a, b, c} {
		got, err := s.OAuthClientByID(ctx, cl.ID)
		if err != nil || !reflect.DeepEqual(got, storedClient(cl)) {
			t.Fatalf("OAuthClientByID(%s) = %+v, %v;\nwant %+v", cl.ID, got, err, storedClient(cl))
		}
	}
	_, err = s.OAuthClientByID(ctx, "cli_missing")
	wantErr(t, "OAuthClientByID(missing)", err, gatehouse.ErrNotFound)
	dup := newClient(a.ID)
	wantErr(t, "CreateOAuthClient(same id)", s.CreateOAuthClient(ctx, dup), gatehouse.ErrConflict)

	list, err = s.ListOAuthClients(ctx)
	if err != nil {
		t.Fatalf("ListOAuthClients: %v", err)
	}
	want := []gatehouse.OAuthClient{storedClient(b), storedClient(c), storedClient(a)} // byte-wise: B < a < b
	if !reflect.DeepEqual(list, want) {
		t.Fatalf("ListOAuthClients =\n%+v\nwant\n%+v", list, want)
	}

	// Every field but ID and CreatedAt is replaced.
	upd := gatehouse.OAuthClient{
		ID: a.ID, Name: "renamed", AuthMethod: gatehouse.ClientAuthSecretPost, SecretHash: "sh_new",
		RedirectURIs: []string{"https://new.example/cb"}, PostLogoutRedirectURIs: nil,
		GrantTypes: []string{gatehouse.GrantClientCredentials}, Scopes: []string{},
		IDTokenAlgorithm: "ES256", FirstParty: true,
		CreatedAt: t0.Add(99 * time.Hour), UpdatedAt: t0.Add(time.Hour),
	}
	if err := s.UpdateOAuthClient(ctx, upd); err != nil {
		t.Fatalf("UpdateOAuthClient: %v", err)
	}
	wantUpd := storedClient(upd)
	wantUpd.CreatedAt = ms(a.CreatedAt)
	if got, err := s.OAuthClientByID(ctx, a.ID); err != nil || !reflect.DeepEqual(got, wantUpd) {
		t.Fatalf("after UpdateOAuthClient = %+v, %v;\nwant %+v", got, err, wantUpd)
	}
	missing := newClient("cli_missing")
	wantErr(t, "UpdateOAuthClient(missing)", s.UpdateOAuthClient(ctx, missing), gatehouse.ErrNotFound)
	if _, err := s.OAuthClientByID(ctx, missing.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("UpdateOAuthClient(missing) created the client: %v", err)
	}

	if err := s.DeleteOAuthClient(ctx, b.ID); err != nil {
		t.Fatalf("DeleteOAuthClient: %v", err)
	}
	wantErr(t, "DeleteOAuthClient twice", s.DeleteOAuthClient(ctx, b.ID), gatehouse.ErrNotFound)
	list, _ = s.ListOAuthClients(ctx)
	if len(list) != 2 || list[0].ID != c.ID || list[1].ID != a.ID {
		t.Fatalf("clients left: %+v", list)
	}
}

func testOAuthConsents(t *testing.T, s Store) {
	ctx := t.Context()
	f := newOAuthFixture(t, s, 1)
	other := newClient("cli_other")
	mustCreateClient(t, s, other)
	u := f.user.ID

	_, err := s.Consent(ctx, u, f.client.ID)
	wantErr(t, "Consent(none)", err, gatehouse.ErrNotFound)
	list, err := s.Consents(ctx, u)
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("Consents(none) = %v, %v; want an empty, non-nil slice", list, err)
	}

	first := gatehouse.OAuthConsent{UserID: u, ClientID: other.ID, Scopes: []string{gatehouse.ScopeOpenID},
		GrantedAt: t0, UpdatedAt: t0}
	second := gatehouse.OAuthConsent{UserID: u, ClientID: f.client.ID, GrantedAt: t0.Add(time.Minute),
		UpdatedAt: t0.Add(time.Minute)} // nil scopes
	for _, c := range []gatehouse.OAuthConsent{first, second} {
		if err := s.SaveConsent(ctx, c); err != nil {
			t.Fatalf("SaveConsent(%s): %v", c.ClientID, err)
		}
	}
	stored := func(c gatehouse.OAuthConsent) gatehouse.OAuthConsent {
		c.GrantedAt, c.UpdatedAt, c.Scopes = ms(c.GrantedAt), ms(c.UpdatedAt), nonNil(c.Scopes)
		return c
	}
	if got, err := s.Consent(ctx, u, f.client.ID); err != nil || !reflect.DeepEqual(got, stored(second)) {
		t.Fatalf("Consent = %+v, %v; want %+v", got, err, stored(second))
	}

	// Replacing keeps GrantedAt and sets Scopes and UpdatedAt.
	later := t0.Add(2 * time.Hour)
	repl := gatehouse.OAuthConsent{UserID: u, ClientID: other.ID,
		Scopes: []string{gatehouse.ScopeOpenID, gatehouse.ScopeEmail}, GrantedAt: later, UpdatedAt: later}
	if err := s.SaveConsent(ctx, repl); err != nil {
		t.Fatalf("SaveConsent(replace): %v", err)
	}
	wantFirst := stored(repl)
	wantFirst.GrantedAt = ms(first.GrantedAt)
	list, err = s.Consents(ctx, u)
	if err != nil || !reflect.DeepEqual(list, []gatehouse.OAuthConsent{wantFirst, stored(second)}) {
		t.Fatalf("Consents = %+v, %v;\nwant %+v, %+v (oldest first)", list, err, wantFirst, stored(second))
	}

	for _, bad := range []gatehouse.OAuthConsent{
		{UserID: "usr_missing", ClientID: other.ID, GrantedAt: t0, UpdatedAt: t0},
		{UserID: u, ClientID: "cli_missing", GrantedAt: t0, UpdatedAt: t0},
	} {
		wantErr(t, fmt.Sprintf("SaveConsent(%s, %s)", bad.UserID, bad.ClientID), s.SaveConsent(ctx, bad), gatehouse.ErrNotFound)
	}
	if list, err := s.Consents(ctx, "usr_missing"); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("Consents(another user) = %v, %v", list, err)
	}
}

func testRevokeConsent(t *testing.T, s Store) {
	ctx := t.Context()
	f := newOAuthFixture(t, s, 1)
	o := newOAuthFixture(t, s, 2) // another user (and a second client)
	a, b := f.client.ID, o.client.ID
	u := f.user.ID

	if err := s.SaveConsent(ctx, gatehouse.OAuthConsent{UserID: u, ClientID: a, GrantedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveConsent(ctx, gatehouse.OAuthConsent{UserID: o.user.ID, ClientID: a, GrantedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	issueFamily(t, s, "grt_ua1", "rt_ua1", a, f.ses, t0)
	issueFamily(t, s, "grt_ua2", "rt_ua2", a, f.ses, t0)
	issueFamily(t, s, "grt_ub", "rt_ub", b, f.ses, t0) // first party: no consent
	issueFamily(t, s, "grt_oa", "rt_oa", a, o.ses, t0)
	pending := newCode("ch_pending", a, f.ses, t0)
	mustCreateCode(t, s, pending)

	if err := s.RevokeConsent(ctx, u, a); err != nil {
		t.Fatalf("RevokeConsent: %v", err)
	}
	_, err := s.Consent(ctx, u, a)
	wantErr(t, "Consent after RevokeConsent", err, gatehouse.ErrNotFound)
	wantFamilies(t, s, []string{"grt_ub", "grt_oa"}, []string{"grt_ua1", "grt_ua2"})
	for _, tok := range []string{"rt_ua1", "rt_ua2"} {
		_, err := s.RefreshFamilyByToken(ctx, tok, t0)
		wantErr(t, "RefreshFamilyByToken(revoked family)", err, gatehouse.ErrNotFound)
	}
	if _, err := s.Consent(ctx, o.user.ID, a); err != nil {
		t.Fatalf("another user's consent: %v", err)
	}
	// A code the client had not redeemed yet cannot become a family now.
	_, err = s.RedeemAuthorizationCode(ctx, pending.Hash, familyFor("grt_late", pending, "rt_late"), t0)
	wantErr(t, "RedeemAuthorizationCode(code of a revoked consent)", err, gatehouse.ErrNotFound)
	wantFamilies(t, s, nil, []string{"grt_late"})
	// A redeemed one presented again is still a reuse.
	c1 := newCode("ch_grt_ua1", a, f.ses, t0)
	_, err = s.RedeemAuthorizationCode(ctx, c1.Hash, familyFor("grt_again", c1, ""), t0)
	wantErr(t, "RedeemAuthorizationCode(redeemed code of a revoked consent)", err, gatehouse.ErrCodeReused)

	wantErr(t, "RevokeConsent twice", s.RevokeConsent(ctx, u, a), gatehouse.ErrNotFound)
	// Families without a consent (a first-party client) are revoked.
	if err := s.RevokeConsent(ctx, u, b); err != nil {
		t.Fatalf("RevokeConsent(families only): %v", err)
	}
	wantFamilies(t, s, []string{"grt_oa"}, []string{"grt_ub"})
	// A consent without families.
	if err := s.SaveConsent(ctx, gatehouse.OAuthConsent{UserID: u, ClientID: b, GrantedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeConsent(ctx, u, b); err != nil {
		t.Fatalf("RevokeConsent(consent only): %v", err)
	}
	wantErr(t, "RevokeConsent(unknown user)", s.RevokeConsent(ctx, "usr_missing", a), gatehouse.ErrNotFound)
}

func testAuthorizationCode(t *testing.T, s Store) {
	ctx := t.Context()
	f := newOAuthFixture(t, s, 1)
	o := newOAuthFixture(t, s, 2)
	code := newCode("ch_1", f.client.ID, f.ses, t0)
	mustCreateCode(t, s, code)

	fam := familyFor("grt_1", code, "rt_1")
	fam.Scopes = []string{gatehouse.ScopeOpenID} // as given, not the code's
	got, err := s.RedeemAuthorizationCode(ctx, code.Hash, fam, t0)
	if err != nil || !reflect.DeepEqual(got, storedCode(code)) {
		t.Fatalf("RedeemAuthorizationCode = %+v, %v;\nwant %+v", got, err, storedCode(code))
	}
	wantFamily(t, s, storedFamily(fam), "rt_1")

	// Refused codes.
	for _, tc := range []struct {
		name string
		c    gatehouse.AuthorizationCode
		want error
	}{
		{"same hash", newCode(code.Hash, f.client.ID, f.ses, t0), gatehouse.ErrConflict},
		{"missing session", newCode("ch_x1", f.client.ID, newSession("ses_missing", f.user.ID, t0), t0), gatehouse.ErrNotFound},
		{"another user's session", func() gatehouse.AuthorizationCode {
			c := newCode("ch_x2", f.client.ID, o.ses, t0)
			c.UserID = f.user.ID
			return c
		}(), gatehouse.ErrNotFound},
		{"missing client", newCode("ch_x3", "cli_missing", f.ses, t0), gatehouse.ErrNotFound},
	} {
		wantErr(t, "CreateAuthorizationCode("+tc.name+")", s.CreateAuthorizationCode(ctx, tc.c), tc.want)
	}
	for _, h := range []string{"ch_x1", "ch_x2", "ch_x3", "ch_unknown"} {
		c := newCode(h, f.client.ID, f.ses, t0)
		_, err := s.RedeemAuthorizationCode(ctx, h, familyFor("grt_"+h, c, ""), t0)
		wantErr(t, "RedeemAuthorizationCode("+h+")", err, gatehouse.ErrNotFound)
	}

	// A code is redeemable while now is before its expiry; an expired
	// attempt does not use it up.
	exp := newCode("ch_exp", f.client.ID, f.ses, t0)
	mustCreateCode(t, s, exp)
	end := ms(exp.ExpiresAt)
	for _, at := range []time.Time{end, end.Add(time.Hour)} {
		_, err := s.RedeemAuthorizationCode(ctx, exp.Hash, familyFor("grt_exp", exp, "rt_exp"), at)
		wantErr(t, fmt.Sprintf("RedeemAuthorizationCode(at %v)", at), err, gatehouse.ErrNotFound)
	}
	wantFamilies(t, s, nil, []string{"grt_exp"})
	if _, err := s.RedeemAuthorizationCode(ctx, exp.Hash, familyFor("grt_exp", exp, "rt_exp"), end.Add(-time.Millisecond)); err != nil {
		t.Fatalf("RedeemAuthorizationCode(last millisecond): %v", err)
	}

	// The store completes a family from its code: the caller knows the
	// user and session only once the code is redeemed.
	bare := newCode("ch_bare", f.client.ID, f.ses, t0)
	mustCreateCode(t, s, bare)
	if _, err := s.RedeemAuthorizationCode(ctx, bare.Hash, gatehouse.RefreshFamily{ID: "grt_bare",
		CreatedAt: t0, ExpiresAt: t0.Add(familyLife)}, t0); err != nil {
		t.Fatalf("RedeemAuthorizationCode(bare family): %v", err)
	}
	wantFamily(t, s, storedFamily(familyFor("grt_bare", bare, "")))
	// A family without a refresh token is found by no token.
	_, err = s.RefreshFamilyByToken(ctx, "", t0)
	wantErr(t, `RefreshFamilyByToken("")`, err, gatehouse.ErrNotFound)

	// Families end at ExpiresAt.
	fend := ms(fam.ExpiresAt)
	if _, err := s.RefreshFamilyByID(ctx, fam.ID, fend.Add(-time.Millisecond)); err != nil {
		t.Fatalf("RefreshFamilyByID(last millisecond): %v", err)
	}
	_, err = s.RefreshFamilyByID(ctx, fam.ID, fend)
	wantErr(t, "RefreshFamilyByID(expired)", err, gatehouse.ErrNotFound)
	_, err = s.RefreshFamilyByToken(ctx, "rt_1", fend)
	wantErr(t, "RefreshFamilyByToken(expired)", err, gatehouse.ErrNotFound)
	_, err = s.RefreshFamilyByID(ctx, "grt_missing", t0)
	wantErr(t, "RefreshFamilyByID(missing)", err, gatehouse.ErrNotFound)

	if err := s.DeleteRefreshFamily(ctx, fam.ID); err != nil {
		t.Fatalf("DeleteRefreshFamily: %v", err)
	}
	wantErr(t, "DeleteRefreshFamily twice", s.DeleteRefreshFamily(ctx, fam.ID), gatehouse.ErrNotFound)
	_, err = s.RefreshFamilyByToken(ctx, "rt_1", t0)
	wantErr(t, "RefreshFamilyByToken(revoked)", err, gatehouse.ErrNotFound)
	wantFamilies(t, s, []string{"grt_exp", "grt_bare"}, []string{fam.ID})
}

// A redemption refused after the code was marked leaves the code
// redeemable: the mark is rolled back with the family.
func testRedeemAuthorizationCodeRefused(t *testing.T, s Store) {
	ctx := t.Context()
	f := newOAuthFixture(t, s, 1)
	o := newOAuthFixture(t, s, 2)
	code := newCode("ch_1", f.client.ID, f.ses, t0)
	mustCreateCode(t, s, code)
	taken := issueFamily(t, s, "grt_taken", "rt_taken", o.client.ID, o.ses, t0)

	for _, tc := range []struct {
		name string
		edit func(*gatehouse.RefreshFamily)
		want error
	}{
		// RFC 6749 §4.1.3: the code was issued to another client.
		{"another client", func(fam *gatehouse.RefreshFamily) { fam.ClientID = o.client.ID }, gatehouse.ErrNotFound},
		{"another user", func(fam *gatehouse.RefreshFamily) { fam.UserID = o.user.ID }, gatehouse.ErrNotFound},
		{"another session", func(fam *gatehouse.RefreshFamily) { fam.SessionID = o.ses.ID }, gatehouse.ErrNotFound},
		{"another code", func(fam *gatehouse.RefreshFamily) { fam.CodeHash = "ch_other" }, gatehouse.ErrNotFound},
		{"family id taken", func(fam *gatehouse.RefreshFamily) { fam.ID = taken.ID }, gatehouse.ErrConflict},
		{"refresh token taken", func(fam *gatehouse.RefreshFamily) { fam.RefreshHash = taken.RefreshHash }, gatehouse.ErrConflict},
	} {
		fam := familyFor("grt_1", code, "rt_1")
		tc.edit(&fam)
		_, err := s.RedeemAuthorizationCode(ctx, code.Hash, fam, t0)
		wantErr(t, "RedeemAuthorizationCode("+tc.name+")", err, tc.want)
		wantFamilies(t, s, nil, []string{"grt_1"})
		wantFamily(t, s, taken, "rt_taken")
	}
	fam := familyFor("grt_1", code, "rt_1")
	if _, err := s.RedeemAuthorizationCode(ctx, code.Hash, fam, t0); err != nil {
		t.Fatalf("RedeemAuthorizationCode after refusals: %v", err)
	}
	wantFamily(t, s, storedFamily(fam), "rt_1")

	// The session ended before redemption: the code went with it.
	c2 := newCode("ch_2", f.client.ID, f.ses, t0)
	mustCreateCode(t, s, c2)
	if err := s.RevokeSession(ctx, f.user.ID, f.ses.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.RedeemAuthorizationCode(ctx, c2.Hash, familyFor("grt_2", c2, "rt_2"), t0)
	wantErr(t, "RedeemAuthorizationCode(session revoked)", err, gatehouse.ErrNotFound)
	wantFamilies(t, s, []string{taken.ID}, []string{"grt_1", "grt_2"})
}

func testRedeemAuthorizationCodeReuse(t *testing.T, s Store) {
	ctx := t.Context()
	f := newOAuthFixture(t, s, 1)
	code := newCode("ch_1", f.client.ID, f.ses, t0)
	mustCreateCode(t, s, code)
	fam := familyFor("grt_1", code, "rt_1")
	if _, err := s.RedeemAuthorizationCode(ctx, code.Hash, fam, t0); err != nil {
		t.Fatalf("RedeemAuthorizationCode: %v", err)
	}
	other := issueFamily(t, s, "grt_other", "rt_other", f.client.ID, f.ses, t0)
	// Rotated tokens of the family go with it too.
	if _, err := s.RotateRefreshToken(ctx, "rt_1", "rt_1b", t0, 0); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}

	for i := range 2 {
		_, err := s.RedeemAuthorizationCode(ctx, code.Hash, familyFor(fmt.Sprint("grt_again", i), code, ""), t0.Add(time.Second))
		wantErr(t, "RedeemAuthorizationCode(reused)", err, gatehouse.ErrCodeReused)
		wantFamilies(t, s, []string{other.ID}, []string{fam.ID, fmt.Sprint("grt_again", i)})
	}
	for _, tok := range []string{"rt_1", "rt_1b"} {
		_, err := s.RefreshFamilyByToken(ctx, tok, t0)
		wantErr(t, "RefreshFamilyByToken(family of a reused code)", err, gatehouse.ErrNotFound)
	}
	wantFamily(t, s, other, "rt_other")
}

func testConcurrentRedeemAuthorizationCode(t *testing.T, s Store) {
	f := newOAuthFixture(t, s, 1)
	code := newCode("ch_1", f.client.ID, f.ses, t0)
	mustCreateCode(t, s, code)
	const n = 8
	errs := race(n, func(i int) error {
		_, err := s.RedeemAuthorizationCode(t.Context(), code.Hash,
			familyFor(fmt.Sprint("grt_", i), code, fmt.Sprint("rt_", i)), t0)
		return err
	})
	// The first redemption wins; each later one is a reuse and revokes
	// what the winner created.
	exactlyOne(t, "RedeemAuthorizationCode", errs, gatehouse.ErrCodeReused)
	for i := range n {
		wantFamilies(t, s, nil, []string{fmt.Sprint("grt_", i)})
	}
}

func testRotateRefreshToken(t *testing.T, s Store) {
	ctx := t.Context()
	f := newOAuthFixture(t, s, 1)
	t1 := t0.Add(time.Hour)
	const grace = 10 * time.Second

	fam := issueFamily(t, s, "grt_1", "rt_0", f.client.ID, f.ses, t0)
	got, err := s.RotateRefreshToken(ctx, "rt_0", "rt_1", t1, 0)
	want := fam
	want.RefreshHash, want.PreviousHash, want.RotatedAt = "rt_1", "rt_0", ms(t1)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("RotateRefreshToken = %+v, %v;\nwant %+v", got, err, want)
	}
	// A retired token still names its family.
	wantFamily(t, s, want, "rt_0", "rt_1")

	// Strict (no grace): presenting the retired token again revokes.
	_, err = s.RotateRefreshToken(ctx, "rt_0", "rt_1", t1, 0)
	wantErr(t, "RotateRefreshToken(reused, no grace)", err, gatehouse.ErrRefreshReused)
	wantFamilies(t, s, nil, []string{fam.ID})
	_, err = s.RotateRefreshToken(ctx, "rt_1", "rt_2", t1, 0)
	wantErr(t, "RotateRefreshToken(current token of a revoked family)", err, gatehouse.ErrNotFound)

	// Within grace, a retry gets the same successor and changes nothing,
	// up to and including the grace's last millisecond.
	fam = issueFamily(t, s, "grt_2", "rt2_0", f.client.ID, f.ses, t0)
	want, err = s.RotateRefreshToken(ctx, "rt2_0", "rt2_1", t1, grace)
	if err != nil || want.RefreshHash != "rt2_1" {
		t.Fatalf("RotateRefreshToken = %+v, %v", want, err)
	}
	for _, at := range []time.Time{ms(t1), ms(t1).Add(grace)} {
		got, err := s.RotateRefreshToken(ctx, "rt2_0", "rt2_1", at, grace)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("RotateRefreshToken(retry at %v) = %+v, %v;\nwant %+v", at, got, err, want)
		}
	}
	wantFamily(t, s, want, "rt2_0", "rt2_1")
	// Two rotations back is a reuse, even within grace of the last one.
	if _, err := s.RotateRefreshToken(ctx, "rt2_1", "rt2_2", t1.Add(time.Second), grace); err != nil {
		t.Fatalf("RotateRefreshToken(second): %v", err)
	}
	_, err = s.RotateRefreshToken(ctx, "rt2_0", "rt2_1", t1.Add(time.Second), grace)
	wantErr(t, "RotateRefreshToken(two rotations back)", err, gatehouse.ErrRefreshReused)
	wantFamilies(t, s, nil, []string{fam.ID})

	// After grace, the retry is a reuse.
	fam = issueFamily(t, s, "grt_3", "rt3_0", f.client.ID, f.ses, t0)
	if _, err := s.RotateRefreshToken(ctx, "rt3_0", "rt3_1", t1, grace); err != nil {
		t.Fatal(err)
	}
	_, err = s.RotateRefreshToken(ctx, "rt3_0", "rt3_1", ms(t1).Add(grace+time.Millisecond), grace)
	wantErr(t, "RotateRefreshToken(retry after grace)", err, gatehouse.ErrRefreshReused)
	wantFamilies(t, s, nil, []string{fam.ID})

	// Within grace but asking for another successor is not a retry.
	fam = issueFamily(t, s, "grt_4", "rt4_0", f.client.ID, f.ses, t0)
	if _, err := s.RotateRefreshToken(ctx, "rt4_0", "rt4_1", t1, grace); err != nil {
		t.Fatal(err)
	}
	_, err = s.RotateRefreshToken(ctx, "rt4_0", "rt4_other", t1, grace)
	wantErr(t, "RotateRefreshToken(retry with another successor)", err, gatehouse.ErrRefreshReused)
	wantFamilies(t, s, nil, []string{fam.ID})

	// Unknown token; expired family (not revoked by the attempt); a
	// successor already in use (nothing changes).
	_, err = s.RotateRefreshToken(ctx, "rt_unknown", "rt_x", t1, grace)
	wantErr(t, "RotateRefreshToken(unknown)", err, gatehouse.ErrNotFound)
	fam = issueFamily(t, s, "grt_5", "rt5_0", f.client.ID, f.ses, t0)
	_, err = s.RotateRefreshToken(ctx, "rt5_0", "rt5_1", fam.ExpiresAt, grace)
	wantErr(t, "RotateRefreshToken(expired family)", err, gatehouse.ErrNotFound)
	other := issueFamily(t, s, "grt_6", "rt6_0", f.client.ID, f.ses, t0)
	_, err = s.RotateRefreshToken(ctx, "rt5_0", other.RefreshHash, t1, grace)
	wantErr(t, "RotateRefreshToken(successor taken)", err, gatehouse.ErrConflict)
	if _, err := s.RotateRefreshToken(ctx, "rt5_0", "", t1, grace); err == nil {
		t.Fatal("RotateRefreshToken with an empty successor succeeded")
	}
	wantFamily(t, s, fam, "rt5_0")
	wantFamily(t, s, other, "rt6_0")
	_, err = s.RefreshFamilyByToken(ctx, "rt5_1", t0)
	wantErr(t, "RefreshFamilyByToken(refused successor)", err, gatehouse.ErrNotFound)
}

func testConcurrentRotateRefreshToken(t *testing.T, s Store) {
	f := newOAuthFixture(t, s, 1)
	const n = 8
	t1 := t0.Add(time.Hour)

	// Duplicates within grace: one rotates, the others are retries that
	// get the same successor.
	fam := issueFamily(t, s, "grt_grace", "rtg_0", f.client.ID, f.ses, t0)
	fams := make([]gatehouse.RefreshFamily, n)
	errs := race(n, func(i int) error {
		var err error
		fams[i], err = s.RotateRefreshToken(t.Context(), "rtg_0", "rtg_1", t1, 10*time.Second)
		return err
	})
	want := fam
	want.RefreshHash, want.PreviousHash, want.RotatedAt = "rtg_1", "rtg_0", ms(t1)
	for i, err := range errs {
		if err != nil || !reflect.DeepEqual(fams[i], want) {
			t.Errorf("RotateRefreshToken %d = %+v, %v;\nwant %+v", i, fams[i], err, want)
		}
	}
	wantFamily(t, s, want, "rtg_0", "rtg_1")

	// Without grace: one rotates, and the first loser revokes the family
	// (later ones may find it gone already).
	fam = issueFamily(t, s, "grt_strict", "rts_0", f.client.ID, f.ses, t0)
	errs = race(n, func(i int) error {
		_, err := s.RotateRefreshToken(t.Context(), "rts_0", fmt.Sprint("rts_1_", i), t1, 0)
		return err
	})
	winners, reused := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case errors.Is(err, gatehouse.ErrRefreshReused):
			reused++
		case !errors.Is(err, gatehouse.ErrNotFound):
			t.Errorf("RotateRefreshToken %d: %v", i, err)
		}
	}
	if winners != 1 || reused == 0 {
		t.Fatalf("RotateRefreshToken without grace: %d succeeded, %d reused (errors %v); want 1 and at least 1", winners, reused, errs)
	}
	wantFamilies(t, s, []string{"grt_grace"}, []string{fam.ID})
}

// Every way a session ends ends the codes and families authorized from
// it, in the same transaction.
func testOAuthSessionCascades(t *testing.T, s Store) {
	ctx := t.Context()
	keep := newOAuthFixture(t, s, 99)
	client := keep.client.ID
	keepFam := issueFamily(t, s, "grt_keep", "rt_keep", client, keep.ses, t0)
	keepCode := newCode("ch_keep", client, keep.ses, t0)
	mustCreateCode(t, s, keepCode)

	for i, tc := range []struct {
		name string
		end  func(u gatehouse.User, ses gatehouse.Session) error
	}{
		{"RevokeSession", func(u gatehouse.User, ses gatehouse.Session) error {
			return s.RevokeSession(ctx, u.ID, ses.ID)
		}},
		{"RevokeSessions", func(u gatehouse.User, ses gatehouse.Session) error {
			_, err := s.RevokeSessions(ctx, u.ID, "")
			return err
		}},
		{"ChangePassword", func(u gatehouse.User, ses gatehouse.Session) error {
			return s.ChangePassword(ctx, u.ID, "new", ses.ID, newSession(ses.ID+"_next", u.ID, t0), t0)
		}},
		{"ResetPassword", func(u gatehouse.User, ses gatehouse.Session) error {
			tk := newToken("tok_"+u.ID, u, gatehouse.PurposeResetPassword, t0)
			if err := s.IssueEmailToken(ctx, tk); err != nil {
				return err
			}
			_, err := s.ResetPassword(ctx, tk.TokenHash, "new", t0)
			return err
		}},
		{"SetUserDisabled", func(u gatehouse.User, ses gatehouse.Session) error {
			return s.SetUserDisabled(ctx, u.ID, true, t0)
		}},
		{"DeleteUser", func(u gatehouse.User, ses gatehouse.Session) error {
			return s.DeleteUser(ctx, u.ID)
		}},
		{"DeleteExpiredSessions", func(u gatehouse.User, ses gatehouse.Session) error {
			// Only this case's session ends within the day.
			_, err := s.DeleteExpiredSessions(ctx, t0.Add(24*time.Hour), t0.Add(-time.Hour))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUser(i + 1)
			mustCreateUser(t, s, u, "h")
			ses := newSession(fmt.Sprint("ses_", i), u.ID, t0)
			ses.AbsoluteExpiresAt = t0.Add(time.Hour)
			mustCreateSession(t, s, ses)
			famID := fmt.Sprint("grt_", i)
			issueFamily(t, s, famID, fmt.Sprint("rt_", i), client, ses, t0)
			pending := newCode(fmt.Sprint("ch_pending", i), client, ses, t0)
			mustCreateCode(t, s, pending)

			if err := tc.end(u, ses); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			wantFamilies(t, s, nil, []string{famID})
			_, err := s.RefreshFamilyByToken(ctx, fmt.Sprint("rt_", i), t0)
			wantErr(t, "RefreshFamilyByToken", err, gatehouse.ErrNotFound)
			_, err = s.RotateRefreshToken(ctx, fmt.Sprint("rt_", i), "rt_next", t0, time.Minute)
			wantErr(t, "RotateRefreshToken", err, gatehouse.ErrNotFound)
			// Both codes went with the session: the redeemed one is no
			// longer a reuse, the pending one no longer redeemable.
			for _, h := range []string{"ch_" + famID, pending.Hash} {
				c := newCode(h, client, ses, t0)
				_, err := s.RedeemAuthorizationCode(ctx, h, familyFor(famID+"_late", c, ""), t0)
				wantErr(t, "RedeemAuthorizationCode("+h+")", err, gatehouse.ErrNotFound)
			}
		})
	}
	wantFamily(t, s, keepFam, "rt_keep")
	if _, err := s.RedeemAuthorizationCode(ctx, keepCode.Hash, familyFor("grt_keep2", keepCode, ""), t0); err != nil {
		t.Fatalf("another session's code: %v", err)
	}
}

func testDeleteUserCascadesOAuth(t *testing.T, s Store) {
	ctx := t.Context()
	f := newOAuthFixture(t, s, 1)
	o := newOAuthFixture(t, s, 2)
	for _, fx := range []oauthFixture{f, o} {
		if err := s.SaveConsent(ctx, gatehouse.OAuthConsent{UserID: fx.user.ID, ClientID: f.client.ID, GrantedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	issueFamily(t, s, "grt_1", "rt_1", f.client.ID, f.ses, t0)
	kept := issueFamily(t, s, "grt_2", "rt_2", f.client.ID, o.ses, t0)
	if err := s.DeleteUser(ctx, f.user.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err := s.Consent(ctx, f.user.ID, f.client.ID)
	wantErr(t, "Consent of a deleted user", err, gatehouse.ErrNotFound)
	wantFamilies(t, s, nil, []string{"grt_1"})
	if _, err := s.Consent(ctx, o.user.ID, f.client.ID); err != nil {
		t.Fatalf("another user's consent: %v", err)
	}
	wantFamily(t, s, kept, "rt_2")
}

func testDeleteOAuthClientCascades(t *testing.T, s Store) {
	ctx := t.Context()
	f := newOAuthFixture(t, s, 1)
	o := newOAuthFixture(t, s, 2)
	a := f.client
	if err := s.SaveConsent(ctx, gatehouse.OAuthConsent{UserID: f.user.ID, ClientID: a.ID, GrantedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	issueFamily(t, s, "grt_a", "rt_a", a.ID, f.ses, t0)
	kept := issueFamily(t, s, "grt_o", "rt_o", o.client.ID, f.ses, t0)
	pending := newCode("ch_pending", a.ID, f.ses, t0)
	mustCreateCode(t, s, pending)
	if err := s.UseClientAssertion(ctx, a.ID, "jti-1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.UseClientAssertion(ctx, o.client.ID, "jti-1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	if err := s.DeleteOAuthClient(ctx, a.ID); err != nil {
		t.Fatalf("DeleteOAuthClient: %v", err)
	}
	// A client registered again under the id inherits nothing.
	mustCreateClient(t, s, a)
	_, err := s.Consent(ctx, f.user.ID, a.ID)
	wantErr(t, "Consent of a deleted client", err, gatehouse.ErrNotFound)
	wantFamilies(t, s, nil, []string{"grt_a"})
	_, err = s.RedeemAuthorizationCode(ctx, pending.Hash, familyFor("grt_late", pending, ""), t0)
	wantErr(t, "RedeemAuthorizationCode(code of a deleted client)", err, gatehouse.ErrNotFound)
	if err := s.UseClientAssertion(ctx, a.ID, "jti-1", t0.Add(time.Minute)); err != nil {
		t.Fatalf("UseClientAssertion after the client was deleted: %v", err)
	}
	wantErr(t, "UseClientAssertion(other client, used)", s.UseClientAssertion(ctx, o.client.ID, "jti-1", t0.Add(time.Minute)), gatehouse.ErrConflict)
	wantFamily(t, s, kept, "rt_o")
}

func testUseClientAssertion(t *testing.T, s Store) {
	ctx := t.Context()
	f := newOAuthFixture(t, s, 1)
	o := newOAuthFixture(t, s, 2)
	exp := t0.Add(5 * time.Minute)
	if err := s.UseClientAssertion(ctx, f.client.ID, "jti-1", exp); err != nil {
		t.Fatalf("UseClientAssertion: %v", err)
	}
	wantErr(t, "UseClientAssertion(again)", s.UseClientAssertion(ctx, f.client.ID, "jti-1", exp.Add(time.Hour)), gatehouse.ErrConflict)
	// A jti is unique per client only.
	if err := s.UseClientAssertion(ctx, o.client.ID, "jti-1", exp); err != nil {
		t.Fatalf("UseClientAssertion(another client): %v", err)
	}
	if err := s.UseClientAssertion(ctx, f.client.ID, "JTI-1", exp); err != nil {
		t.Fatalf("UseClientAssertion(jti differing in case): %v", err)
	}
	wantErr(t, "UseClientAssertion(unknown client)", s.UseClientAssertion(ctx, "cli_missing", "jti-2", exp), gatehouse.ErrNotFound)

	const n = 8
	errs := race(n, func(int) error { return s.UseClientAssertion(t.Context(), f.client.ID, "jti-race", exp) })
	exactlyOne(t, "UseClientAssertion", errs, gatehouse.ErrConflict)
}

func testDeleteExpiredOAuth(t *testing.T, s Store) {
	ctx := t.Context()
	f := newOAuthFixture(t, s, 1)
	client := f.client.ID
	early, late := t0.Add(time.Minute), t0.Add(2*time.Minute)

	// Codes: one pending and one redeemed ending early, one pending late.
	pending := newCode("ch_early", client, f.ses, t0)
	mustCreateCode(t, s, pending)
	redeemed := issueFamily(t, s, "grt_kept", "rt_kept", client, f.ses, t0) // its code ends early
	lateCode := newCode("ch_late", client, f.ses, t0.Add(time.Minute))
	mustCreateCode(t, s, lateCode)
	// Families: one ending early, one (redeemed above) ending much later.
	short := newCode("ch_short", client, f.ses, t0)
	mustCreateCode(t, s, short)
	shortFam := familyFor("grt_short", short, "rt_short")
	shortFam.ExpiresAt = early
	if _, err := s.RedeemAuthorizationCode(ctx, short.Hash, shortFam, t0); err != nil {
		t.Fatal(err)
	}
	// Assertions.
	for jti, at := range map[string]time.Time{"jti-early": early, "jti-late": late} {
		if err := s.UseClientAssertion(ctx, client, jti, at); err != nil {
			t.Fatal(err)
		}
	}

	n, err := s.DeleteExpiredOAuth(ctx, early)
	if err != nil || n != 0 {
		t.Fatalf("DeleteExpiredOAuth at the expiry = %d, %v; want 0 (expiry is exclusive)", n, err)
	}
	// 3 codes (pending, redeemed, short's), 1 family, 1 assertion.
	n, err = s.DeleteExpiredOAuth(ctx, early.Add(time.Millisecond))
	if err != nil || n != 5 {
		t.Fatalf("DeleteExpiredOAuth = %d, %v; want 5", n, err)
	}
	if n, err := s.DeleteExpiredOAuth(ctx, early.Add(time.Millisecond)); err != nil || n != 0 {
		t.Fatalf("DeleteExpiredOAuth again = %d, %v; want 0", n, err)
	}
	wantFamily(t, s, redeemed, "rt_kept")
	wantFamilies(t, s, nil, []string{"grt_short"})
	_, err = s.RefreshFamilyByToken(ctx, "rt_short", t0)
	wantErr(t, "RefreshFamilyByToken(deleted family)", err, gatehouse.ErrNotFound)
	if err := s.UseClientAssertion(ctx, client, "jti-early", late); err != nil {
		t.Fatalf("UseClientAssertion(jti of a deleted record): %v", err)
	}
	wantErr(t, "UseClientAssertion(kept record)", s.UseClientAssertion(ctx, client, "jti-late", late), gatehouse.ErrConflict)
	if _, err := s.RedeemAuthorizationCode(ctx, lateCode.Hash, familyFor("grt_late", lateCode, ""), early.Add(time.Millisecond)); err != nil {
		t.Fatalf("RedeemAuthorizationCode(kept code): %v", err)
	}
	_, err = s.RedeemAuthorizationCode(ctx, pending.Hash, familyFor("grt_x", pending, ""), t0)
	wantErr(t, "RedeemAuthorizationCode(deleted code)", err, gatehouse.ErrNotFound)
	if ids := sessionIDs(t, s, f.user.ID); !slices.Equal(ids, []string{f.ses.ID}) {
		t.Fatalf("sessions = %q", ids)
	}
}

// testOAuthGrantsFollowSession: re-authentication (RotateSession) and the
// same user signing in again over their session (CreateSession with
// Replaces) keep the user's apps; another user's sign-in over the session
// revokes them.
func testOAuthGrantsFollowSession(t *testing.T, s Store) {
	ctx := t.Context()
	f := newOAuthFixture(t, s, 1)
	other := newOAuthFixture(t, s, 2)
	issueFamily(t, s, "grt_a", "rt_a", f.client.ID, f.ses, t0)

	rotated := newSession("ses_rotated", f.user.ID, t0)
	if err := s.RotateSession(ctx, f.ses.ID, rotated); err != nil {
		t.Fatalf("RotateSession: %v", err)
	}
	fam, err := s.RefreshFamilyByID(ctx, "grt_a", t0)
	if err != nil || fam.SessionID != rotated.ID {
		t.Fatalf("after RotateSession the family is %+v, %v; want it on %s", fam, err, rotated.ID)
	}
	again := newSession("ses_again", f.user.ID, t0)
	if err := s.CreateSession(ctx, again, rotated.ID); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if fam, err = s.RefreshFamilyByID(ctx, "grt_a", t0); err != nil || fam.SessionID != again.ID {
		t.Fatalf("after signing in again the family is %+v, %v; want it on %s", fam, err, again.ID)
	}
	// Another user signing in over this browser's session.
	if err := s.CreateSession(ctx, newSession("ses_bo", other.user.ID, t0), again.ID); err != nil {
		t.Fatalf("CreateSession of another user: %v", err)
	}
	wantFamilies(t, s, nil, []string{"grt_a"})
}
