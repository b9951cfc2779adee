package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/cms"
	"github.com/motlan/motlan/internal/testpki"
)

// One table test per EN 319 102-1 building block (blocks.go), on CMS built in the test
// with internal/cms and certificates from an in-memory CA.

var blockDigest = sha256.Sum256([]byte("the bytes a ByteRange covers"))

// detachedCMS is a PAdES-style detached CMS over blockDigest signed by cert, with
// signing-certificate-v2 of scv2For (cert when nil) and the extra signed attributes.
func detachedCMS(t *testing.T, cert *x509.Certificate, key crypto.Signer, scv2For *x509.Certificate, extra ...[]byte) []byte {
	t.Helper()
	if scv2For == nil {
		scv2For = cert
	}
	scv2, err := cms.SigningCertificateV2(scv2For)
	if err != nil {
		t.Fatal(err)
	}
	b := cms.Builder{EContentType: cms.OIDData, Signer: cert, Certificates: [][]byte{cert.Raw}}
	b.SignatureAlgorithm, _ = cms.SignatureAlgorithmFor(key.Public())
	if b.SignedAttrs, err = cms.SignedAttributes(cms.OIDData, blockDigest[:], append([][]byte{scv2}, extra...)...); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(b.SignedAttrs)
	if b.Signature, err = key.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	der, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustParse(t *testing.T, der []byte) *signedData {
	t.Helper()
	sd, err := parseSignedData(der)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// attrValue is the single value of an encoded Attribute.
func attrValue(t *testing.T, attr []byte) []byte {
	t.Helper()
	var a struct {
		Type   asn1.ObjectIdentifier
		Values []asn1.RawValue `asn1:"set"`
	}
	if _, err := asn1.Unmarshal(attr, &a); err != nil || len(a.Values) != 1 {
		t.Fatalf("attribute: %v", err)
	}
	return a.Values[0].FullBytes
}

func digestOf(sum []byte) func(crypto.Hash) []byte {
	return func(crypto.Hash) []byte { return sum }
}

func TestFormatChecking(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Citizen(t, "ecdsa")
	good := detachedCMS(t, cert, key, nil)
	token, err := ca.Timestamper(nil)(context.Background(), blockDigest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		subFilter string
		contents  []byte
		wantCMS   bool
		ind       Indication
		sub       SubIndication
		level     string
	}{
		{"CAdES detached", "ETSI.CAdES.detached", good, true, "", "", ""},
		{"PKCS#7 detached, zero padded", "adbe.pkcs7.detached", append(bytes.Clone(good), make([]byte, 64)...), true, "", "", ""},
		{"unsupported SubFilter", "adbe.x509.rsa_sha1", good, false, Indeterminate, FormatFailure, "not PAdES"},
		{"not DER", "ETSI.CAdES.detached", []byte("not a CMS"), false, TotalFailed, FormatFailure, "not PAdES"},
		{"bytes after the CMS", "ETSI.CAdES.detached", append(bytes.Clone(good), 1), false, TotalFailed, FormatFailure, "not PAdES"},
		{"encapsulated content", "ETSI.CAdES.detached", token, true, TotalFailed, FormatFailure, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Signature
			sd := formatChecking(&s, sigDict{subFilter: tt.subFilter, contents: tt.contents})
			if (sd != nil) != tt.wantCMS || s.Indication != tt.ind || s.SubIndication != tt.sub || s.Level != tt.level {
				t.Fatalf("CMS %v, %s/%s, level %q, errors %v", sd != nil, s.Indication, s.SubIndication, s.Level, s.Errors)
			}
			if tt.wantCMS && tt.ind == "" && (s.Signer == nil || s.Signer.Name != testpki.CitizenName || s.Signer.IDMasked != "038*******67") {
				t.Fatalf("signer %+v", s.Signer)
			}
		})
	}
}

func TestIdentifySigningCertificate(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Citizen(t, "ecdsa")
	other, _ := ca.Citizen(t, "ecdsa")
	scv2, _ := cms.SigningCertificateV2(cert)
	value := attrValue(t, scv2)
	with := func(signer *x509.Certificate, attrs ...cms.Attribute) *signedData {
		return &signedData{SignedData: &cms.SignedData{}, si: &cms.SignerInfo{SignedAttrs: attrs}, signerCert: signer}
	}
	attr := func(values ...[]byte) cms.Attribute {
		return cms.Attribute{Type: cms.OIDAttrSigningCertV2, Values: values}
	}
	tests := []struct {
		name    string
		sd      *signedData
		present bool
		wantErr string
	}{
		{"names the signer", mustParse(t, detachedCMS(t, cert, key, nil)), true, ""},
		{"names another certificate", mustParse(t, detachedCMS(t, cert, key, other)), true, "does not identify the signer's certificate"},
		{"absent", with(cert), false, ""},
		{"two values", with(cert, attr(value, value)), true, "must have one value"},
		{"malformed", with(cert, attr([]byte{0x30, 0x00})), true, "malformed"},
		{"no signer certificate", with(nil, attr(value)), true, "no signer certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			present, err := identifySigningCertificate(tt.sd)
			if present != tt.present || (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("present %v, err %v; want %v, %q", present, err, tt.present, tt.wantErr)
			}
		})
	}
}

func TestCryptographicVerification(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Citizen(t, "ecdsa")
	rsaCert, rsaKey := ca.Citizen(t, "rsa")
	der := detachedCMS(t, cert, key, nil)
	tests := []struct {
		name   string
		der    []byte
		mutate func(*signedData)
		digest []byte
		sub    SubIndication
		sigOK  bool
		alg    x509.SignatureAlgorithm
	}{
		{"ECDSA", der, nil, blockDigest[:], "", true, x509.ECDSAWithSHA256},
		{"RSA", detachedCMS(t, rsaCert, rsaKey, nil), nil, blockDigest[:], "", true, x509.SHA256WithRSA},
		{"other signed bytes", der, nil, make([]byte, 32), HashFailure, true, x509.ECDSAWithSHA256},
		{"tampered signature", der, func(sd *signedData) { sd.si.Signature = bytes.Clone(sd.si.Signature); sd.si.Signature[8] ^= 1 }, blockDigest[:], SigCryptoFailure, false, x509.ECDSAWithSHA256},
		{"SHA-1 digest", der, func(sd *signedData) { sd.si.DigestAlgorithm.Algorithm = cms.OIDSHA1 }, blockDigest[:], CryptoConstraintsFailure, false, 0},
		{"unknown signature algorithm", der, func(sd *signedData) { sd.si.SignatureAlgorithm.Algorithm = asn1.ObjectIdentifier{1, 2, 3} }, blockDigest[:], CryptoConstraintsFailure, false, 0},
		{"no signing certificate", der, func(sd *signedData) { sd.signerCert = nil }, blockDigest[:], NoSigningCertificateFound, false, 0},
		{"no signed attributes", der, func(sd *signedData) { sd.si.SignedAttrs = nil }, blockDigest[:], FormatFailure, false, 0},
		{"messageDigest missing", der, func(sd *signedData) { sd.si.SignedAttrs = sd.si.SignedAttrs[:1] }, blockDigest[:], FormatFailure, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd := mustParse(t, tt.der)
			if tt.mutate != nil {
				tt.mutate(sd)
			}
			c := cryptographicVerification(sd, digestOf(tt.digest))
			if c.sub != tt.sub || c.sigValid != tt.sigOK || c.sigAlg != tt.alg || (c.sub == "") != (c.err == "") {
				t.Fatalf("sub %q (%s), signature valid %v, algorithm %v", c.sub, c.err, c.sigValid, c.sigAlg)
			}
		})
	}
}

func TestSignatureAcceptanceValidation(t *testing.T) {
	signingTime, _ := asn1.Marshal(time.Date(2026, 1, 2, 8, 30, 0, 0, time.UTC))
	ct := func(oid asn1.ObjectIdentifier) cms.Attribute {
		v, _ := asn1.Marshal(oid)
		return cms.Attribute{Type: cms.OIDAttrContentType, Values: [][]byte{v}}
	}
	sd := func(attrs ...cms.Attribute) *signedData {
		return &signedData{SignedData: &cms.SignedData{}, si: &cms.SignerInfo{SignedAttrs: append([]cms.Attribute{ct(cms.OIDData)}, attrs...)}}
	}
	scv1 := cms.Attribute{Type: cms.OIDAttrSigningCert, Values: [][]byte{{0x30, 0}}}
	tests := []struct {
		name       string
		subFilter  string
		sd         *signedData
		scv2       bool
		scv2Err    error
		ts         *Timestamp
		level      string
		wantReason string
	}{
		{"B-T", "ETSI.CAdES.detached", sd(), true, nil, &Timestamp{Valid: true}, "B-T", ""},
		{"B-B without timestamp", "ETSI.CAdES.detached", sd(), true, nil, nil, "B-B", "B-T: no signature timestamp"},
		{"B-B with an invalid timestamp", "ETSI.CAdES.detached", sd(), true, nil, &Timestamp{}, "B-B", "B-T: the signature timestamp is not valid"},
		{"no signing-certificate-v2", "ETSI.CAdES.detached", sd(), false, nil, nil, "not PAdES", "no ESS signing-certificate-v2"},
		{"only signing-certificate v1", "ETSI.CAdES.detached", sd(scv1), false, nil, nil, "not PAdES", "(v1, SHA-1) is not accepted"},
		{"signing-certificate-v2 names another", "ETSI.CAdES.detached", sd(), true, errScv2, nil, "not PAdES", errScv2.Error()},
		{"signingTime", "ETSI.CAdES.detached", sd(cms.Attribute{Type: cms.OIDAttrSigningTime, Values: [][]byte{signingTime}}), true, nil, &Timestamp{Valid: true}, "not PAdES", "signingTime signed attribute present"},
		{"contentType not id-data", "ETSI.CAdES.detached", &signedData{SignedData: &cms.SignedData{}, si: &cms.SignerInfo{SignedAttrs: []cms.Attribute{ct(cms.OIDTSTInfo)}}}, true, nil, nil, "not PAdES", "contentType signed attribute is not id-data"},
		{"PKCS7-B", "adbe.pkcs7.detached", sd(), false, nil, nil, "PKCS7-B", "PAdES baseline needs ETSI.CAdES.detached"},
		{"PKCS7-T", "adbe.pkcs7.detached", sd(), false, nil, &Timestamp{Valid: true}, "PKCS7-T", "PAdES baseline needs ETSI.CAdES.detached"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Signature{Timestamp: tt.ts}
			signatureAcceptanceValidation(&s, tt.sd, tt.subFilter, tt.scv2, tt.scv2Err, tt.ts != nil && tt.ts.Valid)
			reasons := strings.Join(s.LevelReasons, "\n")
			if s.Level != tt.level || (tt.wantReason == "") != (reasons == "") || !strings.Contains(reasons, tt.wantReason) {
				t.Fatalf("level %q, reasons %q", s.Level, reasons)
			}
			if s.Indication != "" {
				t.Fatalf("acceptance decided the indication: %s", s.Indication)
			}
		})
	}
}

var errScv2 = errors.New("signing-certificate-v2 does not identify the signer's certificate")

func TestTimestampValidation(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Citizen(t, "ecdsa")
	token, err := ca.Timestamper(nil)(context.Background(), blockDigest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name    string
		tok     []byte
		digest  []byte
		roots   *x509.CertPool
		at      time.Time
		valid   bool
		imprint bool
		sigOK   bool
		chainOK bool
		wantErr string
	}{
		{"valid", token, blockDigest[:], ca.Pool(), now, true, true, true, true, ""},
		{"over other bytes", token, make([]byte, 32), ca.Pool(), now, false, false, true, true, "the message imprint does not match"},
		{"untrusted TSA", token, blockDigest[:], x509.NewCertPool(), now, false, true, true, false, "TSA chain"},
		{"TSA expired at the proof of existence", token, blockDigest[:], ca.Pool(), now.AddDate(10, 0, 0), false, true, true, false, "TSA chain"},
		{"not a token", []byte("garbage"), blockDigest[:], ca.Pool(), now, false, false, false, false, "token: "},
		{"a signature, not a token", detachedCMS(t, cert, key, nil), blockDigest[:], ca.Pool(), now, false, false, false, false, "does not encapsulate a TSTInfo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(nil, Options{Roots: tt.roots, At: now})
			ts, path := v.timestampValidation(tt.tok, digestOf(tt.digest), tt.at)
			if ts.Valid != tt.valid || ts.ImprintMatches != tt.imprint || ts.SignatureValid != tt.sigOK || ts.ChainTrusted != tt.chainOK ||
				!strings.Contains(ts.Error, tt.wantErr) || (tt.wantErr == "") != (ts.Error == "") {
				t.Fatalf("%+v", ts)
			}
			if (path != nil) != tt.chainOK || (tt.chainOK && !path[len(path)-1].Equal(ca.Root)) {
				t.Fatalf("path %v", path)
			}
			if tt.sigOK && (ts.TSA == "" || ts.Time.IsZero()) {
				t.Fatalf("TSA %q, time %v", ts.TSA, ts.Time)
			}
		})
	}
}

func TestPastSignatureValidation(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tsTime, docTime, laterDocTime := at.AddDate(-3, 0, 0), at.AddDate(-2, 0, 0), at.AddDate(-1, 0, 0)
	docTS := []docTSInfo{
		{end: 5000, time: laterDocTime, field: "later", proven: true},
		{end: 3000, time: docTime, field: "archive", proven: true},
		{end: 4000, time: at.AddDate(-4, 0, 0), field: "unproven", proven: false},
	}
	tests := []struct {
		name    string
		ts      *Timestamp
		end     int64
		brOK    bool
		want    time.Time
		src     string
		sources []string
	}{
		{"signature timestamp", &Timestamp{Valid: true, Time: tsTime}, 1000, true, tsTime, "timestamp", []string{"signature_timestamp", "document_timestamp", "document_timestamp"}},
		{"timestamp after the validation time", &Timestamp{Valid: true, Time: at.AddDate(1, 0, 0)}, 1000, true, docTime, "document_timestamp", []string{"document_timestamp", "document_timestamp"}},
		{"earliest covering document timestamp", nil, 1000, true, docTime, "document_timestamp", []string{"document_timestamp", "document_timestamp"}},
		{"only the later one covers", nil, 3000, true, laterDocTime, "document_timestamp", []string{"document_timestamp"}},
		{"nothing covers", nil, 5000, true, at, "validation_time", nil},
		{"unusable ByteRange", nil, 1000, false, at, "validation_time", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(nil, Options{At: at})
			v.docTS = docTS
			s := Signature{Timestamp: tt.ts, Coverage: Coverage{SignedEnd: tt.end}}
			got, src := v.pastSignatureValidation(&s, tt.ts != nil && tt.ts.Valid, tt.brOK)
			var sources []string
			for i, p := range s.ProofsOfExistence {
				sources = append(sources, p.Source)
				if i > 0 && p.Source == "document_timestamp" && p.Time.Before(s.ProofsOfExistence[i-1].Time) && s.ProofsOfExistence[i-1].Source == "document_timestamp" {
					t.Errorf("document timestamps out of order: %v", s.ProofsOfExistence)
				}
			}
			if !got.Equal(tt.want) || src != tt.src || strings.Join(sources, ",") != strings.Join(tt.sources, ",") {
				t.Fatalf("%v from %s, POEs %v; want %v from %s, %v", got, src, sources, tt.want, tt.src, tt.sources)
			}
		})
	}
}

func TestX509Validation(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Citizen(t, "ecdsa")
	sd := mustParse(t, detachedCMS(t, cert, key, nil))
	now := time.Now()
	tests := []struct {
		name    string
		roots   *x509.CertPool
		signer  *x509.Certificate
		at      time.Time
		trusted bool
		ind     Indication
		sub     SubIndication
	}{
		{"trusted now", ca.Pool(), cert, now, true, "", ""},
		{"unknown root", x509.NewCertPool(), cert, now, false, Indeterminate, NoCertificateChainFound},
		{"expired before the proof of existence", ca.Pool(), cert, cert.NotAfter.Add(time.Hour), false, Indeterminate, OutOfBoundsNoPOE},
		{"not yet valid", ca.Pool(), cert, cert.NotBefore.Add(-time.Hour), false, Indeterminate, NotYetValid},
		{"no signing certificate", ca.Pool(), nil, now, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(nil, Options{Roots: tt.roots, At: now})
			s := Signature{}
			d := *sd
			d.signerCert = tt.signer
			path := v.x509Validation(&s, &d, tt.at, "validation_time", nil)
			if (path != nil) != tt.trusted || s.Chain.Trusted != tt.trusted || s.Indication != tt.ind || s.SubIndication != tt.sub {
				t.Fatalf("path %d, chain %+v, %s/%s %v", len(path), s.Chain, s.Indication, s.SubIndication, s.Errors)
			}
			if tt.trusted && (len(s.Chain.Path) != 2 || len(s.Revocation) != 1 || s.Revocation[0].Role != "signer" || s.Revocation[0].Status != StatusUnknown ||
				!strings.Contains(strings.Join(s.Warnings, "\n"), "revocation not checked")) {
				t.Fatalf("chain %v, revocation %+v, warnings %v", s.Chain.Path, s.Revocation, s.Warnings)
			}
			if tt.signer != nil && !s.Chain.ValidatedAt.Equal(tt.at.UTC()) {
				t.Fatalf("validated at %v, want %v", s.Chain.ValidatedAt, tt.at)
			}
		})
	}
}
