package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"
	"golang.org/x/crypto/ocsp"

	"github.com/motlan/motlan/internal/testenv"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/keys/tsa"
	"github.com/motlan/motlan/signing/pades"
)

// ltvEnv is the dev CA (root, issuing CA, delegated OCSP responder, CRLs) and the real
// RFC 3161 TSA of keys/tsa, served over loopback HTTP at the URLs the certificates
// carry, with a clock the test can move forward, and an NSS database trusting the root
// for pdfsig.
type ltvEnv struct {
	ca     *ca.DevCA
	tsaID  *ca.Identity
	srv    *httptest.Server
	db     string
	offset atomic.Int64 // added to the wall clock, nanoseconds
	closed atomic.Bool
}

func (e *ltvEnv) now() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }

func newLTVEnv(t *testing.T) *ltvEnv {
	t.Helper()
	ctx := context.Background()
	e := &ltvEnv{}
	mk := make([]byte, keys.MasterKeySize)
	rand.Read(mk)
	sealer, err := keys.NewSealer(mk)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.close)
	discard := slog.New(slog.DiscardHandler)
	e.ca, err = ca.New(ctx, ca.Config{Storage: &ca.MemStorage{}, Sealer: sealer, BaseURL: e.srv.URL, Now: e.now, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	if e.tsaID, err = e.ca.TimestampingIdentity(ctx); err != nil {
		t.Fatal(err)
	}
	ts, err := tsa.New(tsa.Config{Signer: e.tsaID.Signer, Certificate: e.tsaID.Certificate, Chain: e.tsaID.Chain, IncludeChain: true, Now: e.now, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/ca/", e.ca.Handler())
	mux.Handle("/tsa", ts)
	e.db = testpki.NSSDB(t, e.ca.Root())
	return e
}

// close stops the HTTP server: after it, nothing answers OCSP, CRL or TSA requests.
func (e *ltvEnv) close() {
	if e.closed.CompareAndSwap(false, true) {
		e.srv.CloseClientConnections() // pdfsig may leave connections open
		e.srv.Close()
	}
}

// timestamp asks the TSA over HTTP.
func (e *ltvEnv) timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	return tsa.Request(ctx, e.srv.Client(), e.srv.URL+"/tsa", digest, h)
}

func (e *ltvEnv) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(e.ca.Root())
	return p
}

// citizen issues a certificate to a new citizen key.
func (e *ltvEnv) citizen(t *testing.T) (*x509.Certificate, []*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, chain, err := e.ca.IssueCitizenCert(context.Background(), ca.CitizenCertRequest{PublicKey: key.Public(), FullName: testpki.CitizenName, CCCD: "038092004567", Province: "Thanh Hóa"})
	if err != nil {
		t.Fatal(err)
	}
	return cert, chain, key
}

// sign signs in at B-B or B-T (the TSA over HTTP).
func (e *ltvEnv) sign(t *testing.T, in []byte, level pades.Level, cert *x509.Certificate, chain []*x509.Certificate, key crypto.Signer) []byte {
	t.Helper()
	opt := pades.Options{
		Certificate: cert,
		Chain:       chain,
		Reason:      "Ký hồ sơ đăng ký khai sinh",
		Location:    "Thanh Hóa",
		Time:        e.now(),
		Level:       level,
	}
	if level == pades.LevelBT {
		opt.Timestamp = e.timestamp
	}
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, pades.FromCryptoSigner(key), opt); err != nil {
		t.Fatalf("pades.Sign: %v", err)
	}
	return out.Bytes()
}

// get fetches url from the loopback server.
func (e *ltvEnv) get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := e.srv.Client().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %s", url, err, resp.Status)
	}
	return b
}

// ocspOver asks cert's OCSP responder (the URL in the certificate) over HTTP POST and
// returns the DER response and its parsed form.
func (e *ltvEnv) ocspOver(t *testing.T, cert *x509.Certificate) ([]byte, *ocsp.Response) {
	t.Helper()
	req, err := ocsp.CreateRequest(cert, e.ca.IssuingCA(), &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.srv.Client().Post(cert.OCSPServer[0], "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	der, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ocsp.ParseResponseForCert(der, cert, e.ca.IssuingCA())
	if err != nil {
		t.Fatalf("OCSP for %s: %v", cert.Subject.CommonName, err)
	}
	return der, parsed
}

// evidence collects, over HTTP, what B-LT needs: the CA certificates, the TSA's and
// the OCSP responder's certificates, OCSP responses for the signer and the TSA, and the
// CRLs at the distribution points the certificates name.
func (e *ltvEnv) evidence(t *testing.T, signer *x509.Certificate) pades.Evidence {
	t.Helper()
	var ev pades.Evidence
	add := func(list *[][]byte, b []byte) {
		for _, x := range *list {
			if bytes.Equal(x, b) {
				return
			}
		}
		*list = append(*list, b)
	}
	for _, c := range append(e.ca.Chain(), e.tsaID.Certificate) {
		add(&ev.Certs, c.Raw)
	}
	for _, c := range []*x509.Certificate{signer, e.tsaID.Certificate} {
		der, parsed := e.ocspOver(t, c)
		add(&ev.OCSPs, der)
		if parsed.Certificate != nil {
			add(&ev.Certs, parsed.Certificate.Raw)
		}
	}
	add(&ev.CRLs, e.get(t, signer.CRLDistributionPoints[0]))
	add(&ev.CRLs, e.get(t, e.ca.IssuingCA().CRLDistributionPoints[0]))
	return ev
}

func addDSS(t testing.TB, in []byte, ev pades.Evidence) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := pades.AddDSS(context.Background(), bytes.NewReader(in), int64(len(in)), &out, ev); err != nil {
		t.Fatalf("AddDSS: %v", err)
	}
	return out.Bytes()
}

func (e *ltvEnv) addDocTimestamp(t *testing.T, in []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := pades.AddDocumentTimestamp(context.Background(), bytes.NewReader(in), int64(len(in)), &out, e.timestamp); err != nil {
		t.Fatalf("AddDocumentTimestamp: %v", err)
	}
	return out.Bytes()
}

// build signs in at level ("B-B", "B-T", "B-LT", "B-LTA"), collecting the LT evidence
// over HTTP right after signing.
func (e *ltvEnv) build(t *testing.T, in []byte, level string, cert *x509.Certificate, chain []*x509.Certificate, key crypto.Signer) []byte {
	t.Helper()
	if level == "B-B" {
		return e.sign(t, in, pades.LevelBB, cert, chain, key)
	}
	b := e.sign(t, in, pades.LevelBT, cert, chain, key)
	if level == "B-T" {
		return b
	}
	b = addDSS(t, b, e.evidence(t, cert))
	if level == "B-LT" {
		return b
	}
	return e.addDocTimestamp(t, b)
}

// dossier is a one-page Vietnamese form written with go-pdf/fpdf and DejaVuSans.
func dossier(t *testing.T) []byte {
	t.Helper()
	const font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	ttf, err := os.ReadFile(font)
	if err != nil {
		testenv.Missing(t, "%s (Debian: fonts-dejavu-core)", font)
		return nil
	}
	pdf := fpdf.New("P", "pt", "A4", "")
	pdf.SetCreationDate(time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC))
	pdf.SetModificationDate(time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC))
	pdf.SetTitle("Tờ khai đăng ký khai sinh", true)
	pdf.AddUTF8FontFromBytes("DejaVu", "", ttf)
	pdf.AddPage()
	pdf.SetFont("DejaVu", "", 14)
	pdf.Text(60, 80, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
	pdf.Text(60, 110, "Tờ khai đăng ký khai sinh — Nguyễn Văn Lĩnh")
	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func statusOf(s Signature, role string) *CertStatus {
	for i := range s.Revocation {
		if s.Revocation[i].Role == role {
			return &s.Revocation[i]
		}
	}
	return nil
}

func levels() []string { return []string{"B-B", "B-T", "B-LT", "B-LTA"} }

// TestLongTermValidation is the issue's "Done when": for each level B-B, B-T, B-LT and
// B-LTA, real PDFs signed with a dev CA citizen certificate, the keys/tsa TSA and the
// dev CA's OCSP responder over loopback HTTP are checked with pdfsig and the report;
// the citizen's certificate is then revoked and the server stopped, and the files are
// validated offline now and after the certificate's expiry, with and without
// RequireRevocation. A file whose DSS shows the certificate revoked before signing
// fails.
func TestLongTermValidation(t *testing.T) {
	e := newLTVEnv(t)
	ctx := context.Background()
	inputs := []struct {
		name string
		pdf  []byte
	}{
		{"minimal", testpki.MinimalPDF(2)},
		{"fpdf-dossier", dossier(t)},
	}
	type signed struct {
		input, level string
		pdf          []byte
		cert         *x509.Certificate
	}
	var files []signed

	// Online: sign, check with pdfsig (which may use the OCSP responder) and the report.
	for _, in := range inputs {
		for _, level := range levels() {
			t.Run("online/"+in.name+"/"+level, func(t *testing.T) {
				cert, chain, key := e.citizen(t)
				start := time.Now()
				b := e.build(t, in.pdf, level, cert, chain, key)
				t.Logf("%s %s: %d bytes (+%d over the input) in %v", in.name, level, len(b), len(b)-len(in.pdf), time.Since(start).Round(10*time.Microsecond))
				files = append(files, signed{in.name, level, b, cert})

				out, sigs := testpki.Pdfsig(t, e.db, b)
				wantSigs := map[bool]int{false: 1, true: 2}[level == "B-LTA"]
				if len(sigs) != wantSigs || !sigs[0].Valid || !sigs[0].Trusted || !sigs[0].CAdES || sigs[0].CN != testpki.CitizenName {
					t.Fatalf("pdfsig: want %d signatures, the first valid and trusted:\n%s", wantSigs, out)
				}
				if level == "B-LTA" && (!sigs[1].Total || sigs[1].CN != e.tsaID.Certificate.Subject.CommonName) {
					t.Fatalf("pdfsig: the document timestamp:\n%s", out)
				}

				vstart := time.Now()
				rep := verifyBytes(t, b, Options{Roots: e.roots()})
				t.Logf("%s %s: verified in %v", in.name, level, time.Since(vstart).Round(10*time.Microsecond))
				s := rep.Signatures[0]
				if s.Indication != TotalPassed || s.Level != level {
					t.Fatalf("report: %s/%s level %s, want TOTAL_PASSED %s\n%s", s.Indication, s.SubIndication, s.Level, level, dump(t, rep))
				}
				strict := verifyBytes(t, b, Options{Roots: e.roots(), RequireRevocation: true}).Signatures[0]
				switch level {
				case "B-B", "B-T":
					// Nothing in the file says the certificate is not revoked; it is still
					// valid, so evidence can be fetched: TRY_LATER.
					if st := statusOf(s, "signer"); st == nil || st.Status != StatusUnknown || st.FromDSS || len(st.Evidence) != 0 {
						t.Fatalf("signer status %+v", st)
					}
					if strict.Indication != Indeterminate || strict.SubIndication != TryLater {
						t.Fatalf("RequireRevocation: %s/%s, want INDETERMINATE/TRY_LATER", strict.Indication, strict.SubIndication)
					}
					if rep.DSS != nil {
						t.Fatalf("DSS reported: %+v", rep.DSS)
					}
				default:
					checkLTStatus(t, s, "signer", s.Timestamp.Time)
					// The TSA is checked at the signature timestamp's own POE: the document
					// timestamp for B-LTA, else the validation time.
					tsaAt := rep.ValidationTime
					if level == "B-LTA" {
						tsaAt = rep.TimestampChain[0].Time
					}
					checkLTStatus(t, s, "timestamp", tsaAt)
					if strict.Indication != TotalPassed {
						t.Fatalf("RequireRevocation: %s/%s %v", strict.Indication, strict.SubIndication, strict.Errors)
					}
					if rep.DSS == nil || rep.DSS.Certs < 4 || rep.DSS.OCSPs != 2 || rep.DSS.CRLs != 2 || len(rep.DSS.Problems) != 0 {
						t.Fatalf("DSS summary %+v", rep.DSS)
					}
				}
				if level == "B-LTA" {
					if len(rep.TimestampChain) != 1 || !rep.TimestampChain[0].Valid || len(s.ProofsOfExistence) != 2 ||
						s.ProofsOfExistence[0].Source != "signature_timestamp" || s.ProofsOfExistence[1].Source != "document_timestamp" {
						t.Fatalf("timestamp chain %+v, proofs of existence %+v", rep.TimestampChain, s.ProofsOfExistence)
					}
					dts := rep.Signatures[1]
					if dts.Type != "document_timestamp" || dts.Indication != TotalPassed || statusOf(dts, "timestamp") == nil {
						t.Fatalf("document timestamp %+v", dts)
					}
				} else if len(rep.TimestampChain) != 0 {
					t.Fatalf("timestamp chain %+v", rep.TimestampChain)
				}
			})
		}
	}
	if t.Failed() {
		return
	}

	// The archive's renewal: fresh evidence for the last TSA, then another document
	// timestamp; the first document timestamp is now checked at the second's time.
	t.Run("online/archive-renewal", func(t *testing.T) {
		var lta []byte
		for _, f := range files {
			if f.level == "B-LTA" && f.input == "minimal" {
				lta = f.pdf
			}
		}
		tsaOCSP, _ := e.ocspOver(t, e.tsaID.Certificate)
		renewed := e.addDocTimestamp(t, addDSS(t, lta, pades.Evidence{OCSPs: [][]byte{tsaOCSP}}))
		if out, sigs := testpki.Pdfsig(t, e.db, renewed); len(sigs) != 3 || !sigs[0].Valid || !sigs[0].Trusted {
			t.Fatalf("pdfsig:\n%s", out)
		}
		rep := verifyBytes(t, renewed, Options{Roots: e.roots(), RequireRevocation: true})
		if len(rep.Signatures) != 3 || len(rep.TimestampChain) != 2 || !rep.TimestampChain[0].Valid || !rep.TimestampChain[1].Valid {
			t.Fatalf("%d signatures, timestamp chain %+v", len(rep.Signatures), rep.TimestampChain)
		}
		first, second := rep.Signatures[1], rep.TimestampChain[1]
		if first.Indication != TotalPassed || first.Chain.TimeSource != "document_timestamp" || !first.Chain.ValidatedAt.Equal(second.Time) ||
			!rep.TimestampChain[0].ValidatedAt.Equal(second.Time) {
			t.Fatalf("first document timestamp %s/%s checked at %v (%s), want at %v\n%s", first.Indication, first.SubIndication, first.Chain.ValidatedAt, first.Chain.TimeSource, second.Time, dump(t, rep))
		}
		if s := rep.Signatures[0]; s.Indication != TotalPassed || s.Level != "B-LTA" || len(s.ProofsOfExistence) != 3 {
			t.Fatalf("signature %s/%s level %s, proofs of existence %+v", s.Indication, s.SubIndication, s.Level, s.ProofsOfExistence)
		}
	})

	// A citizen whose certificate was revoked a minute before signing, with the DSS
	// showing it (B-LT and B-LTA).
	cert, chain, key := e.citizen(t)
	if err := e.ca.Revoke(ctx, cert.SerialNumber, ca.ReasonKeyCompromise, e.now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	revokedLT := e.build(t, inputs[0].pdf, "B-LT", cert, chain, key)
	revokedLTA := e.addDocTimestamp(t, revokedLT)
	if out, sigs := testpki.Pdfsig(t, e.db, revokedLT); len(sigs) != 1 || !sigs[0].Valid || sigs[0].Trusted {
		t.Fatalf("pdfsig trusts a certificate revoked before signing:\n%s", out)
	}

	// Ten minutes later every other citizen's certificate is revoked: after signing.
	e.offset.Store(int64(10 * time.Minute))
	revokedAt := e.now().Truncate(time.Second)
	for _, f := range files {
		if err := e.ca.Revoke(ctx, f.cert.SerialNumber, ca.ReasonKeyCompromise, revokedAt); err != nil {
			t.Fatal(err)
		}
		if _, r := e.ocspOver(t, f.cert); r.Status != ocsp.Revoked {
			t.Fatalf("OCSP status %d after revocation", r.Status)
		}
	}
	// An LT file extended with the new OCSP response: revoked, but after the POE.
	var laterEvidence []byte
	for _, f := range files {
		if f.level == "B-LT" && f.input == "minimal" {
			der, _ := e.ocspOver(t, f.cert)
			laterEvidence = addDSS(t, f.pdf, pades.Evidence{OCSPs: [][]byte{der}})
		}
	}
	e.close()

	now := e.now().Add(20 * time.Minute)
	expired := files[0].cert.NotAfter.Add(24 * time.Hour)
	type want struct {
		ind Indication
		sub SubIndication
	}
	tests := []struct {
		name    string
		level   string
		at      time.Time
		require bool
		want    want
		// timeSource is where the signer's path validation time came from.
		timeSource string
	}{
		// Offline after the revocation: B-B and B-T carry no evidence, so the verifier
		// cannot know; B-LT and B-LTA carry evidence of good status at signing time.
		{"revoked/B-B", "B-B", now, false, want{TotalPassed, ""}, "validation_time"},
		{"revoked/B-B/require", "B-B", now, true, want{Indeterminate, TryLater}, "validation_time"},
		{"revoked/B-T/require", "B-T", now, true, want{Indeterminate, TryLater}, "timestamp"},
		{"revoked/B-LT", "B-LT", now, false, want{TotalPassed, ""}, "timestamp"},
		{"revoked/B-LT/require", "B-LT", now, true, want{TotalPassed, ""}, "timestamp"},
		{"revoked/B-LTA", "B-LTA", now, false, want{TotalPassed, ""}, "timestamp"},
		{"revoked/B-LTA/require", "B-LTA", now, true, want{TotalPassed, ""}, "timestamp"},
		// After the citizen's certificate expired. B-B has no proof of existence.
		{"expired/B-B", "B-B", expired, false, want{Indeterminate, OutOfBoundsNoPOE}, "validation_time"},
		// B-T: the signature timestamp proves the signature predates expiry, but nothing
		// in the file proves the certificate was not revoked then.
		{"expired/B-T", "B-T", expired, false, want{TotalPassed, ""}, "timestamp"},
		{"expired/B-T/require", "B-T", expired, true, want{Indeterminate, RevocationOutOfBoundsNoPOE}, "timestamp"},
		// B-LT and B-LTA: the POE precedes expiry and the DSS covers it.
		{"expired/B-LT", "B-LT", expired, false, want{TotalPassed, ""}, "timestamp"},
		{"expired/B-LTA", "B-LTA", expired, false, want{TotalPassed, ""}, "timestamp"},
		// With RequireRevocation, the last TSA's status at the validation time is not in
		// the file (its certificate is still valid: TRY_LATER): only a newer document
		// timestamp or the network can settle it.
		{"expired/B-LT/require", "B-LT", expired, true, want{Indeterminate, TryLater}, "timestamp"},
		{"expired/B-LTA/require", "B-LTA", expired, true, want{Indeterminate, TryLater}, "timestamp"},
	}
	for _, tt := range tests {
		for _, f := range files {
			if f.level != tt.level {
				continue
			}
			t.Run("offline/"+tt.name+"/"+f.input, func(t *testing.T) {
				rep := verifyBytes(t, f.pdf, Options{Roots: e.roots(), At: tt.at, RequireRevocation: tt.require})
				s := rep.Signatures[0]
				if s.Indication != tt.want.ind || s.SubIndication != tt.want.sub || s.Chain.TimeSource != tt.timeSource {
					t.Fatalf("%s/%s (time source %s), want %s/%s (%s)\n%s", s.Indication, s.SubIndication, s.Chain.TimeSource, tt.want.ind, tt.want.sub, tt.timeSource, dump(t, rep))
				}
				if s.Level != tt.level {
					t.Fatalf("level %s, want %s", s.Level, tt.level)
				}
				if tt.level == "B-LT" || tt.level == "B-LTA" {
					checkLTStatus(t, s, "signer", s.Timestamp.Time)
				}
				if tt.want.ind == TotalPassed && !tt.require && (tt.level == "B-B" || tt.level == "B-T") &&
					!strings.Contains(strings.Join(s.Warnings, "\n"), "revocation not checked") {
					t.Fatalf("no warning that revocation was not checked: %v", s.Warnings)
				}
			})
		}
	}

	t.Run("offline/revoked-after-poe-evidence", func(t *testing.T) {
		rep := verifyBytes(t, laterEvidence, Options{Roots: e.roots(), At: now, RequireRevocation: true})
		s := rep.Signatures[0]
		st := statusOf(s, "signer")
		if s.Indication != TotalPassed || st == nil || st.Status != StatusGood || st.RevokedAt == nil || !st.RevokedAt.Equal(revokedAt) || !st.FromDSS {
			t.Fatalf("%s/%s, signer %+v\n%s", s.Indication, s.SubIndication, st, dump(t, rep))
		}
	})
	for name, b := range map[string][]byte{"B-LT": revokedLT, "B-LTA": revokedLTA} {
		t.Run("offline/revoked-before-signing/"+name, func(t *testing.T) {
			for _, at := range []time.Time{now, expired} {
				rep := verifyBytes(t, b, Options{Roots: e.roots(), At: at})
				s := rep.Signatures[0]
				st := statusOf(s, "signer")
				if s.Indication != TotalFailed || s.SubIndication != Revoked || st == nil || st.Status != StatusRevoked || !st.FromDSS || st.Reason != "keyCompromise" {
					t.Fatalf("at %v: %s/%s, signer %+v\n%s", at, s.Indication, s.SubIndication, st, dump(t, rep))
				}
			}
		})
	}
}

// checkLTStatus: the role's certificate is good at t according to evidence from the DSS,
// which the report names.
func checkLTStatus(t *testing.T, s Signature, role string, at time.Time) {
	t.Helper()
	st := statusOf(s, role)
	if st == nil || st.Status != StatusGood || !st.FromDSS || !st.CheckedAt.Equal(at.UTC()) {
		t.Fatalf("%s status %+v, want good at %v from the DSS", role, st, at)
	}
	used := 0
	for _, ev := range st.Evidence {
		if ev.Used {
			used++
			if ev.Source != SourceDSS || ev.Status != StatusGood || ev.Problem != "" {
				t.Fatalf("%s evidence %+v", role, ev)
			}
		}
	}
	if used == 0 {
		t.Fatalf("%s: no evidence used: %+v", role, st.Evidence)
	}
}
