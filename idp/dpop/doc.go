// Package dpop owns DPoP (RFC 9449) on both sides. Key (dpop.go) makes proofs: what a
// relying party, or a test, sends in the DPoP header to prove it holds the key its tokens
// are bound to. Checker (checker.go) is the provider's side and the one place every DPoP
// rule is enforced: the proof checks of RFC 9449 4.3 (verify.go, with htu normalisation
// in htu.go), jti replay across replicas, server nonces, the token endpoint's and PAR's
// binding, and sender-constrained tokens at protected resources. wire.go holds what goes
// on the wire: the OAuth errors, challenges, and the refresh-token binding carrier.
//
// DPoP, RFC 9449: a client proves possession of a key with a fresh signed proof on every
// request, and the access tokens (and public clients' refresh tokens) it gets are bound to
// that key, so a stolen token is useless without the private key.
package dpop
