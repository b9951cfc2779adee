package verify

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
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

// signBT signs in at B-T as a new citizen of ca and returns the certificate too.
func (ca *testCA) signBT(t testing.TB, in []byte) ([]byte, *x509.Certificate) {
	t.Helper()
	cert, key := ca.Citizen(t, "ecdsa")
	opt := pades.Options{Certificate: cert, Chain: []*x509.Certificate{ca.Root}, Time: time.Now(), Level: pades.LevelBT, Timestamp: ca.Timestamper(nil)}
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, pades.FromCryptoSigner(key), opt); err != nil {
		t.Fatalf("pades.Sign: %v", err)
	}
	return out.Bytes(), cert
}

// ocspDER builds an OCSP response about cert issued by issuer, signed by key; responder
// is embedded (delegated) unless nil (then the issuer signs).
func ocspDER(t testing.TB, cert, issuer, responder *x509.Certificate, key crypto.Signer, status int, revokedAt, this time.Time) []byte {
	t.Helper()
	tmpl := ocsp.Response{Status: status, SerialNumber: cert.SerialNumber, ThisUpdate: this, NextUpdate: this.Add(time.Hour), RevokedAt: revokedAt, RevocationReason: ocsp.KeyCompromise}
	signer := issuer
	if responder != nil {
		tmpl.Certificate, signer = responder, responder
	}
	der, err := ocsp.CreateResponse(issuer, signer, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// crlDER builds a CRL of issuer signed by key, revoking the given serials at revokedAt.
func crlDER(t testing.TB, issuer *x509.Certificate, key crypto.Signer, this, revokedAt time.Time, serials ...*big.Int) []byte {
	t.Helper()
	return crlDERExt(t, issuer, key, this, revokedAt, nil, serials...)
}

// crlDERExt is crlDER with extra CRL extensions.
func crlDERExt(t testing.TB, issuer *x509.Certificate, key crypto.Signer, this, revokedAt time.Time, ext []pkix.Extension, serials ...*big.Int) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(this.UnixNano()), ThisUpdate: this, NextUpdate: this.Add(time.Hour), ExtraExtensions: ext}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: revokedAt, ReasonCode: ocsp.KeyCompromise})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// responderCert issues an OCSP responder certificate from ca's root, with or without
// id-kp-OCSPSigning.
func responderCert(t testing.TB, ca *testpki.CA, eku bool) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	_, key := ca.Citizen(t, "ecdsa") // only for a fresh key
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "Test OCSP Responder"}, KeyUsage: x509.KeyUsageDigitalSignature}
	if eku {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	}
	return ca.Issue(t, tmpl, key.Public(), 24*time.Hour), key
}

// TestRevocationEvidence checks the evidence rules on OCSP responses and CRLs put in the
// DSS of a B-T signature: what counts, what is refused and why, and that evidence a third
// party forged can neither fail nor pass a signature.
func TestRevocationEvidence(t *testing.T) {
	ca := newTestCA(t)
	rogue := testpki.NewCAWith(t, testpki.Config{RootName: "Motlan Verify Test Root"}) // same name, other key
	other := testpki.NewCA(t)
	base := testpki.MinimalPDF(1)
	now := time.Now().UTC().Truncate(time.Second)
	delegated, delegatedKey := responderCert(t, ca.CA, true)
	noEKU, noEKUKey := responderCert(t, ca.CA, false)
	foreign, foreignKey := responderCert(t, other, true)

	tests := []struct {
		name     string
		evidence func(cert *x509.Certificate) pades.Evidence
		require  bool
		ind      Indication
		sub      SubIndication
		status   string
		problem  string // in the signer's only evidence item ("" none)
		items    int    // evidence items listed for the signer
		check    func(t *testing.T, s Signature)
	}{
		{"issuer OCSP good", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{OCSPs: [][]byte{ocspDER(t, c, ca.Root, nil, ca.RootKey, ocsp.Good, time.Time{}, now)}}
		}, true, Indeterminate, TryLater, StatusGood, "", 1, nil}, // the TSA has no evidence: TRY_LATER
		{"delegated OCSP good", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{OCSPs: [][]byte{
				ocspDER(t, c, ca.Root, delegated, delegatedKey, ocsp.Good, time.Time{}, now),
				ocspDER(t, ca.TSA, ca.Root, delegated, delegatedKey, ocsp.Good, time.Time{}, now),
			}}
		}, true, TotalPassed, "", StatusGood, "", 1, nil},
		{"CRL good", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{CRLs: [][]byte{crlDER(t, ca.Root, ca.RootKey, now, now)}}
		}, true, TotalPassed, "", StatusGood, "", 1, nil},
		{"OCSP revoked before signing", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{OCSPs: [][]byte{ocspDER(t, c, ca.Root, nil, ca.RootKey, ocsp.Revoked, now.Add(-time.Minute), now)}}
		}, true, TotalFailed, Revoked, StatusRevoked, "", 1, nil}, // outranks the TSA's TRY_LATER
		{"CRL revoked before signing", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{CRLs: [][]byte{crlDER(t, ca.Root, ca.RootKey, now, now.Add(-time.Minute), c.SerialNumber)}}
		}, false, TotalFailed, Revoked, StatusRevoked, "", 1, nil},
		{"CRL of CA certificates only", func(c *x509.Certificate) pades.Evidence {
			idp := pkix.Extension{Id: oidIssuingDistributionPoint, Critical: true, Value: []byte{0x30, 0x03, 0x82, 0x01, 0xff}}
			return pades.Evidence{CRLs: [][]byte{crlDERExt(t, ca.Root, ca.RootKey, now, now, []pkix.Extension{idp})}}
		}, true, Indeterminate, TryLater, StatusUnknown, "holds only CA certificates", 1, nil},
		{"OCSP revoked after signing", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{OCSPs: [][]byte{ocspDER(t, c, ca.Root, nil, ca.RootKey, ocsp.Revoked, now.Add(time.Minute), now.Add(time.Minute))}}
		}, false, TotalPassed, "", StatusGood, "", 1, nil},
		// Forgeries and misuse: never decisive.
		{"responder of another CA says revoked", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{OCSPs: [][]byte{ocspDER(t, c, ca.Root, foreign, foreignKey, ocsp.Revoked, now.Add(-time.Hour), now)}}
		}, false, TotalPassed, "", StatusUnknown, "not certified by the certificate's issuer", 1, nil},
		{"responder without OCSPSigning says revoked", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{OCSPs: [][]byte{ocspDER(t, c, ca.Root, noEKU, noEKUKey, ocsp.Revoked, now.Add(-time.Hour), now)}}
		}, false, TotalPassed, "", StatusUnknown, "lacks id-kp-OCSPSigning", 1, nil},
		{"CRL under the issuer's name, another key", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{CRLs: [][]byte{crlDER(t, rogue.Root, rogue.RootKey, now, now.Add(-time.Hour), c.SerialNumber)}}
		}, false, TotalPassed, "", StatusUnknown, "signature does not verify", 1, nil},
		{"OCSP whose CertID names another issuer", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{OCSPs: [][]byte{ocspDER(t, c, other.Root, nil, ca.RootKey, ocsp.Revoked, now.Add(-time.Hour), now)}}
		}, false, TotalPassed, "", StatusUnknown, "", 0, nil},
		{"stale OCSP", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{OCSPs: [][]byte{ocspDER(t, c, ca.Root, nil, ca.RootKey, ocsp.Good, time.Time{}, now.Add(-3*time.Hour))}}
		}, true, Indeterminate, TryLater, StatusUnknown, "not current", 1, nil},
		{"OCSP from after the validation time", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{OCSPs: [][]byte{ocspDER(t, c, ca.Root, nil, ca.RootKey, ocsp.Revoked, now.Add(-time.Hour), now.Add(2*time.Hour))}}
		}, false, TotalPassed, "", StatusUnknown, "issued after the validation time", 1, nil},
		{"TSA revoked before its timestamp", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{OCSPs: [][]byte{ocspDER(t, ca.TSA, ca.Root, nil, ca.RootKey, ocsp.Revoked, now.Add(-time.Hour), now)}}
		}, false, TotalPassed, "", StatusUnknown, "", 0, func(t *testing.T, s Signature) {
			// The timestamp is set aside: B-B, the signer checked at the validation time.
			if st := statusOf(s, "timestamp"); st == nil || st.Status != StatusRevoked || s.Timestamp.Valid || s.Level != "B-B" || s.Chain.TimeSource != "validation_time" {
				t.Fatalf("TSA status %+v, timestamp %+v, level %s, time source %s", st, s.Timestamp, s.Level, s.Chain.TimeSource)
			}
		}},
		{"OCSP unknown", func(c *x509.Certificate) pades.Evidence {
			return pades.Evidence{OCSPs: [][]byte{ocspDER(t, c, ca.Root, nil, ca.RootKey, ocsp.Unknown, time.Time{}, now)}}
		}, false, TotalPassed, "", StatusUnknown, "does not know the certificate", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed, cert := ca.signBT(t, base)
			ev := tt.evidence(cert)
			ev.Certs = [][]byte{ca.TSA.Raw}
			lt := addDSS(t, signed, ev)
			rep := verifyBytes(t, lt, Options{Roots: ca.Pool(), At: now.Add(30 * time.Minute), RequireRevocation: tt.require})
			s := rep.Signatures[0]
			st := statusOf(s, "signer")
			if s.Indication != tt.ind || s.SubIndication != tt.sub || st == nil || st.Status != tt.status || len(st.Evidence) != tt.items {
				t.Fatalf("%s/%s, signer %+v; want %s/%s %s with %d items\n%s", s.Indication, s.SubIndication, st, tt.ind, tt.sub, tt.status, tt.items, dump(t, rep))
			}
			if tt.check != nil {
				tt.check(t, s)
			}
			if tt.items > 0 {
				ev := st.Evidence[0]
				if ev.Source != SourceDSS || !strings.Contains(ev.Problem, tt.problem) || (tt.problem == "") != (ev.Problem == "") {
					t.Fatalf("evidence %+v, want problem %q", ev, tt.problem)
				}
			}
		})
	}
}

// withDSS appends an update that gives the catalog (object 1, the last definition in
// in) a /DSS entry and defines objs, numbered from the trailer's /Size; "{0}", "{1}"
// and "{2}" in dss and objs stand for the first three new object numbers.
func withDSS(t testing.TB, in []byte, dss string, objs ...string) []byte {
	t.Helper()
	cats := regexp.MustCompile(`(?s)\n1 0 obj\s*(<<.*?>>)\s*endobj`).FindAllSubmatch(in, -1)
	sizes := regexp.MustCompile(`/Size (\d+)`).FindAllSubmatch(in, -1)
	if len(cats) == 0 || len(sizes) == 0 {
		t.Fatal("no catalog or /Size")
	}
	size, _ := strconv.Atoi(string(sizes[len(sizes)-1][1]))
	cat := cats[len(cats)-1][1]
	refs := strings.NewReplacer("{0}", strconv.Itoa(size), "{1}", strconv.Itoa(size+1), "{2}", strconv.Itoa(size+2))
	m := map[int]string{1: string(cat[:len(cat)-2]) + " /DSS " + refs.Replace(dss) + " >>"}
	for i, o := range objs {
		m[size+i] = refs.Replace(o)
	}
	out := appendUpdate(t, in, m)
	i := bytes.LastIndex(out, []byte("/Size "))
	j := i + len("/Size ") + len(sizes[len(sizes)-1][1])
	return append(append(append([]byte{}, out[:i]...), fmt.Sprintf("/Size %d", size+len(objs))...), out[j:]...)
}

func stream(b []byte, filter string) string {
	return fmt.Sprintf("<< /Length %d%s >>\nstream\n%s\nendstream", len(b), filter, b)
}

// hostileDSS returns signed B-T files whose DSS is hostile, each with the problem the
// report must name (or "" when the DSS is merely useless).
func hostileDSS(t testing.TB, ca *testCA) []struct {
	name, problem string
	pdf           []byte
} {
	t.Helper()
	signed, cert := ca.signBT(t, testpki.MinimalPDF(1))
	var bomb bytes.Buffer
	zw := zlib.NewWriter(&bomb)
	zw.Write(make([]byte, 8<<20))
	zw.Close()
	goodOCSP := ocspDER(t, cert, ca.Root, nil, ca.RootKey, ocsp.Good, time.Time{}, time.Now().UTC().Truncate(time.Minute))
	many := "[" + strings.Repeat("{1} 0 R ", 5000) + "]"
	return []struct {
		name, problem string
		pdf           []byte
	}{
		{"DSS not a dictionary", "/DSS is not a dictionary", withDSS(t, signed, "42")},
		{"arrays of the wrong types", "is not an array", withDSS(t, signed, "<< /Certs << /A 1 >> /OCSPs [1 2 (x)] /CRLs 7 >>")},
		{"thousands of references to one garbage stream", "more than 256", withDSS(t, signed, "<< /OCSPs {0} 0 R >>", many, stream([]byte("not DER"), ""))},
		{"decompression bomb", "cannot be decoded or exceeds", withDSS(t, signed, "<< /CRLs [{0} 0 R] >>", stream(bomb.Bytes(), " /Filter /FlateDecode"))},
		{"broken filter", "cannot be decoded", withDSS(t, signed, "<< /Certs [{0} 0 R] >>", stream([]byte("garbage"), " /Filter /FlateDecode"))},
		{"VRI loops to itself", "", withDSS(t, signed, "<< /VRI {0} 0 R /OCSPs [{1} 0 R] >>", "<< /AB {0} 0 R /Cert {0} 0 R /OCSP [{1} 0 R {1} 0 R] >>", stream(goodOCSP, ""))},
		{"VRI not a dictionary", "/VRI is not a dictionary", withDSS(t, signed, "<< /VRI [1 2 3] >>")},
		{"DSS is the catalog", "", withDSS(t, signed, "1 0 R")},
		{"truncated DER in every array", "", withDSS(t, signed, "<< /Certs [{0} 0 R] /OCSPs [{0} 0 R] /CRLs [{0} 0 R] >>", stream(goodOCSP[:len(goodOCSP)/2], ""))},
	}
}

// TestHostileDSS: a hostile DSS gives a report naming the problem, in bounded time; the
// signature's own result is unaffected.
func TestHostileDSS(t *testing.T) {
	ca := newTestCA(t)
	for _, tc := range hostileDSS(t, ca) {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				rep Report
				err error
			}
			done := make(chan result, 1)
			go func() {
				rep, err := Verify(context.Background(), bytes.NewReader(tc.pdf), int64(len(tc.pdf)), Options{Roots: ca.Pool()})
				done <- result{rep, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Verify did not return within 10s")
			}
			if r.err != nil {
				if errors.Is(r.err, ErrInvalidPDF) && tc.problem == "" {
					return // the PDF guard refused the structure: also acceptable
				}
				t.Fatalf("Verify: %v", r.err)
			}
			if len(r.rep.Signatures) != 1 || r.rep.Signatures[0].Indication != TotalPassed || r.rep.Signatures[0].Level != "B-T" {
				t.Fatalf("signature %+v", r.rep.Signatures)
			}
			if tc.problem != "" && (r.rep.DSS == nil || !strings.Contains(strings.Join(r.rep.DSS.Problems, "\n"), tc.problem)) {
				t.Fatalf("DSS %+v, want a problem containing %q", r.rep.DSS, tc.problem)
			}
		})
	}
}

// TestVRIEvidence: an OCSP response found only in the signature's /VRI entry (keyed by
// the SHA-1 of its /Contents) is used and reported as from the VRI; the signature is
// reported as having a VRI entry.
func TestVRIEvidence(t *testing.T) {
	ca := newTestCA(t)
	signed, cert := ca.signBT(t, testpki.MinimalPDF(1))
	m := regexpByteRange.FindSubmatch(signed)
	if m == nil {
		t.Fatal("no ByteRange")
	}
	b1, _ := strconv.Atoi(string(m[2]))
	b2, _ := strconv.Atoi(string(m[3]))
	contents, err := hex.DecodeString(string(signed[b1+1 : b2-1]))
	if err != nil {
		t.Fatal(err)
	}
	key := sha1.Sum(contents)
	now := time.Now().UTC().Truncate(time.Minute)
	resp := ocspDER(t, cert, ca.Root, nil, ca.RootKey, ocsp.Good, time.Time{}, now)
	b := withDSS(t, signed, fmt.Sprintf("<< /VRI << /%X << /OCSP [{0} 0 R] >> >> >>", key), stream(resp, ""))
	rep := verifyBytes(t, b, Options{Roots: ca.Pool()})
	s := rep.Signatures[0]
	st := statusOf(s, "signer")
	if !s.VRIEntry || rep.DSS == nil || rep.DSS.VRIEntries != 1 || st == nil || st.Status != StatusGood || !st.FromDSS ||
		len(st.Evidence) != 1 || st.Evidence[0].Source != SourceVRI || !st.Evidence[0].Used {
		t.Fatalf("VRI entry %v, DSS %+v, signer %+v", s.VRIEntry, rep.DSS, st)
	}
}

// withCMSCRL rewrites the signature's /Contents (same length) with crl added to the
// SignedData crls field, which no signature covers.
func withCMSCRL(t testing.TB, signed, crl []byte) []byte {
	t.Helper()
	m := regexpByteRange.FindSubmatch(signed)
	b1, _ := strconv.Atoi(string(m[2]))
	b2, _ := strconv.Atoi(string(m[3]))
	der, err := hex.DecodeString(string(signed[b1+1 : b2-1]))
	if err != nil {
		t.Fatal(err)
	}
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		t.Fatal(err)
	}
	var sd struct { // SignedData, its fields kept as they are but crls
		Version          int
		DigestAlgorithms asn1.RawValue
		EncapContentInfo asn1.RawValue
		Certificates     asn1.RawValue `asn1:"optional,tag:0"`
		CRLs             asn1.RawValue `asn1:"optional,tag:1"`
		SignerInfos      asn1.RawValue
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		t.Fatal(err)
	}
	sd.CRLs = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: crl}
	sdDER, err := asn1.Marshal(sd)
	if err != nil {
		t.Fatal(err)
	}
	// ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }, written by hand.
	oid, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2})
	content, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sdDER})
	out, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: append(oid, content...)})
	if err != nil || len(out) > len(der) {
		t.Fatalf("re-encoded CMS: %v, %d > %d bytes", err, len(out), len(der))
	}
	enc := hex.EncodeToString(append(out, make([]byte, len(der)-len(out))...))
	return append(append(append([]byte{}, signed[:b1+1]...), enc...), signed[b2-1:]...)
}

// TestCMSRevocationData: a CRL in the CMS crls field is used (source "cms"), but the
// level stays B-T: B-LT needs the evidence in the DSS.
func TestCMSRevocationData(t *testing.T) {
	ca := newTestCA(t)
	signed, cert := ca.signBT(t, testpki.MinimalPDF(1))
	now := time.Now().UTC().Truncate(time.Second)
	tests := []struct {
		name    string
		crl     []byte
		status  string
		ind     Indication
		sub     SubIndication
		revoked bool
	}{
		{"good", crlDER(t, ca.Root, ca.RootKey, now, now), StatusGood, TotalPassed, "", false},
		{"revoked before signing", crlDER(t, ca.Root, ca.RootKey, now, now.Add(-time.Hour), cert.SerialNumber), StatusRevoked, TotalFailed, Revoked, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := withCMSCRL(t, signed, tt.crl)
			rep := verifyBytes(t, b, Options{Roots: ca.Pool()})
			s := rep.Signatures[0]
			st := statusOf(s, "signer")
			if s.Indication != tt.ind || s.SubIndication != tt.sub || !s.Integrity.SignatureValid || st == nil || st.Status != tt.status || st.FromDSS ||
				len(st.Evidence) != 1 || st.Evidence[0].Source != SourceCMS || (st.RevokedAt != nil) != tt.revoked {
				t.Fatalf("%s/%s, signer %+v\n%s", s.Indication, s.SubIndication, st, dump(t, rep))
			}
			if s.Level != "B-T" || !strings.Contains(strings.Join(s.LevelReasons, "\n"), "B-LT: the DSS holds no usable revocation evidence for the signer's certificate") {
				t.Fatalf("level %s, reasons %v", s.Level, s.LevelReasons)
			}
		})
	}
}
