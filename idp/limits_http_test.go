package idp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/internal/idptest"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/ratelimit"
)

type rules = map[ratelimit.Scope]map[ratelimit.Kind]ratelimit.Rule

// withLimits gives the provider a limiter with rules over its own store.
func withLimits(t *testing.T, r rules) func(*idp.Config) {
	return func(c *idp.Config) {
		// A fixed clock: a test must not straddle a window's end.
		now := time.Date(2026, 3, 1, 8, 0, 30, 0, time.UTC)
		l, err := ratelimit.New(ratelimit.Config{Store: c.Store.(store.RateLimits), Key: []byte("idp test rate-limit key"), Rules: r, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		c.RateLimits = l
	}
}

// checkRetryAfter: the limiter's clock stands at hh:00:30, so a minute window ends in 30 s.
func checkRetryAfter(t *testing.T, h http.Header, want int) {
	t.Helper()
	if got := h.Get("Retry-After"); got != strconv.Itoa(want) {
		t.Errorf("Retry-After = %q, want %d", got, want)
	}
}

// TestLoginRateLimits: /authorize per IP and per client, the eID callback per citizen;
// over a limit the person gets the 429 page in Vietnamese or English with Retry-After.
func TestLoginRateLimits(t *testing.T) {
	minute := func(n int) ratelimit.Rule { return ratelimit.Rule{Limit: n, Window: time.Minute} }
	t.Run("per IP at /authorize", func(t *testing.T) {
		h := idptest.New(t, true, withLimits(t, rules{ratelimit.Login: {ratelimit.PerIP: minute(2)}}))
		b := h.Browser()
		for i := range 2 {
			resp, err := b.Get(h.Issuer + "/authorize?" + idptest.AuthQuery("web").Encode())
			if err != nil {
				t.Fatal(err)
			}
			idptest.ReadBody(t, resp)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("authorize %d: status %d, want 302", i+1, resp.StatusCode)
			}
		}
		for _, lang := range []struct{ q, want string }{
			{"", "Có quá nhiều yêu cầu trong thời gian ngắn"},
			{"en", "Too many requests in a short time"},
		} {
			q := idptest.AuthQuery("web")
			if lang.q != "" {
				q.Set("lang", lang.q)
			}
			resp, err := b.Get(h.Issuer + "/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body := string(idptest.ReadBody(t, resp))
			if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, lang.want) {
				t.Fatalf("over the limit (lang %q): %d, want 429 with %q:\n%.400s", lang.q, resp.StatusCode, lang.want, body)
			}
			checkRetryAfter(t, resp.Header, 30)
			checkPageHeaders(t, resp)
		}
	})
	t.Run("per client at /authorize", func(t *testing.T) {
		h := idptest.New(t, true, withLimits(t, rules{ratelimit.Login: {ratelimit.PerClient: minute(1)}}))
		statuses := map[string]int{}
		for _, c := range []string{"web", "web", "post"} {
			resp, err := idptest.NoJar().Get(h.Issuer + "/authorize?" + idptest.AuthQuery(c).Encode())
			if err != nil {
				t.Fatal(err)
			}
			idptest.ReadBody(t, resp)
			statuses[c] = resp.StatusCode // the last for web
		}
		if statuses["web"] != http.StatusTooManyRequests || statuses["post"] != http.StatusFound {
			t.Errorf("statuses %v: want web limited, post not", statuses)
		}
	})
	t.Run("per citizen at the eID callback", func(t *testing.T) {
		h := idptest.New(t, true, withLimits(t, rules{ratelimit.Login: {ratelimit.PerCitizen: minute(1)}}))
		h.Code(idptest.AuthQuery("web")) // the first login goes through
		resp := h.Login(h.Browser(), idptest.AuthQuery("web"))
		body := string(idptest.ReadBody(t, resp))
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Có quá nhiều yêu cầu") {
			t.Fatalf("second login of the citizen: %d, want 429\n%.300s", resp.StatusCode, body)
		}
		checkRetryAfter(t, resp.Header, 30)
		if resp.Header.Get("Set-Cookie") != "" && strings.Contains(resp.Header.Get("Set-Cookie"), "motlan_session") {
			t.Error("a refused login opened a session")
		}
	})
}

// TestTokenRateLimits: the token endpoint answers 429 with an RFC 6749 5.2 JSON body and
// Retry-After; the per-client count starts after authentication, so a stranger failing to
// authenticate as a client does not use up its allowance.
func TestTokenRateLimits(t *testing.T) {
	minute := func(n int) ratelimit.Rule { return ratelimit.Rule{Limit: n, Window: time.Minute} }
	t.Run("per client after authentication", func(t *testing.T) {
		h := idptest.New(t, true, withLimits(t, rules{ratelimit.Token: {ratelimit.PerClient: minute(1)}}))
		code := h.Code(idptest.AuthQuery("web"))
		for range 3 {
			r := h.PostForm("/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {idptest.WebRedirect}}, "web", "wrong-secret")
			idptest.CheckJSONError(t, r, http.StatusUnauthorized, "invalid_client")
		}
		if r := h.Redeem("web", code); r.Status != http.StatusOK {
			t.Fatalf("redeem after failed strangers: %d %s", r.Status, r.Raw)
		}
		r := h.Redeem("web", h.Code(idptest.AuthQuery("web")))
		idptest.CheckJSONError(t, r, http.StatusTooManyRequests, "temporarily_unavailable")
		checkRetryAfter(t, r.Header, 30)
		if r := h.Redeem("other", h.Code(idptest.AuthQuery("other"))); r.Status != http.StatusOK {
			t.Errorf("another client: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("per IP before authentication", func(t *testing.T) {
		h := idptest.New(t, true, withLimits(t, rules{ratelimit.Token: {ratelimit.PerIP: minute(2)}}))
		form := url.Values{"grant_type": {"client_credentials"}}
		var last idptest.Response
		for range 3 {
			last = h.PostForm("/token", form, "web", "guess")
		}
		idptest.CheckJSONError(t, last, http.StatusTooManyRequests, "temporarily_unavailable")
		checkRetryAfter(t, last.Header, 30)
	})
}

// TestAuditHooks: a login, a consent and the claim releases land in the audit log, with
// claim names and client ids but none of the citizen's data, and the chain verifies.
func TestAuditHooks(t *testing.T) {
	var st store.Audit
	h := idptest.New(t, true, idptest.WithPendingAudit(t, &st))
	tok := h.Redeem("web", h.Code(idptest.AuthQuery("web", "scope", "openid profile phone", "claims", `{"id_token":{"name":null}}`)))
	if tok.Status != http.StatusOK {
		t.Fatalf("redeem: %d %s", tok.Status, tok.Raw)
	}
	req, _ := http.NewRequest(http.MethodGet, h.Issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Str("access_token"))
	if r := h.Do(req); r.Status != http.StatusOK {
		t.Fatalf("userinfo: %d %s", r.Status, r.Raw)
	}
	b, _, id, csrf := consentPage(t, h)
	resp, err := b.PostForm(h.Issuer+"/consent", url.Values{"id": {id}, "csrf": {csrf}, "action": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	idptest.ReadBody(t, resp)

	// A client's token revocation (not one that revokes nothing) and a logout.
	lb := h.Browser()
	lresp := h.Login(lb, idptest.AuthQuery("web"))
	idptest.ReadBody(t, lresp)
	ltok := h.Redeem("web", idptest.MustCode(t, lresp))
	for _, tok := range []string{ltok.Str("access_token"), "not-a-token"} {
		if r := h.PostForm("/revoke", url.Values{"token": {tok}}, "web", h.Secrets["web"]); r.Status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
	}
	resp, err = lb.Get(h.Issuer + "/logout?" + url.Values{"id_token_hint": {ltok.Str("id_token")}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if idptest.ReadBody(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d", resp.StatusCode)
	}

	// Acts write their records pending, in their own transaction; the sealer (not running
	// here) chains them.
	if _, err := st.SealPendingAudit(t.Context(), 100, audit.Seal); err != nil {
		t.Fatal(err)
	}
	recs, err := st.ListAudit(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Kind+"/"+detail(r, "client")+"/"+detail(r, "via"))
		if want := "citizen:"; r.Kind == "token.revoke" && r.Actor != "client:web" || r.Kind != "token.revoke" && !strings.HasPrefix(r.Actor, want) {
			t.Errorf("record %d (%s) actor %q", r.Seq, r.Kind, r.Actor)
		}
		for _, v := range idptest.FakeCitizen {
			if strings.Contains(string(r.Details), v) || strings.Contains(r.Actor, v) {
				t.Errorf("record %d holds the citizen's data %q: %s", r.Seq, v, r.Details)
			}
		}
	}
	want := []string{"login/web/", "release/web/id_token", "release/web/userinfo", "login/portal/", "consent/portal/",
		"login/web/", "token.revoke//", "logout/web/"}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("audit records %v, want %v", kinds, want)
	}
	if r := recs[len(recs)-2]; detail(r, "token_type") != "access_token" {
		t.Errorf("revocation record: %s", r.Details)
	}
	if r := recs[1]; !strings.Contains(string(r.Details), `"name"`) {
		t.Errorf("ID token release does not name its claims: %s", r.Details)
	}
	if r := recs[2]; !strings.Contains(string(r.Details), `"phone_number"`) {
		t.Errorf("userinfo release does not name its claims: %s", r.Details)
	}
	if n, err := audit.Verify(t.Context(), st); err != nil || n != int64(len(recs)) {
		t.Errorf("Verify: %d, %v", n, err)
	}
}

func detail(r store.AuditRecord, key string) string {
	var m map[string]any
	_ = json.Unmarshal(r.Details, &m)
	s, _ := m[key].(string)
	return s
}

// downLimits fails every count, as a store that lost its database does.
type downLimits struct{}

func (downLimits) TakeRateLimit(context.Context, string, int, time.Duration, time.Time) (bool, time.Duration, error) {
	return false, 0, errors.New("connection refused")
}
func (downLimits) DeleteExpiredRateLimits(context.Context, time.Time) (int64, error) { return 0, nil }

// TestRateLimitsFailClosed: where a deployment makes login and token limits fail closed,
// a store that cannot count is answered as the outage it is: 503 with RFC 6749
// temporarily_unavailable at the token endpoint (not 400, which tells the client its
// request is wrong), 503 with the "busy" page at /authorize; never 429, since no limit was
// reached, and never a Retry-After, since no one knows when the store returns.
func TestRateLimitsFailClosed(t *testing.T) {
	minute := ratelimit.Rule{Limit: 100, Window: time.Minute}
	failClosed := func(r rules) func(*idp.Config) {
		return func(c *idp.Config) {
			l, err := ratelimit.New(ratelimit.Config{Store: downLimits{}, Key: []byte("idp test rate-limit key"), Rules: r,
				FailClosed: map[ratelimit.Scope]bool{ratelimit.Login: true, ratelimit.Token: true}})
			if err != nil {
				t.Fatal(err)
			}
			c.RateLimits = l
		}
	}
	perIP := idptest.New(t, true, failClosed(rules{ratelimit.Login: {ratelimit.PerIP: minute}, ratelimit.Token: {ratelimit.PerIP: minute}}))
	perClient := idptest.New(t, true, failClosed(rules{ratelimit.Token: {ratelimit.PerClient: minute}}))
	for _, tt := range []struct {
		name       string
		h          *idptest.Harness
		user, pass string
		wantStatus int
		wantCode   string
	}{
		{"per IP, client", perIP, "web", perIP.Secrets["web"], http.StatusServiceUnavailable, "temporarily_unavailable"},
		{"per IP, stranger", perIP, "web", "guess", http.StatusServiceUnavailable, "temporarily_unavailable"},
		{"per IP, no client at all", perIP, "", "", http.StatusServiceUnavailable, "temporarily_unavailable"},
		{"per client, client", perClient, "web", perClient.Secrets["web"], http.StatusServiceUnavailable, "temporarily_unavailable"},
		// Counted only after authentication, so a stranger learns nothing of the outage.
		{"per client, stranger", perClient, "web", "guess", http.StatusUnauthorized, "invalid_client"},
	} {
		t.Run("token, "+tt.name, func(t *testing.T) {
			r := tt.h.PostForm("/token", url.Values{"grant_type": {"client_credentials"}}, tt.user, tt.pass)
			idptest.CheckJSONError(t, r, tt.wantStatus, tt.wantCode)
			if ra := r.Header.Get("Retry-After"); ra != "" {
				t.Errorf("Retry-After %q for an outage of unknown length", ra)
			}
		})
	}
	for _, lang := range []struct{ q, want string }{{"", "Hệ thống đang bận"}, {"en", "The system is busy"}} {
		t.Run("authorize, lang "+lang.q, func(t *testing.T) {
			q := idptest.AuthQuery("web")
			if lang.q != "" {
				q.Set("lang", lang.q)
			}
			resp, err := idptest.NoJar().Get(perIP.Issuer + "/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body := string(idptest.ReadBody(t, resp))
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, lang.want) {
				t.Errorf("authorize: %d, want 503 with %q:\n%.300s", resp.StatusCode, lang.want, body)
			}
			if ra := resp.Header.Get("Retry-After"); ra != "" {
				t.Errorf("Retry-After %q for an outage of unknown length", ra)
			}
			checkPageHeaders(t, resp)
		})
	}
}
