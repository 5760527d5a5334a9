package mailbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
)

func msg(id, to string) gatehouse.Message {
	return gatehouse.Message{ID: id, To: to, Subject: "s " + id, Text: "open https://x.example/" + id}
}

func ids(es []mailbox.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestCapacityKeepsNewest(t *testing.T) {
	b := mailbox.New(3)
	ctx := context.Background()
	for i := range 5 {
		if err := b.Send(ctx, msg(fmt.Sprint(i), "a@example.com")); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := ids(b.Messages()), []string{"4", "3", "2"}; !slices.Equal(got, want) {
		t.Errorf("Messages = %v, want %v (newest first)", got, want)
	}
	if _, ok := b.Message("0"); ok {
		t.Error("evicted message still found")
	}
	if e, ok := b.Message("3"); !ok || e.Subject != "s 3" || e.ReceivedAt.IsZero() {
		t.Errorf("Message(3) = %+v, %v", e, ok)
	}
	if _, ok := b.Message(""); ok {
		t.Error("empty ID matched")
	}
}

func TestDefaultCapacity(t *testing.T) {
	b := mailbox.New(0)
	for i := range mailbox.DefaultCapacity + 5 {
		_ = b.Send(context.Background(), msg(fmt.Sprint(i), "a@example.com"))
	}
	if n := len(b.Messages()); n != mailbox.DefaultCapacity {
		t.Errorf("held %d, want %d", n, mailbox.DefaultCapacity)
	}
}

func TestReplaceByID(t *testing.T) {
	b := mailbox.New(10)
	ctx := context.Background()
	_ = b.Send(ctx, msg("a", "x@example.com"))
	_ = b.Send(ctx, msg("b", "x@example.com"))
	retry := msg("a", "x@example.com")
	retry.Subject = "second attempt"
	_ = b.Send(ctx, retry)
	// Messages without an ID are never merged.
	_ = b.Send(ctx, msg("", "x@example.com"))
	_ = b.Send(ctx, msg("", "x@example.com"))
	if got, want := ids(b.Messages()), []string{"", "", "a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("Messages = %q, want %q", got, want)
	}
	if e, _ := b.Message("a"); e.Subject != "second attempt" {
		t.Errorf("Subject = %q", e.Subject)
	}
}

func TestCopies(t *testing.T) {
	b := mailbox.New(10)
	_ = b.Send(context.Background(), msg("a", "x@example.com"))
	e := b.Messages()[0]
	e.Links[0] = "changed"
	e.Subject = "changed"
	if e2, _ := b.Message("a"); e2.Links[0] != "https://x.example/a" || e2.Subject != "s a" {
		t.Errorf("held entry changed through a copy: %+v", e2)
	}
}

func TestLinks(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"no links here, just http and https:// words", nil},
		{"Verify: https://auth.example.com/auth/verify-email?token=abc_123-x.\nThanks",
			[]string{"https://auth.example.com/auth/verify-email?token=abc_123-x"}},
		{"a http://localhost:8080/auth/reset-password#t=1, b https://a.example/x?y=1&z=2;",
			[]string{"http://localhost:8080/auth/reset-password#t=1", "https://a.example/x?y=1&z=2"}},
		{"dup https://a.example/1 and https://a.example/1 and https://a.example/2",
			[]string{"https://a.example/1", "https://a.example/2"}},
		{"(see https://a.example/x) <https://b.example/y> \"https://c.example/z\" [https://d.example/w]",
			[]string{"https://a.example/x", "https://b.example/y", "https://c.example/z", "https://d.example/w"}},
		{"wiki https://en.wikipedia.org/wiki/Go_(language) ok",
			[]string{"https://en.wikipedia.org/wiki/Go_(language)"}},
		{"HTTPS://A.EXAMPLE/Up and ftp://no.example/ and mailto:a@example.com",
			[]string{"HTTPS://A.EXAMPLE/Up"}},
		{"https:// nothing, http://?", nil},
	} {
		if got := mailbox.Links(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("Links(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestEntryLinks(t *testing.T) {
	b := mailbox.New(10)
	m := gatehouse.Message{ID: "m", To: "a@example.com", Text: "Go to https://a.example/1.", HTML: `<a href="https://html.example/">x</a>`}
	_ = b.Send(context.Background(), m)
	if e, _ := b.Message("m"); !slices.Equal(e.Links, []string{"https://a.example/1"}) {
		t.Errorf("Links = %q (text body only)", e.Links)
	}
}

func TestWait(t *testing.T) {
	b := mailbox.New(10)
	ctx := context.Background()
	_ = b.Send(ctx, msg("old", "ada@example.com"))

	// A held entry is returned at once.
	e, err := b.Wait(ctx, func(e mailbox.Entry) bool { return e.To == "ada@example.com" })
	if err != nil || e.ID != "old" {
		t.Fatalf("Wait = %v, %v", e.ID, err)
	}

	// A future entry wakes the waiter.
	got := make(chan mailbox.Entry, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		e, err := b.Wait(ctx, func(e mailbox.Entry) bool { return e.To == "bob@example.com" })
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
		got <- e
	}()
	time.Sleep(20 * time.Millisecond)
	_ = b.Send(ctx, msg("other", "carol@example.com"))
	_ = b.Send(ctx, msg("new", "bob@example.com"))
	if e := <-got; e.ID != "new" || len(e.Links) != 1 {
		t.Errorf("Wait = %+v", e)
	}

	// Nothing matching: ctx's error.
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := b.Wait(short, func(mailbox.Entry) bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait = %v, want DeadlineExceeded", err)
	}
}

func TestDown(t *testing.T) {
	b := mailbox.New(10)
	ctx := context.Background()
	outage := errors.New("mail server down")
	b.Down(outage)
	if err := b.Send(ctx, msg("a", "x@example.com")); !errors.Is(err, outage) {
		t.Fatalf("Send while down = %v", err)
	}
	if n := len(b.Messages()); n != 0 {
		t.Fatalf("%d stored while down", n)
	}
	b.Down(nil)
	if err := b.Send(ctx, msg("a", "x@example.com")); err != nil {
		t.Fatal(err)
	}
	if n := len(b.Messages()); n != 1 {
		t.Fatalf("%d stored after recovery", n)
	}
}

func TestSendHonoursContext(t *testing.T) {
	b := mailbox.New(10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Send(ctx, msg("a", "x@example.com")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v", err)
	}
	if n := len(b.Messages()); n != 0 {
		t.Fatalf("%d stored", n)
	}
}

func TestConcurrent(t *testing.T) {
	b := mailbox.New(1000)
	ctx := context.Background()
	var wg sync.WaitGroup
	const senders, each = 8, 50
	waited := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := b.Wait(ctx, func(e mailbox.Entry) bool { return e.ID == "7-49" })
		waited <- err
	}()
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				_ = b.Send(ctx, msg(fmt.Sprintf("%d-%d", s, i), "x@example.com"))
				_ = b.Messages()
				_, _ = b.Message("0-0")
				if i == each/2 {
					b.Down(nil)
				}
			}
		})
	}
	wg.Wait()
	if err := <-waited; err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if n := len(b.Messages()); n != senders*each {
		t.Errorf("held %d", n)
	}
}
