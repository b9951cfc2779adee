package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

// An approval sent again while the request is being signed (a second press, a resend after
// the answer was lost when the replica signing it died, Resume signing it now) is answered
// with the "đang ký" page, 200, in either language; once the request has ended, a resend
// still gets "no longer waits".
func TestApproveWhileSigning(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")
	e.session("a", citizenA, "2", time.Minute)
	_, body := e.page("GET", "/sign/r1", "a", nil)
	form := shownForm(t, body)
	form.Set("action", "approve")
	e.svc.update("r1", func(r *signing.Request) { r.Status, r.CitizenID = signing.StatusSigning, citizenA })

	for _, tc := range []struct{ lang, heading, note string }{
		{"vi", "Đang ký…", "Motlan đang ký các tài liệu"},
		{"en", "Signing…", "Motlan is signing the documents"},
	} {
		form.Set("lang", tc.lang)
		resp, page := e.page("POST", "/sign/r1", "a", form)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: approval while signing: %d %s", tc.lang, resp.StatusCode, page)
		}
		wantPageHeaders(t, resp)
		contains(t, page, tc.heading, tc.note, "Tờ khai đăng ký khai sinh", `href="/sign/r1?lang=`+tc.lang+`"`)
	}

	// Another citizen learns nothing of it.
	e.session("b", "cit-B", "2", time.Minute)
	if resp, page := e.page("POST", "/sign/r1", "b", form); resp.StatusCode == http.StatusOK {
		t.Errorf("another citizen's approval while signing: %d %s", resp.StatusCode, page)
	}

	e.svc.update("r1", func(r *signing.Request) { r.Status = signing.StatusFailed })
	form.Set("lang", "vi")
	if resp, page := e.page("POST", "/sign/r1", "a", form); resp.StatusCode != http.StatusConflict {
		t.Errorf("approval of an ended request: %d %s", resp.StatusCode, page)
	}
}
