package ca

import (
	"net/http"
	"strconv"
	"strings"
)

// Handler serves the CA's public material at the paths its certificates carry:
//
//	GET  /ca/root.crt       the root certificate (DER, application/pkix-cert)
//	GET  /ca/issuing.crt    the issuing CA certificate
//	GET  /ca/issuing.crl    the issuing CA's CRL (DER, application/pkix-crl)
//	GET  /ca/root.crl       the root's CRL
//	POST /ca/ocsp           OCSP (RFC 6960), DER body
//	GET  /ca/ocsp/{base64}  OCSP, request in the path
//
// Mount it as mux.Handle("/ca/", ca.Handler()). A GET OCSP request may hold "//" in
// its base64; http.ServeMux redirects such paths, so clients should percent-encode "/"
// (openssl and Go clients do) or use POST.
func (ca *DevCA) Handler() http.Handler {
	return http.HandlerFunc(ca.serveHTTP)
}

func (ca *DevCA) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == pathOCSP || strings.HasPrefix(p, pathOCSP+"/") {
		ca.serveOCSP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var (
		body []byte
		ct   string
		err  error
		age  = 3600
	)
	switch p {
	case pathRootCert:
		body, ct = ca.root.Certificate.Raw, "application/pkix-cert"
	case pathIssuingCert:
		body, ct = ca.issuing.Certificate.Raw, "application/pkix-cert"
	case pathIssuingCRL:
		body, err = ca.CRL(r.Context())
		ct, age = "application/pkix-crl", 60
	case pathRootCRL:
		body, err = ca.RootCRL(r.Context())
		ct, age = "application/pkix-crl", 600
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		ca.log.ErrorContext(r.Context(), "ca: serving "+p, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(age))
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}
