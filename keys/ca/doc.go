// Package ca is Motlan's development certificate authority: a root and an issuing CA,
// created at first start and kept in a Storage with their private keys sealed, that
// issues citizens' signing certificates (subject C=VN, ST, L, CN in UTF8String,
// UID=CCCD:<12 digits>; digitalSignature and nonRepudiation; document-signing EKUs),
// revokes them, and publishes CRLs and a delegated OCSP responder (RFC 6960) at the
// URLs the certificates carry. It also certifies the dev time-stamp authority.
//
// Issuer is the seam the signing service uses; a production CA implements it later.
// Every Storage record is written once and never changed, so replicas sharing a store
// act as one CA: the first writer of a record wins and the others load it.
package ca
