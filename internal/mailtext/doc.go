// Package mailtext holds the text of every email Gatehouse sends — subject,
// plain-text part and HTML part — for every supported language, and renders
// it from a small, fixed set of values (Data).
//
// What lives here: the embedded templates (templates/{locale}/…), their
// parsing and validation (New), the choice of a language from an
// Accept-Language header (Set.Match), and rendering (Set.Render). A Set is
// immutable once New returns and safe for concurrent use.
//
// What must not live here: anything that knows about users, accounts,
// storage, queues, SMTP or HTTP requests. Callers decide who gets which mail
// and fill Data; this package only decides the words. It imports only the
// standard library and golang.org/x/text.
//
// # Security
//
// Every Data field is produced by Gatehouse itself (configuration, its own
// links, fixed vocabularies); none is text chosen by whoever triggered the
// mail, so a mail can never carry caller-supplied text to someone else. The
// HTML part is still rendered with html/template, which escapes every value
// for its context (a Link keeps its exact value inside href, with "&"
// written "&amp;"; a non-http(s) URL is replaced by "#ZgotmplZ"). The
// plain-text part uses text/template and is not escaped. Subjects always come
// out as one line: control characters and line separators become spaces, so
// a template or value can never inject a mail header.
//
// # Writing or overriding templates
//
// Each locale is a folder named by its canonical BCP 47 tag ("en", "fr",
// "pt-BR") holding, for every kind K:
//
//   - K.txt, a text/template defining "subject" and "body";
//   - K.html, an html/template defining "body";
//
// plus layout.html, an html/template whose top level is the whole HTML
// document and calls {{template "body" .}}. The embedded layouts also define
// "button", which takes the value of {{action URL "Label"}} and draws a
// button-styled link followed by the raw URL for clients that strip buttons.
//
// Templates see the fields of Data (.Product, .Link, .ExpiresIn, .SignInURL,
// .ForgotPasswordURL, .Time, .Device, .IP) plus .Lang (the locale folder
// name) and, in HTML, .Subject (the rendered one-line subject). Functions:
// duration (a time.Duration in words: "30 minutes", "1 heure") and datetime
// (a time.Time in UTC: "27 November 2026 at 15:04 UTC"), in the locale's
// language for English and French and in a language-neutral form
// ("30 min", "2026-11-27 15:04 UTC") for any other language; action, in
// HTML only, as above. The plain-text body is tidied after rendering:
// trailing spaces go, runs of blank lines become one, it ends with a single
// newline. Every URL a kind needs must stand alone on its own line there.
//
// New checks all of this up front by rendering every kind in every locale
// with sample values, so a broken override fails at startup with the file's
// name rather than when a mail is due.
package mailtext
