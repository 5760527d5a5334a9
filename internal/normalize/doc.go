// Package normalize validates and canonicalizes the identifiers and secrets
// that users type: email addresses (Email), passwords before hashing
// (Password) and new passwords against a strength policy (Policy).
//
// What lives here: pure, allocation-light functions with no I/O, no clock,
// no storage and no HTTP. Everything is safe for concurrent use; the only
// package-level state is immutable (an IDNA profile and the embedded
// common-password list, decompressed once on first use).
//
// What must not live here: anything that knows about users, stores, requests
// or configuration files. This is a leaf package: it imports only the standard
// library, golang.org/x/text and golang.org/x/net/idna.
//
// Error messages returned by this package never contain the input, so they are
// safe to show to the person who typed it. The web edge should still map them
// to the project's error type (errors.Is with ErrEmailInvalid,
// ErrPasswordTooLong, ErrPasswordInvalid, or errors.As with *PolicyError)
// rather than pass err.Error() through blindly.
package normalize
