package pdf

import (
	"strings"
	"testing"
)

// TestParserEnds: input the parser used to loop or recurse on without end (an array that
// meets endobj or the end of an object stream's data, unterminated strings there, deep
// nesting) ends in a panic with the reason, which callers recover as an error.
func TestParserEnds(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		eofOK    bool // read as an object stream's data: the end reads as newlines
		want     string
	}{
		{"array meets endobj", "1 0 obj << /A [1 2 endobj\n", false, "array not closed"},
		{"array at the end of an object stream", "[1 2", true, "array not closed"},
		{"literal string at the end of an object stream", "(abc", true, "unterminated literal string"},
		{"hex string at the end of an object stream", "<41 42", true, "unterminated hex string"},
		{"nesting deeper than qpdf reads", strings.Repeat("[", 100000), true, "nested deeper than 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuffer(strings.NewReader(tc.in), 0)
			b.allowEOF = tc.eofOK
			got := func() (msg string) {
				defer func() { msg = panicText(recover()) }()
				b.readObject()
				return ""
			}()
			if !strings.Contains(got, tc.want) {
				t.Fatalf("panic %q, want %q", got, tc.want)
			}
		})
	}
	// Nesting up to the bound still parses.
	b := newBuffer(strings.NewReader(strings.Repeat("[", 500)+strings.Repeat("]", 500)), 0)
	b.allowEOF = true
	if _, ok := b.readObject().(array); !ok {
		t.Fatal("500 nested arrays do not parse")
	}
}

func panicText(p any) string {
	switch p := p.(type) {
	case nil:
		return ""
	case error:
		return p.Error()
	case string:
		return p
	}
	return "?"
}
