// Package e2e holds end-to-end tests: the real binary driven over HTTP, and
// the hosted pages driven in a real headless Chromium. It has no code of its
// own; the tests are slow and skip under -short.
package e2e
