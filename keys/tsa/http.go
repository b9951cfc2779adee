package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/motlan/motlan/internal/cms"
)

// ServeHTTP implements RFC 3161 over HTTP: POST a DER TimeStampReq as
// application/timestamp-query, get a DER TimeStampResp as application/timestamp-reply.
// A malformed query gets a rejection response (status 200, as RFC 3161 3.4 expects),
// a wrong method 405 and a wrong media type 415.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != ContentTypeQuery && mt != "application/timestamp-request") {
			http.Error(w, "want "+ContentTypeQuery, http.StatusUnsupportedMediaType)
			return
		}
	}
	var resp []byte
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxQuery))
	if err != nil {
		re := &RequestError{FailBadDataFormat, "query too large or unreadable"}
		resp, err = rejection(re.FailInfo, re.Text), re
	} else {
		resp, err = s.Respond(r.Context(), body)
	}
	if err != nil {
		var re *RequestError
		if errors.As(err, &re) {
			s.log.DebugContext(r.Context(), "tsa: query rejected", "reason", re.Text)
		} else {
			s.log.ErrorContext(r.Context(), "tsa: failed", "err", err)
		}
	}
	h := w.Header()
	h.Set("Content-Type", ContentTypeReply)
	h.Set("Content-Length", strconv.Itoa(len(resp)))
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(resp)
}

// DefaultTimeout bounds Request when ctx has no deadline.
const DefaultTimeout = 15 * time.Second

// maxReply bounds a reply: a token with a few certificates is a few kilobytes.
const maxReply = 1 << 20

// StatusError is a time-stamp reply whose status was not granted.
type StatusError struct {
	Status   int    // PKIStatus
	FailInfo int    // the lowest PKIFailureInfo bit set; -1 when none
	Text     string // the TSA's statusString, joined
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("tsa: request not granted: status %d, failInfo %d: %q", e.Status, e.FailInfo, e.Text)
}

// ErrBadReply: the TSA's answer is not a time-stamp reply, or its token does not match
// the request (message imprint, nonce).
var ErrBadReply = errors.New("tsa: bad time-stamp reply")

// Request asks the TSA at url for a time-stamp token over digest (computed with hash)
// and returns the token (a DER CMS ContentInfo, as PAdES embeds it). It sends a random
// nonce and certReq, and checks the reply's status, imprint and nonce, not the token's
// signature: call ParseToken and Token.Verify for that. client nil means
// http.DefaultClient; without a deadline on ctx, DefaultTimeout applies.
func Request(ctx context.Context, client *http.Client, url string, digest []byte, hash crypto.Hash) ([]byte, error) {
	oid, ok := cms.HashOID(hash)
	if !ok || len(digest) != hash.Size() {
		return nil, fmt.Errorf("tsa: unsupported hash %v or digest length %d", hash, len(digest))
	}
	if client == nil {
		client = http.DefaultClient
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	nb := make([]byte, 8)
	if _, err := rand.Read(nb); err != nil {
		return nil, err
	}
	nonce := new(big.Int).SetBytes(nb)
	imprint, err := asn1.Marshal(cms.MessageImprint{HashAlgorithm: algID(oid), HashedMessage: digest})
	if err != nil {
		return nil, err
	}
	query, err := asn1.Marshal(timeStampReq{Version: 1, MessageImprint: asn1.RawValue{FullBytes: imprint}, Nonce: nonce, CertReq: true})
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(query))
	if err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	hreq.Header.Set("Content-Type", ContentTypeQuery)
	hreq.Header.Set("Accept", ContentTypeReply)
	hresp, err := client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	defer hresp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hresp.Body, maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("tsa: reading reply: %w", err)
	}
	if hresp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP status %d", ErrBadReply, hresp.StatusCode)
	}
	if len(body) > maxReply {
		return nil, fmt.Errorf("%w: reply too large", ErrBadReply)
	}
	token, err := ParseReply(body)
	if err != nil {
		return nil, err
	}
	t, err := ParseToken(token)
	if err != nil {
		return nil, err
	}
	if t.HashAlgorithm != hash || !bytes.Equal(t.HashedMessage, digest) {
		return nil, fmt.Errorf("%w: token is over another message imprint", ErrBadReply)
	}
	if t.Nonce == nil || t.Nonce.Cmp(nonce) != 0 {
		return nil, fmt.Errorf("%w: nonce not echoed", ErrBadReply)
	}
	return token, nil
}

// ParseReply parses a DER TimeStampResp and returns its token, or a *StatusError when
// the status is neither granted nor grantedWithMods.
func ParseReply(der []byte) ([]byte, error) {
	var resp timeStampResp
	if rest, err := asn1.Unmarshal(der, &resp); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: not a TimeStampResp", ErrBadReply)
	}
	if st := resp.Status.Status; st != StatusGranted && st != StatusGrantedWithMods {
		e := &StatusError{Status: st, FailInfo: -1}
		for i := range resp.Status.FailInfo.BitLength {
			if resp.Status.FailInfo.At(i) == 1 {
				e.FailInfo = i
				break
			}
		}
		for _, s := range resp.Status.StatusString {
			if e.Text != "" {
				e.Text += "; "
			}
			e.Text += string(s.Bytes)
		}
		return nil, e
	}
	if len(resp.TimeStampToken.FullBytes) == 0 {
		return nil, fmt.Errorf("%w: granted without a token", ErrBadReply)
	}
	return resp.TimeStampToken.FullBytes, nil
}

var _ http.Handler = (*Server)(nil)
