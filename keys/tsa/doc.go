// Package tsa is an RFC 3161 time-stamp authority for development (Server, an
// http.Handler) and a client for any RFC 3161 TSA (Request, ParseReply, ParseToken,
// Token.Verify). Tokens are DER CMS SignedData over a TSTInfo with the contentType,
// messageDigest and ESS signing-certificate-v2 signed attributes, as PAdES B-T embeds
// them. The query, reply and status encodings are this package's; the token's CMS and
// TSTInfo encodings, reader and signer checks are internal/cms's.
package tsa
