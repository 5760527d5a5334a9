package web

import (
	"net/http"
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

func (h *Handler) pageMailbox(w http.ResponseWriter, r *http.Request) {
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
	d := h.data(r, "Development mailbox")
	d.Mail = msgs
	h.render(w, r, http.StatusOK, "mailbox", d)
}

func (h *Handler) pageMailboxMessage(w http.ResponseWriter, r *http.Request) {
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
	d := h.data(r, m.Subject)
	d.Message = m
	h.render(w, r, http.StatusOK, "mailbox-message", d)
}
