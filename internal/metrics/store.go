package metrics

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// scrapeTimeout bounds the store reads of one scrape: a slow store must not hold the
// scraper (which then reports the gauges missing, and motlan_store_scrape_errors_total).
const scrapeTimeout = 2 * time.Second

// signingStates are reported even at zero, so dashboards see every series.
var signingStates = []string{"pending", "signing", "signed", "rejected", "canceled", "expired", "failed"}

var (
	descSigning = prometheus.NewDesc("motlan_signing_requests", "Signing requests in the store, by state.", []string{"state"}, nil)
	descPending = prometheus.NewDesc("motlan_audit_pending_records", "Audit records written with their act and not yet sealed into the chain.", nil, nil)
	descOldest  = prometheus.NewDesc("motlan_audit_pending_oldest_seconds", "Age of the oldest audit record waiting to be sealed (0: none).", nil, nil)
	descErrors  = prometheus.NewDesc("motlan_store_scrape_errors_total", "Store reads that failed while scraping these metrics.", nil, nil)
)

// storeCollector reads the store-backed gauges at scrape time.
type storeCollector struct {
	st     Store
	log    *slog.Logger
	errors atomic.Int64 // scrapes may run concurrently
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSigning
	ch <- descPending
	ch <- descOldest
	ch <- descErrors
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var failed int64
	if counts, err := c.st.CountSigningRequests(ctx); err != nil {
		c.log.Warn("metrics: count signing requests", "err", err)
		failed++
	} else {
		for _, s := range signingStates {
			ch <- prometheus.MustNewConstMetric(descSigning, prometheus.GaugeValue, float64(counts[s]), s)
		}
	}
	if n, oldest, err := c.st.PendingAudit(ctx); err != nil {
		c.log.Warn("metrics: pending audit", "err", err)
		failed++
	} else {
		age := 0.0
		if n > 0 && !oldest.IsZero() {
			age = time.Since(oldest).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(n))
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age)
	}
	ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(c.errors.Add(failed)))
}
