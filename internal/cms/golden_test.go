package cms_test

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/motlan/motlan/internal/cms"
	"github.com/motlan/motlan/internal/testpki"
)

// TestGoldenBuilder pins the DER the builder writes for a detached signature with an
// unsigned attribute and for a TSTInfo token; keys/tsa and signing/pades pin their own
// replies and signatures. Run with -update to rewrite, and review the change with
// `openssl asn1parse -inform DER -i -in <file>`.
func TestGoldenBuilder(t *testing.T) {
	pki := testpki.NewGolden(t)
	cert, key := pki.GoldenCitizen(t)
	t.Run("signed attributes", func(t *testing.T) {
		sum := sha256.Sum256([]byte("golden"))
		scv2, err := cms.SigningCertificateV2(cert)
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := cms.SignedAttributes(cms.OIDData, sum[:], scv2)
		if err != nil {
			t.Fatal(err)
		}
		testpki.Golden(t, "testdata/signed-attributes.der", attrs, *update)
	})
	t.Run("detached with unsigned attribute", func(t *testing.T) {
		b := cms.Builder{EContentType: cms.OIDData, Signer: cert, Certificates: [][]byte{cert.Raw, pki.Root.Raw}}
		b.SignatureAlgorithm, _ = cms.SignatureAlgorithmFor(key.Public())
		sum := sha256.Sum256([]byte("golden"))
		var err error
		if b.SignedAttrs, err = cms.SignedAttributes(cms.OIDData, sum[:]); err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256(b.SignedAttrs)
		if b.Signature, err = key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
		ua, err := cms.MarshalAttribute(cms.OIDAttrSignatureTimeStamp, signed(t, pki.TSA, pki.TSAKey, b.Signature, false))
		if err != nil {
			t.Fatal(err)
		}
		b.UnsignedAttrs = [][]byte{ua}
		der, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		testpki.Golden(t, "testdata/detached.der", der, *update)
	})
	t.Run("TSTInfo token", func(t *testing.T) {
		testpki.Golden(t, "testdata/token.der", signed(t, pki.TSA, pki.TSAKey, []byte("golden"), false, pki.TSA, pki.Root), *update)
	})
}
