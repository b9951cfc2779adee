package vneid

import (
	"bytes"
	"encoding/json"
	"io"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/motlan/motlan/idp/eid"
)

// mapClaims renames upstream claims to Motlan attributes by ClaimMap. The ID token's value
// wins over userinfo's. Strings are checked to be UTF-8 and normalised to NFC (already-NFC
// input is kept byte for byte); "address" given as a string becomes {"formatted": s};
// "gender" values go through GenderMap. Absent and null claims are left out.
func (c *Connector) mapClaims(idClaims, uiClaims map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(c.cfg.ClaimMap))
	for up, attr := range c.cfg.ClaimMap {
		if isMeta(attr) {
			continue
		}
		raw, ok := idClaims[up]
		if !ok || isNull(raw) {
			raw, ok = uiClaims[up]
		}
		if !ok || isNull(raw) {
			continue
		}
		v, err := normalizeJSON(raw)
		if err != nil {
			return nil, &Error{Kind: eid.ErrInvalidResponse, Op: "claims", Reason: "claim " + up + " is not valid UTF-8 JSON"}
		}
		switch attr {
		case "address":
			if v[0] == '"' {
				var s string
				_ = json.Unmarshal(v, &s)
				v, _ = marshalNoEscape(map[string]string{"formatted": s})
			} else if v[0] != '{' {
				return nil, &Error{Kind: eid.ErrInvalidResponse, Op: "claims", Reason: "address is neither a string nor an object"}
			}
		case "gender":
			var s string
			if json.Unmarshal(v, &s) == nil {
				if g, ok := c.cfg.GenderMap[s]; ok {
					v, _ = marshalNoEscape(g)
				}
			}
		}
		out[attr] = v
	}
	return out, nil
}

// normalizeJSON returns a copy of raw with every string in NFC. Input that is already NFC
// and free of escapes is copied unchanged (the common case: no re-encoding).
func normalizeJSON(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || !utf8.Valid(raw) {
		return nil, errInvalid
	}
	if !bytes.ContainsRune(raw, '\\') && norm.NFC.IsNormal(raw) {
		if !json.Valid(raw) {
			return nil, errInvalid
		}
		return bytes.Clone(raw), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errInvalid
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errInvalid
	}
	v, ok := nfc(v)
	if !ok {
		return nil, errInvalid
	}
	return marshalNoEscape(v)
}

var errInvalid = &Error{Kind: eid.ErrInvalidResponse, Op: "claims", Reason: "invalid JSON"}

// nfc normalises every string in a decoded JSON value; it reports false on invalid UTF-8
// (which the decoder replaces with U+FFFD; the input was checked before, so only escaped
// lone surrogates get here).
func nfc(v any) (any, bool) {
	switch t := v.(type) {
	case string:
		return norm.NFC.String(t), true
	case []any:
		for i := range t {
			var ok bool
			if t[i], ok = nfc(t[i]); !ok {
				return nil, false
			}
		}
		return t, true
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			nx, ok := nfc(x)
			if !ok {
				return nil, false
			}
			out[norm.NFC.String(k)] = nx
		}
		return out, true
	}
	return v, true
}

// marshalNoEscape encodes v without HTML escaping, so that "<", ">" and "&" stay bytes.
func marshalNoEscape(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// readAll reads at most limit bytes; more is an error.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

var errTooLarge = &Error{Kind: eid.ErrInvalidResponse, Op: "userinfo", Reason: "response too large"}
