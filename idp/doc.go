// Package idp is Motlan's OpenID Connect provider. It has no passwords of its own: it logs
// citizens in at the national eID through an eid.Connector, keeps what the eID verified in
// the store, and releases it to relying parties by scope and consent.
//
// Files follow the protocol's concerns: authorize.go (the authorization endpoint and its
// request validation), login.go (the upstream round trip and sessions), consent.go, token.go
// (grants), clientauth.go (client authentication, enforced at one point for every grant),
// tokens.go (minting ID and access tokens), userinfo.go, discovery.go, pages.go (HTML).
// Each security rule lives in one function that every path calls.
package idp
