// Package pwned answers one question about a candidate password: has it
// been seen in a known breach corpus, and how often? The caller (the core's
// password policy) decides what to do with the answer and with an error;
// this package only looks things up.
//
// What lives here: the Checker interface and its two implementations.
// Range is a client for the k-anonymity "range" protocol of the Pwned
// Passwords API (or a compatible mirror); Corpus answers from a local copy of
// the downloadable SHA-1 file "ordered by hash", for deployments without
// outbound network access. Both are safe for concurrent use.
//
// Privacy: Range sends only the first 5 hexadecimal characters (20 bits) of
// the password's SHA-1 to the server; the password, its full hash and the
// remaining 35 characters never leave the process, and the comparison with
// the returned suffixes happens here. It also asks for padded responses
// (Add-Padding: true), so someone watching the encrypted traffic cannot
// guess the prefix from the response size. Corpus sends nothing anywhere.
// Errors from both never contain the password, its hash or its prefix, so
// they may be logged as they are.
//
// What must not live here: policy (refuse or warn, fail open or closed),
// configuration or environment reading, HTTP handlers, logging, and anything
// that knows about users or stores. This is a leaf package: it imports only
// the standard library.
package pwned
