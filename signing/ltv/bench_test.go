package ltv

import (
	"context"
	"testing"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/signing/pades"
)

// BenchmarkLevels signs the same 2-page PDF at each PAdES level with an ECDSA P-256 key
// against a dev CA, OCSP responder and TSA on loopback HTTP, and reports the bytes each
// level adds to the PDF (bytes_added) besides the time per signature.
func BenchmarkLevels(b *testing.B) {
	w := newWorld(b)
	e := w.extender(b)
	c := w.newCitizen(b)
	in := testpki.MinimalPDF(2)
	ctx := context.Background()
	for _, lv := range []struct {
		name string
		sign func() []byte
	}{
		{"B-B", func() []byte { return w.sign(b, c, in, pades.LevelBB) }},
		{"B-T", func() []byte { return w.sign(b, c, in, pades.LevelBT) }},
		{"B-LT", func() []byte { return w.extend(b, e, ctx, w.sign(b, c, in, pades.LevelBT), LevelLT) }},
		{"B-LTA", func() []byte { return w.extend(b, e, ctx, w.sign(b, c, in, pades.LevelBT), LevelLTA) }},
	} {
		b.Run(lv.name, func(b *testing.B) {
			var out []byte
			for b.Loop() {
				out = lv.sign()
			}
			b.ReportMetric(float64(len(out)-len(in)), "bytes_added")
			b.ReportMetric(float64(len(in)), "bytes_input")
		})
	}
}

func (w *world) extend(tb testing.TB, e *Extender, ctx context.Context, pdf []byte, level Level) []byte {
	tb.Helper()
	out, err := e.Extend(ctx, pdf, level)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
