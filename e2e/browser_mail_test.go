package e2e_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
	"github.com/gatehouse-auth/gatehouse/web"
)

// mailServer serves Gatehouse in development mode on loopback with its
// mail delivered to a development mailbox, which it returns.
func mailServer(t *testing.T) (string, *mailbox.Mailbox) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	auth := authtest.New(t, gatehouse.Config{PublicURL: base})
	mb := authtest.Deliver(t, auth)
	mux := http.NewServeMux()
	mux.Handle("/auth/", web.New(auth, web.WithDevMailbox(mb)))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return base, mb
}

// inbox reads a development mailbox the way a person reads mail: each
// message once, newest when asked.
type inbox struct {
	t    *testing.T
	mb   *mailbox.Mailbox
	base string
	seen map[string]bool
}

// next waits for a message of kind to addr not read yet and returns it.
func (in *inbox) next(kind, addr string) mailbox.Entry {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := in.mb.Wait(ctx, func(m mailbox.Entry) bool {
		return m.Kind == kind && strings.EqualFold(m.To, addr) && !in.seen[m.ID]
	})
	if err != nil {
		var got []string
		for _, m := range in.mb.Messages() {
			got = append(got, m.Kind+"→"+m.To)
		}
		in.t.Fatalf("no %s mail to %s arrived; the mailbox holds %v", kind, addr, got)
	}
	in.seen[m.ID] = true
	return m
}

// link waits for the next message of kind to addr and returns its link to
// page.
func (in *inbox) link(kind, addr, page string) string {
	in.t.Helper()
	m := in.next(kind, addr)
	l, _ := mailLink(in.t, m.Text, m.Links, in.base, page)
	return l
}

// heading waits for a page whose title is h.
func heading(h string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="` + h + `"]`))
}

// at checks the address bar.
func at(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	if loc := location(t, ctx); loc != want {
		t.Fatalf("the browser is at %s, want %s", loc, want)
	}
}

// TestBrowserMailJourney walks the email flows through the hosted pages
// with JavaScript disabled, reading the mail the way a person would:
// verify the address from the account page, reset a forgotten password,
// and change the address. Each emailed link leaves the address bar as soon
// as it is opened, and is used by the page's button, not by opening it.
func TestBrowserMailJourney(t *testing.T) {
	ctx := browser(t)
	base, mb := mailServer(t)
	mail := &inbox{t: t, mb: mb, base: base, seen: map[string]bool{}}
	const email, password = "ada@example.com", "correct horse battery staple"
	const newPassword, newEmail = "a brand new passphrase", "ada.lovelace@example.com"

	// Sign up: the account works at once, but the address is not verified.
	step(t, ctx, "open sign-up", chromedp.Navigate(base+"/auth/sign-up"), chromedp.WaitVisible(chromedp.CSS("#name")))
	step(t, ctx, "sign up",
		chromedp.SendKeys(chromedp.CSS("#name"), "Ada"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("dd#email")),
	)
	at(t, ctx, base+"/auth/account")
	if s := text(t, ctx, "dd#email"); !strings.Contains(s, email) || !strings.Contains(s, "not verified") {
		t.Fatalf("account page email: %q", s)
	}
	if s := text(t, ctx, `p.notice[role="note"]`); !strings.Contains(s, "not verified yet") {
		t.Fatalf("unverified banner: %q", s)
	}
	first := mail.link("verify_email", email, "/verify-email")

	// Ask for a new link from the account page: it replaces the first.
	step(t, ctx, "send a verification link",
		chromedp.Click(chromedp.CSS(`form[action="/auth/verify-email/send"] button`)),
		heading("Check your email"),
	)
	at(t, ctx, base+"/auth/check-email?for=verify")
	link := mail.link("verify_email", email, "/verify-email")
	step(t, ctx, "open the replaced link", chromedp.Navigate(first), chromedp.WaitVisible(chromedp.CSS("#form-error")))
	if s := text(t, ctx, "#form-error"); !strings.Contains(s, "invalid or has expired") {
		t.Fatalf("replaced link: %q", s)
	}
	step(t, ctx, "open the verification link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`form[action="/auth/verify-email"] button`)))
	at(t, ctx, base+"/auth/verify-email")
	step(t, ctx, "verify",
		chromedp.Click(chromedp.CSS(`form[action="/auth/verify-email"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice[role="status"]`)),
	)
	at(t, ctx, base+"/auth/account?notice=email_verified")
	if s := text(t, ctx, `p.notice[role="status"]`); s != "Your email address is verified." {
		t.Fatalf("notice after verifying: %q", s)
	}
	if s := text(t, ctx, "dd#email"); !strings.Contains(s, "verified") || strings.Contains(s, "not verified") {
		t.Fatalf("account page email after verifying: %q", s)
	}
	if s := text(t, ctx, "main"); strings.Contains(s, "not verified") || strings.Contains(s, "Send a verification link") {
		t.Fatalf("the account page still asks for verification:\n%s", s)
	}

	// Forgot the password: reset it from the sign-in page.
	step(t, ctx, "sign out",
		chromedp.Click(chromedp.CSS(`form[action="/auth/sign-out"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/auth/forgot-password"]`)),
	)
	step(t, ctx, "forgot the password",
		chromedp.Click(chromedp.CSS(`a[href="/auth/forgot-password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/auth/forgot-password"] #email`)),
	)
	step(t, ctx, "ask for a reset link",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.Submit(chromedp.CSS("#email")),
		heading("Check your email"),
	)
	at(t, ctx, base+"/auth/check-email?for=reset")
	link = mail.link("password_reset", email, "/reset-password")
	step(t, ctx, "open the reset link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`form[action="/auth/reset-password"] #password`)))
	at(t, ctx, base+"/auth/reset-password")
	step(t, ctx, "choose a new password",
		chromedp.SendKeys(chromedp.CSS("#password"), newPassword),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS(`p.notice[role="status"]`)),
	)
	at(t, ctx, base+"/auth/sign-in?notice=password_reset")
	if s := text(t, ctx, `p.notice[role="status"]`); !strings.Contains(s, "Sign in with your new password") {
		t.Fatalf("notice after the reset: %q", s)
	}
	mail.next("password_changed", email)
	step(t, ctx, "sign in with the old password",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#form-error")),
	)
	step(t, ctx, "sign in with the new password",
		chromedp.SendKeys(chromedp.CSS("#password"), newPassword),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("dd#email")),
	)
	at(t, ctx, base+"/auth/account")

	// Change the address: nothing changes until the new address confirms.
	step(t, ctx, "ask to change the email",
		chromedp.SendKeys(chromedp.CSS("#new-email"), newEmail),
		chromedp.SendKeys(chromedp.CSS("#email-password"), newPassword),
		chromedp.Submit(chromedp.CSS("#email-password")),
		heading("Check your email"),
	)
	at(t, ctx, base+"/auth/check-email?for=change")
	link = mail.link("email_change", newEmail, "/confirm-email-change")
	step(t, ctx, "open the account before confirming", chromedp.Navigate(base+"/auth/account"), chromedp.WaitVisible(chromedp.CSS("dd#email")))
	if s := text(t, ctx, "dd#email"); !strings.Contains(s, email) {
		t.Fatalf("the email changed before confirmation: %q", s)
	}
	step(t, ctx, "open the confirmation link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`form[action="/auth/confirm-email-change"] button`)))
	at(t, ctx, base+"/auth/confirm-email-change")
	step(t, ctx, "confirm",
		chromedp.Click(chromedp.CSS(`form[action="/auth/confirm-email-change"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice[role="status"]`)),
	)
	at(t, ctx, base+"/auth/account?notice=email_changed")
	if s := text(t, ctx, `p.notice[role="status"]`); s != "Your email address was changed." {
		t.Fatalf("notice after the change: %q", s)
	}
	if s := text(t, ctx, "dd#email"); !strings.Contains(s, newEmail) || strings.Contains(s, "not verified") {
		t.Fatalf("account page email after the change: %q", s)
	}
	if m := mail.next("email_changed", email); strings.Contains(m.Text+m.HTML+m.Subject, newEmail) {
		t.Fatal("the notice to the old address names the new one")
	}
}
