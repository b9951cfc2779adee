package csc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/motlan/motlan/signing"
	wire "github.com/motlan/motlan/signing/csc"
)

// maxAnswer bounds what is read of one answer: a chain of a few certificates, or 50
// signatures, fit easily.
const maxAnswer = 1 << 20

// call POSTs in as JSON to method and decodes the answer into out. Every error is a
// *signing.BackendError.
func (c *Client) call(ctx context.Context, method string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fail(signing.FailureProvider, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+method, bytes.NewReader(body))
	if err != nil {
		return fail(signing.FailureProvider, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return transportFailure(ctx, method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return transportFailure(ctx, method, err)
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return fail(signing.FailureUnavailable, fmt.Errorf("%s: HTTP %d", method, resp.StatusCode))
	}
	if resp.StatusCode != http.StatusOK {
		var e wire.Error
		_ = json.Unmarshal(raw, &e)
		return fail(errorCode(method, resp.StatusCode, e), fmt.Errorf("%s: HTTP %d %s: %.200s", method, resp.StatusCode, e.Error, e.Description))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fail(signing.FailureProvider, fmt.Errorf("%s: answer: %w", method, err))
	}
	return nil
}

func fail(code string, err error) error { return &signing.BackendError{Code: code, Err: err} }

// transportFailure tells a slow provider from one that is down.
func transportFailure(ctx context.Context, method string, err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fail(signing.FailureTimeout, fmt.Errorf("%s: %w", method, err))
	}
	if ctx.Err() != nil {
		return fail(signing.FailureTimeout, fmt.Errorf("%s: %w", method, ctx.Err()))
	}
	return fail(signing.FailureUnavailable, fmt.Errorf("%s: %w", method, err))
}

// errorCode maps a provider's error answer to a failure code. The specific codes come
// first; providers that answer invalid_request for everything are read by the words the
// CSC specification uses in its error descriptions.
func errorCode(method string, status int, e wire.Error) string {
	switch e.Error {
	case wire.ErrExpiredSAD:
		return signing.FailureSADExpired
	case wire.ErrInvalidOTP, wire.ErrInvalidPIN:
		return signing.FailureAuth
	case wire.ErrCredDisabled:
		return signing.FailureSuspended
	case wire.ErrCredRevoked:
		return signing.FailureRevoked
	case wire.ErrNotFoundCred:
		return signing.FailureNoCredential
	case wire.ErrInvalidToken:
		return signing.FailureProvider // Motlan's own service token: an operator's problem
	}
	d := strings.ToLower(e.Description)
	switch {
	case strings.Contains(d, "sad"):
		return signing.FailureSADExpired
	case strings.Contains(d, "pin"), strings.Contains(d, "otp"), method == wire.MethodAuthz && e.Error == wire.ErrAccessDenied:
		return signing.FailureAuth
	case strings.Contains(d, "suspend"), strings.Contains(d, "disabled"):
		return signing.FailureSuspended
	case strings.Contains(d, "revoked"), strings.Contains(d, "expired"):
		return signing.FailureRevoked
	case strings.Contains(d, "credentialid"):
		return signing.FailureNoCredential
	}
	return signing.FailureProvider
}
