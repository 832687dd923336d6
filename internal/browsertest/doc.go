// Package browsertest drives the three web apps — the passenger app, the staff
// console and the admin console — in real Chromium against a real `tempid serve
// --demo` process, the way a passenger's phone, a ticket clerk and an operator use
// them.
//
// The tests build the tempid binary once, start one demo server and one headless
// Chromium for the whole run, and give each test its own browser context (its own
// cookies and storage), so one test's session never leaks into another's. Chromium's
// fake camera shows a face (package facetest) so the server's face simulator passes
// the check; the staff console's camera test starts a second Chromium whose fake
// camera shows the QR symbol of a real code.
//
// Every state a test visits — each passenger screen it waits for, each screen it
// photographs, and the states it names with tab.axe — is checked with axe-core
// (a development dependency of the web apps, injected from web/node_modules) against
// WCAG 2.x A and AA and axe's best practices; any violation fails the test.
//
// The suite needs Debian's chromium package, the web apps' dependencies (`cd web &&
// npm ci`, for axe-core) and the built web apps (`make web`).
// Without either it skips, saying how to enable it, except when the CI environment
// variable is set: CI must run everything, so there it fails instead. TEMPID_CHROMIUM
// names another browser binary.
//
// The tests write screenshots of the main screens (zh-CN; the passenger app in a
// 390×844 phone viewport) to test-output/screenshots/ at the repository root; the
// README shows a copy of them from docs/screenshots/.
package browsertest
