package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// loginAttributes are the attributes one eID login gives, as session.Manager.Open builds
// them: one statement (issuer, level, time, acr, amr, updated_at) shared by all.
func loginAttributes(at time.Time, iss string) map[string]store.Attribute {
	m := map[string]store.Attribute{}
	for k, v := range map[string]string{
		"name": `"Bùi Thị An"`, "family_name": `"Bùi"`, "middle_name": `"Thị"`, "given_name": `"An"`,
		"birthdate": `"1967-08-16"`, "gender": `"female"`, "cccd": `"038167000967"`, "nationality": `"VN"`,
		"phone_number": `"+84912345678"`,
		"address":      `{"formatted":"Số 68 đường Lê Lợi, Phường Hạc Thành, Tỉnh Thanh Hóa","street_address":"Số 68 đường Lê Lợi","locality":"Phường Hạc Thành","region":"Tỉnh Thanh Hóa","country":"VN"}`,
	} {
		m[k] = store.Attribute{Value: json.RawMessage(v), Source: iss, Level: 2, VerifiedAt: at, Verified: k != "phone_number",
			ACR: "2", AMR: []string{"pwd", "otp"}, EIDUpdatedAt: at.Add(-48 * time.Hour)}
	}
	return m
}

// firstEncoding is how attributes were stored before (one object each), and what reading
// them back gave: the reference the compact encoding must agree with.
func firstEncoding(t *testing.T, m map[string]store.Attribute) (string, map[string]store.Attribute) {
	t.Helper()
	utc := map[string]store.Attribute{}
	for k, a := range m {
		a.VerifiedAt = a.VerifiedAt.UTC()
		if !a.EIDUpdatedAt.IsZero() {
			a.EIDUpdatedAt = a.EIDUpdatedAt.UTC()
		}
		utc[k] = a
	}
	b, err := json.Marshal(utc)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]store.Attribute
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return string(b), back
}

func TestAttributesEncoding(t *testing.T) {
	hcm := time.FixedZone("ICT", 7*3600)
	at := time.Date(2026, 12, 6, 23, 2, 29, 834515648, hcm)
	mixed := loginAttributes(at, "https://eid.example.vn")
	mixed["email"] = store.Attribute{Value: json.RawMessage(` "an@example.vn" `), Source: "https://portal.example.vn", Level: 1, VerifiedAt: at.Add(time.Hour)}
	mixed["note"] = store.Attribute{Value: json.RawMessage(`"<b>&</b>\u2028"`), Source: "https://eid.example.vn", Level: 2, VerifiedAt: at, AMR: []string{}}
	// AMRs that one separator would confuse, and one empty method: statements of their own.
	mixed["split"] = store.Attribute{Value: json.RawMessage(`"x"`), Source: "https://eid.example.vn", Level: 2, VerifiedAt: at, AMR: []string{"pwd", "otp"}}
	mixed["joined"] = store.Attribute{Value: json.RawMessage(`"y"`), Source: "https://eid.example.vn", Level: 2, VerifiedAt: at, AMR: []string{"pwd\x00otp"}}
	mixed["empty"] = store.Attribute{Value: json.RawMessage(`"z"`), Source: "https://eid.example.vn", Level: 2, VerifiedAt: at, AMR: []string{""}}
	for _, tc := range []struct {
		name  string
		attrs map[string]store.Attribute
		stmts int
	}{
		{"one login", loginAttributes(at, "https://eid.example.vn"), 1},
		{"two logins, a value with spaces, HTML and an empty amr", mixed, 6},
		{"a zero time", map[string]store.Attribute{"name": {Value: json.RawMessage(`"A"`)}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := encodeAttributes(tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(enc, compactPrefix) {
				t.Fatalf("encoding %q does not begin with %q", enc, compactPrefix)
			}
			again, _ := encodeAttributes(tc.attrs)
			if again != enc {
				t.Errorf("the same attributes encoded twice differ:\n%s\n%s", enc, again)
			}
			var raw storedAttributes
			if err := json.Unmarshal([]byte(enc), &raw); err != nil || len(raw.By) != tc.stmts {
				t.Errorf("%d statements (%v), want %d: %s", len(raw.By), err, tc.stmts, enc)
			}
			got, err := decodeAttributes(enc)
			if err != nil {
				t.Fatal(err)
			}
			old, want := firstEncoding(t, tc.attrs)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read back:\n%#v\nwant what the first encoding gave:\n%#v", got, want)
			}
			// Rows written before this encoding are still read.
			if legacy, err := decodeAttributes(old); err != nil || !reflect.DeepEqual(legacy, want) {
				t.Errorf("first encoding read back as %#v, %v", legacy, err)
			}
		})
	}
	t.Run("size", func(t *testing.T) {
		m := loginAttributes(at, "https://eid.example.vn")
		enc, _ := encodeAttributes(m)
		old, _ := firstEncoding(t, m)
		// Compact: a SQLite leaf page holds three or four citizens (see migration 20).
		if len(enc) > 900 || len(old) < 2*len(enc) {
			t.Errorf("one login's ten attributes take %d bytes (first encoding %d): want under 900 and half", len(enc), len(old))
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, s := range []string{`{"by":[],"attrs":{"name":{"value":"A","by":0}}}`, `{"by":[{}],"attrs":{"name":{"value":"A","by":-1}}}`,
			`{"by":[`, `{"name":`, `[]`} {
			if m, err := decodeAttributes(s); err == nil {
				t.Errorf("decodeAttributes(%q) = %v, want an error", s, m)
			}
		}
	})
}

func FuzzDecodeAttributes(f *testing.F) {
	enc, _ := encodeAttributes(loginAttributes(time.Unix(1765000000, 5), "https://eid.example.vn"))
	f.Add(enc)
	f.Add(`{"name":{"value":"A","source":"x","level":2,"verified_at":"2026-01-02T03:04:05Z"}}`)
	f.Add(`{"by":[{"source":"x"}],"attrs":{"a":{"value":1,"by":0}}}`)
	f.Fuzz(func(t *testing.T, s string) {
		// Stored attributes are about a kilobyte; long inputs only slow the search (and, at
		// the end of -fuzztime, left a worker busy past the deadline).
		if len(s) > 8<<10 {
			return
		}
		m, err := decodeAttributes(s)
		if err != nil {
			return
		}
		// What was read encodes, and reads back the same.
		enc, err := encodeAttributes(m)
		if err != nil {
			return // e.g. a year past 9999 read from the first encoding
		}
		back, err := decodeAttributes(enc)
		if err != nil {
			t.Fatalf("re-encoded %q does not read: %v", enc, err)
		}
		if len(back) != len(m) {
			t.Fatalf("re-encoded %d attributes, read back %d", len(m), len(back))
		}
	})
}

// storedForm must give exactly what storing and reading back gives.
func TestStoredFormIsTheRoundTrip(t *testing.T) {
	ho := time.FixedZone("ICT", 7*3600)
	values := []string{`"Bùi Thị An"`, ` { "a" : [1, 2.50, 1e3] ,"b":null } `, `"<script>&amp;</script>"`, `"\u00e9 \u2028"`,
		"\"line\u2028sep\"", `true`, `""`, `{}`, ``, `"x"`}
	times := []time.Time{{}, time.Now(), time.Date(2026, 12, 7, 9, 30, 0, 123456789, ho), time.Unix(0, 0), time.Time{}.In(ho)}
	amrs := [][]string{nil, {}, {"pwd"}, {"pwd", "otp", "hwk"}}
	rnd := rand.New(rand.NewPCG(1, 2))
	pick := func(n int) int { return rnd.IntN(n) }
	for i := range 500 {
		m := map[string]store.Attribute{}
		for j := range 1 + pick(6) {
			var v json.RawMessage // nil for ""
			if s := values[pick(len(values))]; s != "" {
				v = json.RawMessage(s)
			}
			m[fmt.Sprintf("k%d", j)] = store.Attribute{Value: v,
				Source: []string{"https://eid.example.vn", "", "https://x<y>&z"}[pick(3)], Level: pick(3),
				VerifiedAt: times[pick(len(times))], Verified: pick(2) == 0, ACR: []string{"", "2", "urn:x"}[pick(3)],
				AMR: amrs[pick(len(amrs))], EIDUpdatedAt: times[pick(len(times))]}
		}
		if i%50 == 0 { // text that is not UTF-8 takes the round trip
			m["bad\xff"] = store.Attribute{Value: json.RawMessage(`1`), Source: "s\xfe", AMR: []string{"\xff"}}
		}
		enc, err := encodeAttributes(m)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeAttributes(enc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := storedForm(m)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("storedForm(%v)\n= %#v\nwant %#v", m, got, want)
		}
	}
	for _, v := range []string{`{`, ``, `[1,]`} {
		bad := map[string]store.Attribute{"a": {Value: json.RawMessage(v)}}
		if _, err := encodeAttributes(bad); err == nil {
			t.Fatalf("encodeAttributes accepted %q", v)
		}
		if _, err := storedForm(bad); err == nil {
			t.Errorf("storedForm accepted %q, which cannot be stored", v)
		}
	}
}

// TestAttrMemo: what the memo returns equals a fresh decoding whether it comes from a
// write (storedForm) or a read, no caller's change reaches another's copy, and it stays
// within two generations.
func TestAttrMemo(t *testing.T) {
	var m attrMemo
	at := time.Date(2026, 12, 7, 9, 30, 0, 0, time.FixedZone("ICT", 7*3600))
	attrs := loginAttributes(at, "https://eid.example.vn")
	text, err := encodeAttributes(attrs)
	if err != nil {
		t.Fatal(err)
	}
	want, err := decodeAttributes(text)
	if err != nil {
		t.Fatal(err)
	}
	written, err := m.storedForm(text, attrs)
	if err != nil || !reflect.DeepEqual(written, want) {
		t.Fatalf("storedForm = %v, %v; want %v", written, err, want)
	}
	// The caller changes what it was given, down to a value's bytes and an AMR entry.
	name := written["name"]
	name.Value[1], name.AMR[0] = 'X', "changed"
	written["injected"] = store.Attribute{}
	for i := range 2 {
		read, err := m.decode(text)
		if err != nil || !reflect.DeepEqual(read, want) {
			t.Fatalf("read %d = %v, %v; want %v", i, read, err, want)
		}
		r := read["name"]
		r.Value[1], r.AMR[0] = 'Y', "changed too"
	}
	if _, ok := m.cur[text]; !ok {
		t.Fatal("the written text is not in the memo")
	}
	if got, err := m.decode(""); got != nil || err != nil {
		t.Errorf("decode(\"\") = %v, %v", got, err)
	}
	if _, err := m.decode(compactPrefix + "{"); err == nil {
		t.Error("a malformed text decoded")
	}

	for i := range 3 * attrMemoSize {
		a := loginAttributes(at.Add(time.Duration(i)*time.Second), "https://eid.example.vn")
		s, err := encodeAttributes(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.decode(s); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(m.cur) + len(m.prev); n > 2*attrMemoSize {
		t.Errorf("the memo holds %d texts, more than two generations of %d", n, attrMemoSize)
	}
	_, inCur := m.cur[text]
	_, inPrev := m.prev[text]
	if inCur || inPrev {
		t.Error("the first text is still held after three generations")
	}
	if read, err := m.decode(text); err != nil || !reflect.DeepEqual(read, want) {
		t.Errorf("after eviction: %v, %v; want %v", read, err, want)
	}
}

// FuzzAttributesJSON: the attribute encoding writes what json.Marshal writes, byte for
// byte, or fails where it fails.
func FuzzAttributesJSON(f *testing.F) {
	f.Add("https://eid.example.vn", "urn:vneid:level2", "pwd", "name", []byte(`"Lê Công Hảo"`), 2, 0, true, int64(1765000000), int64(5), int64(0), false)
	f.Add("s<\u2028>&\"\\\x01", "", "\xff", "k\u00e9", []byte(" { \"a\" : [1, \"<\"] } "), -1, 1, false, int64(-62135596800), int64(0), int64(253402300800), true)
	f.Add("x", "a", "", "", []byte(`nul`), 0, 7, false, int64(0), int64(999999999), int64(1), false)
	f.Add("x", "a", "", "k", []byte("\"\xff\xe2\x80\xa8 \""), 0, 0, true, int64(1), int64(0), int64(0), false)
	f.Add("x", "a", "", "k", []byte(`"a"b"`), 0, 0, true, int64(1), int64(0), int64(0), false)
	f.Fuzz(func(t *testing.T, source, acr, amr, key string, value []byte, level, by int, verified bool, sec, nsec, updated int64, nilBy bool) {
		st := statement{Source: source, Level: level, VerifiedAt: time.Unix(sec, nsec%1e9).UTC(), ACR: acr}
		if amr != "" {
			st.AMR = []string{amr, "otp"}
		}
		if updated != 0 {
			st.EIDUpdatedAt = time.Unix(updated, 0).UTC()
		}
		s := storedAttributes{By: []statement{st, {Source: acr}}, Attrs: map[string]storedAttribute{
			key: {Value: value, By: by, Verified: verified}, key + "2": {Value: nil}, "": {Value: json.RawMessage(`1`), By: 1},
		}}
		if nilBy {
			s.By, s.Attrs = nil, map[string]storedAttribute{}
		}
		want, wantErr := json.Marshal(s)
		got, err := s.appendJSON(nil)
		if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("appendJSON: %s (%v)\njson.Marshal: %s (%v)", got, err, want, wantErr)
		}
	})
}

// BenchmarkEncodeAttributes encodes the attributes of one eID login, then writes the
// encoding's value with appendJSON and, for comparison, with json.Marshal.
func BenchmarkEncodeAttributes(b *testing.B) {
	m := loginAttributes(time.Unix(1765000000, 5), "https://eid.example.vn")
	b.Run("encodeAttributes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeAttributes(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	enc, _ := encodeAttributes(m)
	var s storedAttributes
	if err := json.Unmarshal([]byte(enc), &s); err != nil {
		b.Fatal(err)
	}
	b.Run("appendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.appendJSON(make([]byte, 0, 2048)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
