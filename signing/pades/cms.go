package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"errors"
	"fmt"

	"github.com/motlan/motlan/internal/cms"
)

// buildCMS signs docDigest: it calls s.Sign exactly once and, for B-T, opt.Timestamp once.
// The signed attributes are contentType, messageDigest and signing-certificate-v2; no
// signingTime (ETSI EN 319 142-1, 6.3).
func buildCMS(ctx context.Context, s Signer, opt *Options, docDigest []byte) ([]byte, error) {
	cert := opt.Certificate
	sigAlg, err := signatureAlgorithm(cert.PublicKey)
	if err != nil {
		return nil, err
	}
	scv2, err := cms.SigningCertificateV2(cert)
	if err != nil {
		return nil, fmt.Errorf("pades: encoding signed attributes: %w", err)
	}
	b := cms.Builder{EContentType: cms.OIDData, Signer: cert, SignatureAlgorithm: sigAlg, Certificates: [][]byte{cert.Raw}}
	if b.SignedAttrs, err = cms.SignedAttributes(cms.OIDData, docDigest, scv2); err != nil {
		return nil, fmt.Errorf("pades: encoding signed attributes: %w", err)
	}
	for _, c := range opt.Chain {
		if !c.Equal(cert) {
			b.Certificates = append(b.Certificates, c.Raw) // the signer's first, as some readers expect
		}
	}
	attrsDigest := sha256.Sum256(b.SignedAttrs)
	if b.Signature, err = s.Sign(ctx, attrsDigest[:], crypto.SHA256); err != nil {
		return nil, fmt.Errorf("pades: signer: %w", err)
	}
	if err := verifyRaw(cert.PublicKey, attrsDigest[:], b.Signature); err != nil {
		return nil, err
	}
	if opt.Level == LevelBT {
		sigDigest := sha256.Sum256(b.Signature)
		tok, err := opt.Timestamp(ctx, sigDigest[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTimestamp, err)
		}
		if err := checkToken(tok, sigDigest[:]); err != nil {
			return nil, err
		}
		ua, err := cms.MarshalAttribute(cms.OIDAttrSignatureTimeStamp, tok)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTimestamp, err)
		}
		b.UnsignedAttrs = [][]byte{ua}
	}
	der, err := b.Marshal()
	if err != nil {
		return nil, fmt.Errorf("pades: encoding SignedData: %w", err)
	}
	return der, nil
}

// signatureAlgorithm is the CMS signatureAlgorithm for the signer's key; other keys
// than ECDSA and RSA are bad options.
func signatureAlgorithm(pub crypto.PublicKey) (pkix.AlgorithmIdentifier, error) {
	alg, err := cms.SignatureAlgorithmFor(pub)
	if err != nil {
		return alg, fmt.Errorf("%w: %v", ErrBadOptions, err)
	}
	return alg, nil
}

// verifyRaw checks the signer's output before it is embedded: a vault that signs with
// the wrong key or format would otherwise produce a document that fails later.
func verifyRaw(pub crypto.PublicKey, digest, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if ecdsa.VerifyASN1(k, digest, sig) {
			return nil
		}
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) == nil {
			return nil
		}
	}
	return fmt.Errorf("pades: the signer returned a signature that does not verify with the certificate's key")
}

// checkToken parses a TimeStampToken, verifies its signature when it carries the TSA
// certificate (the TSA's path and revocation are the verifier's business), and checks
// that it covers digest with SHA-256.
func checkToken(der, digest []byte) error {
	tok, rest, err := cms.ParseTimestampToken(der)
	if err == nil && len(rest) > 0 {
		err = errors.New("bytes after the token")
	}
	if err == nil && len(tok.Certificates) > 0 {
		if cert := tok.Signer.FindCertificate(tok.Certificates); cert == nil {
			err = errors.New("the token's signer certificate is missing")
		} else {
			err = tok.VerifyContent(tok.Signer, cert)
		}
	}
	if err != nil {
		return fmt.Errorf("%w: token: %v", ErrTimestamp, err)
	}
	if cms.Hash(tok.Imprint.HashAlgorithm.Algorithm) != crypto.SHA256 || !bytes.Equal(tok.Imprint.HashedMessage, digest) {
		return fmt.Errorf("%w: the token does not cover the signature value", ErrTimestamp)
	}
	return nil
}
