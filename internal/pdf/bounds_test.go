package pdf

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/motlan/motlan/internal/testpdf"
)

// TestDeclaredCountsBounded: counts the reader allocates or loops by (/Size and /W of a
// cross-reference stream, its /Index subsections) are checked against the file's size
// before they are used: an error, not gigabytes.
func TestDeclaredCountsBounded(t *testing.T) {
	base := testpdf.QPDF(t, testpdf.Producers(t)[3].Data, "--object-streams=generate")
	xrefDict := regexp.MustCompile(`(?s)/Type\s*/XRef.*?stream`)
	loc := xrefDict.FindAllIndex(base, -1)
	if len(loc) == 0 {
		t.Fatal("no cross-reference stream")
	}
	last := loc[len(loc)-1]
	dict := string(base[last[0]:last[1]])
	for _, tc := range []struct{ name, re, repl string }{
		{"huge /Size", `/Size \d+`, "/Size 9999999999"},
		{"huge /W", `/W \[ *\d+ +\d+ +\d+ *\]`, "/W [1 9999 2]"},
		{"huge /Index", `/Size \d+`, "/Size 9 /Index [0 4000000000]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			re := regexp.MustCompile(tc.re)
			if !re.MatchString(dict) {
				t.Fatalf("no %s in %q", tc.re, dict)
			}
			// Same length or longer: offsets after it shift, but startxref points before it.
			bad := bytes.Clone(base[:last[0]])
			bad = append(bad, re.ReplaceAllString(dict, tc.repl)...)
			bad = append(bad, base[last[1]:]...)
			_, err := NewReader(bytes.NewReader(bad), int64(len(bad)))
			if err == nil || !strings.Contains(err.Error(), "range") && !strings.Contains(err.Error(), "invalid W") {
				t.Fatalf("NewReader: %v, want an out-of-range error", err)
			}
		})
	}
}
