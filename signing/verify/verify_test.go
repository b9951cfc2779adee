package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/signing/pades"
)

func verifyBytes(t testing.TB, pdf []byte, opts Options) Report {
	t.Helper()
	rep, err := Verify(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func dump(t testing.TB, rep Report) string {
	b, _ := json.MarshalIndent(rep, "", "  ")
	return string(b)
}

// checkPassed asserts the report of a signature signed by ca.sign.
func checkPassed(t *testing.T, s Signature, level string, whole bool, rep Report) {
	t.Helper()
	if s.Indication != TotalPassed || s.SubIndication != "" {
		t.Fatalf("indication %s/%s, want TOTAL_PASSED\n%s", s.Indication, s.SubIndication, dump(t, rep))
	}
	if s.Level != level {
		t.Errorf("level %q, want %q (%v)", s.Level, level, s.LevelReasons)
	}
	if s.Signer == nil || s.Signer.Name != "Lê Công Hảo" || s.Signer.IDType != "CCCD" || s.Signer.IDMasked != "038*******67" {
		t.Errorf("signer %+v", s.Signer)
	}
	if !s.Integrity.DigestMatches || !s.Integrity.SignatureValid || !s.ByteRange.Valid || !s.Chain.Trusted || !s.Chain.KeyUsageOK {
		t.Errorf("integrity %+v byte range %+v chain %+v", s.Integrity, s.ByteRange, s.Chain)
	}
	if !s.Coverage.CoversRevision || s.Coverage.CoversWholeDocument != whole {
		t.Errorf("coverage %+v, want whole=%v", s.Coverage, whole)
	}
	if (s.Changes == nil) != whole {
		t.Errorf("changes after signing %+v, whole=%v", s.Changes, whole)
	}
	want := time.Date(2026, 1, 2, 8, 30, 0, 0, time.UTC)
	if s.ClaimedTime == nil || !s.ClaimedTime.Equal(want) {
		t.Errorf("claimed time %v", s.ClaimedTime)
	}
	if level == "B-T" {
		if s.Timestamp == nil || !s.Timestamp.Valid || s.Chain.TimeSource != "timestamp" {
			t.Errorf("timestamp %+v, chain time source %q", s.Timestamp, s.Chain.TimeSource)
		}
	} else if s.Timestamp != nil {
		t.Errorf("unexpected timestamp %+v", s.Timestamp)
	}
}

func TestVerifySignedPDFs(t *testing.T) {
	ca := newTestCA(t)
	db := ca.NSSDB(t)
	base := testpki.MinimalPDF(2)
	inputs := []struct {
		name string
		pdf  func(t *testing.T) []byte
	}{
		{"classic-xref", func(*testing.T) []byte { return base }},
		{"object-streams", func(t *testing.T) []byte { return testpki.QPDF(t, base, "--object-streams=generate") }},
		{"linearized", func(t *testing.T) []byte { return testpki.QPDF(t, base, "--linearize") }},
	}
	for _, in := range inputs {
		for _, keyType := range []string{"ecdsa", "rsa"} {
			for _, level := range []pades.Level{pades.LevelBB, pades.LevelBT} {
				t.Run(in.name+"/"+keyType+"/"+level.String(), func(t *testing.T) {
					signed := ca.sign(t, in.pdf(t), keyType, level, "")
					rep := verifyBytes(t, signed, Options{Roots: ca.Pool()})
					if len(rep.Signatures) != 1 {
						t.Fatalf("%d signatures\n%s", len(rep.Signatures), dump(t, rep))
					}
					checkPassed(t, rep.Signatures[0], level.String(), true, rep)
					if rep.Signatures[0].SubFilter != "ETSI.CAdES.detached" || rep.Signatures[0].FieldName != "Signature1" {
						t.Errorf("sub filter %q field %q", rep.Signatures[0].SubFilter, rep.Signatures[0].FieldName)
					}
					_, ps := testpki.Pdfsig(t, db, signed)
					if len(ps) != 1 || !ps[0].Valid || !ps[0].Trusted || !ps[0].Total {
						t.Fatalf("pdfsig disagrees: %+v", ps)
					}

					// A one-byte change inside the first signed range (the binary comment on
					// the second line, so the structure stays intact).
					tampered := bytes.Clone(signed)
					tampered[bytes.IndexByte(tampered, '\n')+2] ^= 0x01
					rep = verifyBytes(t, tampered, Options{Roots: ca.Pool()})
					if s := rep.Signatures[0]; s.Indication != TotalFailed || s.SubIndication != HashFailure || s.Integrity.DigestMatches {
						t.Fatalf("tampered: %s/%s\n%s", s.Indication, s.SubIndication, dump(t, rep))
					}
					if _, ps := testpki.Pdfsig(t, db, tampered); len(ps) != 1 || ps[0].Valid {
						t.Fatalf("pdfsig accepts the tampered file: %+v", ps)
					}
				})
			}
		}
	}
}

// TestTwoSigners: the other parent signs the signed document; both pass, only the last
// covers the whole document, and the first reports the second as a signature-only change.
func TestTwoSigners(t *testing.T) {
	ca := newTestCA(t)
	db := ca.NSSDB(t)
	for _, variant := range []struct {
		name string
		args []string
	}{{"classic-xref", nil}, {"object-streams", []string{"--object-streams=generate"}}, {"linearized", []string{"--linearize"}}} {
		t.Run(variant.name, func(t *testing.T) {
			src := testpki.MinimalPDF(1)
			if variant.args != nil {
				src = testpki.QPDF(t, src, variant.args...)
			}
			first := ca.sign(t, src, "ecdsa", pades.LevelBT, "Cha")
			second := ca.sign(t, first, "rsa", pades.LevelBB, "Me")
			rep := verifyBytes(t, second, Options{Roots: ca.Pool()})
			if len(rep.Signatures) != 2 {
				t.Fatalf("%d signatures\n%s", len(rep.Signatures), dump(t, rep))
			}
			s1, s2 := rep.Signatures[0], rep.Signatures[1]
			if s1.FieldName != "Cha" || s2.FieldName != "Me" {
				t.Fatalf("order: %q, %q", s1.FieldName, s2.FieldName)
			}
			checkPassed(t, s1, "B-T", false, rep)
			checkPassed(t, s2, "B-B", true, rep)
			if ch := s1.Changes; ch == nil || ch.LaterRevisions != 1 || ch.Classification != ChangesSignatures {
				t.Fatalf("first signature's changes after signing: %+v\n%s", ch, dump(t, rep))
			}
			if testing.Verbose() {
				t.Log(dump(t, rep))
			}
			_, ps := testpki.Pdfsig(t, db, second)
			if len(ps) != 2 {
				t.Fatalf("pdfsig: %+v", ps)
			}
			for i, p := range ps {
				s := rep.Signatures[i]
				if p.Valid != (s.Indication == TotalPassed) || p.Total != s.Coverage.CoversWholeDocument {
					t.Errorf("signature %d: pdfsig valid=%v total=%v, Motlan %s whole=%v", i+1, p.Valid, p.Total, s.Indication, s.Coverage.CoversWholeDocument)
				}
			}
		})
	}
}

// TestChangesAfterSigning appends non-signature incremental updates.
func TestChangesAfterSigning(t *testing.T) {
	ca := newTestCA(t)
	db := ca.NSSDB(t)
	signed := ca.sign(t, testpki.MinimalPDF(1), "ecdsa", pades.LevelBB, "")
	content := "BT /F1 18 Tf 72 760 Td (Ho so da bi sua) Tj ET"
	tests := []struct {
		name string
		objs map[int]string
		want string
	}{
		{"page content replaced", map[int]string{6: "<< /Length " + itoa(len(content)) + " >>\nstream\n" + content + "\nendstream"}, ChangesOther},
		{"metadata only", map[int]string{4: "<< /Producer (someone else) >>"}, ChangesAnnotations},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed := appendUpdate(t, signed, tt.objs)
			rep := verifyBytes(t, changed, Options{Roots: ca.Pool()})
			if len(rep.Signatures) != 1 {
				t.Fatalf("%d signatures", len(rep.Signatures))
			}
			s := rep.Signatures[0]
			if s.Indication != TotalPassed || s.Coverage.CoversWholeDocument || !s.Coverage.CoversRevision {
				t.Fatalf("%s coverage %+v", s.Indication, s.Coverage)
			}
			if s.Changes == nil || s.Changes.LaterRevisions != 1 || s.Changes.Classification != tt.want || len(s.Changes.Objects) == 0 {
				t.Fatalf("changes %+v, want %s\n%s", s.Changes, tt.want, dump(t, rep))
			}
			if len(s.Warnings) == 0 || !strings.Contains(strings.Join(s.Warnings, " "), "changes after signing") {
				t.Errorf("warnings %v", s.Warnings)
			}
			_, ps := testpki.Pdfsig(t, db, changed)
			if len(ps) != 1 || !ps[0].Valid || ps[0].Total {
				t.Errorf("pdfsig: %+v", ps)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestUntrustedRoot(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	signed := ca.sign(t, testpki.MinimalPDF(1), "ecdsa", pades.LevelBT, "")
	for _, roots := range []struct {
		name string
		opt  Options
	}{{"other root", Options{Roots: other.Pool()}}, {"no roots", Options{}}} {
		t.Run(roots.name, func(t *testing.T) {
			rep := verifyBytes(t, signed, roots.opt)
			s := rep.Signatures[0]
			if s.Indication != Indeterminate || s.SubIndication != NoCertificateChainFound || s.Chain.Trusted {
				t.Fatalf("%s/%s\n%s", s.Indication, s.SubIndication, dump(t, rep))
			}
			if !s.Integrity.DigestMatches || !s.Integrity.SignatureValid || s.Timestamp == nil || s.Timestamp.ChainTrusted {
				t.Errorf("integrity %+v timestamp %+v", s.Integrity, s.Timestamp)
			}
		})
	}
}

// TestExpiry validates two days later, after the citizen's one-day certificate expired:
// without a timestamp there is no proof the signature existed before expiry; with one
// (the TSA outlives the citizen) the signature passes.
func TestExpiry(t *testing.T) {
	ca := newTestCA(t)
	later := time.Now().Add(48 * time.Hour)
	tests := []struct {
		level pades.Level
		ind   Indication
		sub   SubIndication
	}{
		{pades.LevelBB, Indeterminate, OutOfBoundsNoPOE},
		{pades.LevelBT, TotalPassed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			signed := ca.sign(t, testpki.MinimalPDF(1), "ecdsa", tt.level, "")
			rep := verifyBytes(t, signed, Options{Roots: ca.Pool(), At: later})
			s := rep.Signatures[0]
			if s.Indication != tt.ind || s.SubIndication != tt.sub {
				t.Fatalf("%s/%s, want %s/%s\n%s", s.Indication, s.SubIndication, tt.ind, tt.sub, dump(t, rep))
			}
			if !rep.ValidationTime.Equal(later) {
				t.Errorf("validation time %v", rep.ValidationTime)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	good := testpki.MinimalPDF(1)
	tests := []struct {
		name string
		in   []byte
		max  int64
		want error
	}{
		{"empty", nil, 0, ErrInvalidPDF},
		{"not a PDF", []byte("<html>hello</html>\n<!-- %%EOF -->"), 0, ErrInvalidPDF},
		{"truncated", good[:len(good)/2], 0, ErrInvalidPDF},
		{"broken xref", bytes.Replace(good, []byte("startxref\n"), []byte("startxref\n9"), 1), 0, ErrInvalidPDF},
		{"too large", good, 100, ErrTooLarge},
		{"huge /Size", bytes.Replace(good, []byte("/Size 7"), []byte("/Size 9999999999"), 1), 0, ErrInvalidPDF},
	}
	if _, err := exec.LookPath("qpdf"); err == nil {
		tests = append(tests, struct {
			name string
			in   []byte
			max  int64
			want error
		}{"encrypted", testpki.QPDF(t, good, "--encrypt", "u", "o", "256", "--"), 0, ErrEncrypted})
	} else {
		testpki.Need(t, "qpdf")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(context.Background(), bytes.NewReader(tt.in), int64(len(tt.in)), Options{MaxSize: tt.max})
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("unsigned", func(t *testing.T) {
		rep := verifyBytes(t, good, Options{})
		if rep.Signatures == nil || len(rep.Signatures) != 0 || rep.Revisions != 1 {
			t.Fatalf("%+v", rep)
		}
		if b, _ := json.Marshal(rep); !bytes.Contains(b, []byte(`"signatures":[]`)) {
			t.Errorf("JSON %s", b)
		}
	})
}

// TestBrokenSignatures damages the signature's own structures.
func TestBrokenSignatures(t *testing.T) {
	ca := newTestCA(t)
	signed := ca.sign(t, testpki.MinimalPDF(1), "ecdsa", pades.LevelBB, "")
	br := regexpByteRange.FindSubmatchIndex(signed)
	contents := bytes.LastIndex(signed, []byte("/Contents <")) + len("/Contents <")
	tests := []struct {
		name string
		mod  func([]byte) []byte
		ind  Indication
		sub  SubIndication
	}{
		{"byte range shifted", func(b []byte) []byte {
			// [0 a c d] -> [1 a c d]: the first range no longer starts at 0.
			b[br[2]] = '1'
			return b
		}, TotalFailed, FormatFailure},
		{"CMS garbage", func(b []byte) []byte {
			copy(b[contents:], "3082")
			b[contents+10] = 'F'
			return b
		}, TotalFailed, FormatFailure},
		{"signature value flipped", func(b []byte) []byte {
			// The last non-zero hex digit of the CMS is in the signature value.
			end := bytes.IndexByte(b[contents:], '>') + contents
			i := end - 1
			for b[i] == '0' {
				i--
			}
			if b[i] == '1' {
				b[i] = '2'
			} else {
				b[i] = '1'
			}
			return b
		}, TotalFailed, SigCryptoFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := verifyBytes(t, tt.mod(bytes.Clone(signed)), Options{Roots: ca.Pool()})
			if len(rep.Signatures) != 1 {
				t.Fatalf("%d signatures", len(rep.Signatures))
			}
			if s := rep.Signatures[0]; s.Indication != tt.ind || s.SubIndication != tt.sub {
				t.Fatalf("%s/%s, want %s/%s\n%s", s.Indication, s.SubIndication, tt.ind, tt.sub, dump(t, rep))
			}
		})
	}
}

func TestMaskID(t *testing.T) {
	tests := []struct{ in, typ, masked string }{
		{"CCCD:038092004567", "CCCD", "038*******67"},
		{"CMND:123456789", "CMND", "123****89"},
		{"038092004567", "", "038*******67"},
		{"HC:B123", "HC", "****"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if typ, m := MaskID(tt.in); typ != tt.typ || m != tt.masked {
				t.Fatalf("MaskID(%q) = %q, %q", tt.in, typ, m)
			}
		})
	}
}

// TestReportJSON writes an example report (go test -run ReportJSON -v shows it) and
// checks the stable snake_case names.
func TestReportJSON(t *testing.T) {
	ca := newTestCA(t)
	signed := ca.sign(t, ca.sign(t, testpki.MinimalPDF(1), "ecdsa", pades.LevelBT, ""), "rsa", pades.LevelBB, "")
	rep := verifyBytes(t, signed, Options{Roots: ca.Pool()})
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"validation_time"`, `"field_name"`, `"sub_filter"`, `"id_masked": "038*******67"`, `"claimed_time"`,
		`"covers_whole_document"`, `"changes_after_signing"`, `"indication": "TOTAL_PASSED"`, `"level": "B-T"`, `"time_source"`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("report lacks %s", k)
		}
	}
	if bytes.Contains(b, []byte("038092004567")) {
		t.Error("the report holds the full ID number")
	}
	if dir := os.Getenv("MOTLAN_VERIFY_EXAMPLE"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "report.json"), b, 0o644)
	}
	if testing.Verbose() {
		t.Logf("%s", b)
	}
}
