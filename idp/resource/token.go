package resource

import (
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/internal/web"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/tokens"
)

// token is an access token as a request presents it.
type token struct {
	Token string
	DPoP  bool // sent as Authorization: DPoP (RFC 9449 7.1), else Bearer (RFC 6750)
}

// presented extracts the access token of a protected-resource request: Authorization
// DPoP, or Bearer in any form RFC 6750 allows.
func presented(r *http.Request) (token, *oe.Error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "DPoP") {
			// DPoP is set on errors too, so that they are answered with a DPoP challenge.
			if len(r.Header.Values("Authorization")) > 1 {
				return token{DPoP: true}, oe.New(oe.InvalidRequest, "more than one Authorization header")
			}
			if r.URL.Query().Has("access_token") {
				return token{DPoP: true}, oe.New(oe.InvalidRequest, "access tokens in the query are not accepted")
			}
			tok = strings.TrimSpace(tok)
			if tok == "" {
				return token{DPoP: true}, oe.New(oe.InvalidRequest, "Authorization must be: DPoP <token>")
			}
			if r.Method == http.MethodPost {
				// A second token in the body: RFC 6750 2 allows one method per request.
				if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
					r.Body = http.MaxBytesReader(nil, r.Body, web.MaxParamBytes)
					if err := r.ParseForm(); err != nil {
						return token{DPoP: true}, oe.New(oe.InvalidRequest, "unparsable form body")
					}
					if r.PostForm.Has("access_token") {
						return token{DPoP: true}, oe.New(oe.InvalidRequest, "more than one access token")
					}
				}
			}
			return token{Token: tok, DPoP: true}, nil
		}
	}
	tok, e := bearerToken(r)
	return token{Token: tok}, e
}

// bearerToken extracts the access token per RFC 6750 2.1 and 2.2 (header, or a POST form
// body); more than one method is an invalid_request.
func bearerToken(r *http.Request) (string, *oe.Error) {
	var found []string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", oe.New(oe.InvalidRequest, "Authorization must be: Bearer <token>")
		}
		found = append(found, strings.TrimSpace(tok))
	}
	if r.Method == http.MethodPost {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			r.Body = http.MaxBytesReader(nil, r.Body, web.MaxParamBytes)
			if err := r.ParseForm(); err != nil {
				return "", oe.New(oe.InvalidRequest, "unparsable form body")
			}
			if v := r.PostForm["access_token"]; len(v) > 0 {
				found = append(found, v...)
			}
		}
	}
	if r.URL.Query().Has("access_token") {
		return "", oe.New(oe.InvalidRequest, "access tokens in the query are not accepted")
	}
	switch len(found) {
	case 0:
		return "", &oe.Error{Status: http.StatusUnauthorized} // RFC 6750 3.1: no error code
	case 1:
		return found[0], nil
	}
	return "", oe.New(oe.InvalidRequest, "more than one access token")
}

// requestURL is the URL a resource request was sent to as the client sees it: the
// issuer's scheme and host (the provider may sit behind a TLS proxy) and the request path.
func (s *Server) requestURL(r *http.Request) string {
	u, err := url.Parse(s.cfg.Issuer)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + r.URL.EscapedPath()
}

// writeError answers a protected-resource error: with a DPoP challenge (RFC 9449
// 7.1) when the request used the DPoP scheme, else as RFC 6750 says. A request without any
// token is offered both schemes.
func writeError(w http.ResponseWriter, e *oe.Error, usedDPoP bool) {
	if e.Code == oe.ServerError || e.Code == oe.TemporarilyUnavailable {
		oe.WriteJSON(w, e, false)
		return
	}
	if !usedDPoP && e.Code == "" {
		// RFC 6750 3.1 and RFC 9449 7.1: no error information, one challenge per scheme.
		w.Header().Set("WWW-Authenticate", `Bearer realm="motlan"`)
		w.Header().Add("WWW-Authenticate", dpop.Challenge(""))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if !usedDPoP {
		oe.WriteBearer(w, e)
		return
	}
	w.Header().Set("WWW-Authenticate", dpop.Challenge(e.Code, e.Description))
	if e.Status == 0 && (e.Code == oe.InvalidToken || e.Code == dpop.ErrCodeInvalidProof) {
		e = &oe.Error{Code: e.Code, Description: e.Description, Status: http.StatusUnauthorized}
	}
	oe.WriteJSON(w, e, false)
}

// boundJKT is the DPoP key an access token is bound to, "" for a bearer token.
func boundJKT(at tokens.AccessClaims) string {
	if at.Cnf == nil {
		return ""
	}
	return at.Cnf.JKT
}
