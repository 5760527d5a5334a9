// Package attack holds Gatehouse's black-box attack suite: tests that build
// and start the real binary and attack it over HTTP as an outsider would —
// redirects, cross-origin posts, fixation, replay, header spoofing,
// enumeration, races, hostile bodies, injection, mass assignment — and the
// crash-safety tests that SIGKILL it mid-flight. Each test names the OWASP
// ASVS 5.0 requirements it pins; docs/security.md lists them.
//
// The package has no code of its own: only tests. They run without -short
// (CI runs them in its serial step).
package attack
