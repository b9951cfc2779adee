package pades

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/pdf"

	"github.com/motlan/motlan/internal/testpki"
)

// paddedContents returns the last signature's /Contents string as the file holds it:
// the DER and its zero padding.
func paddedContents(t *testing.T, b []byte) []byte {
	t.Helper()
	br, der := lastSignature(t, b)
	raw, err := hex.DecodeString(string(b[br[1]+1 : br[2]-1]))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) <= len(der) || !bytes.HasPrefix(raw, der) {
		t.Fatalf("/Contents of %d bytes does not pad the DER of %d bytes", len(raw), len(der))
	}
	return raw
}

// dssItem is one stream a DSS array or a VRI entry references.
type dssItem struct {
	ref  [2]uint32
	data []byte
}

// dssRead is the /DSS of the last revision as digitorus/pdf reads it.
type dssRead struct {
	arrays map[string][]dssItem // Certs, OCSPs, CRLs
	vri    map[string]vriRead
}

type vriRead struct {
	arrays map[string][]dssItem // Cert, OCSP, CRL
	tu     string
	keys   []string
	bad    bool // not a dictionary (as some inputs hold on purpose)
}

func readItems(t *testing.T, arr pdf.Value, what string) []dssItem {
	t.Helper()
	if arr.IsNull() {
		return nil
	}
	if arr.Kind() != pdf.Array {
		t.Fatalf("%s is %v, not an array", what, arr.Kind())
	}
	var out []dssItem
	for i := 0; i < arr.Len(); i++ {
		s := arr.Index(i)
		if s.Kind() != pdf.Stream {
			t.Fatalf("%s[%d] is %v, not a stream", what, i, s.Kind())
		}
		data, err := io.ReadAll(s.Reader())
		if err != nil {
			t.Fatal(err)
		}
		p := s.GetPtr()
		out = append(out, dssItem{ref: [2]uint32{p.GetID(), uint32(p.GetGen())}, data: data})
	}
	return out
}

func readDSSVRI(t *testing.T, b []byte) dssRead {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	dss := r.Trailer().Key("Root").Key("DSS")
	if dss.Kind() != pdf.Dict {
		t.Fatalf("no /DSS dictionary: %v", dss)
	}
	out := dssRead{arrays: map[string][]dssItem{}, vri: map[string]vriRead{}}
	for _, k := range []string{"Certs", "OCSPs", "CRLs"} {
		out.arrays[k] = readItems(t, dss.Key(k), "/DSS /"+k)
	}
	vri := dss.Key("VRI")
	if vri.IsNull() {
		return out
	}
	if vri.Kind() != pdf.Dict {
		t.Fatalf("/DSS /VRI is %v", vri.Kind())
	}
	for _, k := range vri.Keys() {
		e := vri.Key(k)
		if e.Kind() != pdf.Dict {
			out.vri[k] = vriRead{bad: true}
			continue
		}
		v := vriRead{arrays: map[string][]dssItem{}, tu: e.Key("TU").Text(), keys: e.Keys()}
		for _, a := range []string{"Cert", "OCSP", "CRL"} {
			v.arrays[a] = readItems(t, e.Key(a), "/VRI /"+k+" /"+a)
		}
		out.vri[k] = v
	}
	return out
}

// checkVRIRefs checks that every VRI reference points at a stream of the matching DSS
// array (the same object, not a copy), that no DSS array holds the same bytes twice and
// that no VRI array names a stream twice.
func checkVRIRefs(t *testing.T, d dssRead) {
	t.Helper()
	for k, items := range d.arrays {
		seen := map[string]bool{}
		for _, it := range items {
			if seen[string(it.data)] {
				t.Fatalf("/DSS /%s holds the same item twice", k)
			}
			seen[string(it.data)] = true
		}
	}
	for key, v := range d.vri {
		if v.bad {
			t.Fatalf("/VRI /%s is not a dictionary", key)
		}
		for a, dssKey := range map[string]string{"Cert": "Certs", "OCSP": "OCSPs", "CRL": "CRLs"} {
			var refs [][2]uint32
			for _, it := range v.arrays[a] {
				if slices.Contains(refs, it.ref) {
					t.Fatalf("/VRI /%s /%s names %v twice", key, a, it.ref)
				}
				refs = append(refs, it.ref)
				if !slices.ContainsFunc(d.arrays[dssKey], func(x dssItem) bool { return x.ref == it.ref }) {
					t.Fatalf("/VRI /%s /%s names %v, which /DSS /%s does not hold", key, a, it.ref, dssKey)
				}
			}
		}
	}
}

// datas returns the bytes of items, sorted, for comparing as sets.
func datas(items []dssItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, string(it.data))
	}
	sort.Strings(out)
	return out
}

func sortedStrings(bs ...[]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

// TestAddDSSVRI: a VRI entry for a B-T signature is keyed by the upper-case hex SHA-1 of
// the whole /Contents string, references the streams of the DSS arrays (adding to them
// the items they lacked), carries /TU; qpdf, pdfsig and verify.Verify accept the file and
// verify reports the signature's VRI entry.
func TestAddDSSVRI(t *testing.T) {
	w := newLTVWorld(t)
	signed, cert := w.signBT(t, testpki.MinimalPDF(1))
	ev := w.evidence(t, cert)
	contents := paddedContents(t, signed)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	// The signer's certificate is only in the VRI entry: AddDSS must add it to /Certs.
	entry := VRIEntry{Contents: contents, Certs: [][]byte{cert.Raw, ev.Certs[0], ev.Certs[1]}, OCSPs: ev.OCSPs[:1], CRLs: ev.CRLs[:1], Time: at}
	ev.VRI = []VRIEntry{entry}
	lt := addDSS(t, signed, ev)
	keep(t, "vri-B-LT", lt)
	qpdfCheck(t, lt)

	d := readDSSVRI(t, lt)
	checkVRIRefs(t, d)
	if got, want := datas(d.arrays["Certs"]), sortedStrings(append(slices.Clone(ev.Certs), cert.Raw)...); !slices.Equal(got, want) {
		t.Fatalf("/DSS /Certs holds %d certificates, want %d", len(got), len(want))
	}
	sum := sha1.Sum(contents)
	key := strings.ToUpper(hex.EncodeToString(sum[:]))
	if VRIKey(contents) != key {
		t.Fatalf("VRIKey = %s, want %s", VRIKey(contents), key)
	}
	_, der := lastSignature(t, signed)
	trimmed := sha1.Sum(der)
	if strings.EqualFold(key, hex.EncodeToString(trimmed[:])) {
		t.Fatal("the padded and trimmed /Contents hash alike: the test proves nothing")
	}
	if len(d.vri) != 1 {
		t.Fatalf("/VRI has %d entries, want 1", len(d.vri))
	}
	v, ok := d.vri[key]
	if !ok {
		t.Fatalf("/VRI keys %v, want %s (SHA-1 of the padded /Contents)", d.vri, key)
	}
	for a, want := range map[string][]string{"Cert": sortedStrings(entry.Certs...), "OCSP": sortedStrings(entry.OCSPs...), "CRL": sortedStrings(entry.CRLs...)} {
		if got := datas(v.arrays[a]); !slices.Equal(got, want) {
			t.Fatalf("/VRI /%s has %d items, want %d", a, len(got), len(want))
		}
	}
	if v.tu != "D:20260304120607+07'00'" {
		t.Fatalf("/TU = %q", v.tu)
	}

	out, sigs := testpki.Pdfsig(t, w.db, lt)
	if len(sigs) != 1 || !sigs[0].Valid || !sigs[0].Trusted {
		t.Fatalf("pdfsig after the VRI update:\n%s", out)
	}
	rep := checkVerify(t, w, lt, 1)
	if !rep.Signatures[0].VRIEntry || rep.DSS == nil || rep.DSS.VRIEntries != 1 {
		t.Fatalf("verify: VRI entry %v, DSS %+v", rep.Signatures[0].VRIEntry, rep.DSS)
	}

	// The document timestamp of B-LTA, then its own VRI entry in a later DSS update.
	lta := addDocTimestamp(t, lt, w.timestamp)
	tsContents := paddedContents(t, lta)
	tsCert := w.tsaID.Certificate.Raw
	again := addDSS(t, lta, Evidence{VRI: []VRIEntry{{Contents: tsContents, Certs: [][]byte{tsCert, ev.Certs[0]}, OCSPs: ev.OCSPs[1:2], Time: at}}})
	qpdfCheck(t, again)
	d2 := readDSSVRI(t, again)
	checkVRIRefs(t, d2)
	if len(d2.vri) != 2 || len(d2.vri[VRIKey(tsContents)].arrays["Cert"]) != 2 || !slices.Equal(datas(d2.vri[key].arrays["Cert"]), datas(v.arrays["Cert"])) {
		t.Fatalf("after the timestamp's entry: %d VRI entries", len(d2.vri))
	}
	if len(d2.arrays["Certs"]) != len(d.arrays["Certs"]) || len(d2.arrays["OCSPs"]) != len(d.arrays["OCSPs"]) {
		t.Fatal("the timestamp's VRI entry duplicated streams the DSS already held")
	}
	rep = checkVerify(t, w, again, 2)
	if !rep.Signatures[0].VRIEntry || !rep.Signatures[1].VRIEntry || rep.DSS.VRIEntries != 2 {
		t.Fatalf("verify: VRI entries %v %v, DSS %+v", rep.Signatures[0].VRIEntry, rep.Signatures[1].VRIEntry, rep.DSS)
	}
	if out, sigs := testpki.Pdfsig(t, w.db, again); len(sigs) != 2 || !sigs[0].Valid || !sigs[0].Trusted {
		t.Fatalf("pdfsig after the second VRI update:\n%s", out)
	}
}

// appendObjects appends an incremental update (classic cross-reference table) that
// replaces or adds objs; {N} in a body stands for the object number size+N, where size is
// the input's /Size, which the update raises by extra.
func appendObjects(t testing.TB, in []byte, objs map[string]string, extra int) []byte {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	size := int(r.Trailer().Key("Size").Int64())
	rp := r.Trailer().Key("Root").GetPtr()
	root := rp.GetID()
	prev := reStartxref.FindSubmatch(in)
	if prev == nil {
		t.Fatal("no startxref")
	}
	subst := func(s string) string {
		return regexp.MustCompile(`\{(\d+)\}`).ReplaceAllStringFunc(s, func(m string) string {
			n, _ := strconv.Atoi(m[1 : len(m)-1])
			return strconv.Itoa(size + n)
		})
	}
	var b bytes.Buffer
	b.Write(in)
	if !bytes.HasSuffix(in, []byte("\n")) {
		b.WriteByte('\n')
	}
	offsets := map[int]int{}
	var ids []int
	for k, body := range objs {
		id, err := strconv.Atoi(subst(k))
		if err != nil {
			t.Fatal(err)
		}
		offsets[id] = b.Len()
		ids = append(ids, id)
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", id, subst(body))
	}
	sort.Ints(ids)
	xref := b.Len()
	b.WriteString("xref\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "%d 1\n%010d 00000 n \n", id, offsets[id])
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %d 0 R /Prev %s >>\nstartxref\n%d\n%%%%EOF\n", size+extra, root, prev[1], xref)
	return b.Bytes()
}

// catalogWith returns the body of the last revision's catalog with extra entries.
func catalogWith(t testing.TB, in []byte, extra string) (id string, body string) {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	p := r.Trailer().Key("Root").GetPtr()
	ms := regexp.MustCompile(fmt.Sprintf(`(?s)\n%d 0 obj\s*(<<.*?>>)\s*endobj`, p.GetID())).FindAllSubmatch(in, -1)
	if len(ms) == 0 {
		t.Fatal("catalog not found")
	}
	cat := ms[len(ms)-1][1]
	return strconv.Itoa(int(p.GetID())), string(cat[:len(cat)-2]) + " " + extra + " >>"
}

func streamObj(b []byte) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(b), b)
}

// TestAddDSSVRIMerge: AddDSS merges its VRI entries into a /VRI another writer made
// (direct or indirect, upper- or lower-case keys, indirect entries): other signatures'
// entries and unknown keys are kept, the same signature's entry is extended with what it
// lacks and re-keyed in upper case, no stream is duplicated; evidence already recorded is
// refused; a /VRI that is not a dictionary is refused, an entry that is not one replaced.
func TestAddDSSVRIMerge(t *testing.T) {
	w := newLTVWorld(t)
	signed, cert := w.signBT(t, testpki.MinimalPDF(1))
	ev := w.evidence(t, cert)
	contents := paddedContents(t, signed)
	key := VRIKey(contents)
	other := strings.Repeat("AB", 20)
	root, issuing := ev.Certs[1], ev.Certs[0]
	if !bytes.Equal(w.ca.Root().Raw, root) || !bytes.Equal(w.ca.IssuingCA().Raw, issuing) {
		t.Fatal("evidence order changed: Certs[0] issuing CA, Certs[1] root")
	}

	// The existing DSS: /Certs [root], /CRLs [crl]; /VRI has another signature's entry
	// and this signature's (spelt as the case says) naming root, with a private key.
	dss := func(vri string) map[string]string {
		id, cat := catalogWith(t, signed, "/DSS {0} 0 R")
		return map[string]string{
			id:    cat,
			"{0}": "<< /Type /DSS /Certs [{1} 0 R] /CRLs [{2} 0 R] /VRI " + vri + " >>",
			"{1}": streamObj(root),
			"{2}": streamObj(ev.CRLs[0]),
			"{3}": "<< /CRL [{2} 0 R] >>",
			"{4}": "<< /Cert [{1} 0 R] /Private (kept) >>",
			"{5}": "<< /" + other + " {3} 0 R /" + strings.ToLower(key) + " {4} 0 R >>",
		}
	}
	add := VRIEntry{Contents: contents, Certs: [][]byte{root, issuing, cert.Raw}, OCSPs: ev.OCSPs[:1]}

	for _, tc := range []struct {
		name    string
		objs    map[string]string
		wantErr error
		private bool // the old entry's /Private survives
		oldCert bool // the old entry's /Cert stream is kept
	}{
		{"direct VRI, direct entries", dss("<< /" + other + " << /CRL [{2} 0 R] >> /" + key + " << /Cert [{1} 0 R] /Private (kept) >> >>"), nil, true, true},
		{"indirect VRI, indirect lower-case entry", dss("{5} 0 R"), nil, true, true},
		{"entry not a dictionary", dss("<< /" + other + " {3} 0 R /" + key + " 42 >>"), nil, false, false},
		{"VRI not a dictionary", dss("[1 2 3]"), ErrInvalidPDF, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := appendObjects(t, signed, tc.objs, 6)
			qpdfCheck(t, in)
			var buf bytes.Buffer
			err := AddDSS(context.Background(), bytes.NewReader(in), int64(len(in)), &buf, Evidence{VRI: []VRIEntry{add}})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || buf.Len() != 0 {
					t.Fatalf("err=%v, %d bytes written; want %v", err, buf.Len(), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := buf.Bytes()
			qpdfCheck(t, out)
			before, after := readDSSVRI(t, in), readDSSVRI(t, out)
			checkVRIRefs(t, after)
			if len(after.vri) != 2 {
				keys := []string{}
				for k := range after.vri {
					keys = append(keys, k)
				}
				t.Fatalf("/VRI keys %v, want %s and %s", keys, other, key)
			}
			if o := after.vri[other]; len(o.arrays["CRL"]) != 1 || o.arrays["CRL"][0].ref != before.arrays["CRLs"][0].ref {
				t.Fatalf("the other signature's entry changed: %+v", o)
			}
			e, ok := after.vri[key]
			if !ok {
				t.Fatalf("no upper-case entry %s", key)
			}
			if got, want := datas(e.arrays["Cert"]), sortedStrings(add.Certs...); !slices.Equal(got, want) {
				t.Fatalf("/Cert has %d certificates, want %d", len(got), len(want))
			}
			if got := datas(e.arrays["OCSP"]); !slices.Equal(got, sortedStrings(add.OCSPs...)) {
				t.Fatalf("/OCSP has %d responses", len(got))
			}
			if tc.oldCert && e.arrays["Cert"][0].ref != before.arrays["Certs"][0].ref {
				t.Fatal("the old entry's root stream was not kept first")
			}
			if slices.Contains(e.keys, "Private") != tc.private {
				t.Fatalf("entry keys %v, /Private kept want %v", e.keys, tc.private)
			}
			// root was in /Certs already: only the issuing CA and the signer are added.
			if len(after.arrays["Certs"]) != 3 || after.arrays["Certs"][0].ref != before.arrays["Certs"][0].ref {
				t.Fatalf("/DSS /Certs holds %d streams, want the old root and 2 new", len(after.arrays["Certs"]))
			}
			rep := checkVerify(t, w, out, 1)
			if !rep.Signatures[0].VRIEntry {
				t.Fatal("verify finds no VRI entry for the signature")
			}

			// The same evidence again: nothing new, refused as for the arrays.
			buf.Reset()
			if err := AddDSS(context.Background(), bytes.NewReader(out), int64(len(out)), &buf, Evidence{VRI: []VRIEntry{add}}); !errors.Is(err, ErrBadOptions) || buf.Len() != 0 {
				t.Fatalf("same VRI evidence again: err=%v", err)
			}
			// A CRL the entry lacks (already in /CRLs): the entry alone is extended.
			more := addDSS(t, out, Evidence{VRI: []VRIEntry{{Contents: contents, CRLs: ev.CRLs[:1]}}})
			m := readDSSVRI(t, more)
			checkVRIRefs(t, m)
			if len(m.vri[key].arrays["CRL"]) != 1 || len(m.arrays["CRLs"]) != 1 || len(m.vri[key].arrays["Cert"]) != 3 {
				t.Fatalf("after adding a CRL: entry %d CRLs %d certificates, DSS %d CRLs", len(m.vri[key].arrays["CRL"]), len(m.vri[key].arrays["Cert"]), len(m.arrays["CRLs"]))
			}
		})
	}
}

// TestAddDSSVRIRejects: malformed VRI entries are refused before anything is written.
func TestAddDSSVRIRejects(t *testing.T) {
	in := testpki.MinimalPDF(1)
	root := testpki.NewCA(t).Root.Raw
	many := make([]VRIEntry, maxVRIEntries+1)
	for i := range many {
		many[i] = VRIEntry{Contents: []byte{byte(i), byte(i >> 8)}, Certs: [][]byte{root}}
	}
	for _, tc := range []struct {
		name string
		ev   Evidence
	}{
		{"no contents", Evidence{VRI: []VRIEntry{{Certs: [][]byte{root}}}}},
		{"no evidence", Evidence{VRI: []VRIEntry{{Contents: []byte{0x30, 0}}}}},
		{"bad certificate", Evidence{VRI: []VRIEntry{{Contents: []byte{0x30, 0}, Certs: [][]byte{{0x30, 0x03, 0x02, 0x01, 0x01}}}}}},
		{"bad OCSP", Evidence{VRI: []VRIEntry{{Contents: []byte{0x30, 0}, OCSPs: [][]byte{[]byte("not ocsp")}}}}},
		{"too many entries", Evidence{VRI: many}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := AddDSS(context.Background(), bytes.NewReader(in), int64(len(in)), &out, tc.ev); !errors.Is(err, ErrBadOptions) || out.Len() != 0 {
				t.Fatalf("err=%v, %d bytes written", err, out.Len())
			}
		})
	}
}

// TestAddDSSVRIHostile: hostile existing DSSes cost bounded work. Thousands of
// references to a stream that inflates to 8 MB (in /Certs and in VRI entries) are hashed
// once and the update is written; a /VRI with more keys than signing/verify reads, or
// whose keys name the same huge entry a thousand times, is refused as invalid.
func TestAddDSSVRIHostile(t *testing.T) {
	w := newLTVWorld(t)
	signed, cert := w.signBT(t, testpki.MinimalPDF(1))
	contents := paddedContents(t, signed)
	var bomb bytes.Buffer
	zw := zlib.NewWriter(&bomb)
	zw.Write(make([]byte, 8<<20))
	zw.Close()
	refs := strings.Repeat("{1} 0 R ", 5000)
	keys := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "/%040X {2} 0 R ", i)
		}
		return b.String()
	}
	build := func(vri, entry string) []byte {
		id, cat := catalogWith(t, signed, "/DSS {0} 0 R")
		return appendObjects(t, signed, map[string]string{
			id:    cat,
			"{0}": "<< /Certs [" + refs + "] /VRI << " + vri + " >> >>",
			"{1}": fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", bomb.Len(), bomb.Bytes()),
			"{2}": entry,
		}, 3)
	}
	for _, tc := range []struct {
		name     string
		in       []byte
		wantErr  error
		wantKeys int
	}{
		{"bomb references", build(keys(100)+"/"+VRIKey(contents)+" {2} 0 R", "<< /Cert ["+refs+"] /OCSP ["+refs+"] >>"), nil, 101},
		{"too many keys", build(keys(maxVRIEntries+1), "<< /Cert [{1} 0 R] >>"), ErrInvalidPDF, 0},
		{"keys naming one huge entry", build(keys(maxVRIEntries), "<< /Cert ["+refs+"] /OCSP ["+refs+"] /CRL ["+refs+"] >>"), ErrInvalidPDF, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			var err error
			done := make(chan struct{})
			start := time.Now()
			go func() {
				defer close(done)
				err = AddDSS(context.Background(), bytes.NewReader(tc.in), int64(len(tc.in)), &out, Evidence{VRI: []VRIEntry{{Contents: contents, Certs: [][]byte{cert.Raw}}}})
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("AddDSS did not return within 20s")
			}
			t.Logf("AddDSS: %v in %v", err, time.Since(start))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || out.Len() != 0 {
					t.Fatalf("err=%v, %d bytes written; want %v", err, out.Len(), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			qpdfCheck(t, out.Bytes())
			// Counted without decoding: readDSSVRI would inflate every reference.
			r, err := pdf.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
			if err != nil {
				t.Fatal(err)
			}
			dss := r.Trailer().Key("Root").Key("DSS")
			vri := dss.Key("VRI")
			if n, m, c := len(vri.Keys()), vri.Key(VRIKey(contents)).Key("Cert").Len(), dss.Key("Certs").Len(); n != tc.wantKeys || m != 5001 || c != 5001 {
				t.Fatalf("%d VRI entries, the signature's /Cert has %d items, /Certs %d; want %d, 5001, 5001", n, m, c, tc.wantKeys)
			}
		})
	}
}

// FuzzAddDSSVRI mutates a PDF whose DSS already has a /VRI (direct and indirect entries,
// lower-case keys): AddDSS with a VRI entry must not panic or hang, and when it succeeds
// the original bytes are kept and the entry can be read back under its key.
func FuzzAddDSSVRI(f *testing.F) {
	root := testpki.NewCA(f).Root.Raw
	contents := append([]byte{0x30, 0x03, 0x02, 0x01, 0x01}, make([]byte, 64)...)
	key := VRIKey(contents)
	base := testpki.MinimalPDF(1)
	id, cat := catalogWith(f, base, "/DSS {0} 0 R")
	for _, vri := range []string{
		"<< /" + strings.Repeat("CD", 20) + " << /Cert [{1} 0 R] >> /" + strings.ToLower(key) + " {2} 0 R >>",
		"{3} 0 R",
		"<< /" + key + " << /Cert {1} 0 R /OCSP [1 2 3] /TU (x) >> >>",
	} {
		f.Add(appendObjects(f, base, map[string]string{
			id:    cat,
			"{0}": "<< /Certs [{1} 0 R] /VRI " + vri + " >>",
			"{1}": streamObj(root),
			"{2}": "<< /Cert [{1} 0 R {1} 0 R] /X [[[]]] >>",
			"{3}": "<< /" + key + " {2} 0 R /A {3} 0 R >>",
		}, 4))
	}
	ev := Evidence{VRI: []VRIEntry{{Contents: contents, Certs: [][]byte{root}}}}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<20 {
			return
		}
		var out bytes.Buffer
		if err := AddDSS(context.Background(), bytes.NewReader(in), int64(len(in)), &out, ev); err != nil {
			if out.Len() != 0 {
				t.Fatalf("%v, yet %d bytes written", err, out.Len())
			}
			return
		}
		if !bytes.HasPrefix(out.Bytes(), in) {
			t.Fatal("the original bytes were not kept")
		}
		r, err := pdf.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("the output does not open: %v", err)
		}
		if e := r.Trailer().Key("Root").Key("DSS").Key("VRI").Key(key); e.Kind() != pdf.Dict || e.Key("Cert").Len() == 0 {
			t.Fatalf("no VRI entry %s in the output", key)
		}
	})
}
