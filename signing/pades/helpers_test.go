package pades

import (
	"context"
	"crypto"
	"encoding/asn1"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
)

// countingSigner counts calls to Sign.
type countingSigner struct {
	Signer
	calls atomic.Int32
}

func (c *countingSigner) Sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.calls.Add(1)
	return c.Signer.Sign(ctx, digest, opts)
}

// lastSignature returns the ByteRange and the DER /Contents of the last signature.
func lastSignature(t testing.TB, pdf []byte) ([4]int64, []byte) {
	t.Helper()
	ms := regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`).FindAllSubmatch(pdf, -1)
	if len(ms) == 0 {
		t.Fatal("no /ByteRange")
	}
	m := ms[len(ms)-1]
	var br [4]int64
	for i := range br {
		br[i], _ = strconv.ParseInt(string(m[i+1]), 10, 64)
	}
	hexs := pdf[br[1]+1 : br[2]-1]
	der := make([]byte, len(hexs)/2)
	for i := range der {
		v, err := strconv.ParseUint(string(hexs[2*i:2*i+2]), 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		der[i] = byte(v)
	}
	// Trim the zero padding after the DER.
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil {
		t.Fatalf("contents: %v", err)
	}
	return br, der[:len(der)-len(rest)]
}
