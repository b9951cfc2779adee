package ltv

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/motlan/motlan/internal/pdf"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/signing/pades"
	"github.com/motlan/motlan/signing/verify"
)

// vriStreams reads the /DSS /VRI entry with key: the decoded streams of /Cert, /OCSP and
// /CRL, each checked to be a stream the matching DSS array holds (the same object).
func vriStreams(t *testing.T, data []byte, key string) (certs, ocsps, crls [][]byte, ok bool) {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	dss := r.Trailer().Key("Root").Key("DSS")
	e := dss.Key("VRI").Key(key)
	if e.Kind() != pdf.Dict {
		return nil, nil, nil, false
	}
	read := func(entry, array string) [][]byte {
		held := map[[2]uint32]bool{}
		a := dss.Key(array)
		for i := 0; i < a.Len(); i++ {
			p := a.Index(i).GetPtr()
			held[[2]uint32{p.GetID(), uint32(p.GetGen())}] = true
		}
		var out [][]byte
		v := e.Key(entry)
		for i := 0; i < v.Len(); i++ {
			s := v.Index(i)
			p := s.GetPtr()
			if s.Kind() != pdf.Stream || !held[[2]uint32{p.GetID(), uint32(p.GetGen())}] {
				t.Fatalf("/VRI /%s /%s[%d] is not a stream of /DSS /%s", key, entry, i, array)
			}
			b, err := io.ReadAll(s.Reader())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	return read("Cert", "Certs"), read("OCSP", "OCSPs"), read("CRL", "CRLs"), true
}

// checkVRI checks data's VRI entries: the first withVRI signatures and document
// timestamps (those a DSS update saw) have one, keyed by pades.VRIKey of their
// /Contents, naming every certificate of their CMS (and the root), and for each of those
// below the root an OCSP response for its serial or a CRL from its issuer; later ones
// have none. verify.Verify reports the same.
func checkVRI(t *testing.T, w *world, data []byte, withVRI int) {
	t.Helper()
	sigs, err := signatures(data)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sigs {
		certs, ocsps, crls, ok := vriStreams(t, data, pades.VRIKey(s.contents))
		if ok != (i < withVRI) {
			t.Fatalf("signature %d (%s): VRI entry %v, want %v", i, s.field, ok, i < withVRI)
		}
		if !ok {
			continue
		}
		cms, err := cmsCertificates(s.contents, 0)
		if err != nil {
			t.Fatal(err)
		}
		has := containsItem
		if !has(certs, w.ca.Root().Raw) {
			t.Fatalf("signature %d: the VRI entry lacks the root", i)
		}
		for _, c := range cms {
			if !has(certs, c.Raw) {
				t.Fatalf("signature %d: the VRI entry lacks the CMS certificate %q", i, c.Subject.CommonName)
			}
			if selfSigned(c) {
				continue
			}
			covered := false
			for _, o := range ocsps {
				if resp, err := ocsp.ParseResponse(o, nil); err == nil && resp.SerialNumber.Cmp(c.SerialNumber) == 0 {
					covered = true
				}
			}
			for _, der := range crls {
				if crl, err := x509.ParseRevocationList(der); err == nil && bytes.Equal(crl.RawIssuer, c.RawIssuer) {
					covered = true
				}
			}
			if !covered {
				t.Fatalf("signature %d: the VRI entry has no revocation data for %q", i, c.Subject.CommonName)
			}
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(w.ca.Root())
	rep, err := verify.Verify(context.Background(), bytes.NewReader(data), int64(len(data)), verify.Options{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if rep.DSS == nil || rep.DSS.VRIEntries != withVRI {
		t.Fatalf("verify: DSS %+v, want %d VRI entries", rep.DSS, withVRI)
	}
	for i, s := range rep.Signatures {
		if s.VRIEntry != (i < withVRI) {
			t.Fatalf("verify: signature %d (%s) vri_entry=%v, want %v", i, s.Type, s.VRIEntry, i < withVRI)
		}
	}
}

func containsItem(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

// TestCollectVRI: Collect returns a VRI entry per signature and document timestamp,
// keyed by its /Contents and stamped with Config.Now; the signature's entry holds the
// TSA's certificate of its signature timestamp; extending again merges into the same
// entries rather than adding others.
func TestCollectVRI(t *testing.T) {
	w := newWorld(t)
	c := w.newCitizen(t)
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	e := w.extender(t, func(cfg *Config) { cfg.Now = func() time.Time { return now } })
	ctx := context.Background()
	lta, err := e.Extend(ctx, w.sign(t, c, testpki.MinimalPDF(1), pades.LevelBT), LevelLTA)
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := signatures(lta)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := e.Collect(ctx, lta)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 2 || len(ev.VRI) != 2 {
		t.Fatalf("%d signatures, %d VRI entries; want 2 and 2", len(sigs), len(ev.VRI))
	}
	tsaCert := func(der []byte) bool {
		cert, err := x509.ParseCertificate(der)
		return err == nil && len(cert.ExtKeyUsage) == 1 && cert.ExtKeyUsage[0] == x509.ExtKeyUsageTimeStamping
	}
	for i, v := range ev.VRI {
		if !bytes.Equal(v.Contents, sigs[i].contents) || !v.Time.Equal(now) {
			t.Fatalf("VRI entry %d: not for signature %d, or time %v", i, i, v.Time)
		}
		if !containsItem(v.Certs, c.cert.Raw) != sigs[i].docTimestamp {
			t.Fatalf("VRI entry %d: the citizen's certificate present=%v", i, containsItem(v.Certs, c.cert.Raw))
		}
		tsa := false
		for _, der := range v.Certs {
			tsa = tsa || tsaCert(der)
		}
		if !tsa || len(v.OCSPs) == 0 {
			t.Fatalf("VRI entry %d: TSA certificate %v, %d OCSP responses", i, tsa, len(v.OCSPs))
		}
	}

	out, err := e.Extend(ctx, lta, LevelLT)
	if err != nil {
		t.Fatal(err)
	}
	checkVRI(t, w, out, 2)
	again, err := e.Extend(ctx, out, LevelLT)
	if err != nil {
		t.Fatal(err)
	}
	checkVRI(t, w, again, 2)
}
