// Package session owns the browser's SSO session: the session cookie, opening a fresh
// session after an eID login (session fixation, another citizen's session ended), RP-
// initiated logout with its confirmation page and the eID's own logout round trip
// (logout.go), and back-channel logout tokens to the clients of an ended session
// (backchannel.go).
package session
