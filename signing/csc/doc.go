// Package csc holds the wire shapes of the Cloud Signature Consortium API v2.0 that
// Motlan speaks in both directions: as a client of a licensed CA's remote signing service
// (adapters/csc) and as a server over its own vault (signing/csc/cscserver).
//
// Field names follow CSC API v2.0 (hashes + hashAlgorithmOID, signAlgo, SAD, credentialID,
// numSignatures, authData, signatures), not v1 (hash, hashAlgo). Errors are OAuth style:
// {"error": ..., "error_description": ...}. Only what Motlan sends or reads is modelled;
// unknown fields in a provider's answers are ignored.
//
// The tests of each side are written against raw JSON from the specification, not
// against these types, so a misspelt tag here cannot hide on both sides at once.
package csc
