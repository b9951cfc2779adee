package integration

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"
)

// TestSigningUnknownSubject: a signing request names its citizen by the sub the portal was
// given; a sub the portal was never given (a typo, another client's, a raw citizen id) is
// refused at create with a 422 problem, and nothing is stored, on both stores.
func TestSigningUnknownSubject(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			s := newStack(t, driver)
			p := newSigningPortal(t, s)
			for _, tc := range []struct {
				name, subject string
				status        int
			}{
				{"the portal's sub", p.subject, http.StatusCreated},
				{"a sub no citizen has", p.subject + "x", http.StatusUnprocessableEntity},
				{"a made-up sub", "cit-0001", http.StatusUnprocessableEntity},
			} {
				status, raw := p.create(t, s, tc.subject)
				if status != tc.status {
					t.Fatalf("%s: %d %s, want %d", tc.name, status, raw, tc.status)
				}
				if status == http.StatusCreated {
					continue
				}
				var pb struct{ Type, Field string }
				if json.Unmarshal([]byte(raw), &pb) != nil || pb.Type != "https://motlan.vn/problems/unknown-subject" || pb.Field != "subject" {
					t.Errorf("%s: problem %s", tc.name, raw)
				}
				resp, err := p.api.Get(s.issuer + "/signing/v1/requests?subject=" + url.QueryEscape(tc.subject))
				if err != nil {
					t.Fatal(err)
				}
				var list struct {
					Requests []json.RawMessage `json:"requests"`
				}
				if raw := body(t, resp); resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(raw), &list) != nil || len(list.Requests) != 0 {
					t.Errorf("%s: list %d %s, want no request stored", tc.name, resp.StatusCode, raw)
				}
			}
		})
	}
}

// create posts a one-document request for subject and returns the status and body.
func (p *signingPortal) create(t *testing.T, s *stack, subject string) (int, string) {
	t.Helper()
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("subject", subject)
	_ = mw.WriteField("title", "Tờ khai")
	fw, _ := mw.CreateFormFile("document", "to-khai.pdf")
	_, _ = fw.Write(onePagePDF("To khai"))
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, s.issuer+"/signing/v1/requests", &form)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := p.api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body(t, resp)
}
