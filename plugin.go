package gatehouse

import (
	"context"
	"io/fs"
	"net/http"
)

// Plugin is an optional feature (TOTP, passkeys, organizations…) passed to New
// with WithPlugins. It plugs in through three slots and nothing else: its own
// tables, its own routes and typed hooks. There is no registry and no init()
// registration; a plugin that is not passed to New does not exist.
type Plugin struct {
	// Name identifies the plugin in logs and names its migration history
	// (goose_db_version_<name>): 1–40 lower-case letters, digits and
	// underscores, starting with a letter, unique among the plugins.
	Name string
	// Migrations holds goose SQL migrations in one folder per dialect,
	// "sqlite" and "postgres". Nil when the plugin has no tables. Tables
	// that hang off a user must reference users(id) ON DELETE CASCADE, so
	// that deleting an account deletes everything of it.
	Migrations fs.FS
	// Routes registers the plugin's handlers. Patterns are Go 1.22
	// method+path patterns relative to the base path ("POST /api/totp").
	Routes func(r Router)
	// Hooks are the plugin's typed hook functions; nil slots are skipped.
	Hooks Hooks
}

// Router is where a plugin registers its routes; *http.ServeMux satisfies it.
type Router interface {
	Handle(pattern string, handler http.Handler)
}

// Hooks are typed slots called at fixed points of the core's flows. They are
// matched by flow, never by URL path, so a new sign-in route cannot skip them.
type Hooks struct {
	// BeforeSession runs in Complete after a credential was verified and the
	// core's own checks passed, before any session exists. Returning an error
	// refuses the sign-in (use *Error for a client-facing reason, e.g. a ban).
	// Returning a non-nil *Challenge withholds the session and asks for
	// another step (MFA). Hooks run in plugin order; the first to refuse or
	// challenge wins.
	BeforeSession func(ctx context.Context, a Authentication) (*Challenge, error)
	// AfterSession runs after a session was created. It cannot undo the
	// sign-in; an error is logged.
	AfterSession func(ctx context.Context, u User, s Session) error
	// AfterSignUp runs after an account was created. An error is logged.
	AfterSignUp func(ctx context.Context, u User) error
}

// Challenge tells the client that another step is needed before a session is
// issued, and which methods can satisfy it.
type Challenge struct {
	Methods []string
}
