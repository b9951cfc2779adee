// Package jsontext appends JSON text byte for byte as encoding/json's Marshal writes it,
// without reflection, for the few encodings on a login's path (a citizen's stored
// attributes, an ID token's claims). What a plain append could get wrong (escapes, bytes
// that are not UTF-8, values to compact) goes through encoding/json itself.
package jsontext

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// AppendString appends s as json.Marshal writes it: printable ASCII other than the quote,
// the backslash and <, >, & as it is; anything else through json.Marshal.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AppendStrings appends list as json.Marshal writes a []string: null for nil.
func AppendStrings(b []byte, list []string) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

// AppendRaw appends v as json.Marshal writes a json.RawMessage: compact, HTML characters
// escaped, nil as null; scratch is reused between calls. Its error is json.Compact's.
func AppendRaw(b []byte, scratch *bytes.Buffer, v json.RawMessage) ([]byte, error) {
	if v == nil {
		return append(b, "null"...), nil
	}
	if plainString(v) {
		return append(b, v...), nil
	}
	scratch.Reset()
	if err := json.Compact(scratch, v); err != nil {
		return nil, err
	}
	out := bytes.NewBuffer(b) // HTMLEscape appends to b
	json.HTMLEscape(out, scratch.Bytes())
	return out.Bytes(), nil
}

// plainString reports whether v is a JSON string that compacting and HTML-escaping leave
// as it is: quoted, without escapes, control characters, <, >, & or the 0xE2 that starts
// U+2028 and U+2029. Most attribute values are (a name, a date, a number as text).
func plainString(v []byte) bool {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return false
	}
	for _, c := range v[1 : len(v)-1] {
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c == 0xE2 {
			return false
		}
	}
	return true
}
