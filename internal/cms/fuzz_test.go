package cms_test

import (
	"bytes"
	"testing"

	"github.com/motlan/motlan/internal/cms"
	"github.com/motlan/motlan/internal/testpki"
)

// FuzzParseSignedData: the reader never panics, and what it accepts, the signer checks
// and the TSTInfo reader take without panicking either.
func FuzzParseSignedData(f *testing.F) {
	ca := testpki.NewCA(f)
	cert, key := ca.Citizen(f, "ecdsa")
	f.Add(signed(f, cert, key, []byte("dossier"), true, cert, ca.Root))
	f.Add(signed(f, ca.TSA, ca.TSAKey, []byte("signature value"), false, ca.TSA))
	f.Add([]byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, der []byte) {
		if tok, _, err := cms.ParseTimestampToken(der); err == nil && (tok.Info == nil || tok.Signer == nil) {
			t.Fatal("a token without its TSTInfo or signer")
		}
		sd, rest, err := cms.ParseSignedData(der)
		if err != nil {
			return
		}
		if len(rest) > len(der) || !bytes.HasSuffix(der, rest) {
			t.Fatalf("rest is not a suffix of the input")
		}
		for i := range sd.Signers {
			si := &sd.Signers[i]
			if c := si.FindCertificate(sd.Certificates); c != nil {
				_ = sd.VerifyContent(si, c)
			}
			_, _ = si.MessageDigest()
		}
		if sd.EContent != nil {
			_, _, _ = cms.ParseTSTInfo(sd.EContent)
		}
	})
}
