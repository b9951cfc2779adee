package verify

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"

	"github.com/motlan/motlan/internal/pdf"
)

// Change classification, best effort.
//
// The signed revision (the file up to the signature's ByteRange end) and the final file
// are opened as two readers. An object is a candidate when its cross-reference entry
// differs between them (new number, other offset, other generation, other containing
// object stream) or when it lives in an object stream whose entry differs. Candidates
// are resolved in both revisions and compared: dictionaries and arrays key by key with
// indirect references compared as references (not followed); streams by dictionary and
// by decoded data (up to maxStreamCompare bytes). Equal objects are not changes.
//
// Each change gets a category:
//   - signature: a new signature or document-timestamp dictionary, a signature field or
//     widget (new, or an empty one filled), an AcroForm that only gained fields or
//     /SigFlags, a catalog that only changed /AcroForm or gained /DSS, a page or /Annots
//     array that only gained signature widgets;
//   - annotation: other annotations added or modified, a page or /Annots array that only
//     gained annotations;
//   - metadata: the document information dictionary or an XMP /Metadata stream;
//   - structure: cross-reference and object streams, new objects not of a known kind
//     (appearance streams, DSS certificates, fonts: harmless until a modified object
//     points at them, and that modification is what gets classified);
//   - other: anything else modified, for example a page's /Contents, a content stream,
//     the page tree, an annotation removed from /Annots.
//
// Not checked: that new appearance streams are only used by the new widgets, DocMDP/
// FieldMDP permissions, objects freed by the update (an unreferenced object changes
// nothing; removing a reference to it is a modification of the referencing object).

const (
	maxChangedListed = 64
	maxCandidates    = 20000
	maxStreamCompare = 8 << 20
)

var categoryRank = map[string]int{"structure": 0, "signature": 0, "metadata": 1, "annotation": 1, "other": 2}

func classifyChanges(old, cur *pdf.Reader) (ch *Changes) {
	ch = &Changes{Checked: "cross-reference entries of the signed revision and the final file compared; " +
		"changed objects compared by value (references as references, streams by decoded data); " +
		"not checked: appearance streams' use, DocMDP/FieldMDP permissions"}
	defer func() {
		if p := recover(); p != nil {
			ch.Classification = ChangesUnknown
			ch.Checked += fmt.Sprintf("; comparison stopped: %v", p)
		}
	}()
	oldX, curX := old.Xref(), cur.Xref()
	changedStream := map[uint32]bool{}
	for id := range curX {
		if xrefEntry(oldX, id) != xrefEntry(curX, id) {
			changedStream[uint32(id)] = true
		}
	}
	var cands []int
	for id := range curX {
		e := curX[id]
		p := e.Ptr()
		if p.GetID() != uint32(id) {
			continue // free or unused slot
		}
		s := e.Stream()
		if changedStream[uint32(id)] || (s.GetID() != 0 && changedStream[s.GetID()]) {
			cands = append(cands, id)
		}
	}
	if len(cands) > maxCandidates {
		cands = cands[:maxCandidates]
		ch.Truncated = true
	}
	rootRef := refOf(cur.Trailer().Key("Root"))
	infoRef := refOf(cur.Trailer().Key("Info"))
	worst := 0
	for _, id := range cands {
		p := curX[id].Ptr()
		r := ref{p.GetID(), p.GetGen()}
		nv := cur.Resolve(p, p)
		ov := old.Resolve(p, p)
		if nv.IsNull() {
			continue
		}
		var co ChangedObject
		co.Object = r.String()
		co.Type = typeOf(nv)
		if ov.IsNull() {
			co.Change = "added"
			co.Category = addedCategory(nv)
		} else {
			keys, equal := diff(ov, nv, r)
			if equal {
				continue
			}
			co.Change = "modified"
			co.Keys = keys
			co.Category = modifiedCategory(ov, nv, r, keys, r == rootRef, r == infoRef)
		}
		if rk := categoryRank[co.Category]; rk > worst {
			worst = rk
		}
		if co.Category == "structure" {
			continue // not listed: every update has some
		}
		if len(ch.Objects) < maxChangedListed {
			ch.Objects = append(ch.Objects, co)
		} else {
			ch.Truncated = true
		}
	}
	ch.Classification = []string{ChangesSignatures, ChangesAnnotations, ChangesOther}[worst]
	return ch
}

// xrefEntry prints the reader's cross-reference entry id (its type is unexported; fmt
// prints the unexported fields: number, generation, offset, containing stream).
func xrefEntry[T any](x []T, id int) string {
	if id >= len(x) {
		return ""
	}
	return fmt.Sprintf("%+v", x[id])
}

func typeOf(v pdf.Value) string {
	t := v.Key("Type").Name()
	if st := v.Key("Subtype").Name(); st != "" {
		if t != "" {
			return t + "/" + st
		}
		return st
	}
	return t
}

func isSigDict(v pdf.Value) bool {
	t := v.Key("Type").Name()
	return t == "Sig" || t == "DocTimeStamp" || (!v.Key("ByteRange").IsNull() && !v.Key("Contents").IsNull() && v.Key("Filter").Kind() == pdf.Name)
}

func isSigWidget(v pdf.Value) bool {
	if v.Kind() != pdf.Dict {
		return false
	}
	ft := v.Key("FT").Name()
	if ft == "" {
		ft = v.Key("Parent").Key("FT").Name()
	}
	return ft == "Sig"
}

func addedCategory(v pdf.Value) string {
	switch {
	case v.Kind() == pdf.Dict && isSigDict(v):
		return "signature"
	case isSigWidget(v):
		return "signature"
	case v.Key("Type").Name() == "Annot" || (v.Kind() == pdf.Dict && !v.Key("Subtype").IsNull() && !v.Key("Rect").IsNull()):
		return "annotation"
	}
	return "structure"
}

func modifiedCategory(ov, nv pdf.Value, r ref, keys []string, isRoot, isInfo bool) string {
	only := func(allowed ...string) bool {
		for _, k := range keys {
			ok := false
			for _, a := range allowed {
				ok = ok || k == a
			}
			if !ok {
				return false
			}
		}
		return true
	}
	t := nv.Key("Type").Name()
	switch {
	case isInfo:
		return "metadata"
	case t == "Metadata":
		return "metadata"
	case t == "XRef" || t == "ObjStm":
		return "structure"
	case isRoot || t == "Catalog":
		if only("AcroForm", "DSS") {
			return "signature"
		}
	case isSigDict(nv) && isSigDict(ov):
		// A signature dictionary changed after it was signed: only its unsigned parts
		// can change without breaking it; still, nothing should touch it.
		return "other"
	case isSigWidget(nv):
		if isSigWidget(ov) && ov.Key("V").IsNull() && only("V", "AP", "F", "MK", "P", "Rect") {
			return "signature" // an empty signature field was signed
		}
		if only("AP", "F", "MK") {
			return "signature"
		}
	case !nv.Key("Fields").IsNull() && (!ov.Key("Fields").IsNull() || nv.Kind() == pdf.Dict):
		if only("Fields", "SigFlags") && appendedOnly(ov.Key("Fields"), nv.Key("Fields"), ref{}, isSigWidget) {
			return "signature"
		}
	case t == "Page":
		if only("Annots") {
			return annotsCategory(ov.Key("Annots"), nv.Key("Annots"), r)
		}
	case t == "Annot":
		return "annotation"
	case nv.Kind() == pdf.Array:
		// An indirect /Annots or /Fields array.
		return annotsCategory(ov, nv, r)
	}
	return "other"
}

// annotsCategory classifies a change from array ov to nv: "signature" when it only
// gained signature widgets, "annotation" when it only gained annotations, else "other".
func annotsCategory(ov, nv pdf.Value, container ref) string {
	if appendedOnly(ov, nv, container, isSigWidget) {
		return "signature"
	}
	if appendedOnly(ov, nv, container, func(v pdf.Value) bool { return v.Kind() == pdf.Dict }) {
		return "annotation"
	}
	return "other"
}

// appendedOnly reports whether every element of ov is still in nv (as the same
// reference) and every element nv added satisfies added.
func appendedOnly(ov, nv pdf.Value, container ref, added func(pdf.Value) bool) bool {
	if nv.Kind() != pdf.Array || (ov.Kind() != pdf.Array && !ov.IsNull()) {
		return false
	}
	have := map[ref]int{}
	for i := 0; i < ov.Len(); i++ {
		have[refOf(ov.Index(i))]++
	}
	for i := 0; i < nv.Len(); i++ {
		e := nv.Index(i)
		r := refOf(e)
		if have[r] > 0 {
			have[r]--
			continue
		}
		if r == container || r.id == 0 || !added(e) {
			return false
		}
	}
	for _, n := range have {
		if n > 0 {
			return false // an element was removed
		}
	}
	return true
}

// diff compares the object r in two revisions; keys are the differing dictionary keys.
func diff(ov, nv pdf.Value, r ref) (keys []string, equal bool) {
	if ov.Kind() != nv.Kind() {
		return nil, false
	}
	switch nv.Kind() {
	case pdf.Dict, pdf.Stream:
		all := map[string]bool{}
		for _, k := range ov.Keys() {
			all[k] = true
		}
		for _, k := range nv.Keys() {
			all[k] = true
		}
		for k := range all {
			if !sameValue(ov.Key(k), nv.Key(k), r) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		if nv.Kind() == pdf.Stream && len(keys) == 0 {
			a, okA := readLimited(ov, maxStreamCompare)
			b, okB := readLimited(nv, maxStreamCompare)
			if !okA || !okB || !bytes.Equal(a, b) {
				return []string{"(stream data)"}, false
			}
		}
		return keys, len(keys) == 0
	case pdf.Array:
		if ov.Len() != nv.Len() {
			return nil, false
		}
		for i := 0; i < nv.Len(); i++ {
			if !sameValue(ov.Index(i), nv.Index(i), r) {
				return nil, false
			}
		}
		return nil, true
	}
	return nil, reflect.DeepEqual(ov.RawData(), nv.RawData())
}

// sameValue compares two values read from the same container object r: references as
// references, direct values by their parsed form (nested references included).
func sameValue(a, b pdf.Value, r ref) bool {
	ra, rb := refOf(a), refOf(b)
	if ra != r || rb != r {
		return ra == rb && (a.IsNull() == b.IsNull())
	}
	if a.Kind() == pdf.Stream || b.Kind() == pdf.Stream {
		return false
	}
	return reflect.DeepEqual(a.RawData(), b.RawData())
}
