package verify

import (
	"bytes"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/signing/pades"
)

// withSignatureCopies appends an update adding n signature fields whose /V is each a new
// copy of the file's first signature dictionary (same /ByteRange, same /Contents), so
// every copy verifies as the original does.
func withSignatureCopies(t testing.TB, in []byte, n int) []byte {
	t.Helper()
	sig := regexp.MustCompile(`(?s)\n\d+ 0 obj\s*(<< /Type /Sig .*?/ByteRange.*?>>)\s*endobj`).FindSubmatch(in)
	cats := regexp.MustCompile(`(?s)\n1 0 obj\s*<<.*?/AcroForm (\d+) 0 R`).FindAllSubmatch(in, -1)
	sizes := regexp.MustCompile(`/Size (\d+)`).FindAllSubmatch(in, -1)
	if sig == nil || len(cats) == 0 || len(sizes) == 0 {
		t.Fatal("no signature dictionary, AcroForm or /Size")
	}
	form, _ := strconv.Atoi(string(cats[len(cats)-1][1]))
	forms := regexp.MustCompile(`(?s)\n`+strconv.Itoa(form)+` 0 obj\s*<<\s*/Fields \[([^\]]*)\]`).FindAllSubmatch(in, -1)
	if len(forms) == 0 {
		t.Fatal("no AcroForm /Fields")
	}
	size, _ := strconv.Atoi(string(sizes[len(sizes)-1][1]))
	fields := strings.TrimSpace(string(forms[len(forms)-1][1]))
	objs := map[int]string{}
	for i := range n {
		d, f := size+2*i, size+2*i+1
		objs[d] = string(sig[1])
		objs[f] = fmt.Sprintf("<< /FT /Sig /T (Copy%d) /V %d 0 R >>", i, d)
		fields += fmt.Sprintf(" %d 0 R", f)
	}
	objs[form] = "<< /Fields [" + fields + "] /SigFlags 3 >>"
	out := appendUpdate(t, in, objs)
	i := bytes.LastIndex(out, []byte("/Size "))
	j := i + len("/Size ") + len(sizes[len(sizes)-1][1])
	return append(append(append([]byte{}, out[:i]...), fmt.Sprintf("/Size %d", size+2*n)...), out[j:]...)
}

// amplified is a B-T signature copied copies times, with a DSS holding good CRLs of the
// CA (each revoking entries other certificates), CRLs under the CA's name signed by
// another key, and OCSP responses from a delegated responder for the signer's and the
// TSA's certificates.
type amplified struct {
	pdf []byte
	at  time.Time
	ca  *testCA
}

func newAmplified(t testing.TB, copies, goodCRLs, fake, ocsps, entries int) amplified {
	t.Helper()
	ca := newTestCA(t)
	rogue := testpki.NewCAWith(t, testpki.Config{RootName: "Motlan Verify Test Root"}) // same name, other key
	responder, responderKey := responderCert(t, ca.CA, true)
	signed, cert := ca.signBT(t, testpki.MinimalPDF(1))
	now := time.Now().UTC().Truncate(time.Second)
	others := make([]*big.Int, entries)
	for i := range others {
		others[i] = big.NewInt(int64(1_000_000 + i))
	}
	ev := pades.Evidence{Certs: [][]byte{ca.TSA.Raw}}
	for i := range goodCRLs {
		ev.CRLs = append(ev.CRLs, crlDER(t, ca.Root, ca.RootKey, now.Add(-time.Duration(i)*time.Second), now.Add(-48*time.Hour), others...))
	}
	for i := range fake {
		ev.CRLs = append(ev.CRLs, crlDER(t, rogue.Root, rogue.RootKey, now.Add(-time.Duration(i)*time.Second), now.Add(-48*time.Hour), others...))
	}
	for i := range ocsps {
		this := now.Add(-time.Duration(i) * time.Second)
		ev.OCSPs = append(ev.OCSPs,
			ocspDER(t, cert, ca.Root, responder, responderKey, ocsp.Good, time.Time{}, this),
			ocspDER(t, ca.TSA, ca.Root, responder, responderKey, ocsp.Good, time.Time{}, this))
	}
	return amplified{pdf: withSignatureCopies(t, addDSS(t, signed, ev), copies), at: now.Add(30 * time.Minute), ca: ca}
}

// TestVerifyBoundedWork: a document with many copies of one signature, many CRLs under
// its CA's name and many OCSP responses verifies in work that does not grow with the
// copies: each CRL's and each OCSP response's signature is checked once, and the
// delegated responder's certificate once, however many signatures and certificates
// refer to them (the test hook counts the checks actually run). Signatures beyond
// MaxSignatures are reported INDETERMINATE/SIG_CONSTRAINTS_FAILURE, not dropped.
func TestVerifyBoundedWork(t *testing.T) {
	const goodCRLs, fake, ocsps = 12, 4, 3
	tests := []struct {
		name            string
		copies          int
		wantVerified    int
		wantNotVerified int
	}{
		{"one signature", 0, 1, 0},
		{"a few copies", 5, 6, 0},
		{"at the cap", MaxSignatures - 1, MaxSignatures, 0},
		{"beyond the cap", 3 * MaxSignatures, MaxSignatures, 2*MaxSignatures + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAmplified(t, tt.copies, goodCRLs, fake, ocsps, 50)
			checks := map[string]int{}
			testHookEvidenceSignature = func(kind string) { checks[kind]++ }
			t.Cleanup(func() { testHookEvidenceSignature = nil })

			rep := verifyBytes(t, a.pdf, Options{Roots: a.ca.Pool(), At: a.at, RequireRevocation: true})

			want := map[string]int{"crl": goodCRLs + fake, "ocsp": 2 * ocsps, "ocsp_responder": 1}
			if fmt.Sprint(checks) != fmt.Sprint(want) {
				t.Fatalf("signature checks run %v, want %v (once per item, whatever the copies)", checks, want)
			}
			if len(rep.Signatures) != tt.copies+1 {
				t.Fatalf("%d signatures reported, want %d", len(rep.Signatures), tt.copies+1)
			}
			verified, notVerified := 0, 0
			for _, s := range rep.Signatures {
				if s.SubIndication == SigConstraintsFailure {
					notVerified++
					if s.Indication != Indeterminate || s.Type != "signature" || s.FieldName == "" || len(s.Errors) != 1 ||
						!strings.Contains(s.Errors[0], "not verified") || !strings.Contains(s.Errors[0], strconv.Itoa(MaxSignatures)) ||
						s.Coverage.SignedEnd == 0 || len(s.ByteRange.Values) != 4 {
						t.Fatalf("not verified signature %+v", s)
					}
					continue
				}
				verified++
				st := statusOf(s, "signer")
				if s.Indication != TotalPassed || s.Level != "B-LT" || st == nil || st.Status != StatusGood ||
					len(st.Evidence) != goodCRLs+fake+ocsps {
					t.Fatalf("signature %s: %s/%s level %s, signer %+v", s.FieldName, s.Indication, s.SubIndication, s.Level, st)
				}
				if unusable := countProblems(st.Evidence, "signature does not verify"); unusable != fake {
					t.Fatalf("signature %s: %d forged CRLs set aside, want %d", s.FieldName, unusable, fake)
				}
			}
			if verified != tt.wantVerified || notVerified != tt.wantNotVerified {
				t.Fatalf("%d verified, %d not verified; want %d and %d", verified, notVerified, tt.wantVerified, tt.wantNotVerified)
			}
			// Signatures are taken in field order: the original is among those verified.
			for _, s := range rep.Signatures {
				if s.FieldName == "Signature1" && s.Indication != TotalPassed {
					t.Fatalf("the original signature: %+v", s)
				}
			}
		})
	}
}

func countProblems(ev []EvidenceRef, problem string) int {
	n := 0
	for _, e := range ev {
		if strings.Contains(e.Problem, problem) {
			n++
		}
	}
	return n
}

// BenchmarkVerifyCopiedSignatures: 100 copies of one signature over 48 CRLs of its CA
// (2,000 entries each), 16 forged ones and 8 OCSP responses.
func BenchmarkVerifyCopiedSignatures(b *testing.B) {
	a := newAmplified(b, 100, 48, 16, 4, 2000)
	b.ReportAllocs()
	b.SetBytes(int64(len(a.pdf)))
	for b.Loop() {
		verifyBytes(b, a.pdf, Options{Roots: a.ca.Pool(), At: a.at})
	}
}
