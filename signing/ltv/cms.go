package ltv

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
)

var (
	oidSignedData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSignatureTSToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
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
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	// PDF /Contents is zero-padded after the DER: trailing bytes are expected.
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, fmt.Errorf("%w: ContentInfo: %v", errCMS, err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("%w: not SignedData", errCMS)
	}
	var sd asn1.RawValue
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || sd.Tag != asn1.TagSequence || !sd.IsCompound {
		return nil, fmt.Errorf("%w: SignedData", errCMS)
	}
	elems, err := children(sd.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: SignedData: %v", errCMS, err)
	}
	var certs []*x509.Certificate
	var signerInfos *asn1.RawValue
	for i := range elems {
		e := &elems[i]
		switch {
		case e.Class == asn1.ClassContextSpecific && e.Tag == 0: // certificates [0] IMPLICIT
			items, err := children(e.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: certificates: %v", errCMS, err)
			}
			for _, it := range items {
				if it.Class != asn1.ClassUniversal || it.Tag != asn1.TagSequence {
					continue // attribute or other certificate formats: not X.509
				}
				c, err := x509.ParseCertificate(it.FullBytes)
				if err != nil {
					return nil, fmt.Errorf("%w: certificate: %v", errCMS, err)
				}
				certs = append(certs, c)
			}
		case e.Class == asn1.ClassUniversal && e.Tag == asn1.TagSet:
			signerInfos = e // the last SET is signerInfos (digestAlgorithms comes first)
		}
	}
	if signerInfos == nil {
		return certs, nil
	}
	sis, err := children(signerInfos.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: signerInfos: %v", errCMS, err)
	}
	for _, si := range sis {
		fields, err := children(si.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: SignerInfo: %v", errCMS, err)
		}
		for _, f := range fields {
			if f.Class != asn1.ClassContextSpecific || f.Tag != 1 { // unsignedAttrs [1] IMPLICIT
				continue
			}
			attrs, err := children(f.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: unsigned attributes: %v", errCMS, err)
			}
			for _, a := range attrs {
				var attr struct {
					Type   asn1.ObjectIdentifier
					Values []asn1.RawValue `asn1:"set"`
				}
				if _, err := asn1.Unmarshal(a.FullBytes, &attr); err != nil {
					return nil, fmt.Errorf("%w: attribute: %v", errCMS, err)
				}
				if !attr.Type.Equal(oidSignatureTSToken) {
					continue
				}
				for _, v := range attr.Values {
					tc, err := cmsCertificates(v.FullBytes, depth+1)
					if err != nil {
						return nil, fmt.Errorf("signature timestamp: %w", err)
					}
					certs = append(certs, tc...)
				}
			}
		}
	}
	return certs, nil
}

// children splits DER content octets into their elements.
func children(b []byte) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(b, &v)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		b = rest
		if len(out) > 1<<12 {
			return nil, errors.New("too many elements")
		}
	}
	return out, nil
}
