package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/jsontext"
)

// A citizen's attributes are stored with what the eID stated about the login that gave
// them (its issuer, level, time, acr, amr, updated_at) written once per login rather than
// once per attribute. Each attribute as an object of its own (the first encoding, still
// read) made the ten attributes of one eID login 2 KB: past what a SQLite page keeps in a
// row, so every new citizen wrote an overflow page too, and past PostgreSQL's TOAST
// threshold, so every write was compressed. This one takes about 700 bytes.

// storedAttributes is the encoding. By comes first, so that an encoding begins with
// compactPrefix; the first encoding, a JSON object of attribute objects, never does.
type storedAttributes struct {
	By    []statement                `json:"by"`
	Attrs map[string]storedAttribute `json:"attrs"`
}

const compactPrefix = `{"by":[`

// statement is what one eID login stated about the attributes it gave.
type statement struct {
	Source       string    `json:"source"`
	Level        int       `json:"level"`
	VerifiedAt   time.Time `json:"verified_at"`
	ACR          string    `json:"acr,omitempty"`
	AMR          []string  `json:"amr,omitempty"`
	EIDUpdatedAt time.Time `json:"eid_updated_at,omitzero"`
}

type storedAttribute struct {
	Value    json.RawMessage `json:"value"`
	By       int             `json:"by,omitempty"` // index into By
	Verified bool            `json:"verified,omitempty"`
}

// statementKey tells statements apart in a map: a map, not a search, so that encoding
// stays linear in the number of attributes.
type statementKey struct {
	source, acr, amr      string
	level                 int
	verifiedS, updatedS   int64
	verifiedNs, updatedNs int
}

// lengthPrefixed joins ss unambiguously (["a,b"] and ["a", "b"] differ); nil and empty
// are the same, as they encode the same.
func lengthPrefixed(ss []string) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}

func (s statement) key() statementKey {
	return statementKey{source: s.Source, acr: s.ACR, amr: lengthPrefixed(s.AMR), level: s.Level,
		verifiedS: s.VerifiedAt.Unix(), verifiedNs: s.VerifiedAt.Nanosecond(),
		updatedS: s.EIDUpdatedAt.Unix(), updatedNs: s.EIDUpdatedAt.Nanosecond()}
}

// encodeAttributes is the stored form of m ("" for none); times are kept in UTC.
func encodeAttributes(m map[string]store.Attribute) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	enc := storedAttributes{Attrs: make(map[string]storedAttribute, len(m))}
	index := map[statementKey]int{}
	// In key order, so that the same attributes always encode the same.
	for _, k := range slices.Sorted(maps.Keys(m)) {
		a := m[k]
		st := statement{Source: a.Source, Level: a.Level, VerifiedAt: a.VerifiedAt.UTC(), ACR: a.ACR, AMR: a.AMR}
		if !a.EIDUpdatedAt.IsZero() {
			st.EIDUpdatedAt = a.EIDUpdatedAt.UTC()
		}
		key := st.key()
		by, ok := index[key]
		if !ok {
			by = len(enc.By)
			index[key] = by
			enc.By = append(enc.By, st)
		}
		enc.Attrs[k] = storedAttribute{Value: a.Value, By: by, Verified: a.Verified}
	}
	b, err := enc.appendJSON(make([]byte, 0, 128+192*len(m)))
	if err != nil {
		return "", fmt.Errorf("encode attributes: %w", err)
	}
	return string(b), nil
}

// appendJSON appends what json.Marshal(s) returns, without reflection: a first-time login
// encodes its citizen's attributes, and json.Marshal was 2 % of its CPU. Text a plain
// append could get wrong (escapes, bytes that are not UTF-8) goes through json.Marshal.
func (s storedAttributes) appendJSON(b []byte) ([]byte, error) {
	if s.By == nil {
		b = append(b, `{"by":null`...)
	} else {
		b = append(b, compactPrefix...)
	}
	for i, st := range s.By {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsontext.AppendString(append(b, `{"source":`...), st.Source)
		b = strconv.AppendInt(append(b, `,"level":`...), int64(st.Level), 10)
		var err error
		if b, err = appendJSONTime(append(b, `,"verified_at":`...), st.VerifiedAt); err != nil {
			return nil, err
		}
		if st.ACR != "" {
			b = jsontext.AppendString(append(b, `,"acr":`...), st.ACR)
		}
		if len(st.AMR) > 0 {
			b = jsontext.AppendStrings(append(b, `,"amr":`...), st.AMR)
		}
		if !st.EIDUpdatedAt.IsZero() {
			if b, err = appendJSONTime(append(b, `,"eid_updated_at":`...), st.EIDUpdatedAt); err != nil {
				return nil, err
			}
		}
		b = append(b, '}')
	}
	if s.By != nil {
		b = append(b, ']')
	}
	b = append(b, `,"attrs":`...)
	if s.Attrs == nil {
		return append(b, "null}"...), nil
	}
	b = append(b, '{')
	var compact bytes.Buffer
	for i, k := range slices.Sorted(maps.Keys(s.Attrs)) {
		if i > 0 {
			b = append(b, ',')
		}
		a := s.Attrs[k]
		b = append(jsontext.AppendString(b, k), `:{"value":`...)
		var err error
		if b, err = jsontext.AppendRaw(b, &compact, a.Value); err != nil {
			return nil, fmt.Errorf("json: error calling MarshalJSON for type json.RawMessage: %w", err)
		}
		if a.By != 0 {
			b = strconv.AppendInt(append(b, `,"by":`...), int64(a.By), 10)
		}
		if a.Verified {
			b = append(b, `,"verified":true`...)
		}
		b = append(b, '}')
	}
	return append(b, "}}"...), nil
}

// appendJSONTime appends t as json.Marshal writes it, with its error for a year it
// cannot write.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	q, err := t.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("json: error calling MarshalJSON for type time.Time: %w", err)
	}
	return append(b, q...), nil
}

// storedForm is decodeAttributes(encodeAttributes(m)), what a Get returns once m is
// stored, without the JSON round trip a first-time login would otherwise pay for after its
// insert: times in UTC without monotonic readings, values compact and HTML-escaped as
// json.Marshal writes them (a missing one "null"), empty AMRs nil. Text that is not valid
// UTF-8, which JSON would change byte by byte, takes the round trip.
func storedForm(m map[string]store.Attribute) (map[string]store.Attribute, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]store.Attribute, len(m))
	var buf bytes.Buffer
	for k, a := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(a.Source) || !utf8.ValidString(a.ACR) ||
			slices.ContainsFunc(a.AMR, func(s string) bool { return !utf8.ValidString(s) }) {
			enc, err := encodeAttributes(m)
			if err != nil {
				return nil, err
			}
			return decodeAttributes(enc)
		}
		v, err := jsontext.AppendRaw(nil, &buf, a.Value)
		if err != nil {
			return nil, fmt.Errorf("encode attributes: %q: %w", k, err)
		}
		a.Value = v
		a.VerifiedAt = a.VerifiedAt.UTC()
		if a.EIDUpdatedAt.IsZero() {
			a.EIDUpdatedAt = time.Time{}
		} else {
			a.EIDUpdatedAt = a.EIDUpdatedAt.UTC()
		}
		a.AMR = slices.Clone(a.AMR)
		if len(a.AMR) == 0 {
			a.AMR = nil
		}
		out[k] = a
	}
	return out, nil
}

// decodeAttributes reads either encoding; nil for "".
func decodeAttributes(s string) (map[string]store.Attribute, error) {
	if s == "" {
		return nil, nil
	}
	if !strings.HasPrefix(s, compactPrefix) {
		var m map[string]store.Attribute
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("decode attributes: %w", err)
		}
		return m, nil
	}
	var enc storedAttributes
	if err := json.Unmarshal([]byte(s), &enc); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	m := make(map[string]store.Attribute, len(enc.Attrs))
	for k, a := range enc.Attrs {
		if a.By < 0 || a.By >= len(enc.By) {
			return nil, fmt.Errorf("decode attributes: %q refers to statement %d of %d", k, a.By, len(enc.By))
		}
		st := enc.By[a.By]
		// AMR cloned: attributes of one login must not share a slice a caller could change.
		m[k] = store.Attribute{Value: a.Value, Source: st.Source, Level: st.Level, VerifiedAt: st.VerifiedAt,
			Verified: a.Verified, ACR: st.ACR, AMR: slices.Clone(st.AMR), EIDUpdatedAt: st.EIDUpdatedAt}
	}
	return m, nil
}

// attrMemo keeps the decoded form of the attribute texts last written or read, keyed by
// the text: a first-time login writes its citizen at the callback, and the redemption of
// its code moments later reads the same text back, whose decoding was a fifth of that
// transaction's CPU. Two generations of attrMemoSize entries bound it (about 1.5 MB at
// 700-byte texts). Only clones leave it, so no two callers share a map or a slice.
type attrMemo struct {
	mu        sync.Mutex
	cur, prev map[string]map[string]store.Attribute
}

const attrMemoSize = 512

// decode is decodeAttributes(text), from the memo when it holds text.
func (m *attrMemo) decode(text string) (map[string]store.Attribute, error) {
	if text == "" {
		return nil, nil
	}
	m.mu.Lock()
	a, ok := m.cur[text]
	if !ok {
		a, ok = m.prev[text]
	}
	m.mu.Unlock()
	if ok {
		return cloneAttributes(a), nil
	}
	a, err := decodeAttributes(text)
	if err != nil {
		return nil, err
	}
	m.put(text, a)
	return a, nil
}

// storedForm is storedForm(attrs), whose encoding is text, remembered for text's reads.
func (m *attrMemo) storedForm(text string, attrs map[string]store.Attribute) (map[string]store.Attribute, error) {
	a, err := storedForm(attrs)
	if err == nil && text != "" {
		m.put(text, a)
	}
	return a, err
}

// put remembers a clone of attrs as text's decoded form.
func (m *attrMemo) put(text string, attrs map[string]store.Attribute) {
	c := cloneAttributes(attrs)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cur) >= attrMemoSize {
		m.prev, m.cur = m.cur, nil
	}
	if m.cur == nil {
		m.cur = make(map[string]map[string]store.Attribute, attrMemoSize)
	}
	m.cur[text] = c
}

// cloneAttributes copies m down to its values' bytes and AMR slices.
func cloneAttributes(m map[string]store.Attribute) map[string]store.Attribute {
	if m == nil {
		return nil
	}
	out := make(map[string]store.Attribute, len(m))
	for k, a := range m {
		a.Value, a.AMR = slices.Clone(a.Value), slices.Clone(a.AMR)
		out[k] = a
	}
	return out
}
