// Package vault holds citizens' personal signing keys behind one seam, Vault, with a
// context on every call: a software vault today (Software: keys generated in Go, sealed
// at rest with AES-256-GCM), a PKCS#11 token later. Every implementation passes the same
// conformance suite, vaulttest.RunConformance.
//
// A key is named by its label, one per citizen ("citizen/<citizen-id>"), ASCII
// [A-Za-z0-9/_:.-], 1 to 128 bytes, compared byte for byte (case-sensitive). A key is
// created once and never changes: CreateKey on a taken label fails with ErrExists, so
// replicas that create at once converge by re-reading (EnsureKey does both).
//
// Callers sign through Vault.Sign or KeySigner, which carry the caller's context. Only a
// library that insists on a crypto.Signer gets one, from CryptoSigner, scoped to one
// call.
package vault
