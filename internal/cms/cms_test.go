package cms_test

import (
	"bytes"
	"crypto"
	_ "crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/motlan/motlan/internal/cms"
	"github.com/motlan/motlan/internal/testpki"
)

var update = flag.Bool("update", false, "rewrite the golden DER files in testdata")

func algID(oid asn1.ObjectIdentifier) pkix.AlgorithmIdentifier {
	return pkix.AlgorithmIdentifier{Algorithm: oid}
}

func TestAlgorithms(t *testing.T) {
	tests := []struct {
		name   string
		sigAlg asn1.ObjectIdentifier
		digest asn1.ObjectIdentifier
		want   x509.SignatureAlgorithm
	}{
		{"ecdsa key with SHA-256", cms.OIDECPublicKey, cms.OIDSHA256, x509.ECDSAWithSHA256},
		{"ecdsa key with SHA-512", cms.OIDECPublicKey, cms.OIDSHA512, x509.ECDSAWithSHA512},
		{"ecdsa-with-SHA384 agrees", cms.OIDECDSAWithSHA384, cms.OIDSHA384, x509.ECDSAWithSHA384},
		{"ecdsa-with-SHA256 over SHA-384 disagrees", cms.OIDECDSAWithSHA256, cms.OIDSHA384, x509.UnknownSignatureAlgorithm},
		{"rsaEncryption with SHA-384", cms.OIDRSAEncryption, cms.OIDSHA384, x509.SHA384WithRSA},
		{"sha256WithRSA", cms.OIDSHA256WithRSA, cms.OIDSHA256, x509.SHA256WithRSA},
		{"RSASSA-PSS with SHA-256", cms.OIDRSAPSS, cms.OIDSHA256, x509.SHA256WithRSAPSS},
		{"Ed25519 with any digest", cms.OIDEd25519, cms.OIDSHA512, x509.PureEd25519},
		{"RSA with SHA-1", cms.OIDRSAEncryption, cms.OIDSHA1, x509.UnknownSignatureAlgorithm},
		{"unknown", asn1.ObjectIdentifier{1, 2, 3}, cms.OIDSHA256, x509.UnknownSignatureAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cms.SignatureAlgorithm(tt.sigAlg, cms.Hash(tt.digest)); got != tt.want {
				t.Errorf("SignatureAlgorithm = %v, want %v", got, tt.want)
			}
		})
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		oid, ok := cms.HashOID(h)
		if !ok || cms.Hash(oid) != h || cms.HashName(oid) != h.String() {
			t.Errorf("%v: OID %v %v, back %v, name %q", h, oid, ok, cms.Hash(oid), cms.HashName(oid))
		}
	}
	if _, ok := cms.HashOID(crypto.MD5); ok || cms.Hash(asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}) != 0 {
		t.Error("MD5 has an OID")
	}
	if got := cms.HashName(asn1.ObjectIdentifier{1, 2, 3}); got != "1.2.3" {
		t.Errorf("HashName of an unknown OID = %q", got)
	}
}

// TestParseSignedData reads well-formed and broken encodings; broken ones are ErrFormat
// errors, never panics.
func TestParseSignedData(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Citizen(t, "ecdsa")
	detached := signed(t, cert, key, []byte("dossier"), true, cert, ca.Root)
	token := signed(t, ca.TSA, ca.TSAKey, []byte("signature value"), false, ca.TSA)
	seq := func(elems ...[]byte) []byte {
		b, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(elems, nil)})
		return b
	}
	contentInfo := func(typ asn1.ObjectIdentifier, content []byte) []byte {
		return seq(mustMarshal(typ), mustMarshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: content}))
	}
	ci := func(content []byte) []byte { return contentInfo(cms.OIDSignedData, seq(content)) }
	set := func(tag int, n int, elem []byte) []byte {
		b, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: true, Bytes: bytes.Repeat(elem, n)})
		if tag < 0 {
			b, _ = asn1.Marshal(asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Repeat(elem, n)})
		}
		return b
	}
	version, _ := asn1.Marshal(1)
	digestAlgs := set(-1, 1, seq(mustMarshal(cms.OIDSHA256)))
	eci := seq(mustMarshal(cms.OIDData))
	tests := []struct {
		name    string
		der     []byte
		wantErr string // "" when it parses
		check   func(*testing.T, *cms.SignedData, []byte)
	}{
		{name: "detached id-data", der: detached, check: func(t *testing.T, sd *cms.SignedData, rest []byte) {
			if !sd.EContentType.Equal(cms.OIDData) || sd.EContent != nil || len(sd.Certificates) != 2 || len(sd.Signers) != 1 || len(rest) != 0 {
				t.Fatalf("%+v rest %d", sd, len(rest))
			}
			si := &sd.Signers[0]
			if c := si.FindCertificate(sd.Certificates); c == nil || !c.Equal(cert) || len(si.SignedAttrs) != 3 || si.UnsignedAttrs != nil || !si.ContentTypeIs(cms.OIDData) {
				t.Fatalf("signer %+v", si)
			}
		}},
		{name: "time-stamp token", der: token, check: func(t *testing.T, sd *cms.SignedData, _ []byte) {
			if !sd.EContentType.Equal(cms.OIDTSTInfo) || len(sd.EContent) == 0 {
				t.Fatalf("eContent %v %d bytes", sd.EContentType, len(sd.EContent))
			}
			if err := sd.VerifyContent(&sd.Signers[0], ca.TSA); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "zero padding is returned", der: append(bytes.Clone(detached), 0, 0, 0), check: func(t *testing.T, _ *cms.SignedData, rest []byte) {
			if !bytes.Equal(rest, []byte{0, 0, 0}) {
				t.Fatalf("rest %x", rest)
			}
		}},
		{name: "no signers, no certificates", der: ci(bytes.Join([][]byte{version, digestAlgs, eci, set(-1, 0, nil)}, nil)), check: func(t *testing.T, sd *cms.SignedData, _ []byte) {
			if len(sd.Signers) != 0 || len(sd.Certificates) != 0 {
				t.Fatalf("%+v", sd)
			}
		}},
		{name: "an unparsable certificate is counted", der: ci(bytes.Join([][]byte{version, digestAlgs, eci, set(0, 1, seq(version)), set(-1, 0, nil)}, nil)), check: func(t *testing.T, sd *cms.SignedData, _ []byte) {
			if sd.BadCertificates != 1 || len(sd.Certificates) != 0 {
				t.Fatalf("%d bad, %d good", sd.BadCertificates, len(sd.Certificates))
			}
		}},
		{name: "constructed eContent", der: ci(bytes.Join([][]byte{version, digestAlgs,
			seq(mustMarshal(cms.OIDData), mustMarshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true,
				Bytes: mustMarshal(asn1.RawValue{Tag: asn1.TagOctetString, IsCompound: true, Bytes: append(mustMarshal([]byte("ab")), mustMarshal([]byte("cd"))...)})})),
			set(-1, 0, nil)}, nil)), check: func(t *testing.T, sd *cms.SignedData, _ []byte) {
			if string(sd.EContent) != "abcd" {
				t.Fatalf("eContent %q", sd.EContent)
			}
		}},
		{name: "empty", der: nil, wantErr: "ContentInfo"},
		{name: "not DER", der: []byte("%PDF-1.7"), wantErr: "ContentInfo"},
		{name: "enveloped data", der: contentInfo(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}, seq()), wantErr: "is not SignedData"},
		{name: "truncated", der: detached[:len(detached)/2], wantErr: "ContentInfo"},
		{name: "signerInfos not a SET", der: ci(bytes.Join([][]byte{version, digestAlgs, eci, seq()}, nil)), wantErr: "not a SET"},
		{name: "eContent not an OCTET STRING", der: ci(bytes.Join([][]byte{version, digestAlgs,
			seq(mustMarshal(cms.OIDData), mustMarshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(7)})),
			set(-1, 0, nil)}, nil)), wantErr: "not an OCTET STRING"},
		{name: "too many certificates", der: ci(bytes.Join([][]byte{version, digestAlgs, eci, set(0, cms.MaxElements+1, seq()), set(-1, 0, nil)}, nil)), wantErr: "more than 4096"},
		{name: "a malformed SignerInfo", der: ci(bytes.Join([][]byte{version, digestAlgs, eci, set(-1, 1, seq(version))}, nil)), wantErr: "SignerInfo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd, rest, err := cms.ParseSignedData(tt.der)
			if tt.wantErr != "" {
				if !errors.Is(err, cms.ErrFormat) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrFormat with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, sd, rest)
		})
	}
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestSignerChecks: messageDigest, contentType, signature and signing-certificate(-v2)
// checks against a good token and tampered ones.
func TestSignerChecks(t *testing.T) {
	ca := testpki.NewCA(t)
	other, _ := ca.Citizen(t, "ecdsa")
	tok := signed(t, ca.TSA, ca.TSAKey, []byte("signature value"), false, ca.TSA)
	parse := func(t *testing.T, der []byte) (*cms.SignedData, *cms.SignerInfo) {
		sd, _, err := cms.ParseSignedData(der)
		if err != nil {
			t.Fatal(err)
		}
		return sd, &sd.Signers[0]
	}
	tests := []struct {
		name   string
		mutate func(sd *cms.SignedData, si *cms.SignerInfo)
		cert   *x509.Certificate
		want   error
	}{
		{"good", func(*cms.SignedData, *cms.SignerInfo) {}, ca.TSA, nil},
		{"other content", func(sd *cms.SignedData, _ *cms.SignerInfo) { sd.EContent = []byte("x") }, ca.TSA, cms.ErrDigestMismatch},
		{"other key", func(*cms.SignedData, *cms.SignerInfo) {}, other, cms.ErrSignature},
		{"tampered signature", func(_ *cms.SignedData, si *cms.SignerInfo) {
			si.Signature = bytes.Clone(si.Signature)
			si.Signature[10] ^= 1
		}, ca.TSA, cms.ErrSignature},
		{"SHA-1 digest", func(_ *cms.SignedData, si *cms.SignerInfo) { si.DigestAlgorithm = algID(cms.OIDSHA1) }, ca.TSA, cms.ErrUnknownAlg},
		{"no messageDigest", func(_ *cms.SignedData, si *cms.SignerInfo) { si.SignedAttrs = si.SignedAttrs[:0] }, ca.TSA, cms.ErrMessageDigest},
		{"no signed attributes", func(_ *cms.SignedData, si *cms.SignerInfo) { si.RawSignedAttrs, si.SignedAttrs = nil, nil }, ca.TSA, cms.ErrNoSignedAttrs},
		{"unknown signature algorithm", func(_ *cms.SignedData, si *cms.SignerInfo) {
			si.SignatureAlgorithm = algID(asn1.ObjectIdentifier{1, 2, 3})
		}, ca.TSA, cms.ErrUnknownAlg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd, si := parse(t, tok)
			tt.mutate(sd, si)
			err := sd.VerifyContent(si, tt.cert)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("VerifyContent = %v, want %v", err, tt.want)
			}
		})
	}
	_, si := parse(t, tok)
	scv2 := cms.FindAttr(si.SignedAttrs, cms.OIDAttrSigningCertV2)
	if scv2 == nil || len(scv2.Values) != 1 {
		t.Fatal("no signing-certificate-v2")
	}
	if err := cms.MatchSigningCertificateV2(scv2.Values[0], ca.TSA); err != nil {
		t.Errorf("signing-certificate-v2 of the signer: %v", err)
	}
	if err := cms.MatchSigningCertificateV2(scv2.Values[0], other); err == nil {
		t.Error("signing-certificate-v2 matched another certificate")
	}
	if err := cms.MatchSigningCertificateV2([]byte{0x30, 0}, ca.TSA); err == nil {
		t.Error("an empty signing-certificate-v2 matched")
	}
	sum := sha1Sum(ca.TSA.Raw)
	v1 := mustMarshal(struct{ Certs []struct{ CertHash []byte } }{[]struct{ CertHash []byte }{{sum}}})
	if err := cms.MatchSigningCertificate(v1, ca.TSA); err != nil {
		t.Errorf("signing-certificate (v1): %v", err)
	}
	if err := cms.MatchSigningCertificate(v1, other); err == nil {
		t.Error("signing-certificate (v1) matched another certificate")
	}
}

func sha1Sum(b []byte) []byte {
	h := crypto.SHA1.New()
	h.Write(b)
	return h.Sum(nil)
}

func TestParseTimestampToken(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Citizen(t, "ecdsa")
	token := signed(t, ca.TSA, ca.TSAKey, []byte("signature value"), false, ca.TSA)
	withContent := func(content []byte) []byte {
		b := cms.Builder{EContentType: cms.OIDTSTInfo, EContent: content, Signer: ca.TSA, SignatureAlgorithm: algID(cms.OIDECDSAWithSHA256), Signature: []byte{1}}
		b.SignedAttrs, _ = cms.SignedAttributes(cms.OIDTSTInfo, make([]byte, 32))
		der, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	tests := []struct {
		name string
		der  []byte
		want []error // all must match; nil: parses
	}{
		{"token", token, nil},
		{"token and padding", append(bytes.Clone(token), 0, 0), nil},
		{"a detached signature", signed(t, cert, key, []byte("dossier"), true, cert), []error{cms.ErrNotTimestamp}},
		{"TSTInfo that does not parse", withContent([]byte{0x30, 0x03, 0x02, 0x01, 0x01}), []error{cms.ErrTSTInfo, cms.ErrFormat}},
		{"TSTInfo with bytes after it", withContent(append(tstInfo(t, []byte("x")), 0)), []error{cms.ErrTSTInfo, cms.ErrFormat}},
		{"not a SignedData", []byte{0x30, 0x00}, []error{cms.ErrFormat}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _, err := cms.ParseTimestampToken(tt.der)
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Fatalf("err = %v, want %v", err, w)
				}
			}
			if tt.want != nil {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.Info.Version != 1 || tok.Info.Nonce.Int64() != 42 || cms.Hash(tok.Imprint.HashAlgorithm.Algorithm) != crypto.SHA256 || tok.Signer != &tok.Signers[0] {
				t.Fatalf("%+v", tok.Info)
			}
			if err := tok.VerifyContent(tok.Signer, ca.TSA); err != nil {
				t.Fatal(err)
			}
		})
	}
}
