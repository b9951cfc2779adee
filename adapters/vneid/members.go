package vneid

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// members is a JSON object's members by name, each value's bytes as they were. It is
// what json.Unmarshal makes of a map[string]json.RawMessage, split without reflection:
// an ID token's claims are read into one on every login, and by reflection that was a
// twentieth of the callback's CPU. encoding/json has checked the whole text before
// calling UnmarshalJSON, so the split only has to find where each value ends.
type members map[string]json.RawMessage

var (
	errNotObject = errors.New("not a JSON object")
	errTruncated = errors.New("JSON object ends early")
)

// UnmarshalJSON implements json.Unmarshaler for text json.Unmarshal has validated; called
// directly with anything else, it returns an error or a split of no use, never a panic.
func (m *members) UnmarshalJSON(b []byte) error {
	if string(b) == "null" { // encoding/json passes the value without the space around it
		return nil // as json.Unmarshal leaves a map
	}
	if len(b) < 2 || b[0] != '{' {
		return errNotObject
	}
	// The values alias one copy, not the caller's text; the names, one string.
	b = append([]byte(nil), b...)
	text := string(b)
	out := *m
	if out == nil {
		out = make(members, 24)
	}
	i := 1
	for {
		if i = skipSpace(b, i); i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
		if i >= len(b) {
			return errTruncated
		}
		if b[i] == '}' {
			break
		}
		// A name: taken as it is unless it has an escape or bytes that are not UTF-8,
		// which encoding/json would rewrite; then encoding/json reads the whole object.
		end := i + 1
		for end < len(b) && b[end] != '"' && b[end] != '\\' {
			end++
		}
		if end >= len(b) {
			return errTruncated
		}
		name := text[i+1 : end]
		if b[end] == '\\' || !utf8.ValidString(name) {
			return m.slow(b)
		}
		i = skipSpace(b, end+1) // at ':'
		i = skipSpace(b, i+1)   // at the value
		v := valueEnd(b, i)
		if v < 0 {
			return errTruncated
		}
		out[name] = json.RawMessage(b[i:v:v])
		i = v
	}
	*m = out
	return nil
}

// slow reads the object as json.Unmarshal does into a map.
func (m *members) slow(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if *m == nil {
		*m = make(members, len(raw))
	}
	for k, v := range raw {
		(*m)[k] = v
	}
	return nil
}

// valueEnd is the index just past the valid JSON value starting at b[i], or -1 when b
// ends first.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				if i = stringEnd(b, i) - 1; i < 0 {
					return -1
				}
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default: // a number, true, false or null
		for i < len(b) && !isDelim(b[i]) {
			i++
		}
		return i
	}
}

// stringEnd is the index just past the string whose opening quote is b[i], or -1 when b
// ends first.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

func isDelim(c byte) bool { return c == ',' || c == '}' || c == ']' || isSpace(c) }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}
