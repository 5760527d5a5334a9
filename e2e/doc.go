// Package e2e holds end-to-end tests: the real binary driven over HTTP, and
// the hosted pages driven in a real headless Chromium. It has no code of its
// own; the tests are slow and skip under -short.
//
// The browser tests (names contain "Browser") run Debian's chromium with
// JavaScript disabled, as the pages must work without it. Among them:
//
//   - TestBrowserUIJourney: a newcomer's whole journey through the notes
//     example (examples/notes), mail read on the development mailbox page.
//   - TestBrowserKeyboardSignIn: sign-in with the keyboard alone, the
//     focus visible at every stop.
//   - TestBrowserAccessibility: axe-core on every page state, light and
//     dark, and no layout shift as pages load. axe.min.js comes from
//     GATEHOUSE_AXE_JS, or ~/.cache/gatehouse-ci/node_modules/axe-core,
//     where .ci/run installs it; without it the test skips.
//   - TestBrowserScreenshots: every page state, light and dark, 390 and
//     1280 px wide, with an index.html.
//   - TestBrowserBranding: the binary with a product name, logo, colour,
//     custom CSS, a template override and a text override.
//   - TestBrowserOIDCFlow: an application signs a user in through the
//     OpenID Connect provider (sign-in, consent, prompt=login, logout) with
//     no Content Security Policy violation on the way.
//
// The TestBinaryOIDC tests play a relying party with coreos/go-oidc and
// golang.org/x/oauth2 against the binary, including the OpenID Foundation's
// Basic OP checks.
//
// Screenshots (and, in every browser test, one of the page at a failing
// step) are test artifacts: keep them with
//
//	go test -run Browser -artifacts -outputdir DIR ./e2e/
//
// and find them under DIR/_artifacts, one folder per test with a test.txt
// naming it.
package e2e
