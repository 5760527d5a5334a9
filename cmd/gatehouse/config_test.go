package main

import (
	"io"
	"os"

	"github.com/gatehouse-auth/gatehouse"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestYAMLKeysMatchEnvNames(t *testing.T) {
	typ := reflect.TypeFor[rawConfig]()
	for f := range typ.Fields() {
		y, e := f.Tag.Get("yaml"), f.Tag.Get("env")
		if y == "" || y != strings.ToLower(e) {
			t.Errorf("field %s: yaml key %q must be env name %q lower-cased", f.Name, y, e)
		}
	}
}

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "gatehouse.yaml", `
public_url: http://127.0.0.1:3000
addr: 127.0.0.1:3000
base_path: /login
session_idle_timeout: 2h
trusted_proxies: [10.0.0.0/8, 192.168.0.0/16]
roles:
  editor: [notes:read, notes:write]
log_format: json
`, 0o600)
	tests := []struct {
		name  string
		env   []string
		check func(t *testing.T, s *settings)
	}{
		{"file only", nil, func(t *testing.T, s *settings) {
			if s.core.PublicURL != "http://127.0.0.1:3000" || s.addr != "127.0.0.1:3000" || s.core.BasePath != "/login" {
				t.Errorf("file values not applied: %+v", s.core)
			}
			if s.core.SessionIdleTimeout != 2*time.Hour {
				t.Errorf("idle timeout %v", s.core.SessionIdleTimeout)
			}
			if !slices.Equal(s.core.TrustedProxies, []string{"10.0.0.0/8", "192.168.0.0/16"}) {
				t.Errorf("trusted proxies %v", s.core.TrustedProxies)
			}
			if !slices.Equal(s.core.Roles["editor"], []string{"notes:read", "notes:write"}) {
				t.Errorf("roles %v", s.core.Roles)
			}
			if !s.logJSON || !s.development {
				t.Errorf("logJSON %v development %v", s.logJSON, s.development)
			}
		}},
		{"environment wins", []string{
			"GATEHOUSE_ADDR=127.0.0.1:4000",
			"GATEHOUSE_BASE_PATH=/auth",
			"GATEHOUSE_SESSION_IDLE_TIMEOUT=30m",
			"GATEHOUSE_TRUSTED_PROXIES=172.16.0.0/12",
			"GATEHOUSE_ROLES=viewer=notes:read",
			"GATEHOUSE_LOG_FORMAT=text",
		}, func(t *testing.T, s *settings) {
			if s.addr != "127.0.0.1:4000" || s.core.BasePath != "/auth" || s.core.SessionIdleTimeout != 30*time.Minute {
				t.Errorf("environment did not win: addr %s base %s idle %v", s.addr, s.core.BasePath, s.core.SessionIdleTimeout)
			}
			if !slices.Equal(s.core.TrustedProxies, []string{"172.16.0.0/12"}) {
				t.Errorf("trusted proxies %v", s.core.TrustedProxies)
			}
			if _, ok := s.core.Roles["editor"]; ok || len(s.core.Roles) != 1 {
				t.Errorf("GATEHOUSE_ROLES must replace the file's roles: %v", s.core.Roles)
			}
			if s.logJSON {
				t.Error("log format from the environment ignored")
			}
			if s.core.PublicURL != "http://127.0.0.1:3000" {
				t.Errorf("a value only in the file was lost: %s", s.core.PublicURL)
			}
		}},
		{"password policy and cost", []string{
			"GATEHOUSE_PASSWORD_MIN_LENGTH=16",
			"GATEHOUSE_PASSWORD_HASH_MEMORY_KIB=65536",
			"GATEHOUSE_PASSWORD_HASH_ITERATIONS=3",
			"GATEHOUSE_PASSWORD_HASH_PARALLELISM=2",
		}, func(t *testing.T, s *settings) {
			if s.core.PasswordMinLength != 16 || s.core.PasswordHashing != (gatehouse.PasswordHashing{MemoryKiB: 65536, Iterations: 3, Parallelism: 2}) {
				t.Errorf("password settings %d %+v", s.core.PasswordMinLength, s.core.PasswordHashing)
			}
		}},
		{"empty variable counts as unset", []string{"GATEHOUSE_ADDR="}, func(t *testing.T, s *settings) {
			if s.addr != "127.0.0.1:3000" {
				t.Errorf("addr %q", s.addr)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := loadConfig(file, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name                       string
		env                        []string
		addr, ops, verification    string
		development, logJSON, migr bool
	}{
		{"development", nil, "127.0.0.1:8080", "127.0.0.1:9090", "optional", true, false, true},
		{"production", []string{"GATEHOUSE_PUBLIC_URL=https://auth.example.com"}, ":8080", "127.0.0.1:9090", "required", false, true, true},
		{"ops disabled by empty variable", []string{"GATEHOUSE_OPS_ADDR="}, "127.0.0.1:8080", "", "optional", true, false, true},
		{"migrate off", []string{"GATEHOUSE_MIGRATE_ON_START=false"}, "127.0.0.1:8080", "127.0.0.1:9090", "optional", true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := loadConfig("", tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if s.addr != tt.addr || s.opsAddr != tt.ops || string(s.core.EmailVerification) != tt.verification ||
				s.development != tt.development || s.logJSON != tt.logJSON || s.migrateOnStart != tt.migr {
				t.Errorf("got addr %q ops %q verification %q development %v json %v migrate %v",
					s.addr, s.opsAddr, s.core.EmailVerification, s.development, s.logJSON, s.migrateOnStart)
			}
			if s.db.driver != "sqlite" || s.db.path != filepath.Join("data", "gatehouse.db") {
				t.Errorf("default database %+v", s.db)
			}
		})
	}
}

func TestOpsAddrEmptyInYAMLDisables(t *testing.T) {
	file := writeFile(t, "g.yaml", "ops_addr: \"\"\n", 0o600)
	s, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.opsAddr != "" {
		t.Errorf("ops_addr %q, want disabled", s.opsAddr)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  []string
		want []string
	}{
		{"unknown key", "public_url: http://localhost:8080\npublic_ulr: x\n", nil,
			[]string{`line 2: unknown key "public_ulr"`, "did you mean public_url?"}},
		{"bad duration", "", []string{"GATEHOUSE_SESSION_LIFETIME=30d"},
			[]string{"session_lifetime (GATEHOUSE_SESSION_LIFETIME)", `"30d" is not a positive Go duration`}},
		{"bad email verification", "email_verification: maybe\n", nil,
			[]string{"email_verification", "required, optional, off"}},
		{"bad log level", "", []string{"GATEHOUSE_LOG_LEVEL=loud"}, []string{"log_level"}},
		{"bad bool", "", []string{"GATEHOUSE_MIGRATE_ON_START=yes please"}, []string{"migrate_on_start", "true or false"}},
		{"bad addr", "", []string{"GATEHOUSE_ADDR=8080"}, []string{"addr (GATEHOUSE_ADDR)", "listen address"}},
		{"bad redis", "", []string{"GATEHOUSE_REDIS_URL=http://secret@cache:6379"}, []string{"redis_url", "redis://host:6379/0"}},
		{"both secrets", "", []string{"GATEHOUSE_SECRET=" + testSecret, "GATEHOUSE_SECRET_FILE=/x"}, []string{"set only one"}},
		{"bad roles env", "", []string{"GATEHOUSE_ROLES=editor"}, []string{"GATEHOUSE_ROLES", "role=permission"}},
		{"roles not a map", "roles: [editor]\n", nil, []string{"roles must map each role"}},
		{"bad password length", "", []string{"GATEHOUSE_PASSWORD_MIN_LENGTH=twelve"}, []string{"password_min_length", "whole number"}},
		{"password length out of range", "password_min_length: 6\n", nil, []string{"password_min_length", "8"}},
		{"weak hashing", "", []string{"GATEHOUSE_PASSWORD_HASH_MEMORY_KIB=1024", "GATEHOUSE_PASSWORD_HASH_ITERATIONS=1"}, []string{"password_hash", "weaker than the minimum"}},
		{"two documents", "addr: :1\n---\naddr: :2\n", nil, []string{"more than one YAML document"}},
		{"messages not JSON", "", []string{`GATEHOUSE_MESSAGES={en:x}`}, []string{"GATEHOUSE_MESSAGES", "JSON object"}},
		{"messages not a map", "messages: [x]\n", nil, []string{"messages must map each language"}},
		{"insecure remote postgres in production", "", []string{
			"GATEHOUSE_PUBLIC_URL=https://auth.example.com",
			"GATEHOUSE_DATABASE_URL=postgres://u:pw@db.example.com/gh?sslmode=disable",
		}, []string{"sslmode=disable", "db.example.com", "GATEHOUSE_DATABASE_ALLOW_INSECURE=true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := ""
			if tt.yaml != "" {
				file = writeFile(t, "g.yaml", tt.yaml, 0o600)
			}
			s, err := loadConfig(file, tt.env)
			if err == nil {
				err = checkCoreConfig(s)
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), ":pw@") || strings.Contains(err.Error(), "secret@") {
				t.Errorf("error echoes a credential: %v", err)
			}
		})
	}
}

func TestInsecurePostgresAllowed(t *testing.T) {
	for _, env := range [][]string{
		{"GATEHOUSE_PUBLIC_URL=https://auth.example.com", "GATEHOUSE_DATABASE_URL=postgres://u@db.example.com/gh?sslmode=disable", "GATEHOUSE_DATABASE_ALLOW_INSECURE=true"},
		{"GATEHOUSE_PUBLIC_URL=https://auth.example.com", "GATEHOUSE_DATABASE_URL=postgres://u@localhost/gh?sslmode=disable"},
		{"GATEHOUSE_PUBLIC_URL=https://auth.example.com", "GATEHOUSE_DATABASE_URL=postgres://u@db.example.com/gh?sslmode=verify-full"},
		{"GATEHOUSE_DATABASE_URL=postgres://u@db.example.com/gh?sslmode=disable"}, // development
	} {
		if _, err := loadConfig("", env); err != nil {
			t.Errorf("%v: %v", env, err)
		}
	}
}

func TestUnknownEnvironmentVariableWarns(t *testing.T) {
	s, err := loadConfig("", []string{"GATEHOUSE_PUBLIC_ULR=x", "GATEHOUSE_TEST_POSTGRES=y", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.warnings) != 1 || !strings.Contains(s.warnings[0], "GATEHOUSE_PUBLIC_ULR") || !strings.Contains(s.warnings[0], "GATEHOUSE_PUBLIC_URL") {
		t.Errorf("warnings %q", s.warnings)
	}
}

func TestUnknownYAMLKeyRejectedByRun(t *testing.T) {
	file := writeFile(t, "g.yaml", "secret_fiel: /etc/gh\n", 0o600)
	gh(t, baseEnv(t), "", "--config", file, "users", "list").
		fails(t, 1, `unknown key "secret_fiel"`, "did you mean secret_file?")
}

func TestDatabaseURL(t *testing.T) {
	tests := []struct {
		raw     string
		driver  string
		path    string
		host    string
		wantErr string
	}{
		{raw: "", driver: "sqlite", path: filepath.Join("/data", "gatehouse.db")},
		{raw: "sqlite:///var/lib/gatehouse/g.db", driver: "sqlite", path: "/var/lib/gatehouse/g.db"},
		{raw: "sqlite:relative/g.db", driver: "sqlite", path: "relative/g.db"},
		{raw: "sqlite:g.db", driver: "sqlite", path: "g.db"},
		{raw: "sqlite:///with%20space.db", driver: "sqlite", path: "/with space.db"},
		{raw: "sqlite://relative/g.db", wantErr: "has a host part"},
		{raw: "sqlite:///g.db?mode=memory", wantErr: "take no options"},
		{raw: "sqlite:", wantErr: "names no file"},
		{raw: "postgres://u:pw@db:5432/gh", driver: "postgres", host: "db"},
		{raw: "postgresql://u:pw@h1:5432,h2:5433/gh?sslmode=require", driver: "postgres", host: "h1,h2"},
		{raw: "postgres:///gh?host=/var/run/postgresql", driver: "postgres", host: "/var/run/postgresql"},
		{raw: "postgres://[::1]:5432/gh", driver: "postgres", host: "::1"},
		{raw: "postgres:gh", wantErr: "starts with postgres://"},
		{raw: "mysql://u:pw@db/gh", wantErr: `unsupported scheme "mysql"`},
		{raw: "/var/lib/g.db", wantErr: "is not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			d, err := parseDatabaseURL(tt.raw, "/data")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("error echoes the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.driver != tt.driver || d.path != tt.path || d.host != tt.host {
				t.Errorf("got %+v", d)
			}
			if d.driver == "postgres" && d.dsn != tt.raw {
				t.Errorf("dsn %q must be passed through unchanged", d.dsn)
			}
		})
	}
}

func TestPostgresInsecureDetection(t *testing.T) {
	tests := []struct {
		raw      string
		insecure bool
	}{
		{"postgres://db.internal/gh?sslmode=disable", true},
		{"postgres://db.internal/gh?sslmode=allow", true},
		{"postgres://db.internal/gh?sslmode=require", false},
		{"postgres://db.internal/gh", false}, // pgx default "prefer"
		{"postgres://localhost/gh?sslmode=disable", false},
		{"postgres://127.0.0.1:5432/gh?sslmode=disable", false},
		{"postgres:///gh?host=/tmp&sslmode=disable", false},
		{"postgres://localhost,db.internal/gh?sslmode=disable", true},
	}
	for _, tt := range tests {
		d, err := parseDatabaseURL(tt.raw, "")
		if err != nil {
			t.Fatalf("%s: %v", tt.raw, err)
		}
		if d.insecure != tt.insecure {
			t.Errorf("%s: insecure %v, want %v", tt.raw, d.insecure, tt.insecure)
		}
	}
}

func TestRolesSyntax(t *testing.T) {
	tests := []struct {
		env     string
		want    map[string][]string
		wantErr string
	}{
		{"editor=notes:read,notes:write;viewer=notes:read", map[string][]string{"editor": {"notes:read", "notes:write"}, "viewer": {"notes:read"}}, ""},
		{" editor = notes:read notes:write ; viewer=notes:read ;", map[string][]string{"editor": {"notes:read", "notes:write"}, "viewer": {"notes:read"}}, ""},
		{"guest=", map[string][]string{"guest": {}}, ""},
		{"editor", nil, "role=permission"},
		{"=notes:read", nil, "role=permission"},
		{"a=x;a=y", nil, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			s, err := loadConfig("", []string{"GATEHOUSE_ROLES=" + tt.env})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.core.Roles) != len(tt.want) {
				t.Fatalf("roles %v, want %v", s.core.Roles, tt.want)
			}
			for role, perms := range tt.want {
				if !slices.Equal(s.core.Roles[role], perms) && len(perms)+len(s.core.Roles[role]) > 0 {
					t.Errorf("role %s: %v, want %v", role, s.core.Roles[role], perms)
				}
			}
		})
	}
	// The YAML form, with a list or a string of permissions.
	file := writeFile(t, "g.yaml", "roles:\n  editor: [notes:read, notes:write]\n  viewer: notes:read\n", 0o600)
	s, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.core.Roles["editor"], []string{"notes:read", "notes:write"}) || !slices.Equal(s.core.Roles["viewer"], []string{"notes:read"}) {
		t.Errorf("roles %v", s.core.Roles)
	}
}

func TestModeRule(t *testing.T) {
	// Invalid configurations are refused before anything is created on disk.
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"http on a public host", []string{"GATEHOUSE_PUBLIC_URL=http://example.com"},
			[]string{"public_url (GATEHOUSE_PUBLIC_URL)", "uses http on a non-loopback host", "https"}},
		{"https without a secret", []string{"GATEHOUSE_PUBLIC_URL=https://auth.example.com"},
			[]string{"production mode", "needs a master secret", "GATEHOUSE_SECRET", "openssl rand -hex 32"}},
		{"https with a bad secret", []string{"GATEHOUSE_PUBLIC_URL=https://auth.example.com", "GATEHOUSE_SECRET=abcd"},
			[]string{"secret (GATEHOUSE_SECRET)", "64"}},
		{"bad base path", []string{"GATEHOUSE_BASE_PATH=auth/"}, []string{"invalid configuration: base_path (GATEHOUSE_BASE_PATH)", "must look like /auth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := append([]string{"GATEHOUSE_DATA_DIR=" + filepath.Join(dir, "data"), "GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_OPS_ADDR="}, tt.env...)
			r := gh(t, env, "", "serve").fails(t, 1, tt.want...)
			if strings.Contains(r.stderr, "abcd") && strings.Contains(tt.name, "bad secret") {
				t.Error("the secret was echoed")
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
				t.Errorf("the data directory was created for a refused configuration (%v)", err)
			}
		})
	}
}

func TestDevelopmentSecretGeneratedAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := loadConfig("", []string{"GATEHOUSE_DATA_DIR=" + dir})
	if err != nil {
		t.Fatal(err)
	}
	first, err := loadSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %04o, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %04o, want 0700", di.Mode().Perm())
	}
	content, _ := os.ReadFile(filepath.Join(dir, "secret"))
	if len(strings.TrimSpace(string(content))) != 64 {
		t.Errorf("secret file holds %d characters, want 64 hex", len(strings.TrimSpace(string(content))))
	}
	second, err := loadSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(first.current) != string(second.current) {
		t.Error("the development secret was not reused")
	}
}

func TestSecretFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		public  string
		wantErr string
	}{
		{"production 0600", testSecret + "\n", 0o600, "https://auth.example.com", ""},
		{"production 0644 refused", testSecret, 0o644, "https://auth.example.com", "chmod 600"},
		{"production 0640 refused", testSecret, 0o640, "https://auth.example.com", "has mode 0640"},
		{"development 0644 tolerated", testSecret, 0o644, "http://localhost:8080", ""},
		{"not hex", strings.Repeat("z", 64), 0o600, "https://auth.example.com", "hexadecimal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "secret", tt.content, tt.mode)
			if err := os.Chmod(path, tt.mode); err != nil { // umask-proof
				t.Fatal(err)
			}
			s, err := loadConfig("", []string{"GATEHOUSE_PUBLIC_URL=" + tt.public, "GATEHOUSE_SECRET_FILE=" + path, "GATEHOUSE_DATA_DIR=" + t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = loadSecret(s)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSecretPrevious(t *testing.T) {
	s, err := loadConfig("", []string{"GATEHOUSE_PUBLIC_URL=https://a.example.com", "GATEHOUSE_SECRET=" + testSecret, "GATEHOUSE_SECRET_PREVIOUS=" + strings.Repeat("ab", 32) + ",nothex"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loadSecret(s); err == nil || !strings.Contains(err.Error(), "item 2") {
		t.Fatalf("error %v, want one naming item 2", err)
	}
}

func TestMessagesFromYAML(t *testing.T) {
	file := writeFile(t, "g.yaml", "product_name: Acme\nmessages:\n  fr: {\"sign-in.title\": \"Bon retour\"}\n", 0o600)
	s, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.theme.Messages["fr"]["sign-in.title"] != "Bon retour" || s.core.ProductName != "Acme" {
		t.Fatalf("messages %v, product %q", s.theme.Messages, s.core.ProductName)
	}
}

func TestConfigOAuthRefresh(t *testing.T) {
	tests := []struct {
		name            string
		yaml            string
		env             []string
		grace, lifetime time.Duration // in gatehouse.Config as resolved
		strict          bool          // grace must be negative (strict rotation)
	}{
		{name: "unset keeps the core defaults"},
		{name: "grace from the environment", env: []string{"GATEHOUSE_OAUTH_REFRESH_GRACE=30s"}, grace: 30 * time.Second},
		{name: "0 is strict", env: []string{"GATEHOUSE_OAUTH_REFRESH_GRACE=0"}, strict: true},
		{name: "0s in YAML is strict", yaml: "oauth_refresh_grace: 0s\n", strict: true},
		{name: "bare 0 in YAML is strict", yaml: "oauth_refresh_grace: 0\n", strict: true},
		{name: "the environment wins", yaml: "oauth_refresh_grace: 0\n", env: []string{"GATEHOUSE_OAUTH_REFRESH_GRACE=5s"}, grace: 5 * time.Second},
		{name: "lifetime", yaml: "oauth_refresh_lifetime: 24h\n", lifetime: 24 * time.Hour},
		{name: "lifetime from the environment", env: []string{"GATEHOUSE_OAUTH_REFRESH_LIFETIME=90m"}, lifetime: 90 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := ""
			if tt.yaml != "" {
				file = writeFile(t, "g.yaml", tt.yaml, 0o600)
			}
			s, err := loadConfig(file, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			got := s.core.OAuth
			if tt.strict {
				if got.RefreshGrace >= 0 {
					t.Errorf("RefreshGrace %v, want negative (strict)", got.RefreshGrace)
				}
			} else if got.RefreshGrace != tt.grace {
				t.Errorf("RefreshGrace %v, want %v", got.RefreshGrace, tt.grace)
			}
			if got.RefreshLifetime != tt.lifetime {
				t.Errorf("RefreshLifetime %v, want %v", got.RefreshLifetime, tt.lifetime)
			}
			if err := checkCoreConfig(s); err != nil {
				t.Errorf("the core refuses it: %v", err)
			}
		})
	}
}

// TestConfigOAuthRefreshEffective checks what the core ends up with: the
// defaults when unset, and strict rotation for a configured 0.
func TestConfigOAuthRefreshEffective(t *testing.T) {
	tests := []struct {
		env             []string
		grace, lifetime time.Duration
	}{
		{nil, 10 * time.Second, 720 * time.Hour},
		{[]string{"GATEHOUSE_OAUTH_REFRESH_GRACE=0", "GATEHOUSE_SESSION_LIFETIME=48h"}, -1, 48 * time.Hour},
		{[]string{"GATEHOUSE_OAUTH_REFRESH_GRACE=1m", "GATEHOUSE_OAUTH_REFRESH_LIFETIME=12h"}, time.Minute, 12 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.env, " "), func(t *testing.T) {
			sess, err := openAuth(t.Context(), &commandEnv{env: baseEnv(t, tt.env...), stdout: io.Discard, stderr: io.Discard, opts: testOptions()})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.close()
			got := sess.auth.Config().OAuth
			if tt.grace < 0 && got.RefreshGrace >= 0 || tt.grace >= 0 && got.RefreshGrace != tt.grace {
				t.Errorf("RefreshGrace %v, want %v", got.RefreshGrace, tt.grace)
			}
			if got.RefreshLifetime != tt.lifetime {
				t.Errorf("RefreshLifetime %v, want %v", got.RefreshLifetime, tt.lifetime)
			}
		})
	}
}

func TestConfigOAuthRefreshErrors(t *testing.T) {
	tests := []struct {
		env  string
		want []string
	}{
		{"GATEHOUSE_OAUTH_REFRESH_GRACE=2m", []string{"oauth_refresh_grace (GATEHOUSE_OAUTH_REFRESH_GRACE)", `"2m"`, "from 0 to 1m", "0 makes rotation strict"}},
		{"GATEHOUSE_OAUTH_REFRESH_GRACE=-1s", []string{"oauth_refresh_grace", "from 0 to 1m"}},
		{"GATEHOUSE_OAUTH_REFRESH_GRACE=soon", []string{"oauth_refresh_grace", "Go duration"}},
		{"GATEHOUSE_OAUTH_REFRESH_LIFETIME=30s", []string{"oauth_refresh_lifetime (GATEHOUSE_OAUTH_REFRESH_LIFETIME)", "minimum of 1m"}},
		{"GATEHOUSE_OAUTH_REFRESH_LIFETIME=0", []string{"oauth_refresh_lifetime", "positive Go duration"}},
		{"GATEHOUSE_OAUTH_REFRESH_LIFETIME=30d", []string{"oauth_refresh_lifetime", "positive Go duration"}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			_, err := loadConfig("", []string{tt.env})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
