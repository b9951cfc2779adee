package ltv

import (
	"bytes"
	"context"
	"encoding/hex"
	"testing"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/signing/pades"
)

// FuzzCollect feeds hostile PDFs and CMS blobs to the signature walk and the CMS reader:
// they must return an error or a result, never panic or hang. No network: the
// extender's transport refuses loopback and the corpus carries no other URLs.
func FuzzCollect(f *testing.F) {
	w := newWorld(f)
	c := w.newCitizen(f)
	signed := w.sign(f, c, testpki.MinimalPDF(1), pades.LevelBT)
	f.Add(signed)
	f.Add(testpki.MinimalPDF(1))
	if i := bytes.Index(signed, []byte("/Contents <")); i >= 0 {
		j := bytes.IndexByte(signed[i:], '>')
		if der, err := hex.DecodeString(string(bytes.TrimRight(signed[i+11:i+j], "0"))); err == nil {
			f.Add(der)
		}
	}
	e, err := New(Config{MaxInputSize: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = cmsCertificates(data, 0)
		_, _ = signatures(data)
		_, _ = e.Collect(context.Background(), data)
	})
}
