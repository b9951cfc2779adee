package pades

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/digitorus/pdf"
)

// maxVRICopyWork bounds the work of copying an existing /VRI, in vriWork units. The
// reader parses an indirect entry anew each time it is reached, so a thousand keys
// naming one huge entry would parse it a thousand times. Real entries weigh tens.
const maxVRICopyWork = 1 << 20

// vriWork estimates what reading entry v cost: its keys, the items of its arrays and its
// strings' bytes (by 64).
func vriWork(v pdf.Value) int {
	if v.Kind() != pdf.Dict {
		return 1
	}
	n := 1
	for _, k := range v.Keys() {
		n++
		switch e := v.Key(k); e.Kind() {
		case pdf.Array:
			n += e.Len()
		case pdf.String:
			n += len(e.RawString()) / 64
		}
	}
	return n
}

// vriArrays names an entry's arrays and the DSS arrays their references point into.
var vriArrays = []struct{ entry, dss string }{{"Cert", "Certs"}, {"OCSP", "OCSPs"}, {"CRL", "CRLs"}}

// buildVRI writes a new /VRI dictionary: old's entries (old is the existing /VRI, or
// null) with an entry per signature of entries, each an existing entry extended with
// the references it lacks, or a new one. refs maps items to their DSS streams. It returns
// the zero ref when entries is empty or every entry already references all its items.
func buildVRI(ctx context.Context, w *objWriter, dg *digester, old pdf.Value, entries []VRIEntry, refs map[string]map[[32]byte]ref) (ref, error) {
	if len(entries) == 0 {
		return ref{}, nil
	}
	if !old.IsNull() && old.Kind() != pdf.Dict {
		return ref{}, fmt.Errorf("%w: /DSS /VRI is not a dictionary", ErrInvalidPDF)
	}
	if n := len(old.Keys()); n > maxVRIEntries {
		return ref{}, fmt.Errorf("%w: /DSS /VRI holds %d entries, limit %d", ErrInvalidPDF, n, maxVRIEntries)
	}
	byKey, err := mergeVRIEntries(entries, refs)
	if err != nil {
		return ref{}, err
	}
	oldKeys := map[string]string{} // upper case -> key as written
	for _, k := range old.Keys() {
		if u := strings.ToUpper(k); byKey[u] != nil {
			oldKeys[u] = k
		}
	}
	override := map[string]func(*bytes.Buffer) error{}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var prev pdf.Value // the existing entry, or null
		if ok := oldKeys[k]; ok != "" {
			prev = old.Key(ok)
			if prev.Kind() != pdf.Dict {
				prev = pdf.Value{}
			}
		}
		if f := vriEntry(dg, prev, byKey[k], refs); f != nil {
			override[k] = f
		}
	}
	if len(override) == 0 {
		return ref{}, nil
	}
	vb, err := writeVRIDict(ctx, old, keys, override)
	if err != nil {
		return ref{}, err
	}
	r := w.alloc()
	w.put(r, vb)
	return r, nil
}

// mergedVRI is what the entries for one signature ask for: the SHA-256 of their items by
// DSS array, and the latest of their times.
type mergedVRI struct {
	items map[string][][32]byte
	time  time.Time
}

// mergeVRIEntries merges the entries for the same signature, by upper-case VRI key.
func mergeVRIEntries(entries []VRIEntry, refs map[string]map[[32]byte]ref) (map[string]*mergedVRI, error) {
	byKey := map[string]*mergedVRI{}
	for _, e := range entries {
		k := VRIKey(e.Contents)
		m := byKey[k]
		if m == nil {
			m = &mergedVRI{items: map[string][][32]byte{}}
			byKey[k] = m
		}
		for _, a := range []struct {
			dss   string
			items [][]byte
		}{{"Certs", e.Certs}, {"OCSPs", e.OCSPs}, {"CRLs", e.CRLs}} {
			for _, it := range a.items {
				sum := sha256.Sum256(it)
				if _, ok := refs[a.dss][sum]; !ok {
					return nil, fmt.Errorf("pades: VRI item missing from the DSS arrays") // withVRIItems added it
				}
				if !slices.Contains(m.items[a.dss], sum) {
					m.items[a.dss] = append(m.items[a.dss], sum)
				}
			}
		}
		if e.Time.After(m.time) {
			m.time = e.Time
		}
	}
	return byKey, nil
}

// vriEntry returns the writer of one signature's entry: prev (the existing entry, or
// null) with the references it lacks appended and /TU set; nil when prev already
// references every item.
func vriEntry(dg *digester, prev pdf.Value, m *mergedVRI, refs map[string]map[[32]byte]ref) func(*bytes.Buffer) error {
	changed := prev.IsNull()
	entryOverride := map[string]func(*bytes.Buffer) error{}
	for _, a := range vriArrays {
		arr := prev.Key(a.entry)
		// Compared by content: another writer may have referenced its own copy.
		have := dg.digests(arr)
		var add []ref
		for _, sum := range m.items[a.dss] {
			if _, ok := have[sum]; !ok {
				add = append(add, refs[a.dss][sum])
			}
		}
		if len(add) == 0 {
			continue
		}
		changed = true
		entryOverride[a.entry] = func(b *bytes.Buffer) error { return writeArrayAppend(b, arr, refOf(arr), add...) }
	}
	if !changed {
		return nil
	}
	if !m.time.IsZero() {
		tu := pdfDate(m.time)
		entryOverride["TU"] = func(b *bytes.Buffer) error { fmt.Fprintf(b, "(%s)", tu); return nil }
	}
	return func(b *bytes.Buffer) error { return writeDictExcept(b, prev, refOf(prev), entryOverride) }
}

// writeVRIDict writes the /VRI dictionary: the old entries, less those replaced (under
// any spelling of their key), then the new and extended ones in keys order.
func writeVRIDict(ctx context.Context, old pdf.Value, keys []string, override map[string]func(*bytes.Buffer) error) ([]byte, error) {
	var vb bytes.Buffer
	vb.WriteString("<<")
	work := 0
	for _, k := range old.Keys() {
		if override[strings.ToUpper(k)] != nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v := old.Key(k)
		if work += vriWork(v); work > maxVRICopyWork {
			return nil, fmt.Errorf("%w: /DSS /VRI entries too large to copy", ErrInvalidPDF)
		}
		vb.WriteString(" ")
		writeName(&vb, k)
		vb.WriteString(" ")
		if err := writeValue(&vb, v, refOf(old), 1); err != nil {
			return nil, err
		}
	}
	for _, k := range keys {
		if f := override[k]; f != nil {
			vb.WriteString(" ")
			writeName(&vb, k)
			vb.WriteString(" ")
			if err := f(&vb); err != nil {
				return nil, err
			}
		}
	}
	vb.WriteString(" >>")
	return vb.Bytes(), nil
}
