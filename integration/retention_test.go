package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/internal/retention"
)

// TestRetentionPurgedDocumentIsGone signs a request through the running Motlan, then runs
// the retention job on the same database with its clock 31 days ahead (a second store, as
// another replica would): the portal's download of the signed PDF answers 410 with the
// documents-deleted problem in Vietnamese and English, the request itself still reads,
// and the citizen's copy of the original is gone too. The status said when, beforehand.
func TestRetentionPurgedDocumentIsGone(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			s := newStack(t, driver)
			p := newSigningPortal(t, s)
			title := "Tờ khai đăng ký thường trú"
			id, approvalURL := p.request(t, s, "retention-1", title)
			p.approve(t, approvalURL, title)
			if st := p.wait(t, s, id); st.Status != "signed" {
				t.Fatalf("signing: %+v", st)
			}
			download := s.issuer + "/signing/v1/requests/" + id + "/documents/0"
			p.download(t, s, id) // served while kept
			var st struct {
				UpdatedAt          time.Time `json:"updated_at"`
				DocumentsKeptUntil time.Time `json:"documents_kept_until"`
			}
			resp, err := p.api.Get(s.issuer + "/signing/v1/requests/" + id)
			if err != nil {
				t.Fatal(err)
			}
			if raw := body(t, resp); json.Unmarshal([]byte(raw), &st) != nil || !st.DocumentsKeptUntil.Equal(st.UpdatedAt.Add(30*24*time.Hour)) {
				t.Errorf("documents_kept_until is not 30 days after the end: %s", raw)
			}

			later := time.Now().Add(31 * 24 * time.Hour)
			store, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: s.storage.Driver, DSN: s.storage.DSN.Value,
				Now: func() time.Time { return later }})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			job, err := retention.New(retention.Config{Store: store, Now: func() time.Time { return later }})
			if err != nil {
				t.Fatal(err)
			}
			res, err := job.RunOnce(t.Context())
			if err != nil || res.Documents.Requests != 1 || res.Documents.Documents != 1 {
				t.Fatalf("purge: %+v %v", res, err)
			}

			resp, err = p.api.Get(download)
			if err != nil {
				t.Fatal(err)
			}
			raw := body(t, resp)
			var prob struct {
				Type, Detail string
				Status       int
			}
			if resp.StatusCode != http.StatusGone || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") ||
				json.Unmarshal([]byte(raw), &prob) != nil || prob.Type != "https://motlan.vn/problems/documents-deleted" || prob.Status != 410 {
				t.Fatalf("purged download: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
			}
			if !strings.Contains(prob.Detail, "hết thời hạn lưu giữ") || !strings.Contains(prob.Detail, "retention period") {
				t.Errorf("detail is not Vietnamese then English: %q", prob.Detail)
			}
			if got := p.status(t, s, id); got.Status != "signed" {
				t.Errorf("the request after its documents went: %+v", got)
			}
			// The ended request's link says so without a login; its documents need the eID
			// login made for the link (the ticket the page's links carry).
			docURL := approvalURL + "/documents/0"
			ticket := p.ticketAfterLogin(t, docURL)
			orig := p.b.get(docURL + "?t=" + url.QueryEscape(ticket))
			if page := body(t, orig); orig.StatusCode != http.StatusGone || !strings.Contains(page, "đã được xóa") {
				t.Errorf("citizen's original after the purge: %d %.300s", orig.StatusCode, page)
			}
		})
	}
}

// ticketAfterLogin opens u, which sends the citizen to the step-up login, logs in at the
// dev eID for it and returns the ticket Motlan's page came back with.
func (p *signingPortal) ticketAfterLogin(t *testing.T, u string) string {
	t.Helper()
	stepUp := location(t, p.b.get(u))
	if !strings.HasSuffix(stepUp.Path, "/stepup") {
		t.Fatalf("%s went to %s, want the step-up login", u, stepUp)
	}
	upstream := location(t, p.b.get(stepUp.String()))
	cb, err := sim.Login(context.Background(), p.b.client, upstream.String(), haoCCCD, sim.DevPassword)
	if err != nil {
		t.Fatalf("eID login: %v", err)
	}
	back := location(t, p.b.get(cb.String()))
	ticket := back.Query().Get("t")
	if ticket == "" {
		t.Fatalf("the step-up came back to %s, without a ticket", back)
	}
	return ticket
}
