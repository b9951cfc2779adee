package tokens

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/motlan/motlan/internal/jsontext"
)

// appendClaims appends json.Marshal(m): the ID token's claims in key order. The types of
// a token's own claims (string, int64, []string) are written by appends; anything else
// (released attributes, verified_claims) through json.Marshal. json.Marshal of the whole
// map was 1.5 % of a first-time login's CPU.
func appendClaims(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(jsontext.AppendString(b, k), ':')
		switch v := m[k].(type) {
		case string:
			b = jsontext.AppendString(b, v)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case []string:
			b = jsontext.AppendStrings(b, v)
		default:
			q, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			b = append(b, q...)
		}
	}
	return append(b, '}'), nil
}
