// Package idp is Motlan's OpenID Connect provider. It has no passwords of its own: it logs
// citizens in at the national eID through an eid.Connector, keeps what the eID verified in
// the store, and releases it to relying parties by scope and consent.
//
// This package only wires the provider: Config, New, the routes, the security headers
// every response carries, and the API the rest of Motlan uses (access token checks for
// its APIs, the browser's citizen and step-up logins for the signing pages). Each
// protocol concern is its own package, and each security rule lives in one of them:
//
//   - authflow: the authorization endpoint and its one validation, PAR, the upstream eID
//     login and its transaction, consent, step-up;
//   - grants: the token endpoint, one Grant per grant type;
//   - clientauth: client authentication, for every endpoint that takes it;
//   - dpop: DPoP proofs, nonces and sender-constrained tokens;
//   - tokens: minting and verifying the provider's own JWTs;
//   - session: SSO sessions, RP-initiated and back-channel logout;
//   - revocation: RFC 7009 revocation and RFC 7662 introspection;
//   - resource: access tokens at protected resources, and userinfo;
//   - discovery: the discovery document and the JWKS;
//   - internal/web, internal/seal, internal/clients: pages and rate-limit answers,
//     sealed cookies and token references, the client cache.
//
// The HTTP tests here drive the whole provider over real HTTP; package tests sit with
// their code.
package idp
