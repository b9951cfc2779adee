// Package ltv takes signed PDFs to the long-term PAdES levels of ETSI EN 319 142-1:
// B-LT (a /DSS with the certificates, OCSP responses and CRLs that validate every
// signature and document timestamp) and B-LTA (then a document timestamp over it all).
//
// Collect gathers that evidence over the network: the chain of every certificate in each
// signature's CMS and in its timestamp tokens (from the CMS, the configured CAs and the
// certificates' caIssuers URLs), an OCSP response (RFC 6960, POST) from each certificate's
// AIA responder, and the CRL of its distribution point when OCSP is not available. It
// also records which of those items validate which signature: a VRI entry per signature
// and document timestamp (ETSI EN 319 142-1 5.4.2), its chain and revocation data.
// Extend writes the evidence with pades.AddDSS and, for B-LTA, adds a document timestamp
// with pades.AddDocumentTimestamp; both are incremental updates, so every earlier
// signature stays valid. Extending a B-LTA file again adds fresh evidence and another
// document timestamp: the archive's periodic renewal.
package ltv
