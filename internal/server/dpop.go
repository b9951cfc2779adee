package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/motlan/motlan/idp"
	oe "github.com/motlan/motlan/idp/oautherr"
)

// The signing API (signing/httpapi) answers a refused token with RFC 6750's Bearer
// challenge. A request that used the DPoP scheme gets RFC 9449 7.1's DPoP challenge
// instead, with the reason the auth adapter found (invalid_token or invalid_dpop_proof).

// dpopRefusal carries the adapter's reason from APICaller to the response writer.
type dpopRefusal struct{ err *oe.Error }

type dpopRefusalKey struct{}

// noteDPoPRefusal records why APICaller refused a DPoP request, if the request is one.
func noteDPoPRefusal(ctx context.Context, err error) {
	ref, _ := ctx.Value(dpopRefusalKey{}).(*dpopRefusal)
	var e *oe.Error
	if ref != nil && errors.As(err, &e) {
		ref.err = e
	}
}

// dpopChallenges wraps the signing API so that DPoP requests get DPoP challenges, and a
// fresh DPoP-Nonce when the provider requires nonces.
func dpopChallenges(p *idp.Provider, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "DPoP") {
			next.ServeHTTP(w, r)
			return
		}
		p.OfferDPoPNonce(w, r)
		ref := &dpopRefusal{}
		ctx := context.WithValue(r.Context(), dpopRefusalKey{}, ref)
		next.ServeHTTP(&dpopChallengeWriter{ResponseWriter: w, ref: ref}, r.WithContext(ctx))
	})
}

type dpopChallengeWriter struct {
	http.ResponseWriter
	ref   *dpopRefusal
	wrote bool
}

func (c *dpopChallengeWriter) WriteHeader(status int) {
	if !c.wrote && c.Header().Get("WWW-Authenticate") != "" {
		switch code, desc := oe.InvalidToken, "the access token is invalid or expired"; {
		case status == http.StatusForbidden:
			// insufficient_scope: the same parameters (scope), under the DPoP scheme.
			if params, ok := strings.CutPrefix(c.Header().Get("WWW-Authenticate"), `Bearer realm="motlan", `); ok {
				c.Header().Set("WWW-Authenticate", `DPoP realm="motlan", `+params+`, algs="`+strings.Join(idp.DPoPAlgs(), " ")+`"`)
			}
		case status == http.StatusUnauthorized:
			if c.ref.err != nil && c.ref.err.Code != "" {
				code, desc = c.ref.err.Code, c.ref.err.Description
			}
			c.Header().Set("WWW-Authenticate", idp.DPoPChallenge(code, desc))
		}
	}
	c.wrote = true
	c.ResponseWriter.WriteHeader(status)
}

func (c *dpopChallengeWriter) Write(b []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes, deadlines).
func (c *dpopChallengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
