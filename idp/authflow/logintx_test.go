package authflow_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/internal/idptest"
)

// TestLoginTransactionCookie checks the login transaction that rides in the tx cookie: it
// works once, and a copy of the cookie, a forged or swapped cookie, or an expired one
// gets a page and no code. A request too big for a cookie goes through the store instead,
// with the same single use.
func TestLoginTransactionCookie(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	h := idptest.New(t, true, func(c *idp.Config) { c.Now = clock })
	// A claims request over the cookie budget: the name asked with many acceptable values.
	values := make([]string, 120)
	for i := range values {
		values[i] = `"Nguyễn Thị Phương Thảo ` + strings.Repeat("ă", i%7) + `"`
	}
	bigClaims := `{"userinfo":{"name":{"values":[` + strings.Join(values, ",") + `]}}}`

	// start runs /authorize without a jar and returns the state and the tx cookie.
	start := func(t *testing.T, q url.Values) (string, *http.Cookie) {
		t.Helper()
		resp, err := idptest.NoJar().Get(h.Issuer + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		idptest.ReadBody(t, resp)
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound {
			t.Fatalf("authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		for _, c := range resp.Cookies() {
			if strings.HasPrefix(c.Name, "motlan_tx_") {
				return u.Query().Get("state"), c
			}
		}
		t.Fatal("no tx cookie")
		return "", nil
	}
	// callback returns the status and whether a code went to the client.
	callback := func(t *testing.T, state string, c *http.Cookie) (int, bool) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, h.Issuer+"/eid/callback?"+url.Values{"state": {state}, "code": {"x"}}.Encode(), nil)
		if c != nil {
			req.AddCookie(c)
		}
		resp, err := idptest.NoJar().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		idptest.ReadBody(t, resp)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return resp.StatusCode, loc != nil && loc.Query().Get("code") != ""
	}

	for _, tt := range []struct {
		name   string
		claims string
		sealed bool // the transaction rides in the cookie
	}{
		{"sealed in the cookie", "", true},
		{"too big: stored", bigClaims, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := idptest.AuthQuery("web")
			if tt.claims != "" {
				q.Set("claims", tt.claims)
			}
			state, tx := start(t, q)
			if sealed := len(tx.Value) > 200; sealed != tt.sealed || len(tx.Value) > 3500 {
				t.Fatalf("cookie of %d bytes, want sealed=%v and at most 3500", len(tx.Value), tt.sealed)
			}

			// A forged cookie, and this cookie's value under another login's name.
			forged := *tx
			forged.Value = tx.Value[:len(tx.Value)-4] + "AAAA"
			if st, code := callback(t, state, &forged); st != http.StatusBadRequest || code {
				t.Errorf("forged cookie: %d, code %v", st, code)
			}
			state2, tx2 := start(t, q)
			swapped := *tx2
			swapped.Value = tx.Value
			if st, code := callback(t, state2, &swapped); st != http.StatusBadRequest || code {
				t.Errorf("another login's cookie: %d, code %v", st, code)
			}

			if st, code := callback(t, state, tx); st != http.StatusFound || !code {
				t.Fatalf("honest callback: %d, code %v", st, code)
			}
			// The cookie was cleared in the browser; a copy of it still does not replay.
			if st, code := callback(t, state, tx); st != http.StatusBadRequest || code {
				t.Errorf("replay with a copied cookie: %d, code %v", st, code)
			}
		})
	}

	t.Run("abandoned logins are pruned", func(t *testing.T) {
		// Six logins started and left; the seventh completes and clears all but the
		// newest three of the others.
		var left []*http.Cookie
		for range 6 {
			_, c := start(t, idptest.AuthQuery("web"))
			left = append(left, c)
			now = now.Add(time.Second)
		}
		state, tx := start(t, idptest.AuthQuery("web"))
		req, _ := http.NewRequest(http.MethodGet, h.Issuer+"/eid/callback?"+url.Values{"state": {state}, "code": {"x"}}.Encode(), nil)
		for _, c := range append(left, tx) {
			req.AddCookie(c)
		}
		resp, err := idptest.NoJar().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		idptest.ReadBody(t, resp)
		cleared := map[string]bool{}
		for _, c := range resp.Cookies() {
			if c.MaxAge < 0 {
				cleared[c.Name] = true
			}
		}
		for i, c := range left {
			if want := i < 3; cleared[c.Name] != want {
				t.Errorf("login %d of 6 (oldest first): cleared %v, want %v", i, cleared[c.Name], want)
			}
		}
		if !cleared[tx.Name] || resp.StatusCode != http.StatusFound {
			t.Errorf("own cookie cleared %v, status %d", cleared[tx.Name], resp.StatusCode)
		}
	})

	t.Run("replayed just after expiry", func(t *testing.T) {
		// The transaction expires at E = X.100 s; the cookie's clear expiry is X, which
		// openJSON accepts through X.999: the single-use record must hold until then.
		now = now.Truncate(time.Second).Add(time.Hour + 100*time.Millisecond)
		state, tx := start(t, idptest.AuthQuery("web"))
		if st, code := callback(t, state, tx); st != http.StatusFound || !code {
			t.Fatalf("honest callback: %d, code %v", st, code)
		}
		now = now.Add(10*time.Minute + 800*time.Millisecond)
		if st, code := callback(t, state, tx); code {
			t.Errorf("a copy of the cookie replayed after E but within its last second: %d, code %v", st, code)
		}
	})

	t.Run("expired", func(t *testing.T) {
		state, tx := start(t, idptest.AuthQuery("web"))
		now = now.Add(11 * time.Minute)
		if st, code := callback(t, state, tx); st != http.StatusBadRequest || code {
			t.Errorf("expired transaction: %d, code %v", st, code)
		}
	})
}
