package integration

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/config"
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

// TestApprovalLimitBeforeLogin: the approval limit is checked when the citizen opens the
// link, before the eID login; over it the citizen sees in Vietnamese when to come back,
// and the portal sees blocked_until on the still-pending request, on both stores.
func TestApprovalLimitBeforeLogin(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			s := newStackWith(t, driver, false, func(c *config.Config) {
				// An hour's window: the test must not straddle its end.
				c.RateLimits.Approval.PerCitizen = &config.RateLimit{Limit: 1, Window: config.Duration(time.Hour)}
			})
			p := newSigningPortal(t, s)
			_, first := p.request(t, s, "dossier-1", "Tờ khai đăng ký khai sinh")
			second, secondURL := p.request(t, s, "dossier-2", "Tờ khai đăng ký thường trú")
			phone := newBrowser(t) // no session yet: opening the link leads to the eID login
			if resp := phone.get(first); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
				t.Fatalf("first link: %d, want the redirect to the eID login", resp.StatusCode)
			} else {
				body(t, resp)
			}
			resp := phone.get(secondURL)
			page := body(t, resp)
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
				!strings.Contains(page, "Vui lòng mở lại yêu cầu này sau") || !strings.Contains(page, "Yêu cầu vẫn chờ bạn ký") {
				t.Fatalf("second link: %d Retry-After %q\n%.600s", resp.StatusCode, resp.Header.Get("Retry-After"), page)
			}
			st, err := p.api.Get(s.issuer + "/signing/v1/requests/" + second)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Status       string    `json:"status"`
				BlockedUntil time.Time `json:"blocked_until"`
			}
			if raw := body(t, st); json.Unmarshal([]byte(raw), &got) != nil || got.Status != "pending" ||
				!got.BlockedUntil.After(time.Now()) || got.BlockedUntil.After(time.Now().Add(time.Hour+time.Minute)) {
				t.Errorf("status %s, want pending with blocked_until within the hour", raw)
			}
		})
	}
}
