package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/motlan/motlan/internal/cms"
	"golang.org/x/crypto/ocsp"
)

// maxOCSPRequest bounds a POSTed OCSP request; real ones are about 100 bytes.
const maxOCSPRequest = 8 << 10

// responderIdentity returns the delegated OCSP responder for now: a key and certificate
// (id-kp-OCSPSigning, id-pkix-ocsp-nocheck) issued by the issuing CA, replaced every
// responderPeriod and valid for two periods, so every replica picks the same one.
func (ca *DevCA) responderIdentity(ctx context.Context) (*Identity, error) {
	now := ca.now()
	period := now.Unix() / int64(responderPeriod/time.Second)
	if s := ca.responder.Load(); s != nil && s.period == period {
		return s.id, nil
	}
	ca.respMu.Lock()
	defer ca.respMu.Unlock()
	if s := ca.responder.Load(); s != nil && s.period == period {
		return s.id, nil
	}
	start := time.Unix(period*int64(responderPeriod/time.Second), 0)
	name := recordResponderPrefix + strconv.FormatInt(period, 10)
	id, err := ca.loadOrCreate(ctx, name, ca.issuing, func(pub crypto.PublicKey) (*x509.Certificate, error) {
		serial, err := cms.RandomSerial()
		if err != nil {
			return nil, err
		}
		return &x509.Certificate{
			SerialNumber:          serial,
			Subject:               ca.caName(ca.cfg.Organization + " OCSP Responder " + strconv.FormatInt(period, 10)),
			NotBefore:             start.Add(-backdate),
			NotAfter:              capTime(start.Add(responderValidity), ca.issuing.Certificate.NotAfter),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
			BasicConstraintsValid: true,
			SubjectKeyId:          keyID(pub),
			IssuingCertificateURL: []string{ca.IssuingCertURL()},
			ExtraExtensions:       []pkix.Extension{{Id: OIDOCSPNoCheck, Value: []byte{0x05, 0x00}}},
		}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("ca: OCSP responder: %w", err)
	}
	ca.responder.Store(&responderSlot{period: period, id: id})
	return id, nil
}

// OCSPResponse answers an OCSP request (DER) as the delegated responder, for a
// certificate of the issuing CA: good, revoked or unknown (never issued). A malformed
// request gets a malformedRequest response, a request about another CA unauthorized.
// The error is for logging; the returned bytes are always a valid OCSP response.
func (ca *DevCA) OCSPResponse(ctx context.Context, reqDER []byte) ([]byte, error) {
	req, err := ocsp.ParseRequest(reqDER)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse, fmt.Errorf("ca: OCSP request: %w", err)
	}
	if req.SerialNumber == nil || req.SerialNumber.Sign() <= 0 || !req.HashAlgorithm.Available() {
		return ocsp.MalformedRequestErrorResponse, errors.New("ca: OCSP request: bad serial or hash")
	}
	if !ca.issuedByIssuing(req) {
		return ocsp.UnauthorizedErrorResponse, errors.New("ca: OCSP request for another issuer")
	}
	tmpl, err := ca.ocspStatus(ctx, req.SerialNumber)
	if err != nil {
		return ocsp.InternalErrorErrorResponse, err
	}
	resp, err := ca.responderIdentity(ctx)
	if err != nil {
		return ocsp.InternalErrorErrorResponse, err
	}
	tmpl.IssuerHash = req.HashAlgorithm
	tmpl.Certificate = resp.Certificate
	der, err := ocsp.CreateResponse(ca.issuing.Certificate, resp.Certificate, tmpl, resp.Signer)
	if err != nil {
		return ocsp.InternalErrorErrorResponse, fmt.Errorf("ca: OCSP response: %w", err)
	}
	return der, nil
}

func (ca *DevCA) ocspStatus(ctx context.Context, serial *big.Int) (ocsp.Response, error) {
	// x/crypto/ocsp sets producedAt to the wall clock truncated to the minute; keep
	// thisUpdate at or before it.
	this := ca.now().UTC().Truncate(time.Minute)
	tmpl := ocsp.Response{SerialNumber: serial, ThisUpdate: this, NextUpdate: this.Add(ca.cfg.CRLValidity)}
	r, revoked, err := ca.lookupRevocation(ctx, serial)
	if err != nil {
		return tmpl, err
	}
	switch {
	case revoked:
		tmpl.Status = ocsp.Revoked
		tmpl.RevokedAt = r.RevokedAt
		tmpl.RevocationReason = r.Reason
	case ca.known(ctx, serial):
		tmpl.Status = ocsp.Good
	default:
		tmpl.Status = ocsp.Unknown
	}
	return tmpl, nil
}

func (ca *DevCA) known(ctx context.Context, serial *big.Int) bool {
	key := serialHex(serial)
	if _, ok := ca.issued.Load(key); ok {
		return true
	}
	if _, err := ca.Certificate(ctx, serial); err != nil {
		return false
	}
	ca.issued.Store(key, struct{}{})
	return true
}

func (ca *DevCA) issuedByIssuing(req *ocsp.Request) bool {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(ca.issuing.Certificate.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	h := req.HashAlgorithm.New()
	h.Write(ca.issuing.Certificate.RawSubject)
	if !bytes.Equal(h.Sum(nil), req.IssuerNameHash) {
		return false
	}
	h.Reset()
	h.Write(spki.PublicKey.RightAlign())
	return bytes.Equal(h.Sum(nil), req.IssuerKeyHash)
}

// serveOCSP is the responder over HTTP (RFC 6960 appendix A): POST with the DER body,
// or GET with the base64 request URL-encoded after "/ocsp/".
func (ca *DevCA) serveOCSP(w http.ResponseWriter, r *http.Request) {
	var reqDER []byte
	switch r.Method {
	case http.MethodPost:
		if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/ocsp-request") {
			http.Error(w, "want application/ocsp-request", http.StatusUnsupportedMediaType)
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOCSPRequest))
		if err != nil {
			writeOCSP(w, ocsp.MalformedRequestErrorResponse, false)
			return
		}
		reqDER = b
	case http.MethodGet, http.MethodHead:
		p := r.URL.EscapedPath()
		i := strings.Index(p, pathOCSP+"/")
		if i < 0 {
			writeOCSP(w, ocsp.MalformedRequestErrorResponse, false)
			return
		}
		reqDER = decodeOCSPGet(p[i+len(pathOCSP)+1:])
		if reqDER == nil {
			writeOCSP(w, ocsp.MalformedRequestErrorResponse, false)
			return
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	der, err := ca.OCSPResponse(r.Context(), reqDER)
	if err != nil {
		ca.log.DebugContext(r.Context(), "ca: OCSP request refused", "err", err)
	}
	writeOCSP(w, der, err == nil && r.Method != http.MethodPost)
}

func decodeOCSPGet(s string) []byte {
	s, err := url.PathUnescape(s)
	if err != nil || len(s) > 2*maxOCSPRequest {
		return nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}

func writeOCSP(w http.ResponseWriter, der []byte, cacheable bool) {
	h := w.Header()
	h.Set("Content-Type", "application/ocsp-response")
	h.Set("Content-Length", strconv.Itoa(len(der)))
	if cacheable {
		h.Set("Cache-Control", "public, max-age=60, no-transform")
	} else {
		h.Set("Cache-Control", "no-store")
	}
	_, _ = w.Write(der)
}
