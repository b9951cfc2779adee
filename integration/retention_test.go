package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
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
			orig := p.b.get(approvalURL + "/documents/0")
			if page := body(t, orig); orig.StatusCode != http.StatusGone || !strings.Contains(page, "đã được xóa") {
				t.Errorf("citizen's original after the purge: %d %.300s", orig.StatusCode, page)
			}
		})
	}
}
