package sqlstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/store/storetest"
)

// BenchmarkTakeRateLimit is one counted request: what every limited request adds.
func BenchmarkTakeRateLimit(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b, time.Now)
			now := time.Now()
			i := 0
			for b.Loop() {
				i++
				if _, _, err := s.TakeRateLimit(b.Context(), "ip-"+strconv.Itoa(i%64), 1000000, time.Minute, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendAudit is one audit record appended under the head lock.
func BenchmarkAppendAudit(b *testing.B) {
	seal := func(r store.AuditRecord) (string, error) { return "h" + strconv.FormatInt(r.Seq, 10), nil }
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b, storetest.NewClock(time.Now()).Now)
			for b.Loop() {
				if _, err := s.AppendAudit(b.Context(), []store.AuditRecord{{At: time.Now(), Kind: "login", Actor: "citizen:c", Details: []byte(`{"client":"portal"}`)}}, seal); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendAuditParallel appends from many goroutines: the head row serializes them,
// so this is the log's ceiling in appends per second on one database.
func BenchmarkAppendAuditParallel(b *testing.B) {
	seal := func(r store.AuditRecord) (string, error) { return "h" + strconv.FormatInt(r.Seq, 10), nil }
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b, time.Now)
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.AppendAudit(context.Background(), []store.AuditRecord{{At: time.Now(), Kind: "login", Actor: "citizen:c", Details: []byte(`{}`)}}, seal); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
