// Command gatehouse is the standalone Gatehouse server and its operator
// tools: `serve` runs the hosted pages and JSON API, `migrate` applies the
// database migrations, `users` administers accounts, `version` tells what
// was built.
//
// This package is wiring only. It is the one place that reads configuration
// files and environment variables, opens a storage backend, and builds the
// root gatehouse.Auth and the web handler from them; the rules themselves
// (sessions, passwords, roles) live in the root package and must not be
// reimplemented here. Everything runs inside run, which takes its arguments,
// environment and standard streams as parameters, so tests drive the whole
// binary in-process.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/gatehouse-auth/gatehouse"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal starts a graceful shutdown, restore the
		// default behaviour so that a second Ctrl-C ends the process at once.
		<-ctx.Done()
		stop()
	}()
	os.Exit(code(run(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)))
}

// runOptions carries what tests inject into a run. The zero value is what
// the real binary uses.
type runOptions struct {
	// authOptions are passed to gatehouse.New after the ones run builds
	// (tests lower the password-hashing cost with them).
	authOptions []gatehouse.Option
}

// run executes one command line. args excludes the program name; env holds
// "KEY=value" pairs as os.Environ returns them. It never exits the process:
// it reports a failure on stderr and returns an error whose exit status code
// gives.
func run(ctx context.Context, args []string, env []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runWith(ctx, args, env, stdin, stdout, stderr, runOptions{})
}

// runWith is run with injected options.
func runWith(ctx context.Context, args []string, env []string, stdin io.Reader, stdout, stderr io.Writer, opts runOptions) error {
	err := dispatch(ctx, args, env, stdin, stdout, stderr, opts)
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) || !ee.reported {
			fmt.Fprintf(stderr, "gatehouse: %s\n", describe(err))
		}
	}
	return err
}

// cli is the command line. Kong reads the struct tags for parsing and help.
type cli struct {
	Config string `name:"config" short:"c" placeholder:"FILE" help:"YAML configuration file. Each key is an environment variable's name without GATEHOUSE_, lower-cased (public_url, database_url, …); environment variables override the file."`

	Serve   serveCmd   `cmd:"" help:"Run the Gatehouse server (hosted pages, JSON API, /healthz, /readyz; metrics on the ops listener)."`
	Migrate migrateCmd `cmd:"" help:"Apply database migrations and exit (serve also does this at start unless migrate_on_start is false)."`
	Users   usersCmd   `cmd:"" help:"Administer user accounts: create, list, disable, enable, delete, set-role, revoke-sessions, import."`
	Mail    mailCmd    `cmd:"" help:"Inspect the mail outbox: gatehouse mail status."`
	Audit   auditCmd   `cmd:"" help:"Read the audit log: gatehouse audit [--type …] [--user …] [--since 24h]; gatehouse audit export > events.jsonl."`
	Keys    keysCmd    `cmd:"" help:"Token signing keys: gatehouse keys list; gatehouse keys rotate."`
	Clients clientsCmd `cmd:"" help:"Applications registered with the OpenID Connect provider: create, list, show, update, delete, rotate-secret."`
	Bench   benchCmd   `cmd:"" help:"Measure this machine: session checks, access tokens, sign-in, sign-up and OIDC refresh grants against a bare net/http handler and the argon2id ceiling."`
	Version versionCmd `cmd:"" help:"Print the version of this binary."`
}

// commandEnv is what every command gets: the parsed flags' shared state,
// the process environment and the streams.
type commandEnv struct {
	configFile string
	env        []string
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
	opts       runOptions
}

const description = `Gatehouse: authentication and authorization for web applications.

With no configuration, "gatehouse serve" runs in development mode on
http://localhost:8080 with a SQLite database in ./data. Configure it with a
YAML file (--config) and/or GATEHOUSE_* environment variables; an https
public URL (GATEHOUSE_PUBLIC_URL) switches to production mode, which needs a
master secret (GATEHOUSE_SECRET or GATEHOUSE_SECRET_FILE).`

func dispatch(ctx context.Context, args []string, env []string, stdin io.Reader, stdout, stderr io.Writer, opts runOptions) error {
	var c cli
	exitCode := -1
	parser, err := kong.New(&c,
		kong.Name("gatehouse"),
		kong.Description(description),
		kong.Writers(stdout, stderr),
		// Kong calls Exit after printing help; record it instead of ending
		// the process, and stop after Parse returns.
		kong.Exit(func(code int) {
			if exitCode < 0 {
				exitCode = code
			}
		}),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		return fmt.Errorf("building the command line parser: %w", err)
	}
	kctx, err := parser.Parse(args)
	if exitCode >= 0 {
		if exitCode == 0 {
			return nil
		}
		return &exitError{code: exitCode, reported: true}
	}
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("%w (run gatehouse --help for usage)", err)}
	}
	ce := &commandEnv{configFile: c.Config, env: env, stdin: stdin, stdout: stdout, stderr: stderr, opts: opts}
	// Each command implements Run(ctx, *commandEnv); kong calls the selected
	// one with these bindings.
	kctx.BindTo(ctx, (*context.Context)(nil))
	return kctx.Run(ce)
}

// exitError carries an exit status. reported means the details were already
// written to stderr.
type exitError struct {
	code     int
	err      error
	reported bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// code maps run's result to the process exit status: 0 for success, the
// carried status of an exitError (2 for usage errors), 1 for anything else.
func code(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// describe renders an error for the operator. A *gatehouse.Error shows its
// safe message (and the field at fault); an internal error also shows its
// cause, since the person at the terminal runs the system and needs it.
func describe(err error) string {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return err.Error()
	}
	if ge.Field != "" {
		return ge.Field + ": " + describeMessage(ge)
	}
	return describeMessage(ge)
}
