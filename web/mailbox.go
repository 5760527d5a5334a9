package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
)

// The development mailbox: in development mode, mail is not sent anywhere;
// it is kept in memory and shown here, each message with its links. The
// routes exist only when WithDevMailbox was given in development mode.
// Pages answer JSON to a client that asks for it (Accept: application/json),
// which is how tests and scripts read their mail.

type mailboxEntryJSON struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	To         string    `json:"to"`
	Subject    string    `json:"subject"`
	Text       string    `json:"text"`
	HTML       string    `json:"html"`
	Links      []string  `json:"links"`
	ReceivedAt time.Time `json:"received_at"`
}

func toMailboxJSON(e mailbox.Entry) mailboxEntryJSON {
	links := e.Links
	if links == nil {
		links = []string{}
	}
	return mailboxEntryJSON{ID: e.ID, Kind: e.Kind, To: e.To, Subject: e.Subject, Text: e.Text, HTML: e.HTML, Links: links, ReceivedAt: e.ReceivedAt.UTC()}
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// mailboxHostOK refuses a request whose Host is neither the public URL's
// nor a loopback name or address: the mailbox holds live links, and a web
// page could otherwise read it through DNS rebinding (its own name
// resolving to 127.0.0.1 reaches us with that name as Host).
func (h *Handler) mailboxHostOK(w http.ResponseWriter, r *http.Request) bool {
	host := r.Host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		host = hn
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if r.Host == h.publicHost || host == "localhost" {
		return true
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
		return true
	}
	h.writeError(w, r, &gatehouse.Error{Code: gatehouse.CodeNotFound, Message: "There is nothing here."})
	return false
}

func (h *Handler) pageMailbox(w http.ResponseWriter, r *http.Request) {
	if !h.mailboxHostOK(w, r) {
		return
	}
	msgs := h.mailbox.Messages()
	if wantsJSON(r) {
		out := make([]mailboxEntryJSON, 0, len(msgs))
		for _, m := range msgs {
			out = append(out, toMailboxJSON(m))
		}
		writeJSON(w, http.StatusOK, struct {
			Messages []mailboxEntryJSON `json:"messages"`
		}{out})
		return
	}
	d := h.data(r, "mailbox")
	d.Mail = msgs
	h.render(w, r, http.StatusOK, "mailbox", d)
}

func (h *Handler) pageMailboxMessage(w http.ResponseWriter, r *http.Request) {
	if !h.mailboxHostOK(w, r) {
		return
	}
	m, ok := h.mailbox.Message(r.PathValue("id"))
	if !ok {
		e := &gatehouse.Error{Code: gatehouse.CodeNotFound, Message: "No such message. The mailbox keeps the latest messages, in memory only."}
		if wantsJSON(r) {
			h.writeError(w, r, e)
		} else {
			h.renderError(w, r, e)
		}
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, toMailboxJSON(m))
		return
	}
	d := h.data(r, "mailbox-message")
	d.Title = m.Subject
	d.Message = m
	h.render(w, r, http.StatusOK, "mailbox-message", d)
}
