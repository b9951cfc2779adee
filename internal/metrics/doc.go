// Package metrics owns Motlan's Prometheus metrics: their names (all motlan_*), their
// labels, and the registry the admin listener serves at /metrics.
//
// Labels never carry personal data or identifiers: HTTP requests are labelled by the
// route pattern the mux matched (never the raw path, which holds request ids), logins by
// outcome and eID level, rate-limit rejections by scope. Gauges that live in the store
// (signing requests by state, audit records waiting to be sealed) are read when scraped,
// with a short timeout, so replicas report the same shared numbers.
//
// A nil *Metrics records nothing, so components built without one need no stub.
package metrics
