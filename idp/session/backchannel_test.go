package session_test

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/internal/idptest"
	"github.com/motlan/motlan/idp/internal/web"
	"github.com/motlan/motlan/idp/store"
)

// backchannelStore registers back-channel logout URIs for clients the harness creates.
type backchannelStore struct {
	store.Store
	uris map[string]string
}

func (s backchannelStore) ListClients(ctx context.Context) ([]store.Client, error) {
	list, err := s.Store.ListClients(ctx)
	for i := range list {
		list[i].BackchannelLogoutURI = s.uris[list[i].ID]
	}
	return list, err
}

// logoutReceiver is a relying party's back-channel logout endpoint that answers with
// statuses in turn (200 once they run out) and records each logout token it gets.
type logoutReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	tokens   []string
	problems []string
	got      chan struct{}
}

func newLogoutReceiver(t *testing.T, statuses ...int) *logoutReceiver {
	rc := &logoutReceiver{statuses: statuses, got: make(chan struct{}, 16)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if r.Method != http.MethodPost || mt != "application/x-www-form-urlencoded" {
			rc.problems = append(rc.problems, r.Method+" "+r.Header.Get("Content-Type"))
		}
		_ = r.ParseForm()
		rc.tokens = append(rc.tokens, r.PostForm.Get("logout_token"))
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		rc.got <- struct{}{}
	}))
	t.Cleanup(rc.Close)
	return rc
}

// wait returns the tokens once n have arrived.
func (rc *logoutReceiver) wait(t *testing.T, n int) []string {
	t.Helper()
	for range n {
		select {
		case <-rc.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("receiver %s: fewer than %d logout tokens arrived", rc.URL, n)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.problems) > 0 {
		t.Errorf("receiver %s: bad requests %v", rc.URL, rc.problems)
	}
	return slices.Clone(rc.tokens)
}

// verifyLogoutToken checks a logout token the way a relying party must (Back-Channel
// Logout 1.0 section 2.6) against the provider's JWKS, and returns its claims.
func verifyLogoutToken(t *testing.T, h *idptest.Harness, tok, clientID string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatalf("parse logout token: %v", err)
	}
	hdr := jws.Signatures[0].Protected
	if typ, _ := hdr.ExtraHeaders["typ"].(string); typ != "logout+jwt" {
		t.Errorf("typ header %q, want logout+jwt", typ)
	}
	resp, err := http.Get(h.Issuer + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(idptest.ReadBody(t, resp), &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(hdr.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS", hdr.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("logout token signature: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	now := float64(time.Now().Unix())
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	switch {
	case c["iss"] != h.Issuer:
		t.Errorf("iss %v", c["iss"])
	case c["aud"] != clientID:
		t.Errorf("aud %v, want %s", c["aud"], clientID)
	case iat < now-60 || iat > now+5:
		t.Errorf("iat %v, now %v", iat, now)
	case exp-iat != 120:
		t.Errorf("exp %v is not iat+2min", exp)
	case c["jti"] == "" || c["jti"] == nil:
		t.Error("no jti")
	case c["sid"] == "" || c["sid"] == nil:
		t.Error("no sid")
	case c["nonce"] != nil:
		t.Error("a logout token must not carry nonce")
	}
	ev, _ := c["events"].(map[string]any)
	if e, ok := ev[idp.BackchannelLogoutEvent].(map[string]any); !ok || len(e) != 0 || len(ev) != 1 {
		t.Errorf("events %v", c["events"])
	}
	return c
}

// idTokenClaims reads an ID token's payload (the token endpoint's answer, already trusted).
func idTokenClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBackchannelLogout: RP-initiated logout sends each client of the session that
// registered a back-channel URI a valid logout token for its own sub and the sid of its ID
// token; a client without the URI gets nothing; a failing receiver is retried.
func TestBackchannelLogout(t *testing.T) {
	web := newLogoutReceiver(t)
	other := newLogoutReceiver(t, http.StatusInternalServerError, http.StatusServiceUnavailable) // then 200
	stray := newLogoutReceiver(t)                                                                // "pkjwt": not in the session
	var posts sync.WaitGroup
	h := idptest.New(t, true, func(c *idp.Config) {
		c.Store = backchannelStore{Store: c.Store, uris: map[string]string{
			"web": web.URL + "/bc", "other": other.URL + "/bc?tenant=1", "pkjwt": stray.URL,
		}}
		c.BackchannelBackoff = 10 * time.Millisecond
		c.BackchannelClient = &http.Client{Timeout: 2 * time.Second, Transport: countingTransport{&posts}}
	})

	// One browser session, three clients: web and other with back-channel URIs, post without.
	b := h.Browser()
	resp := h.Login(b, idptest.AuthQuery("web"))
	idptest.ReadBody(t, resp)
	code := idptest.MustCode(t, resp)
	webTok := h.Redeem("web", code)
	if webTok.Status != http.StatusOK {
		t.Fatalf("redeem web: %s", webTok.Raw)
	}
	otherTok := h.Redeem("other", ssoCode(t, h, b, "other"))
	postTok := h.PostForm("/token", url.Values{"grant_type": {"authorization_code"}, "code": {ssoCode(t, h, b, "post")},
		"redirect_uri": {idptest.PostRedirect}, "client_id": {"post"}, "client_secret": {h.Secrets["post"]}}, "", "")
	for _, r := range []idptest.Response{otherTok, postTok} {
		if r.Status != http.StatusOK {
			t.Fatalf("redeem: %s", r.Raw)
		}
	}

	resp, err := b.Get(h.Issuer + "/logout?" + url.Values{"id_token_hint": {webTok.Str("id_token")}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	idptest.ReadBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: status %d", resp.StatusCode)
	}

	for _, tc := range []struct {
		client string
		rc     *logoutReceiver
		n      int
		idTok  idptest.Response
	}{{"web", web, 1, webTok}, {"other", other, 3, otherTok}} {
		toks := tc.rc.wait(t, tc.n)
		if len(toks) != tc.n {
			t.Fatalf("%s: %d posts, want %d", tc.client, len(toks), tc.n)
		}
		lt := verifyLogoutToken(t, h, toks[len(toks)-1], tc.client)
		id := idTokenClaims(t, tc.idTok.Str("id_token"))
		if lt["sid"] != id["sid"] || lt["sub"] != id["sub"] {
			t.Errorf("%s: logout token sid %v sub %v, ID token sid %v sub %v", tc.client, lt["sid"], lt["sub"], id["sid"], id["sub"])
		}
	}
	// Every post has been answered: the stray client heard nothing, and post has no URI.
	posts.Wait()
	if n := len(stray.wait(t, 0)); n != 0 {
		t.Errorf("a client outside the session got %d logout tokens", n)
	}
	ids, err := h.Store.SessionClients(t.Context(), sessionOf(t, h, webTok))
	if err != nil || !slices.Equal(ids, []string{"other", "post", "web"}) {
		t.Errorf("session clients %v, %v", ids, err)
	}

	// The online refresh token died with the session.
	r := h.PostForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {webTok.Str("refresh_token")}}, "web", h.Secrets["web"])
	idptest.CheckJSONError(t, r, http.StatusBadRequest, "invalid_grant")
}

// countingTransport lets the test wait until every back-channel post has been answered.
type countingTransport struct{ wg *sync.WaitGroup }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.wg.Add(1)
	defer c.wg.Done()
	return http.DefaultTransport.RoundTrip(r)
}

// ssoCode gets a code for clientID from the browser's existing session.
func ssoCode(t *testing.T, h *idptest.Harness, b *http.Client, clientID string) string {
	t.Helper()
	resp, err := b.Get(h.Issuer + "/authorize?" + idptest.AuthQuery(clientID).Encode())
	if err != nil {
		t.Fatal(err)
	}
	idptest.ReadBody(t, resp)
	if !strings.HasPrefix(resp.Header.Get("Location"), idptest.RedirectsOf[clientID][0]) {
		t.Fatalf("authorize %s: status %d, Location %q", clientID, resp.StatusCode, resp.Header.Get("Location"))
	}
	return idptest.MustCode(t, resp)
}

// sessionOf finds the session ID behind a token response through its refresh token.
func sessionOf(t *testing.T, h *idptest.Harness, r idptest.Response) string {
	t.Helper()
	rt, err := h.Store.GetRefreshToken(t.Context(), web.HashID(r.Str("refresh_token")))
	if err != nil {
		t.Fatal(err)
	}
	return rt.SessionID
}
