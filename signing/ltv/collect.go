package ltv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/motlan/motlan/signing/pades"
)

// oidOCSPNoCheck marks a delegated OCSP responder's certificate: validators do not check
// its revocation (RFC 6960 4.2.2.2.1), so neither do we.
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// certPool is the certificates known while collecting, without duplicates.
type certPool struct {
	certs []*x509.Certificate
	have  map[[32]byte]bool
}

func newCertPool(known []*x509.Certificate) *certPool {
	p := &certPool{have: map[[32]byte]bool{}}
	for _, c := range known {
		p.add(c)
	}
	return p
}

func (p *certPool) add(c *x509.Certificate) {
	sum := sha256.Sum256(c.Raw)
	if !p.have[sum] {
		p.have[sum] = true
		p.certs = append(p.certs, c)
	}
}

// issuerOf returns the certificate that signed c, or nil.
func (p *certPool) issuerOf(c *x509.Certificate) *x509.Certificate {
	for _, cand := range p.certs {
		if bytes.Equal(cand.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(cand) == nil {
			return cand
		}
	}
	return nil
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

// collector gathers the evidence of one document.
type collector struct {
	e       *Extender
	pool    *certPool
	ev      pades.Evidence
	links   map[string]*certLinks // certificates whose chain was walked, by certKey
	crls    map[string][]byte     // CRLs fetched, by URL
	fetches int
}

// certLinks is what chain found for one certificate: its revocation data and the
// certificates that evidence depends on (its issuer, a delegated OCSP responder). A
// signature's VRI entry is the closure of its certificates over these links.
type certLinks struct {
	raw       []byte
	ocsp, crl []byte
	next      []string // certKeys
}

func certKey(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return string(sum[:])
}

// vriEntry returns the VRI entry of the signature with /Contents contents whose CMS
// carries certs: those certificates and, transitively, their issuers, responders and
// revocation data, as chain recorded them.
func (c *collector) vriEntry(contents []byte, certs []*x509.Certificate, now time.Time) pades.VRIEntry {
	e := pades.VRIEntry{Contents: contents, Time: now}
	seen := map[string]bool{}
	crls := map[[32]byte]bool{}
	var stack []string
	for _, cert := range certs {
		stack = append(stack, certKey(cert))
	}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		l := c.links[k]
		if seen[k] || l == nil {
			continue
		}
		seen[k] = true
		e.Certs = append(e.Certs, l.raw)
		if l.ocsp != nil {
			e.OCSPs = append(e.OCSPs, l.ocsp)
		}
		if l.crl != nil {
			if sum := sha256.Sum256(l.crl); !crls[sum] {
				crls[sum] = true
				e.CRLs = append(e.CRLs, l.crl)
			}
		}
		stack = append(stack, l.next...)
	}
	return e
}

// chain adds c and its issuers up to a self-signed root, with revocation data for each
// certificate below the root.
func (c *collector) chain(ctx context.Context, cert *x509.Certificate) error {
	for depth := 0; depth < maxChainLength; depth++ {
		key := certKey(cert)
		if c.links[key] != nil {
			return nil
		}
		l := &certLinks{raw: cert.Raw}
		c.links[key] = l
		c.ev.Certs = append(c.ev.Certs, cert.Raw)
		if selfSigned(cert) {
			return nil
		}
		issuer := c.pool.issuerOf(cert)
		if issuer == nil {
			if err := c.fetchIssuer(ctx, cert); err != nil {
				return err
			}
			if issuer = c.pool.issuerOf(cert); issuer == nil {
				return fmt.Errorf("%w: for certificate %x (issuer %q)", ErrNoIssuer, cert.SerialNumber, cert.Issuer.String())
			}
		}
		l.next = append(l.next, certKey(issuer))
		if err := c.revocation(ctx, cert, issuer, l); err != nil {
			return err
		}
		cert = issuer
	}
	return fmt.Errorf("%w: chain longer than %d certificates", ErrNoIssuer, maxChainLength)
}

// revocation adds an OCSP response for cert or, when OCSP is not offered or fails, the
// CRL of its distribution point. A certificate that names neither gets none. What it
// finds is recorded in l, cert's links.
func (c *collector) revocation(ctx context.Context, cert, issuer *x509.Certificate, l *certLinks) error {
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oidOCSPNoCheck) {
			return nil
		}
	}
	var firstErr error
	for _, u := range cert.OCSPServer {
		resp, err := c.fetchOCSP(ctx, u, cert, issuer)
		if err == nil {
			c.ev.OCSPs = append(c.ev.OCSPs, resp.raw)
			l.ocsp = resp.raw
			if resp.responder != nil {
				c.pool.add(resp.responder)
				l.next = append(l.next, certKey(resp.responder))
				// The delegated responder's certificate lets validators check the response.
				if err := c.chain(ctx, resp.responder); err != nil {
					return err
				}
			}
			return nil
		}
		if firstErr == nil {
			firstErr = err
		}
		c.e.log.WarnContext(ctx, "ltv: OCSP failed; trying the CRL", "url", u, "err", err)
	}
	for _, u := range cert.CRLDistributionPoints {
		if crl, ok := c.crls[u]; ok {
			l.crl = crl
			return nil
		}
		crl, err := c.fetchCRL(ctx, u, cert, issuer)
		if err == nil {
			c.crls[u] = crl
			c.ev.CRLs = append(c.ev.CRLs, crl)
			l.crl = crl
			return nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

type ocspResult struct {
	raw       []byte
	responder *x509.Certificate // a delegated responder's certificate, or nil
}

// fetchOCSP POSTs an RFC 6960 request and checks the answer is signed for cert's issuer
// and knows the certificate.
func (c *collector) fetchOCSP(ctx context.Context, u string, cert, issuer *x509.Certificate) (ocspResult, error) {
	fail := func(err error) (ocspResult, error) {
		return ocspResult{}, &FetchError{Kind: "ocsp", URL: u, Serial: fmt.Sprintf("%x", cert.SerialNumber), Err: err}
	}
	req, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return fail(err)
	}
	body, err := c.get(ctx, http.MethodPost, u, "application/ocsp-request", req, "application/ocsp-response")
	if err != nil {
		return fail(err)
	}
	resp, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		return fail(err)
	}
	switch resp.Status {
	case ocsp.Good:
	case ocsp.Revoked:
		// Still evidence: a signature made before the revocation time stays valid.
		c.e.log.WarnContext(ctx, "ltv: certificate revoked", "serial", fmt.Sprintf("%x", cert.SerialNumber), "revoked_at", resp.RevokedAt)
	default:
		return fail(ErrNoRevocation)
	}
	var responder *x509.Certificate
	if resp.Certificate != nil && !bytes.Equal(resp.Certificate.Raw, issuer.Raw) {
		responder = resp.Certificate
	}
	return ocspResult{raw: body, responder: responder}, nil
}

// fetchCRL downloads the CRL and checks issuer signed it.
func (c *collector) fetchCRL(ctx context.Context, u string, cert, issuer *x509.Certificate) ([]byte, error) {
	fail := func(err error) ([]byte, error) {
		return nil, &FetchError{Kind: "crl", URL: u, Serial: fmt.Sprintf("%x", cert.SerialNumber), Err: err}
	}
	body, err := c.get(ctx, http.MethodGet, u, "", nil, "application/pkix-crl")
	if err != nil {
		return fail(err)
	}
	crl, err := x509.ParseRevocationList(body)
	if err != nil {
		return fail(err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return fail(fmt.Errorf("not signed by the certificate's issuer: %w", err))
	}
	return body, nil
}

// fetchIssuer downloads the issuer from cert's caIssuers URLs (a DER certificate).
func (c *collector) fetchIssuer(ctx context.Context, cert *x509.Certificate) error {
	var firstErr error
	for _, u := range cert.IssuingCertificateURL {
		body, err := c.get(ctx, http.MethodGet, u, "", nil, "application/pkix-cert")
		if err == nil {
			var ic *x509.Certificate
			if ic, err = x509.ParseCertificate(body); err == nil {
				c.pool.add(ic)
				return nil
			}
		}
		if firstErr == nil {
			firstErr = &FetchError{Kind: "certificate", URL: u, Serial: fmt.Sprintf("%x", cert.SerialNumber), Err: err}
		}
	}
	return firstErr
}

var errTooManyFetches = errors.New("too many downloads for one document")

// get fetches u (http or https only) within the per-download timeout and size bound.
func (c *collector) get(ctx context.Context, method, u, contentType string, body []byte, accept string) ([]byte, error) {
	if c.fetches >= maxFetchesPerExtend {
		return nil, errTooManyFetches
	}
	c.fetches++
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return nil, fmt.Errorf("not an http(s) URL")
	}
	ctx, cancel := context.WithTimeout(ctx, c.e.cfg.FetchTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", accept)
	resp, err := c.e.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	max := c.e.cfg.MaxResponse
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("response larger than %d bytes", max)
	}
	return data, nil
}
