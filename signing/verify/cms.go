package verify

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"github.com/motlan/motlan/internal/cms"
)

// The CMS structure is read by internal/cms; the verifier adds its own policy: exactly
// one SignerInfo, nothing but zero padding after the DER, SHA-1 recognised but refused.

// signedData is a parsed SignedData with exactly one SignerInfo, and the certificate its
// signer identifier names (nil when the CMS carries none).
type signedData struct {
	*cms.SignedData
	si         *cms.SignerInfo
	signerCert *x509.Certificate
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{cms.ErrFormat}, args...)...)
}

// parseSignedData parses a DER ContentInfo holding a SignedData. Zero bytes after it
// (the /Contents padding) are allowed; anything else is not.
func parseSignedData(der []byte) (*signedData, error) {
	sd, rest, err := cms.ParseSignedData(der)
	if err != nil {
		return nil, err
	}
	if err := padding(rest); err != nil {
		return nil, err
	}
	if len(sd.Signers) != 1 {
		return nil, formatErr("%d SignerInfos, want exactly 1", len(sd.Signers))
	}
	si := &sd.Signers[0]
	return &signedData{SignedData: sd, si: si, signerCert: si.FindCertificate(sd.Certificates)}, nil
}

// padding accepts the bytes after a CMS when they are zeros (the /Contents padding).
func padding(rest []byte) error {
	for _, b := range rest {
		if b != 0 {
			return formatErr("%d bytes of trailing data after the CMS", len(rest))
		}
	}
	return nil
}

// hashFor is the digest policy: SHA-256, SHA-384 and SHA-512 are accepted; SHA-1 is
// recognised (named in reports) but not accepted.
func hashFor(oid asn1.ObjectIdentifier) (crypto.Hash, string, bool) {
	h := cms.Hash(oid)
	return h, cms.HashName(oid), h != 0 && h != crypto.SHA1
}
