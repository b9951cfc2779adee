package metrics

import "github.com/prometheus/client_golang/prometheus"

// retentionMetrics are the retention job's (internal/retention): the stored PDF bytes,
// measured every few minutes and after each purge, and what purges removed.
type retentionMetrics struct {
	storedBytes prometheus.Gauge
	purged      *prometheus.CounterVec
}

func newRetentionMetrics(reg prometheus.Registerer) retentionMetrics {
	r := retentionMetrics{
		storedBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "motlan_stored_document_bytes", Help: "Bytes of stored PDFs, originals and signed copies (shared by every replica; measured every few minutes).",
		}),
		purged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "motlan_retention_purged_total", Help: "What the retention purge removed on this replica: documents (PDFs) and requests (ended request rows).",
		}, []string{"what"}),
	}
	reg.MustRegister(r.storedBytes, r.purged)
	for _, what := range []string{"documents", "requests"} {
		r.purged.WithLabelValues(what) // every series from the start, at zero
	}
	return r
}

// StoredDocumentBytes sets motlan_stored_document_bytes.
func (m *Metrics) StoredDocumentBytes(n int64) {
	if m == nil {
		return
	}
	m.retention.storedBytes.Set(float64(n))
}

// RetentionPurged counts what a purge removed: what is "documents" or "requests".
func (m *Metrics) RetentionPurged(what string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.retention.purged.WithLabelValues(what).Add(float64(n))
}
