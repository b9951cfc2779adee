package sqlstore_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/motlan/motlan/signing/signingtest"
)

// BenchmarkStoredDocumentBytes measures the stored-bytes gauge's query over 100 stored
// PDFs of 4 KB and of 512 KB: equal times mean it reads the rows, not the documents, so
// its cost does not grow with what citizens upload. CountSigningRequests (the scrape-time
// gauge) is the baseline; compare ratios within one run.
//
//	go test -run '^$' -bench StoredDocumentBytes ./adapters/sqlstore/
func BenchmarkStoredDocumentBytes(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			for _, size := range []int{4 << 10, 512 << 10} {
				b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
					now := signingtest.Start
					s := be.open(b, func() time.Time { return now })
					ctx := b.Context()
					pad := bytes.Repeat([]byte{0xA5}, size)
					for i := range 100 {
						r, pdfs := signingtest.Request(fmt.Sprintf("bench-%03d", i), "portal", "sub", 1, now)
						pdfs[0] = append(pdfs[0], pad...)
						r.Documents[0].Size = int64(len(pdfs[0]))
						if _, err := s.CreateSigningRequest(ctx, r, pdfs); err != nil {
							b.Fatal(err)
						}
					}
					b.Run("StoredDocumentBytes", func(b *testing.B) {
						for b.Loop() {
							if n, err := s.StoredDocumentBytes(ctx); err != nil || n < int64(100*size) {
								b.Fatalf("%d, %v", n, err)
							}
						}
					})
					b.Run("baseline_CountSigningRequests", func(b *testing.B) {
						for b.Loop() {
							if _, err := s.CountSigningRequests(ctx); err != nil {
								b.Fatal(err)
							}
						}
					})
				})
			}
		})
	}
}
