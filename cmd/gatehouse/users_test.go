package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

const goodPassword = "correct horse battery staple"

// listUsers runs `users list --json` and decodes it.
func listUsers(t *testing.T, env []string) []userJSON {
	t.Helper()
	r := gh(t, env, "", "users", "list", "--json").ok(t)
	var users []userJSON
	if err := json.Unmarshal([]byte(r.stdout), &users); err != nil {
		t.Fatalf("users list --json: %v\n%s", err, r.stdout)
	}
	return users
}

func TestUsersCreateAndList(t *testing.T) {
	env := baseEnv(t, "GATEHOUSE_ROLES=editor=notes:write")
	r := gh(t, env, goodPassword+"\n", "users", "create", "--email", "Ada@Example.com", "--name", "Ada", "--role", "editor", "--verified", "--password-stdin").ok(t)
	if !strings.HasPrefix(r.stdout, "Created usr_") || !strings.Contains(r.stdout, "Ada@example.com") {
		t.Errorf("stdout %q", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, goodPassword) {
		t.Error("the password was echoed")
	}
	users := listUsers(t, env)
	if len(users) != 1 {
		t.Fatalf("users %+v", users)
	}
	u := users[0]
	if u.Email != "Ada@example.com" || u.Name != "Ada" || !u.EmailVerified || !slices.Equal(u.Roles, []string{"editor"}) || u.Disabled {
		t.Errorf("user %+v", u)
	}

	// A duplicate is refused with the core's message.
	gh(t, env, goodPassword+"\n", "users", "create", "--email", "ada@example.com", "--password-stdin").
		fails(t, 1, "email: An account with this email already exists.")
	// A weak password is refused with the policy's explanation.
	gh(t, env, "short\n", "users", "create", "--email", "bob@example.com", "--password-stdin").fails(t, 1, "password")

	// The table lists the same account.
	r = gh(t, env, "", "users", "list").ok(t)
	for _, w := range []string{"ID", "EMAIL", "VERIFIED", "ROLES", "DISABLED", "CREATED", u.ID, "Ada@example.com", "editor"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("table lacks %q:\n%s", w, r.stdout)
		}
	}
}

func TestUsersCreatePasswordInput(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no terminal and no --password-stdin", goodPassword + "\n", nil, "--password-stdin"},
		{"empty stdin", "", []string{"--password-stdin"}, "standard input is empty"},
		{"password on argv is not a flag", "", []string{"--password", goodPassword}, "unknown flag --password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv(t)
			args := append([]string{"users", "create", "--email", "ada@example.com"}, tt.args...)
			r := gh(t, env, tt.stdin, args...)
			if r.err == nil || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("err %v, stderr %q, want %q", r.err, r.stderr, tt.want)
			}
			if strings.Contains(r.stderr, goodPassword) {
				t.Error("the password was echoed")
			}
		})
	}
	// CRLF line endings are stripped.
	env := baseEnv(t)
	gh(t, env, goodPassword+"\r\nignored\n", "users", "create", "--email", "ada@example.com", "--password-stdin").ok(t)
}

func TestUsersLifecycle(t *testing.T) {
	env := baseEnv(t)
	gh(t, env, goodPassword+"\n", "users", "create", "--email", "ada@example.com", "--password-stdin").ok(t)
	id := listUsers(t, env)[0].ID

	steps := []struct {
		args  []string
		out   string
		check func(t *testing.T, users []userJSON)
	}{
		{[]string{"disable", "ada@example.com"}, "Disabled " + id, func(t *testing.T, us []userJSON) {
			if !us[0].Disabled {
				t.Error("not disabled")
			}
		}},
		{[]string{"enable", id}, "Enabled " + id, func(t *testing.T, us []userJSON) {
			if us[0].Disabled {
				t.Error("still disabled")
			}
		}},
		{[]string{"set-role", id, "admin", "support"}, "now has roles: admin, support", func(t *testing.T, us []userJSON) {
			if !slices.Equal(us[0].Roles, []string{"admin", "support"}) {
				t.Errorf("roles %v", us[0].Roles)
			}
		}},
		{[]string{"set-role", id, "--none"}, "now has no roles", func(t *testing.T, us []userJSON) {
			if len(us[0].Roles) != 0 {
				t.Errorf("roles %v", us[0].Roles)
			}
		}},
		{[]string{"revoke-sessions", "ADA@example.com"}, "Revoked 0 sessions", nil},
		{[]string{"delete", id}, "Deleted " + id, func(t *testing.T, us []userJSON) {
			if len(us) != 0 {
				t.Errorf("users %+v", us)
			}
		}},
	}
	for _, st := range steps {
		r := gh(t, env, "", append([]string{"users"}, st.args...)...).ok(t)
		if !strings.Contains(r.stdout, st.out) {
			t.Errorf("%v: stdout %q, want %q", st.args, r.stdout, st.out)
		}
		if st.check != nil {
			st.check(t, listUsers(t, env))
		}
	}
	gh(t, env, "", "users", "disable", id).fails(t, 1, "No such user.")
	gh(t, env, "", "users", "set-role", "nobody@example.com").fails(t, 2, "--none")
}

func TestUsersSetRoleWarnsAboutUndefinedRole(t *testing.T) {
	env := baseEnv(t, "GATEHOUSE_ROLES=editor=notes:write")
	gh(t, env, goodPassword+"\n", "users", "create", "--email", "ada@example.com", "--password-stdin").ok(t)
	r := gh(t, env, "", "users", "set-role", "ada@example.com", "editor", "edtior").ok(t)
	if !strings.Contains(r.stderr, `role "edtior" is not defined`) || strings.Contains(r.stderr, `role "editor" is not`) {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestUsersListPaging(t *testing.T) {
	env := baseEnv(t)
	for i := range 3 {
		gh(t, env, goodPassword+"\n", "users", "create", "--email", fmt.Sprintf("u%d@example.com", i), "--password-stdin").ok(t)
	}
	all := listUsers(t, env)
	r := gh(t, env, "", "users", "list", "--json", "--limit", "2").ok(t)
	if !strings.Contains(r.stderr, "--after "+all[1].ID) {
		t.Errorf("no next-page hint: %q", r.stderr)
	}
	r = gh(t, env, "", "users", "list", "--json", "--after", all[1].ID).ok(t)
	var rest []userJSON
	if err := json.Unmarshal([]byte(r.stdout), &rest); err != nil || len(rest) != 1 || rest[0].ID != all[2].ID {
		t.Errorf("after: %v %+v", err, rest)
	}
	gh(t, env, "", "users", "list", "--limit", "0").fails(t, 2, "--limit")
}

func TestUsersImport(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte(goodPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := secret.HashPassword(goodPassword, secret.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{
		fmt.Sprintf(`{"email":"bc@example.com","password_hash":%q,"name":"B C","email_verified":true,"roles":["editor"],"created_at":"2020-01-02T03:04:05Z"}`, bc),
		``,
		fmt.Sprintf(`{"email":"argon@example.com","password_hash":%q}`, a2),
		fmt.Sprintf(`{"email":"bad@example.com","password_hash":%q,"pasword":"x"}`, bc),
		`{"email":"nohash@example.com","password_hash":"$1$md5$notsupported"}`,
		`not json`,
		fmt.Sprintf(`{"email":"not an email","password_hash":%q}`, bc),
		fmt.Sprintf(`{"email":"bc@example.com","password_hash":%q}`, bc),
		fmt.Sprintf(`{"email":"x@example.com","password_hash":%q} {}`, bc),
		fmt.Sprintf(`{"email":"y@example.com","password_hash":%q,"roles":"editor"}`, bc),
	}
	input := strings.Join(lines, "\n") + "\n"

	t.Run("text", func(t *testing.T) {
		env := baseEnv(t)
		file := filepath.Join(t.TempDir(), "users.jsonl")
		if err := os.WriteFile(file, []byte(input), 0o600); err != nil {
			t.Fatal(err)
		}
		r := gh(t, env, "", "users", "import", file).fails(t, 1,
			"line 4: Unknown field \"pasword\"",
			"line 5: password_hash: The password hash must be argon2id (PHC format) or bcrypt.",
			"line 6: Not valid JSON",
			"line 7: email:",
			"line 8: email: An account with this email already exists.",
			"line 9: Each line must hold exactly one JSON object.",
			"line 10: roles: Must be a list of strings",
		)
		if !strings.Contains(r.stdout, "imported 2, failed 7") {
			t.Errorf("summary: %q", r.stdout)
		}
		if strings.Contains(r.stderr, string(bc)) || strings.Contains(r.stderr, "$2a$") || strings.Contains(r.stderr, "notsupported") {
			t.Errorf("a hash was echoed:\n%s", r.stderr)
		}
		if strings.Contains(r.stderr, "gatehouse:") {
			t.Errorf("the failure was reported twice:\n%s", r.stderr)
		}
		users := listUsers(t, env)
		if len(users) != 2 {
			t.Fatalf("users %+v", users)
		}
		for _, u := range users {
			if u.Email == "bc@example.com" && (!u.EmailVerified || u.Name != "B C" || u.CreatedAt.Format("2006") != "2020" || !slices.Equal(u.Roles, []string{"editor"})) {
				t.Errorf("imported user %+v", u)
			}
		}
	})

	t.Run("json from stdin", func(t *testing.T) {
		env := baseEnv(t)
		r := gh(t, env, input, "users", "import", "--json")
		if code(r.err) != 1 {
			t.Fatalf("exit %d, want 1 (%v)", code(r.err), r.err)
		}
		var out struct {
			Imported int            `json:"imported"`
			Failed   int            `json:"failed"`
			Results  []importResult `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if out.Imported != 2 || out.Failed != 7 || len(out.Results) != 9 {
			t.Errorf("got %+v", out)
		}
		if out.Results[0].Line != 1 || out.Results[0].ID == "" || out.Results[1].Line != 3 {
			t.Errorf("results %+v", out.Results[:2])
		}
		if e := out.Results[3].Error; e == nil || e.Code != "invalid_request" || e.Field != "password_hash" {
			t.Errorf("line 5 error %+v", e)
		}
		if strings.Contains(r.stdout, "$2a$") {
			t.Error("a hash was echoed")
		}
	})

	t.Run("all good", func(t *testing.T) {
		env := baseEnv(t)
		r := gh(t, env, lines[0]+"\n", "users", "import", "-").ok(t)
		if !strings.Contains(r.stdout, "imported 1, failed 0") {
			t.Errorf("stdout %q", r.stdout)
		}
	})
}

func TestMigrate(t *testing.T) {
	env := baseEnv(t)
	r := gh(t, env, "", "migrate").ok(t)
	if !strings.Contains(r.stdout, "Applied") || !strings.Contains(r.stdout, "(SQLite)") {
		t.Errorf("first migrate: %q", r.stdout)
	}
	r = gh(t, env, "", "migrate").ok(t)
	if !strings.Contains(r.stdout, "Already up to date") {
		t.Errorf("second migrate: %q", r.stdout)
	}
	r = gh(t, env, "", "migrate", "--status", "--json").ok(t)
	var out struct {
		Migrations []migrationJSON `json:"migrations"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Migrations) == 0 || !out.Migrations[0].Applied {
		t.Errorf("status: %v %q", err, r.stdout)
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		stdout   string
		stderr   string
		notInOut string
	}{
		{args: []string{"--help"}, stdout: "Usage: gatehouse"},
		{args: []string{"serve", "--help"}, stdout: "GATEHOUSE_PUBLIC_URL"},
		{args: []string{"users", "create", "--help"}, stdout: "--password-stdin", notInOut: "--password="},
		{args: []string{"version"}, stdout: "gatehouse "},
		{args: []string{"version", "--json"}, stdout: `"go_version"`},
		{args: []string{}, code: 2, stderr: "gatehouse --help"},
		{args: []string{"frobnicate"}, code: 2, stderr: "unexpected argument frobnicate"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := gh(t, baseEnv(t), "", tt.args...)
			if code(r.err) != tt.code {
				t.Errorf("exit %d, want %d (%v)", code(r.err), tt.code, r.err)
			}
			if !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stdout %q\nstderr %q", r.stdout, r.stderr)
			}
			if tt.notInOut != "" && strings.Contains(r.stdout, tt.notInOut) {
				t.Errorf("stdout contains %q", tt.notInOut)
			}
		})
	}
}

func TestKeysListAndRotate(t *testing.T) {
	env := baseEnv(t)
	out := gh(t, env, "", "keys", "list").ok(t).stdout
	if !strings.Contains(out, "EdDSA") || !strings.Contains(out, "signing") {
		t.Fatalf("keys list:\n%s", out)
	}
	// The first rotation creates the missing RS256 key and rotates EdDSA.
	out = gh(t, env, "", "keys", "rotate").ok(t).stdout
	if !strings.Contains(out, "Published new EdDSA keys") || !strings.Contains(out, "next") || !strings.Contains(out, "RS256") {
		t.Fatalf("keys rotate:\n%s", out)
	}
	// Again, at once: the RS256 key is due; the EdDSA one waits to sign.
	out = gh(t, env, "", "keys", "rotate").ok(t).stdout
	if !strings.Contains(out, "Published new RS256 keys") {
		t.Fatalf("second keys rotate:\n%s", out)
	}
	if out := gh(t, env, "", "keys", "rotate").ok(t).stdout; !strings.Contains(out, "No key rotated") {
		t.Fatalf("third keys rotate:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(gh(t, env, "", "keys", "list", "--json").ok(t).stdout), "\n")
	if len(lines) != 4 || strings.Count(strings.Join(lines, ""), `"signing":true`) != 2 {
		t.Fatalf("after the rotations want 4 keys, 2 signing, got:\n%s", strings.Join(lines, "\n"))
	}
}
