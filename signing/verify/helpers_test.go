package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/signing/pades"
)

// testCA is a CA built in memory with a long-lived root and TSA (ten and five years, as
// real ones outlive citizens' certificates) and one-day citizen certificates.
type testCA struct{ *testpki.CA }

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	return &testCA{testpki.NewCAWith(t, testpki.Config{
		RootName: "Motlan Verify Test Root",
		TSAName:  "Motlan Verify Test TSA",
		RootLife: 10 * 365 * 24 * time.Hour,
		TSALife:  5 * 365 * 24 * time.Hour,
	})}
}

// sign signs in with a new citizen key of keyType at level.
func (ca *testCA) sign(t testing.TB, in []byte, keyType string, level pades.Level, field string) []byte {
	t.Helper()
	cert, key := ca.Citizen(t, keyType)
	opt := pades.Options{
		Certificate: cert,
		Chain:       []*x509.Certificate{ca.Root},
		Reason:      "Ký hồ sơ đăng ký khai sinh",
		Location:    "Thanh Hóa",
		Time:        time.Date(2026, 1, 2, 8, 30, 0, 0, time.UTC),
		Level:       level,
		FieldName:   field,
	}
	if level == pades.LevelBT {
		opt.Timestamp = ca.Timestamper(nil)
	}
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, pades.FromCryptoSigner(key), opt); err != nil {
		t.Fatalf("pades.Sign: %v", err)
	}
	return out.Bytes()
}

// appendUpdate appends a classic-xref incremental update that redefines the given
// objects (number -> body, a full "<<...>>" or stream).
func appendUpdate(t testing.TB, in []byte, objs map[int]string) []byte {
	t.Helper()
	sx := regexp.MustCompile(`startxref\s+(\d+)`).FindAllSubmatch(in, -1)
	sz := regexp.MustCompile(`/Size (\d+)`).FindAllSubmatch(in, -1)
	if len(sx) == 0 || len(sz) == 0 {
		t.Fatal("no startxref or /Size")
	}
	prev, size := string(sx[len(sx)-1][1]), string(sz[len(sz)-1][1])
	b := bytes.NewBuffer(bytes.Clone(in))
	offs := map[int]int{}
	for id := 1; id < 1<<16; id++ {
		body, ok := objs[id]
		if !ok {
			continue
		}
		offs[id] = b.Len()
		fmt.Fprintf(b, "%d 0 obj\n%s\nendobj\n", id, body)
	}
	xref := b.Len()
	b.WriteString("xref\n0 1\n0000000000 65535 f \n")
	for id := 1; id < 1<<16; id++ {
		if o, ok := offs[id]; ok {
			fmt.Fprintf(b, "%d 1\n%010d 00000 n \n", id, o)
		}
	}
	fmt.Fprintf(b, "trailer\n<< /Size %s /Root 1 0 R /Info 4 0 R /Prev %s >>\nstartxref\n%d\n%%%%EOF\n", size, prev, xref)
	return b.Bytes()
}

var regexpByteRange = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)
