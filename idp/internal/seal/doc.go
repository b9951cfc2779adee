// Package seal encrypts the provider's small secrets-at-rest that travel through clients:
// the citizen reference inside access tokens and the state kept in cookies (AES-256-GCM,
// random nonce, bound to what they belong to). One key, derived from Config.Secret.
package seal
