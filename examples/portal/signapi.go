package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// signAPI is a client of Motlan's public signing API (README "Remote signing",
// signing/httpapi/openapi.json), as a portal team would write it: a client_credentials
// token with scope "signing" on every call, JSON in and out, RFC 9457 problems on error.
type signAPI struct {
	base string       // the issuer: the API lives under it
	http *http.Client // adds the bearer token; no timeout of its own (long polls)
}

// signRequest is the part of a signing request the portal reads.
type signRequest struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	Subject     string    `json:"subject"`
	Reason      string    `json:"reason"`
	Failure     string    `json:"failure"`
	ExpiresAt   time.Time `json:"expires_at"`
	Version     int64     `json:"version"`
	ApprovalURL string    `json:"approval_url"`
	Documents   []struct {
		Index       int       `json:"index"`
		Title       string    `json:"title"`
		Pages       int       `json:"pages"`
		SHA256      string    `json:"sha256"`
		SignedAt    time.Time `json:"signed_at"`
		SignedSHA   string    `json:"signed_sha256"`
		DownloadURL string    `json:"download_url"`
	} `json:"documents"`
}

// final reports whether the request will not change any more.
func (r signRequest) final() bool {
	switch r.Status {
	case "pending", "signing":
		return false
	}
	return true
}

// verifyReport is the part of POST /signing/v1/verify's report the portal shows.
type verifyReport struct {
	Signatures []struct {
		Signer *struct {
			Name     string `json:"name"`
			IDMasked string `json:"id_masked"`
		} `json:"signer"`
		ClaimedTime *time.Time `json:"claimed_time"`
		Timestamp   *struct {
			Time time.Time `json:"time"`
		} `json:"timestamp"`
		Level         string `json:"level"`
		Indication    string `json:"indication"`
		SubIndication string `json:"sub_indication"`
	} `json:"signatures"`
}

// apiError is a failed call: an RFC 9457 problem from Motlan, or a transport failure
// (Status 0). Callers branch on Status and Type.
type apiError struct {
	Status int
	Type   string // the problem type's last path segment: "not-found", "expired", ...
	Detail string
	Field  string // the form field a 400 names
	Err    error  // transport failure
}

func (e *apiError) Error() string {
	if e.Err != nil && e.Status == 0 {
		return "signing API: " + e.Err.Error()
	}
	return fmt.Sprintf("signing API: %d %s: %s", e.Status, e.Type, e.Detail)
}

func (e *apiError) Unwrap() error { return e.Err }

// transportError classifies a failed round trip: the token endpoint refusing the
// portal's credentials or scope is the portal's configuration, not an outage.
func transportError(err error) *apiError {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
		return &apiError{Status: http.StatusUnauthorized, Type: "token-" + re.ErrorCode, Detail: re.ErrorDescription, Err: err}
	}
	return &apiError{Err: err}
}

func (a *signAPI) do(req *http.Request, want int, out any) error {
	resp, err := a.http.Do(req)
	if err != nil {
		return transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want && !(want == http.StatusCreated && resp.StatusCode == http.StatusOK) {
		return problemOf(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(out); err != nil {
		return &apiError{Status: resp.StatusCode, Err: fmt.Errorf("decoding the answer: %w", err)}
	}
	return nil
}

func problemOf(resp *http.Response) error {
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Field  string `json:"field"`
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "application/problem+json" || ct == "application/json" {
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&p)
	}
	typ := p.Type[strings.LastIndex(p.Type, "/")+1:]
	if typ == "" {
		typ = strings.ToLower(strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "-"))
	}
	detail := p.Detail
	if detail == "" {
		detail = p.Title
	}
	return &apiError{Status: resp.StatusCode, Type: typ, Detail: detail, Field: p.Field}
}

// create submits the dossier's PDFs as one signing request for the citizen sub, with the
// page the phone may return to after approving (returnURL, may be empty; Motlan accepts it
// only on the client's registered redirect origins).
func (a *signAPI) create(ctx context.Context, sub, reason, returnURL, idemKey string, docs []rendered) (signRequest, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fields := [][2]string{{"subject", sub}, {"reason", reason}, {"location", "Thanh Hóa"}}
	if returnURL != "" {
		fields = append(fields, [2]string{"return_url", returnURL})
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return signRequest{}, err
		}
	}
	for _, d := range docs {
		pl, err := json.Marshal(d.Placement)
		if err != nil {
			return signRequest{}, err
		}
		if err := mw.WriteField("title", d.Form.DocTitle); err != nil {
			return signRequest{}, err
		}
		if err := mw.WriteField("placement", string(pl)); err != nil {
			return signRequest{}, err
		}
		fw, err := mw.CreatePart(map[string][]string{
			"Content-Disposition": {fmt.Sprintf(`form-data; name="document"; filename=%q`, d.Form.File)},
			"Content-Type":        {"application/pdf"},
		})
		if err != nil {
			return signRequest{}, err
		}
		if _, err := fw.Write(d.PDF); err != nil {
			return signRequest{}, err
		}
	}
	if err := mw.Close(); err != nil {
		return signRequest{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/signing/v1/requests", &body)
	if err != nil {
		return signRequest{}, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Idempotency-Key", idemKey)
	var out signRequest
	return out, a.do(req, http.StatusCreated, &out)
}

// cancel withdraws a pending request the dossier no longer uses: the citizen changed the
// forms and signs a new request, so the old one must not be approvable.
func (a *signAPI) cancel(ctx context.Context, id, reason string) (signRequest, error) {
	body, _ := json.Marshal(map[string]string{"reason": reason})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/signing/v1/requests/"+url.PathEscape(id)+"/cancel", bytes.NewReader(body))
	if err != nil {
		return signRequest{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	var out signRequest
	return out, a.do(req, http.StatusOK, &out)
}

// get reads a request. With wait > 0 it long-polls: Motlan answers when the request's
// version passes since, or after wait.
func (a *signAPI) get(ctx context.Context, id string, wait time.Duration, since int64) (signRequest, error) {
	u := a.base + "/signing/v1/requests/" + url.PathEscape(id)
	if wait > 0 {
		u += "?" + url.Values{"wait": {strconv.Itoa(int(wait / time.Second))}, "since": {strconv.FormatInt(since, 10)}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return signRequest{}, err
	}
	req.Header.Set("Accept", "application/json")
	var out signRequest
	return out, a.do(req, http.StatusOK, &out)
}

// document downloads signed document i, at most max bytes.
func (a *signAPI) document(ctx context.Context, id string, i int, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/signing/v1/requests/"+url.PathEscape(id)+"/documents/"+strconv.Itoa(i), nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, problemOf(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, &apiError{Status: resp.StatusCode, Err: err}
	}
	if int64(len(b)) > max {
		return nil, &apiError{Status: resp.StatusCode, Err: fmt.Errorf("signed document %d is larger than %d bytes", i, max)}
	}
	return b, nil
}

// verify asks Motlan for the verification report of a PDF.
func (a *signAPI) verify(ctx context.Context, pdf []byte) (verifyReport, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/signing/v1/verify", bytes.NewReader(pdf))
	if err != nil {
		return verifyReport{}, err
	}
	req.Header.Set("Content-Type", "application/pdf")
	req.Header.Set("Accept", "application/json")
	var out verifyReport
	return out, a.do(req, http.StatusOK, &out)
}
