// Command notes is a small web app that embeds Gatehouse: a public home
// page, a protected /app/ subtree, and a permission-guarded POST.
//
//	go run ./examples/notes          # then open http://localhost:3000
//
// Sign up, then give yourself the editor role to write notes:
//
//	GATEHOUSE_DATABASE_URL=sqlite:data/notes.db go run ./cmd/gatehouse users set-role you@example.com editor
//
// The environment can change where it runs:
//
//	NOTES_ADDR        listen address (default 127.0.0.1:3000); a port of 0
//	                  picks a free one, and the URL printed names it
//	NOTES_PUBLIC_URL  the URL users reach, used in emailed links (default
//	                  http://localhost:3000, or the address listened on
//	                  when NOTES_ADDR ends in :0)
//	NOTES_DATA_DIR    where the SQLite file and the secret live (default
//	                  data, created if missing)
//
// It prints the URL to open on its first line of output.
package main

import (
	"context"
	"crypto/rand"
	"embed"
	"fmt"
	"html/template"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
	"github.com/gatehouse-auth/gatehouse/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/web"
)

//go:embed templates/*.html
var templates embed.FS

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run serves the app until ctx ends, configured by getenv, and prints the
// URL to open on stdout.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	envOr := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	addr := envOr("NOTES_ADDR", "127.0.0.1:3000")
	dataDir := envOr("NOTES_DATA_DIR", "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	// Listen before configuring Gatehouse: with port 0 the public URL (the
	// links in mail) must name the port actually chosen.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	publicURL := getenv("NOTES_PUBLIC_URL")
	if publicURL == "" {
		publicURL = "http://localhost:3000"
		if strings.HasSuffix(addr, ":0") {
			publicURL = "http://" + ln.Addr().String()
		}
	}
	publicURL = strings.TrimSuffix(publicURL, "/")

	store, err := sqlite.Open(ctx, filepath.Join(dataDir, "notes.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	key, err := masterSecret(filepath.Join(dataDir, "notes.secret"))
	if err != nil {
		return err
	}
	auth, err := gatehouse.New(gatehouse.Config{
		PublicURL:       publicURL,
		AfterSignInPath: "/app/",
		Roles:           map[string][]string{"editor": {"notes:write"}},
	}, store, gatehouse.WithSecret(key))
	if err != nil {
		return err
	}
	defer auth.Close()
	// Development: mail lands in an in-memory mailbox shown at
	// /auth/dev/mailbox. In production, deliver with mail/smtp instead.
	mb := mailbox.New(0)
	go auth.DeliverMail(ctx, mb)

	srv := &http.Server{Handler: newApp(auth, mb), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Shutdown(context.Background()) }()
	fmt.Fprintf(stdout, "notes: open %s (mail: %s/auth/dev/mailbox)\n", publicURL, publicURL)
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// app is the example application's state: notes in memory.
type app struct {
	gh    *web.Handler
	pages *template.Template
	mu    sync.Mutex
	notes []note
}

type note struct {
	Author, Text string
}

// newApp wires Gatehouse into the application's routes.
func newApp(auth *gatehouse.Auth, mb *mailbox.Mailbox) http.Handler {
	a := &app{gh: web.New(auth, web.WithDevMailbox(mb)), pages: template.Must(template.ParseFS(templates, "templates/*.html"))}
	mux := http.NewServeMux()
	mux.Handle("/auth/", a.gh)                                       // Gatehouse's API and pages
	mux.Handle("GET /{$}", a.gh.Load(http.HandlerFunc(a.home)))      // public, knows who is signed in
	mux.Handle("/app/", a.gh.Require(http.HandlerFunc(a.notesPage))) // the whole subtree needs a session
	mux.Handle("POST /api/notes", a.gh.RequirePermission("notes:write", http.HandlerFunc(a.createNote)))
	return mux
}

func (a *app) render(w http.ResponseWriter, r *http.Request, name string, data map[string]any) {
	data["Auth"] = a.gh.State(r) // gatehouse.AuthState: .SignedIn, .Name, .Can "perm", URLs
	if err := a.pages.ExecuteTemplate(w, name, data); err != nil {
		slog.ErrorContext(r.Context(), "render", "err", err)
	}
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, "home.html", map[string]any{})
}

func (a *app) notesPage(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	notes := append([]note(nil), a.notes...)
	a.mu.Unlock()
	a.render(w, r, "notes.html", map[string]any{"Notes": notes})
}

// createNote is a "server function": RequirePermission already checked
// notes:write, and Authorize states the same boundary inside the handler.
func (a *app) createNote(w http.ResponseWriter, r *http.Request) {
	if err := gatehouse.Authorize(r.Context(), "notes:write"); err != nil {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	user, _ := gatehouse.UserFrom(r.Context())
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	text := r.PostFormValue("text")
	if text == "" {
		http.Error(w, "empty note", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.notes = append(a.notes, note{Author: user.Email, Text: text})
	a.mu.Unlock()
	http.Redirect(w, r, "/app/", http.StatusSeeOther)
}

// masterSecret reads the 32-byte master secret kept in path, creating it on
// first use. A real deployment keeps it in a secret store and gives every
// instance the same one.
func masterSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) == 32 {
		return b, nil
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}
