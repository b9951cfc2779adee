// Package discovery serves what a relying party reads before anything else: the OpenID
// Connect Discovery 1.0 document (built once, from what the other packages support) and
// the JWKS of the provider's signing keys.
package discovery
