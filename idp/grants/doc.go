// Package grants owns the token endpoint (RFC 6749 3.2): one Grant per grant type
// (authorization_code, refresh_token, client_credentials), each saying whether it needs
// an authenticated client, what scopes it allows, and how it issues tokens. The Endpoint
// mounts only the enabled grants and enforces, once for all of them, form parsing, rate
// limits, client authentication (package clientauth), the DPoP proof (package dpop) and
// each grant's client and scope policy, before Handle runs. Tokens are minted by package
// tokens.
package grants
