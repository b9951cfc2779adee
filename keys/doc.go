// Package keys holds the provider's token-signing keys: it creates them, seals their
// private parts at rest (AES-256-GCM under a master key), caches them in memory, signs and
// verifies compact JWS with them, publishes the public halves as JWKS, and rotates them.
//
// Keys live in the store (see Store) so every replica signs with the same keys and
// publishes the same JWKS. A key is published from its CreatedAt, signs from its ActiveAt,
// and is dropped from JWKS at its retirement: its stored RetireAt, or else (the store has
// no update) MaxTokenLifetime+RefreshInterval after a newer key of its algorithm became
// active. Every replica derives the same answer from the same records.
//
// Rotation runs on a schedule (Config.Rotation) without a lock service: period boundaries
// are fixed instants, the next key's ID is fixed by its algorithm and boundary, and the
// store's unique key ID makes exactly one of the racing replicas create it. Keys are
// published PublishAhead before they sign, so relying parties that cache JWKS, and
// replicas between two refreshes, know a key before it is used. Retired keys stay in the
// store, sealed, and are never unsealed again.
//
// The signing path never touches the store: Manager keeps an immutable snapshot of the
// keys, replaced on Refresh (periodically in the background, and on an unknown kid in
// Verify, rate limited).
//
// Compact JWS is written and read by jws.go, not go-jose (which publishes the JWKS): at
// the same speed, go-jose's parser accepts tokens Verify refuses, non-canonical base64url
// and headers Motlan never writes; bench_test.go holds the measurement and a test of
// those differences.
package keys
