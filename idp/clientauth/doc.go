// Package clientauth is the one place the provider authenticates clients (RFC 6749 2.3,
// OIDC Core 9, RFC 7523): client_secret_basic, client_secret_post, private_key_jwt with
// single-use assertions, or none for public clients, always the method the client
// registered. The token, PAR, revocation and introspection endpoints all read their form
// with ParseForm and authenticate with Authenticate; none checks a credential itself.
package clientauth
