package idptest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
)

// ShiftedClock is time.Now plus an offset tests move forward.
type ShiftedClock struct{ off atomic.Int64 }

func (c *ShiftedClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

func (c *ShiftedClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

func WithClock(c *ShiftedClock) func(*idp.Config) { return func(cfg *idp.Config) { cfg.Now = c.Now } }

func (h *Harness) Refresh(clientID, rt string) Response {
	h.TB.Helper()
	return h.PostForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, clientID, h.Secrets[clientID])
}

func (h *Harness) UserInfo(at string) int {
	h.TB.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.Issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	return h.Do(req).Status
}

func MustCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("status %d, Location %q; want a code", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

// AuthorizeOutcome is what /authorize answers for q: the error code of a redirect to the
// client, "eid" for a redirect to the eID, or "page" for an error page.
func (h *Harness) AuthorizeOutcome(t *testing.T, q url.Values) (outcome string, loc *url.URL) {
	t.Helper()
	resp, err := NoJar().Get(h.Issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	ReadBody(t, resp)
	switch resp.StatusCode {
	case http.StatusBadRequest:
		return "page", nil
	case http.StatusFound:
		loc, _ = url.Parse(resp.Header.Get("Location"))
		if strings.HasPrefix(loc.String(), FakeEIDAuthURL+"?") {
			return "eid", loc
		}
		return loc.Query().Get("error"), loc
	}
	t.Fatalf("authorize: status %d", resp.StatusCode)
	return "", nil
}

func RedeemQuery(clientID, requestURI string, extra ...string) url.Values {
	q := url.Values{"client_id": {clientID}, "request_uri": {requestURI}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q
}

// MaxFormBytes mirrors the provider's limit on a request's form.
const MaxFormBytes = 64 << 10

// CheckTokenError asserts the shape every failed token request has.
func CheckTokenError(t *testing.T, res *http.Response, body []byte) string {
	t.Helper()
	if res.StatusCode >= 500 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if res.StatusCode == http.StatusOK {
		t.Fatalf("tokens issued without a valid code: %s", body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("body is not JSON: %v %q", err, body)
	}
	if !OAuthErrorCodes[e.Error] {
		t.Fatalf("error %q is not an RFC 6749 5.2 code", e.Error)
	}
	if e.Description == "" {
		t.Fatalf("no error_description")
	}
	want := http.StatusBadRequest
	if e.Error == "invalid_client" {
		want = http.StatusUnauthorized
	}
	if res.StatusCode != want {
		t.Fatalf("status %d for %s", res.StatusCode, e.Error)
	}
	return e.Error
}

// WithPendingAudit gives the provider an audit log on its own store and no sealer, so that
// acts' records stay pending for the test to count; *st is that store.
func WithPendingAudit(tb testing.TB, st *store.Audit) func(*idp.Config) {
	return func(c *idp.Config) {
		*st = c.Store.(store.Audit)
		l, err := audit.New(audit.Config{Store: *st})
		if err != nil {
			tb.Fatal(err)
		}
		c.Audit = l
	}
}

// Pending is the number of audit records not yet sealed into the chain.
func Pending(tb testing.TB, st store.Audit) int {
	tb.Helper()
	n, _, err := st.PendingAudit(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
