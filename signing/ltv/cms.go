package ltv

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/motlan/motlan/internal/cms"
)

// maxTokenDepth bounds timestamp tokens nested in unsigned attributes (a token's own
// signer may carry a token, and so on): hostile input must not recurse without end.
const maxTokenDepth = 3

var errCMS = errors.New("malformed CMS")

// cmsCertificates returns the certificates of a CMS SignedData (DER ContentInfo) and,
// recursively, of the signature timestamp tokens in its signers' unsigned attributes.
// Only the structure is read: the signatures are the verifier's business.
func cmsCertificates(der []byte, depth int) ([]*x509.Certificate, error) {
	if depth > maxTokenDepth {
		return nil, fmt.Errorf("%w: timestamp tokens nested too deep", errCMS)
	}
	// PDF /Contents is zero-padded after the DER: trailing bytes are expected.
	sd, _, err := cms.ParseSignedData(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCMS, err)
	}
	if sd.BadCertificates > 0 {
		return nil, fmt.Errorf("%w: %d certificates do not parse", errCMS, sd.BadCertificates)
	}
	certs := sd.Certificates
	for _, si := range sd.Signers {
		a := cms.FindAttr(si.UnsignedAttrs, cms.OIDAttrSignatureTimeStamp)
		if a == nil {
			continue
		}
		for _, v := range a.Values {
			tc, err := cmsCertificates(v, depth+1)
			if err != nil {
				return nil, fmt.Errorf("signature timestamp: %w", err)
			}
			certs = append(certs, tc...)
		}
	}
	return certs, nil
}
