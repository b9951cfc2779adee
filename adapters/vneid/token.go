package vneid

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/motlan/motlan/idp/eid"
)

// The code exchange (RFC 6749 section 4.1.3, with RFC 7636's code_verifier) is written
// here rather than run by oauth2.Config.Exchange, which decodes the token response twice
// (into its token, and again into a map for Extra): that was 2.5 % of a first-time
// login's CPU, and the connector reads three members of the response.

const maxTokenResponseBytes = 1 << 20

// tokenResponse is what the connector reads of the eID's token response (RFC 6749
// sections 5.1 and 5.2; OpenID Connect Core 3.1.3.3).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	Error       string `json:"error"`
}

// redeem posts code and the PKCE verifier to the eID's token endpoint. The client
// authenticates with its secret as discovery chose: in the body where the eID lists
// client_secret_post and not client_secret_basic, else with HTTP Basic, which RFC 6749
// section 2.3.1 makes every server support (the id and secret form-encoded first).
func (c *Connector) redeem(ctx context.Context, u *upstream, code, verifier string) (tokenResponse, error) {
	o := u.oauth
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
	if o.RedirectURL != "" {
		form.Set("redirect_uri", o.RedirectURL)
	}
	inBody := o.Endpoint.AuthStyle == oauth2.AuthStyleInParams
	if inBody {
		form.Set("client_id", o.ClientID)
		if o.ClientSecret != "" {
			form.Set("client_secret", o.ClientSecret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return tokenResponse{}, &Error{Kind: eid.ErrUnavailable, Op: "token", Reason: "bad token endpoint"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if !inBody {
		req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret))
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return tokenResponse{}, &Error{Kind: eid.ErrUnavailable, Op: "token", Reason: "request failed", cause: err}
	}
	defer resp.Body.Close()
	body, err := readAll(resp.Body, maxTokenResponseBytes)
	switch {
	case errors.Is(err, errTooLarge):
		return tokenResponse{}, &Error{Kind: eid.ErrInvalidResponse, Op: "token", Reason: "response too large"}
	case err != nil:
		return tokenResponse{}, &Error{Kind: eid.ErrUnavailable, Op: "token", Reason: "reading the response failed", cause: err}
	}
	var tr tokenResponse
	decodeErr := json.Unmarshal(body, &tr)
	if resp.StatusCode/100 != 2 || tr.Error != "" || decodeErr != nil || tr.AccessToken == "" {
		errCode := tr.Error
		if decodeErr != nil {
			errCode = ""
		}
		return tokenResponse{}, tokenError(resp.StatusCode, errCode)
	}
	return tr, nil
}

// tokenError classifies a token response that carries no token: its HTTP status and the
// RFC 6749 error code it gave ("" for none).
func tokenError(status int, errCode string) error {
	e := &Error{Kind: eid.ErrInvalidResponse, Op: "token", Reason: "the eID refused the code", Code: safeCode(errCode)}
	switch {
	case errCode == "access_denied":
		e.Kind = eid.ErrDenied
	case errCode == "temporarily_unavailable" || errCode == "server_error" ||
		status >= 500 || status == http.StatusTooManyRequests:
		e.Kind, e.Reason = eid.ErrUnavailable, "token endpoint failed"
	case status/100 == 2:
		e.Reason = "malformed token response"
	}
	if e.Code == "" {
		e.Reason += " (HTTP " + strconv.Itoa(status) + ")"
	}
	return e
}
