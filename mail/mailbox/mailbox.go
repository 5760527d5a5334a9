// Package mailbox is an in-memory gatehouse.Mailer: it keeps the newest
// messages instead of delivering them. Development mode shows it on the
// development mailbox page, and tests (authtest) read links out of it.
//
// It must never be wired into production: every message, with its one-time
// links, is readable by whoever can read the Mailbox.
package mailbox

import (
	"context"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// DefaultCapacity is how many messages a Mailbox keeps when New is given a
// capacity of zero or less.
const DefaultCapacity = 200

// Entry is a message held by a Mailbox.
type Entry struct {
	gatehouse.Message
	// ReceivedAt is when Send stored the message (wall clock).
	ReceivedAt time.Time
	// Links are the http(s) URLs found in the text body, in order,
	// de-duplicated.
	Links []string
}

func (e Entry) clone() Entry {
	e.Links = slices.Clone(e.Links)
	return e
}

// Mailbox holds the newest messages sent to it. The zero value is not
// usable; call New. All methods are safe for concurrent use.
type Mailbox struct {
	capacity int

	mu      sync.Mutex
	entries []Entry       // oldest first
	changed chan struct{} // closed and replaced whenever entries change
	down    error
}

var _ gatehouse.Mailer = (*Mailbox)(nil)

// New returns an empty Mailbox that keeps the newest capacity messages
// (DefaultCapacity when capacity <= 0), dropping the oldest beyond that.
func New(capacity int) *Mailbox {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Mailbox{capacity: capacity, changed: make(chan struct{})}
}

// Send stores a copy of m as the newest entry. A message whose non-empty
// ID is already held replaces the held one (which leaves its place), so a
// retried send never shows twice. Send returns ctx's error if ctx is done,
// and the error given to Down while the mailbox is down; in both cases
// nothing is stored.
func (b *Mailbox) Send(ctx context.Context, m gatehouse.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e := Entry{Message: m, ReceivedAt: time.Now(), Links: Links(m.Text)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down != nil {
		return b.down
	}
	if m.ID != "" {
		b.entries = slices.DeleteFunc(b.entries, func(x Entry) bool { return x.ID == m.ID })
	}
	b.entries = append(b.entries, e)
	if over := len(b.entries) - b.capacity; over > 0 {
		// Copy rather than reslice, so dropped messages can be collected.
		b.entries = slices.Clone(b.entries[over:])
	}
	close(b.changed)
	b.changed = make(chan struct{})
	return nil
}

// Messages returns copies of the held entries, newest first.
func (b *Mailbox) Messages() []Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Entry, 0, len(b.entries))
	for i := len(b.entries) - 1; i >= 0; i-- {
		out = append(out, b.entries[i].clone())
	}
	return out
}

// Message returns a copy of the held entry with the given ID, and whether
// there is one. An empty id matches nothing.
func (b *Mailbox) Message(id string) (Entry, bool) {
	if id == "" {
		return Entry{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.entries {
		if e.ID == id {
			return e.clone(), true
		}
	}
	return Entry{}, false
}

// Wait returns a copy of the oldest held entry for which match reports
// true or, if none is held, of the first such entry to arrive. It returns
// ctx's error when ctx is done first, so callers bound it with a timeout.
// match is called without the Mailbox's lock held and may be called more
// than once for an entry; it must not block.
func (b *Mailbox) Wait(ctx context.Context, match func(Entry) bool) (Entry, error) {
	for {
		b.mu.Lock()
		held := make([]Entry, len(b.entries))
		for i, e := range b.entries {
			held[i] = e.clone()
		}
		changed := b.changed
		b.mu.Unlock()
		for _, e := range held {
			if match(e) {
				return e, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Entry{}, ctx.Err()
		}
	}
}

// Down is a test helper that simulates an outage: while err is non-nil,
// Send fails with err and stores nothing. Down(nil) restores delivery.
func (b *Mailbox) Down(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = err
}

var linkRE = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"'` + "`" + `]+`)

// Links returns the http and https URLs in text, in order of appearance
// and without duplicates. Punctuation that ends a sentence (".", ",", ";",
// ":", "!", "?") and an unbalanced closing bracket or parenthesis right
// after a URL are not part of it; neither are quotes or angle brackets
// around it.
func Links(text string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, raw := range linkRE.FindAllString(text, -1) {
		link := trimLink(raw)
		u, err := url.Parse(link)
		if err != nil || u.Host == "" {
			continue
		}
		if !seen[link] {
			seen[link] = true
			out = append(out, link)
		}
	}
	return out
}

func trimLink(s string) string {
	for s != "" {
		last := s[len(s)-1]
		switch {
		case strings.IndexByte(".,;:!?", last) >= 0:
			s = s[:len(s)-1]
		case last == ')' && strings.Count(s, "(") < strings.Count(s, ")"),
			last == ']' && strings.Count(s, "[") < strings.Count(s, "]"),
			last == '}' && strings.Count(s, "{") < strings.Count(s, "}"):
			s = s[:len(s)-1]
		default:
			return s
		}
	}
	return s
}
