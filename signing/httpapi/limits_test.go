package httpapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/ratelimit"
	"github.com/motlan/motlan/signing"
)

// fixedNow is the limiter's clock in these tests: none may straddle a window's end.
func fixedNow() time.Time { return time.Date(2026, 3, 2, 8, 0, 30, 0, time.UTC) }

// testRateLimitKey names rate-limit counters in tests.
var testRateLimitKey = []byte("httpapi test rate-limit key")

// downStore is a rate-limit store whose database is gone.
type downStore struct{}

func (downStore) TakeRateLimit(context.Context, string, int, time.Duration, time.Time) (bool, time.Duration, error) {
	return false, 0, errors.New("connection refused")
}
func (downStore) DeleteExpiredRateLimits(context.Context, time.Time) (int64, error) { return 0, nil }

// TestApprovalRateLimit: a citizen over the approval limit gets the 429 page (Retry-After)
// and nothing is approved; with the limit store down, approval fails closed (503).
func TestApprovalRateLimit(t *testing.T) {
	perCitizen := map[ratelimit.Scope]map[ratelimit.Kind]ratelimit.Rule{
		ratelimit.Approval: {ratelimit.PerCitizen: {Limit: 1, Window: time.Minute}, ratelimit.PerIP: {Limit: 100, Window: time.Minute}},
	}
	sqlite := func(t *testing.T) store.RateLimits {
		s, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "m.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	tests := []struct {
		name       string
		store      func(t *testing.T) store.RateLimits
		lang       string
		wantFirst  int // status of the first approval
		wantSecond int
		wantText   string
	}{
		{"per citizen", sqlite, "", http.StatusOK, http.StatusTooManyRequests, "Vui lòng mở lại yêu cầu này sau 15:00, 02/03/2026"},
		{"per citizen, English", sqlite, "en", http.StatusOK, http.StatusTooManyRequests, "Please open this request again after 15:00, 2 Mar 2026"},
		{"store down: fail closed", func(*testing.T) store.RateLimits { return downStore{} }, "", http.StatusServiceUnavailable, http.StatusServiceUnavailable, "Hệ thống đang bận"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ratelimit.New(ratelimit.Config{Store: tt.store(t), Key: testRateLimitKey, Rules: perCitizen, FailClosed: map[ratelimit.Scope]bool{ratelimit.Approval: true}, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, func(c *Config) { c.RateLimits = l })
			e.session("a", citizenA, "2", time.Minute)
			var statuses []int
			var last string
			for _, id := range []string{"r1", "r2"} {
				e.pending(id)
				_, body := e.page("GET", "/sign/"+id+"?lang="+tt.lang, "a", nil)
				form := shownForm(t, body)
				form.Set("action", "approve")
				resp, page := e.page("POST", "/sign/"+id, "a", form)
				statuses = append(statuses, resp.StatusCode)
				last = page
				if resp.StatusCode == http.StatusTooManyRequests {
					if got := resp.Header.Get("Retry-After"); got != "30" {
						t.Errorf("Retry-After %q, want 30 (the clock is at 08:00:30)", got)
					}
					wantPageHeaders(t, resp)
				}
			}
			if statuses[0] != tt.wantFirst || statuses[1] != tt.wantSecond || !strings.Contains(last, tt.wantText) {
				t.Fatalf("statuses %v, want [%d %d] and %q:\n%.400s", statuses, tt.wantFirst, tt.wantSecond, tt.wantText, last)
			}
			if e.svc.reqs["r2"].Status != signing.StatusPending {
				t.Errorf("the refused approval went through: %s", e.svc.reqs["r2"].Status)
			}
		})
	}
}

// TestApprovalLimitBeforeLogin: the approval limit is checked when the link is opened,
// before the eID login; a blocked citizen sees when to come back, in Vietnamese, and the
// portal sees blocked_until in the request's status.
func TestApprovalLimitBeforeLogin(t *testing.T) {
	s, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	l, err := ratelimit.New(ratelimit.Config{Store: s, Key: testRateLimitKey, Now: fixedNow, FailClosed: map[ratelimit.Scope]bool{ratelimit.Approval: true},
		Rules: map[ratelimit.Scope]map[ratelimit.Kind]ratelimit.Rule{ratelimit.Approval: {ratelimit.PerCitizen: {Limit: 1, Window: time.Minute}}}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.RateLimits = l })
	for _, id := range []string{"r1", "r2"} {
		e.pending(id)
		e.svc.update(id, func(r *signing.Request) { r.CitizenID = citizenA })
	}
	// No browser session: the first opening goes to the eID login.
	resp, _ := e.page("GET", "/sign/r1", "", nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "https://id.motlan.test/stepup") {
		t.Fatalf("first opening: %d %s, want the step-up redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, page := e.page("GET", "/sign/r2", "", nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "30" {
		t.Fatalf("second opening: %d Retry-After %q, want 429 before any login", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	wantPageHeaders(t, resp)
	if !strings.Contains(page, "Vui lòng mở lại yêu cầu này sau 15:00, 02/03/2026") || !strings.Contains(page, `lang="vi"`) {
		t.Errorf("the page does not say when to come back:\n%.600s", page)
	}
	want := e.clock.Now().Add(30 * time.Second)
	if got := e.svc.reqs["r2"].BlockedUntil; !got.Equal(want) || e.svc.reqs["r2"].Status != signing.StatusPending {
		t.Errorf("r2 blocked until %v (%s), want %v and still pending", got, e.svc.reqs["r2"].Status, want)
	}
	resp = e.do("GET", "/signing/v1/requests/r2", tokPortal, nil, nil)
	if got := string(readAll(t, resp)); !strings.Contains(got, `"blocked_until":"2026-03-02T08:00:30Z"`) {
		t.Errorf("the portal's status does not carry blocked_until: %s", got)
	}
	resp = e.do("GET", "/signing/v1/requests/r1", tokPortal, nil, nil)
	if got := string(readAll(t, resp)); strings.Contains(got, "blocked_until") {
		t.Errorf("a request that was not blocked carries blocked_until: %s", got)
	}
}

// TestCreateRateLimit: a client over its signing-request limit, or over the limit for one
// citizen, gets a 429 problem document with Retry-After; other citizens are not held up.
func TestCreateRateLimit(t *testing.T) {
	s, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	l, err := ratelimit.New(ratelimit.Config{Store: s, Key: testRateLimitKey, Now: fixedNow, Rules: map[ratelimit.Scope]map[ratelimit.Kind]ratelimit.Rule{
		ratelimit.Signing: {ratelimit.PerClient: {Limit: 3, Window: time.Minute}, ratelimit.PerCitizen: {Limit: 1, Window: time.Hour}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.RateLimits = l })
	create := func(subject string) *http.Response {
		hdr, body := form(t, field("subject", subject), field("title", "Tờ khai"), file("a.pdf", pdf("a")))
		return e.do("POST", "/signing/v1/requests", tokPortal, hdr, body)
	}
	steps := []struct {
		subject string
		want    int
	}{
		{"sub-1", http.StatusCreated},
		{"sub-1", http.StatusTooManyRequests}, // per citizen
		{"sub-2", http.StatusCreated},
		{"sub-3", http.StatusTooManyRequests}, // per client: the 4th request of the minute
	}
	for i, s := range steps {
		resp := create(s.subject)
		if s.want != http.StatusTooManyRequests {
			if resp.StatusCode != s.want {
				t.Fatalf("step %d: %d %s", i, resp.StatusCode, readAll(t, resp))
			}
			readAll(t, resp)
			continue
		}
		p := wantProblem(t, resp, http.StatusTooManyRequests, ProblemTooManyRequests)
		// The clock is at 08:00:30: the minute window ends in 30 s, the hour's in 3570 s.
		if want := map[int]string{1: "3570", 3: "30"}[i]; resp.Header.Get("Retry-After") != want {
			t.Errorf("step %d: Retry-After %q, want %s", i, resp.Header.Get("Retry-After"), want)
		}
		if p.Detail == "" || strings.Contains(p.Detail, s.subject) {
			t.Errorf("step %d: detail %q", i, p.Detail)
		}
	}
}

// countingExtender is fakeExtender counting the calls that reach it.
type countingExtender struct {
	fakeExtender
	calls atomic.Int32
}

func (c *countingExtender) Extend(ctx context.Context, pdf []byte, level signing.Level) ([]byte, error) {
	c.calls.Add(1)
	return c.fakeExtender.Extend(ctx, pdf, level)
}

// TestExtendRateLimit: POST /signing/v1/extend counts against the client's signing
// allowance, shared with the requests it creates: over it the caller gets a 429 problem
// with Retry-After and the extender is not called; another client is not held up; with
// the limit store down the signing scope fails open.
func TestExtendRateLimit(t *testing.T) {
	rules := map[ratelimit.Scope]map[ratelimit.Kind]ratelimit.Rule{
		ratelimit.Signing: {ratelimit.PerClient: {Limit: 3, Window: time.Minute}, ratelimit.PerCitizen: {Limit: 30, Window: time.Hour}},
	}
	pdfHdr := http.Header{"Content-Type": {"application/pdf"}}

	t.Run("per client", func(t *testing.T) {
		s, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "m.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		l, err := ratelimit.New(ratelimit.Config{Store: s, Key: testRateLimitKey, Now: fixedNow, Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		ext := &countingExtender{}
		e := newEnv(t, func(c *Config) { c.RateLimits = l; c.Extender = ext })
		extend := func(tok string) *http.Response {
			return e.do("POST", "/signing/v1/extend?level=B-LT", tok, pdfHdr, strings.NewReader(signedPDF))
		}
		multipartExtend := func(tok string) *http.Response {
			hdr, body := form(t, field("level", "B-LTA"), file("a.pdf", []byte(signedPDF)))
			return e.do("POST", "/signing/v1/extend", tok, hdr, body)
		}
		create := func(subject string) *http.Response {
			hdr, body := form(t, field("subject", subject), field("title", "Tờ khai"), file("a.pdf", pdf("a")))
			return e.do("POST", "/signing/v1/requests", tokPortal, hdr, body)
		}
		steps := []struct {
			name      string
			call      func() *http.Response
			want      int
			wantCalls int32 // extender calls after the step
		}{
			{"extend", func() *http.Response { return extend(tokPortal) }, http.StatusOK, 1},
			{"create", func() *http.Response { return create("sub-1") }, http.StatusCreated, 1},
			{"extend with a citizen's token of the same client", func() *http.Response { return extend(tokCitizen) }, http.StatusOK, 2},
			{"extend over the limit", func() *http.Response { return extend(tokPortal) }, http.StatusTooManyRequests, 2},
			{"multipart extend over the limit", func() *http.Response { return multipartExtend(tokPortal) }, http.StatusTooManyRequests, 2},
			{"create over the shared limit", func() *http.Response { return create("sub-2") }, http.StatusTooManyRequests, 2},
			{"another client", func() *http.Response { return extend(tokOther) }, http.StatusOK, 3},
		}
		for _, s := range steps {
			resp := s.call()
			if s.want == http.StatusTooManyRequests {
				p := wantProblem(t, resp, http.StatusTooManyRequests, ProblemTooManyRequests)
				// The clock is at 08:00:30: the minute window ends in 30 s.
				if got := resp.Header.Get("Retry-After"); got != "30" {
					t.Errorf("%s: Retry-After %q, want 30", s.name, got)
				}
				if !strings.Contains(p.Detail, "per client") || !strings.Contains(p.Detail, "retry after 30 s") {
					t.Errorf("%s: detail %q", s.name, p.Detail)
				}
			} else if body := readAll(t, resp); resp.StatusCode != s.want {
				t.Fatalf("%s: %d %s", s.name, resp.StatusCode, body)
			}
			if got := ext.calls.Load(); got != s.wantCalls {
				t.Fatalf("%s: the extender was called %d times, want %d", s.name, got, s.wantCalls)
			}
		}
	})

	t.Run("store down: fail open", func(t *testing.T) {
		l, err := ratelimit.New(ratelimit.Config{Store: downStore{}, Key: testRateLimitKey, Now: fixedNow, Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		ext := &countingExtender{}
		e := newEnv(t, func(c *Config) { c.RateLimits = l; c.Extender = ext })
		for i := range 4 {
			resp := e.do("POST", "/signing/v1/extend?level=B-LT", tokPortal, pdfHdr, strings.NewReader(signedPDF))
			if body := readAll(t, resp); resp.StatusCode != http.StatusOK {
				t.Fatalf("call %d: %d %s", i, resp.StatusCode, body)
			}
		}
		if got := ext.calls.Load(); got != 4 {
			t.Fatalf("the extender was called %d times, want 4", got)
		}
	})
}

// TestVerifyRateLimit: POST /signing/v1/verify counts per client in a scope of its own:
// over it the caller gets a 429 problem with Retry-After before the PDF is read, and
// neither another client nor the signing allowance is touched.
func TestVerifyRateLimit(t *testing.T) {
	s, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	l, err := ratelimit.New(ratelimit.Config{Store: s, Key: testRateLimitKey, Now: fixedNow, Rules: map[ratelimit.Scope]map[ratelimit.Kind]ratelimit.Rule{
		ratelimit.Verify:  {ratelimit.PerClient: {Limit: 2, Window: time.Minute}},
		ratelimit.Signing: {ratelimit.PerClient: {Limit: 1, Window: time.Minute}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.RateLimits = l })
	verify := func(tok string) *http.Response {
		return e.do("POST", "/signing/v1/verify", tok, http.Header{"Content-Type": {"application/pdf"}}, bytes.NewReader(minimalPDF("Ho so")))
	}
	for i := range 2 {
		if resp := verify(tokPortal); resp.StatusCode != http.StatusOK {
			t.Fatalf("verification %d: %d %s", i, resp.StatusCode, readAll(t, resp))
		}
	}
	resp := verify(tokPortal)
	p := wantProblem(t, resp, http.StatusTooManyRequests, ProblemTooManyRequests)
	if got := resp.Header.Get("Retry-After"); got != "30" || !strings.Contains(p.Detail, "verifications per client") {
		t.Errorf("Retry-After %q, detail %q", got, p.Detail)
	}
	if resp := verify(tokOther); resp.StatusCode != http.StatusOK {
		t.Errorf("another client: %d %s", resp.StatusCode, readAll(t, resp))
	}
	hdr, body := form(t, field("subject", "sub-1"), field("title", "Tờ khai"), file("a.pdf", pdf("a")))
	if resp := e.do("POST", "/signing/v1/requests", tokPortal, hdr, body); resp.StatusCode != http.StatusCreated {
		t.Errorf("a signing request after verifications: %d %s", resp.StatusCode, readAll(t, resp))
	}
}
