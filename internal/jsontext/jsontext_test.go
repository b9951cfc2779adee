package jsontext

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestAppendStringsNil(t *testing.T) {
	for _, list := range [][]string{nil, {}} {
		want, _ := json.Marshal(list)
		if got := AppendStrings(nil, list); !bytes.Equal(got, want) {
			t.Errorf("AppendStrings(%#v) = %s, json.Marshal: %s", list, got, want)
		}
	}
}

// FuzzAppend: each appender writes what json.Marshal writes, byte for byte, or fails
// where it fails.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{`"Lê Công Hảo"`, `"plain"`, `""`, ` { "a" : [1, "<"] } `, `"a\u2028b"`, "\"\xe2\x80\xa8\"",
		"\"\xff\"", `"a"b"`, `"\n"`, "\"\n\"", `nul`, `[1,2]`, `"<&>"`, `"x\\y"`, `1e5`, `"`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Fatalf("AppendString(%q) = %s, json.Marshal: %s", s, got[1:], want)
		}
		list := []string{s, "otp", s + "<"}
		wantList, _ := json.Marshal(list)
		if got := AppendStrings(nil, list); !bytes.Equal(got, wantList) {
			t.Fatalf("AppendStrings(%q) = %s, json.Marshal: %s", list, got, wantList)
		}
		raw := json.RawMessage(s)
		if s == "" {
			raw = nil // json.Marshal writes null for a nil RawMessage, and fails on an empty one
		}
		wantRaw, wantErr := json.Marshal(raw)
		var scratch bytes.Buffer
		got, err := AppendRaw([]byte("x"), &scratch, raw)
		if (err == nil) != (wantErr == nil) || (err == nil && !bytes.Equal(got, append([]byte("x"), wantRaw...))) {
			t.Fatalf("AppendRaw(%q) = %s (%v), json.Marshal: %s (%v)", s, got, err, wantRaw, wantErr)
		}
	})
}
