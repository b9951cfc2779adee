// Package authflow owns the browser's way to an authorization code: the authorization
// endpoint and the one validation of its parameters (authorize.go, split into steps),
// pushed authorization requests (par.go, RFC 9126), the upstream eID round trip and its
// sealed, single-use login transaction (login.go, logintx.go), consent (consent.go), and
// the step-up login Motlan's own pages use (stepup.go). Sessions are opened through
// package session; clients authenticate at /par through package clientauth.
package authflow
