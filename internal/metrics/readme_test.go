package metrics_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/metrics"
)

// TestEveryMetricInREADME: every metric the registry describes is named in the README's
// "Operating Motlan" section, in backquotes, or falls under a documented family such as
// `go_*` (so a new metric cannot ship undocumented).
func TestEveryMetricInREADME(t *testing.T) {
	st, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := metrics.New(metrics.Config{Store: st, DBs: st.Pools()})
	names := describedNames(t, m)
	if len(names) < 10 || !names["motlan_stored_document_bytes"] || !names["motlan_retention_purged_total"] {
		t.Fatalf("the registry describes too little: %v", names)
	}

	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, "\n## Operating Motlan")
	if start < 0 {
		t.Fatal(`README has no "## Operating Motlan" section`)
	}
	section := readme[start:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	documented := map[string]bool{}
	var families []string
	for _, mm := range regexp.MustCompile("`([a-z_:][a-z0-9_:]*\\*?)`").FindAllStringSubmatch(section, -1) {
		if name, ok := strings.CutSuffix(mm[1], "*"); ok {
			families = append(families, name)
		} else {
			documented[name] = true
		}
	}
	for name := range names {
		if documented[name] {
			continue
		}
		if strings.HasPrefix(name, "motlan_") {
			t.Errorf("%s is not listed in README \"Operating Motlan\"", name)
			continue
		}
		found := false
		for _, f := range families {
			found = found || strings.HasPrefix(name, f)
		}
		if !found {
			t.Errorf("%s is neither listed nor under a documented family (`go_*`, ...)", name)
		}
	}
}

// describedNames collects the fully qualified names the registry's collectors describe.
func describedNames(t *testing.T, m *metrics.Metrics) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc)
	go func() { m.Registry().Describe(ch); close(ch) }()
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	out := map[string]bool{}
	for d := range ch {
		mm := re.FindStringSubmatch(d.String())
		if mm == nil {
			t.Fatalf("descriptor without a name: %s", d)
		}
		out[mm[1]] = true
	}
	return out
}
