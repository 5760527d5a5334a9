package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/web"
)

const goodRedirect = "https://app.example.com/callback"

var (
	clientIDLine     = regexp.MustCompile(`(?m)^  Client ID: +(cli_\S+)$`)
	clientSecretLine = regexp.MustCompile(`(?m)^  Client secret: +(\S+)$`)
)

// createClient runs `clients create` with args and returns the client ID
// and secret it printed ("" for none).
func createClient(t *testing.T, env []string, args ...string) (id, secret string, r result) {
	t.Helper()
	r = gh(t, env, "", append([]string{"clients", "create"}, args...)...).ok(t)
	m := clientIDLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no client ID in:\n%s", r.stdout)
	}
	if s := clientSecretLine.FindStringSubmatch(r.stdout); s != nil {
		secret = s[1]
	}
	return m[1], secret, r
}

// withCore opens the core over the test's database, as the commands do.
func withCore(t *testing.T, env []string, fn func(a *gatehouse.Auth)) {
	t.Helper()
	sess, err := openAuth(t.Context(), &commandEnv{env: env, stdout: io.Discard, stderr: io.Discard, opts: testOptions()})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.close()
	fn(sess.auth)
}

// loadClient reads the client from the store.
func loadClient(t *testing.T, env []string, id string) gatehouse.OAuthClient {
	t.Helper()
	var cl gatehouse.OAuthClient
	withCore(t, env, func(a *gatehouse.Auth) {
		var err error
		if cl, err = a.Client(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	})
	return cl
}

// authenticates reports whether the secret authenticates the client.
func authenticates(t *testing.T, env []string, id, method, secret string) bool {
	t.Helper()
	ok := false
	withCore(t, env, func(a *gatehouse.Auth) {
		_, err := a.AuthenticateClient(t.Context(), gatehouse.ClientAuthentication{ClientID: id, Secret: secret, Method: method})
		ok = err == nil
	})
	return ok
}

func TestClientsCreateListShow(t *testing.T) {
	env := baseEnv(t)
	id, secret, r := createClient(t, env, "--name", "Notes", "--redirect-uri", goodRedirect, "--post-logout-redirect-uri", "https://app.example.com/")
	if !strings.HasPrefix(secret, gatehouse.ClientSecretPrefix) {
		t.Fatalf("secret %q lacks the %s prefix:\n%s", secret, gatehouse.ClientSecretPrefix, r.stdout)
	}
	if n := strings.Count(r.stdout, secret); n != 1 {
		t.Errorf("the secret is printed %d times", n)
	}
	for _, w := range []string{
		"Created client " + id + " (Notes), confidential (client_secret_basic).",
		"will not be shown again",
		"gatehouse clients rotate-secret " + id,
		"Issuer:    http://localhost:8080/auth\n",
		"Discovery: http://localhost:8080/auth/.well-known/openid-configuration\n",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("create output lacks %q:\n%s", w, r.stdout)
		}
	}
	if !authenticates(t, env, id, gatehouse.ClientAuthSecretBasic, secret) {
		t.Error("the printed secret does not authenticate the client")
	}
	cl := loadClient(t, env, id)
	if cl.Name != "Notes" || !slices.Equal(cl.RedirectURIs, []string{goodRedirect}) || cl.FirstParty ||
		!slices.Equal(cl.GrantTypes, []string{gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken}) {
		t.Errorf("client %+v", cl)
	}

	list := gh(t, env, "", "clients", "list").ok(t)
	for _, w := range []string{"ID", "NAME", "TYPE", "GRANTS", "FIRST-PARTY", id, "Notes", "confidential", "authorization_code,refresh_token"} {
		if !strings.Contains(list.stdout, w) {
			t.Errorf("list lacks %q:\n%s", w, list.stdout)
		}
	}
	show := gh(t, env, "", "clients", "show", id).ok(t)
	for _, w := range []string{id, "Notes", goodRedirect, "https://app.example.com/", "openid profile email offline_access", "RS256", "only its hash is stored", "users are asked to consent"} {
		if !strings.Contains(show.stdout, w) {
			t.Errorf("show lacks %q:\n%s", w, show.stdout)
		}
	}
	for _, args := range [][]string{{"list"}, {"list", "--json"}, {"show", id}, {"show", id, "--json"}} {
		out := gh(t, env, "", append([]string{"clients"}, args...)...).ok(t)
		if strings.Contains(out.stdout+out.stderr, secret) || strings.Contains(out.stdout+out.stderr, cl.SecretHash) {
			t.Errorf("clients %s prints the secret or its hash:\n%s", strings.Join(args, " "), out.stdout)
		}
	}
}

func TestClientsCreateKinds(t *testing.T) {
	env := baseEnv(t)

	// A public native app: no secret, a loopback redirect.
	id, secret, r := createClient(t, env, "--name", "CLI", "--public", "--redirect-uri", "http://127.0.0.1/callback")
	if secret != "" || !strings.Contains(r.stdout, "public client") {
		t.Errorf("public client: secret %q\n%s", secret, r.stdout)
	}
	if cl := loadClient(t, env, id); !cl.Public() || cl.SecretHash != "" {
		t.Errorf("public client %+v", cl)
	}
	// --public and another method contradict each other.
	gh(t, env, "", "clients", "create", "--name", "X", "--public", "--auth-method", "client_secret_post", "--redirect-uri", goodRedirect).
		fails(t, 2, "--public means --auth-method none")

	// A machine client: client_credentials with a custom scope, no redirect.
	id, secret, _ = createClient(t, env, "--name", "Nightly export", "--grant", "client_credentials", "--scope", "reports:read")
	if secret == "" {
		t.Error("a client_credentials client got no secret")
	}
	if cl := loadClient(t, env, id); !slices.Equal(cl.GrantTypes, []string{gatehouse.GrantClientCredentials}) || !slices.Equal(cl.Scopes, []string{"reports:read"}) {
		t.Errorf("machine client %+v", cl)
	}

	// A private_key_jwt client with its keys from a file.
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	id, secret, r = createClient(t, env, "--name", "Backend", "--auth-method", "private_key_jwt", "--jwks-file", file, "--redirect-uri", goodRedirect)
	if secret != "" || !strings.Contains(r.stdout, "aud exactly http://localhost:8080/auth") {
		t.Errorf("private_key_jwt client: secret %q\n%s", secret, r.stdout)
	}
	show := gh(t, env, "", "clients", "show", id).ok(t)
	if !strings.Contains(show.stdout, "k1 (OKP EdDSA)") || !strings.Contains(show.stdout, "authenticates with its keys") {
		t.Errorf("show:\n%s", show.stdout)
	}
	// A private_key_jwt client without keys is refused with the core's reason.
	gh(t, env, "", "clients", "create", "--name", "X", "--auth-method", "private_key_jwt", "--redirect-uri", goodRedirect).
		fails(t, 1, "jwks: A private_key_jwt client needs its public keys (a JWKS).")
	gh(t, env, "", "clients", "create", "--name", "X", "--redirect-uri", goodRedirect, "--jwks-file", filepath.Join(t.TempDir(), "missing.json")).
		fails(t, 1, "--jwks-file")
}

func TestClientsCreateErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"http redirect on a public host", []string{"--name", "Notes", "--redirect-uri", "http://example.com/cb"}, 1,
			[]string{`gatehouse: redirect_uris: "http://example.com/cb" uses http on a host other than localhost, 127.0.0.1 or [::1]: use https.`}},
		{"wildcard", []string{"--name", "Notes", "--redirect-uri", "https://*.example.com/cb"}, 1,
			[]string{"redirect_uris:", "must not contain wildcards"}},
		{"no redirect for the code flow", []string{"--name", "Notes"}, 1,
			[]string{"redirect_uris: Register at least one redirect URI"}},
		{"public client_credentials", []string{"--name", "Notes", "--public", "--grant", "client_credentials"}, 1,
			[]string{"grant_types: client_credentials needs a client that can keep a secret."}},
		{"unknown grant", []string{"--name", "Notes", "--grant", "password"}, 1,
			[]string{"grant_types:", "Use the grant types authorization_code, refresh_token or client_credentials."}},
		{"unknown auth method", []string{"--name", "Notes", "--auth-method", "tls_client_auth", "--redirect-uri", goodRedirect}, 1,
			[]string{"auth_method: Use client_secret_basic, client_secret_post, private_key_jwt or none."}},
		{"no name", []string{"--redirect-uri", goodRedirect}, 2, []string{"--name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv(t)
			r := gh(t, env, "", append([]string{"clients", "create"}, tt.args...)...).fails(t, tt.code, tt.want...)
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if tt.code == 1 {
				withCore(t, env, func(a *gatehouse.Auth) {
					if cls, err := a.Clients(t.Context()); err != nil || len(cls) != 0 {
						t.Errorf("clients %v, %v; want none", cls, err)
					}
				})
			}
		})
	}
}

func TestClientsUpdateMerges(t *testing.T) {
	env := baseEnv(t)
	id, secret, _ := createClient(t, env, "--name", "Notes",
		"--redirect-uri", goodRedirect, "--redirect-uri", "https://app.example.com/other",
		"--post-logout-redirect-uri", "https://app.example.com/", "--scope", "openid", "--scope", "profile", "--first-party")
	before := loadClient(t, env, id)

	steps := []struct {
		args  []string
		check func(t *testing.T, c gatehouse.OAuthClient)
	}{
		{[]string{"--name", "Notes 2"}, func(t *testing.T, c gatehouse.OAuthClient) {
			want := before
			want.Name = "Notes 2"
			want.UpdatedAt = c.UpdatedAt
			if !equalClients(c, want) {
				t.Errorf("only the name must change:\n got %+v\nwant %+v", c, want)
			}
		}},
		{[]string{"--redirect-uri", "https://app.example.com/new"}, func(t *testing.T, c gatehouse.OAuthClient) {
			if !slices.Equal(c.RedirectURIs, []string{"https://app.example.com/new"}) {
				t.Errorf("a repeated flag replaces the list: %v", c.RedirectURIs)
			}
			if c.Name != "Notes 2" || !slices.Equal(c.PostLogoutRedirectURIs, before.PostLogoutRedirectURIs) ||
				!slices.Equal(c.Scopes, []string{"openid", "profile"}) || !c.FirstParty || c.SecretHash != before.SecretHash {
				t.Errorf("other settings changed: %+v", c)
			}
		}},
		{[]string{"--no-first-party", "--scope", "openid", "--scope", "email"}, func(t *testing.T, c gatehouse.OAuthClient) {
			if c.FirstParty || !slices.Equal(c.Scopes, []string{"openid", "email"}) {
				t.Errorf("first party %v scopes %v", c.FirstParty, c.Scopes)
			}
			if !slices.Equal(c.RedirectURIs, []string{"https://app.example.com/new"}) {
				t.Errorf("redirect URIs changed: %v", c.RedirectURIs)
			}
		}},
	}
	for _, st := range steps {
		r := gh(t, env, "", append([]string{"clients", "update", id}, st.args...)...).ok(t)
		if !strings.HasPrefix(r.stdout, "Updated client "+id) {
			t.Errorf("update %v:\n%s", st.args, r.stdout)
		}
		st.check(t, loadClient(t, env, id))
	}
	if !authenticates(t, env, id, gatehouse.ClientAuthSecretBasic, secret) {
		t.Error("an update that kept the method changed the secret")
	}

	// A bad change is refused with the field and nothing changes.
	before = loadClient(t, env, id)
	gh(t, env, "", "clients", "update", id, "--name", "Renamed", "--redirect-uri", "http://example.com/cb").
		fails(t, 1, `redirect_uris: "http://example.com/cb" uses http`)
	if after := loadClient(t, env, id); !equalClients(after, before) {
		t.Errorf("a refused update changed the client:\n got %+v\nwant %+v", after, before)
	}
	gh(t, env, "", "clients", "update", id, "--first-party", "--no-first-party").fails(t, 2, "not both")
	gh(t, env, "", "clients", "update", id).fails(t, 2, "nothing to change")

	// Going public drops the secret; coming back issues a new one, once.
	r := gh(t, env, "", "clients", "update", id, "--public", "--redirect-uri", "http://127.0.0.1/callback").ok(t)
	if !strings.Contains(r.stdout, "Its secret was deleted") {
		t.Errorf("update --public:\n%s", r.stdout)
	}
	if c := loadClient(t, env, id); !c.Public() || c.SecretHash != "" {
		t.Errorf("public client %+v", c)
	}
	r = gh(t, env, "", "clients", "update", id, "--auth-method", "client_secret_post").ok(t)
	m := clientSecretLine.FindStringSubmatch(r.stdout)
	if m == nil || !strings.Contains(r.stdout, "will not be shown again") {
		t.Fatalf("update back to a secret printed none:\n%s", r.stdout)
	}
	if !authenticates(t, env, id, gatehouse.ClientAuthSecretPost, m[1]) || authenticates(t, env, id, gatehouse.ClientAuthSecretPost, secret) {
		t.Error("the new secret must authenticate, the old one not")
	}

	gh(t, env, "", "clients", "update", "cli_nosuchclient", "--name", "X").fails(t, 1, `No application has the client ID "cli_nosuchclient"`)
}

// equalClients compares every field.
func equalClients(a, b gatehouse.OAuthClient) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestClientsRotateSecret(t *testing.T) {
	env := baseEnv(t)
	id, old, _ := createClient(t, env, "--name", "Notes", "--redirect-uri", goodRedirect)
	r := gh(t, env, "", "clients", "rotate-secret", id).ok(t)
	m := clientSecretLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no secret printed:\n%s", r.stdout)
	}
	secret := m[1]
	if secret == old || strings.Count(r.stdout, secret) != 1 || !strings.Contains(r.stdout, "will not be shown again") {
		t.Errorf("rotate-secret:\n%s", r.stdout)
	}
	if authenticates(t, env, id, gatehouse.ClientAuthSecretBasic, old) {
		t.Error("the old secret still authenticates")
	}
	if !authenticates(t, env, id, gatehouse.ClientAuthSecretBasic, secret) {
		t.Error("the new secret does not authenticate")
	}

	pub, _, _ := createClient(t, env, "--name", "CLI", "--public", "--redirect-uri", "http://127.0.0.1/callback")
	gh(t, env, "", "clients", "rotate-secret", pub).fails(t, 1, "This client authenticates without a secret.")
	gh(t, env, "", "clients", "rotate-secret", "cli_nosuchclient").fails(t, 1, `No application has the client ID "cli_nosuchclient"`)
}

func TestClientsDelete(t *testing.T) {
	env := baseEnv(t)
	id, secret, _ := createClient(t, env, "--name", "Notes", "--redirect-uri", goodRedirect)
	keep, _, _ := createClient(t, env, "--name", "Other", "--redirect-uri", goodRedirect)
	r := gh(t, env, "", "clients", "delete", id).ok(t)
	for _, w := range []string{"Deleted client " + id + " (Notes)", "consents", "refresh tokens"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("delete output lacks %q:\n%s", w, r.stdout)
		}
	}
	if authenticates(t, env, id, gatehouse.ClientAuthSecretBasic, secret) {
		t.Error("a deleted client still authenticates")
	}
	gh(t, env, "", "clients", "show", id).fails(t, 1, `No application has the client ID "`+id+`"`)
	gh(t, env, "", "clients", "delete", id).fails(t, 1, "No application has the client ID")
	list := gh(t, env, "", "clients", "list").ok(t)
	if strings.Contains(list.stdout, id) || !strings.Contains(list.stdout, keep) {
		t.Errorf("list after delete:\n%s", list.stdout)
	}
}

func TestClientsJSON(t *testing.T) {
	env := baseEnv(t)
	r := gh(t, env, "", "clients", "create", "--name", "Notes", "--redirect-uri", goodRedirect, "--json").ok(t)
	var created clientSecretJSON
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil {
		t.Fatalf("create --json: %v\n%s", err, r.stdout)
	}
	if !strings.HasPrefix(created.ClientSecret, gatehouse.ClientSecretPrefix) || created.Issuer != "http://localhost:8080/auth" {
		t.Errorf("create --json: %s", r.stdout)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["client_secret"] != created.ClientSecret {
		t.Errorf("client_secret not at the top level: %s", r.stdout)
	}
	var id string
	withCore(t, env, func(a *gatehouse.Auth) {
		cls, err := a.Clients(t.Context())
		if err != nil || len(cls) != 1 {
			t.Fatalf("clients %v, %v", cls, err)
		}
		id = cls[0].ID
		if _, err := a.AuthenticateClient(t.Context(), gatehouse.ClientAuthentication{ClientID: id, Secret: created.ClientSecret, Method: gatehouse.ClientAuthSecretBasic}); err != nil {
			t.Errorf("the secret from --json does not authenticate: %v", err)
		}
	})
	want := sameJSON(t, web.NewClientJSON(loadClient(t, env, id)))
	if got := sameJSON(t, created.ClientJSON); got != want {
		t.Errorf("create --json client:\n got %s\nwant %s", got, want)
	}

	show := gh(t, env, "", "clients", "show", id, "--json").ok(t)
	var shown web.ClientJSON
	if err := json.Unmarshal([]byte(show.stdout), &shown); err != nil {
		t.Fatalf("show --json: %v\n%s", err, show.stdout)
	}
	if got := sameJSON(t, shown); got != want {
		t.Errorf("show --json:\n got %s\nwant %s", got, want)
	}

	list := gh(t, env, "", "clients", "list", "--json").ok(t)
	var listed []web.ClientJSON
	if err := json.Unmarshal([]byte(list.stdout), &listed); err != nil {
		t.Fatalf("list --json: %v\n%s", err, list.stdout)
	}
	if len(listed) != 1 || sameJSON(t, listed[0]) != want {
		t.Errorf("list --json: %s", list.stdout)
	}

	// No clients is an empty array, not null.
	empty := gh(t, baseEnv(t), "", "clients", "list", "--json").ok(t)
	if strings.TrimSpace(empty.stdout) != "[]" {
		t.Errorf("empty list --json: %q", empty.stdout)
	}
}

// sameJSON renders v canonically for comparison.
func sameJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestClientsHelp(t *testing.T) {
	r := gh(t, baseEnv(t), "", "clients", "--help").ok(t)
	for _, w := range []string{"create", "list", "show", "update", "delete", "rotate-secret"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("help lacks %q:\n%s", w, r.stdout)
		}
	}
}
