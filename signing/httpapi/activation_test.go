package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

// activatingService is the fake service behind a provider that asks for a PIN or OTP.
type activatingService struct {
	*fakeService
	mode       signing.ActivationMode
	err        error // from ActivationFor
	challenges int
	got        []signing.Activation
	failWith   string // ApproveWith fails the request with this code
	wrongCodes int    // ApproveWith refuses this many codes first, the request still pending
}

func (s *activatingService) ActivationFor(context.Context, string) (signing.ActivationMode, error) {
	return s.mode, s.err
}

func (s *activatingService) Challenge(context.Context, string) error { s.challenges++; return nil }

func (s *activatingService) ApproveWith(ctx context.Context, id, cid string, sub func(string) string, hashes []string, act signing.Activation) (signing.Request, error) {
	s.got = append(s.got, act)
	if s.wrongCodes > 0 {
		s.wrongCodes--
		r, _ := s.ForApproval(ctx, id, cid, sub)
		return r, &signing.BackendError{Code: signing.FailureAuth, Err: errors.New("Invalid PIN")}
	}
	if s.failWith != "" {
		return s.update(id, func(r *signing.Request) { r.Status, r.Failure, r.CitizenID = signing.StatusFailed, s.failWith, cid }), nil
	}
	return s.Approve(ctx, id, cid, sub, hashes)
}

var _ Activator = (*activatingService)(nil)

func newActivating(t *testing.T, mode signing.ActivationMode) (*env, *activatingService) {
	var as *activatingService
	e := newEnv(t, func(c *Config) {
		as = &activatingService{fakeService: c.Service.(*fakeService), mode: mode}
		c.Service = as
	})
	e.pending("r1")
	e.session("a", citizenA, "2", time.Minute)
	return e, as
}

// A PIN credential: the page asks for it (Vietnamese and English), the POST carries it to
// the service for this approval only.
func TestApprovalAsksPIN(t *testing.T) {
	e, as := newActivating(t, signing.ActivationPIN)
	_, body := e.page("GET", "/sign/r1", "a", nil)
	contains(t, body, "Mã PIN chứng thư số", `name="pin" type="password"`, "formnovalidate")
	_, en := e.page("GET", "/sign/r1?lang=en", "a", nil)
	contains(t, en, "Certificate PIN")
	form := shownForm(t, body)
	form.Set("action", "approve")
	form.Set("pin", "135790")
	if resp, page := e.page("POST", "/sign/r1", "a", form); resp.StatusCode != 200 || !strings.Contains(page, "Đã ký xong") {
		t.Fatalf("%d %s", resp.StatusCode, page)
	}
	if len(as.got) != 1 || as.got[0].PIN != "135790" || as.challenges != 0 {
		t.Fatalf("service got %v, %d challenges", as.got, as.challenges)
	}
}

// An OTP credential: showing the page has the provider send the code.
func TestApprovalAsksOTP(t *testing.T) {
	e, as := newActivating(t, signing.ActivationOTP)
	_, body := e.page("GET", "/sign/r1", "a", nil)
	contains(t, body, "Mã OTP", `name="otp"`, `autocomplete="one-time-code"`)
	if as.challenges != 1 {
		t.Fatalf("%d challenges", as.challenges)
	}
	form := shownForm(t, body)
	form.Set("action", "approve")
	form.Set("otp", strings.Repeat("9", maxActivation+1))
	if resp, _ := e.page("POST", "/sign/r1", "a", form); resp.StatusCode != http.StatusBadRequest || len(as.got) != 0 {
		t.Fatalf("an oversized OTP: %d, service got %v", resp.StatusCode, as.got)
	}
}

// A citizen with no certificate at the provider learns it before approving, with what to do.
func TestApprovalNoCredential(t *testing.T) {
	e, as := newActivating(t, signing.ActivationNone)
	as.err = &signing.BackendError{Code: signing.FailureNoCredential, Err: errors.New("none")}
	resp, body := e.page("GET", "/sign/r1", "a", nil)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("%d", resp.StatusCode)
	}
	wantPageHeaders(t, resp)
	contains(t, body, "Bạn chưa có chứng thư số", "đăng ký chứng thư số ký từ xa")
	if strings.Contains(body, `name="csrf"`) {
		t.Error("a form to approve was shown")
	}
	_, en := e.page("GET", "/sign/r1?lang=en", "a", nil)
	contains(t, en, "You have no signing certificate yet")
}

// Each failure code a request ends with has its own explanation on the result page.
func TestApprovalFailurePages(t *testing.T) {
	for _, code := range []string{signing.FailureUnavailable, signing.FailureTimeout, signing.FailureSADExpired, signing.FailureAuth,
		signing.FailureSuspended, signing.FailureRevoked, signing.FailureBadSignature, signing.FailureNoCredential,
		signing.FailureActivation, signing.FailureProvider, signing.FailureDigestMismatch} {
		for _, lang := range []string{"vi", "en"} {
			if messages[lang]["failed."+code] == "" {
				t.Errorf("no %s text for %s", lang, code)
			}
		}
	}
	e, as := newActivating(t, signing.ActivationPIN)
	as.failWith = signing.FailureAuth
	_, body := e.page("GET", "/sign/r1", "a", nil)
	form := shownForm(t, body)
	form.Set("action", "approve")
	form.Set("pin", "000000")
	resp, page := e.page("POST", "/sign/r1", "a", form)
	if resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
	contains(t, page, "Không ký được", "Mã PIN hoặc mã OTP không đúng")
}

// A wrong PIN is answered at once: the form again, saying so ("sai mã"), in the page's
// language, and the next try with the right PIN signs.
func TestApprovalWrongCodeAsksAgain(t *testing.T) {
	e, as := newActivating(t, signing.ActivationPIN)
	as.wrongCodes = 2
	_, body := e.page("GET", "/sign/r1", "a", nil)
	form := shownForm(t, body)
	form.Set("action", "approve")
	form.Set("pin", "000000")
	resp, page := e.page("POST", "/sign/r1", "a", form)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("%d %s", resp.StatusCode, page)
	}
	wantPageHeaders(t, resp)
	contains(t, page, "Sai mã", `role="alert"`, `name="pin" type="password"`, `name="csrf"`)
	if strings.Contains(page, "Không ký được") {
		t.Fatal("a wrong PIN shown as a failed request")
	}
	en := shownForm(t, page)
	en.Set("action", "approve")
	en.Set("pin", "111111")
	en.Set("lang", "en")
	if resp, page := e.page("POST", "/sign/r1", "a", en); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Wrong code") {
		t.Fatalf("English: %d %s", resp.StatusCode, page)
	}
	again := shownForm(t, page)
	again.Set("action", "approve")
	again.Set("pin", "135790")
	if resp, page := e.page("POST", "/sign/r1", "a", again); resp.StatusCode != 200 || !strings.Contains(page, "Đã ký xong") {
		t.Fatalf("the right PIN: %d %s", resp.StatusCode, page)
	}
	if len(as.got) != 3 || as.got[2].PIN != "135790" {
		t.Fatalf("service got %v", as.got)
	}
}
