package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

const (
	base       = "https://id.motlan.test"
	portal     = "portal"
	citizenA   = "cit-A"
	subA       = "sub-cit-A@portal" // fakeAuth.SubjectFor(portal, citizenA)
	tokPortal  = "tok-portal"
	tokOther   = "tok-other"
	tokNoScope = "tok-noscope"
	tokCitizen = "tok-citizen"
)

type env struct {
	t     *testing.T
	srv   *httptest.Server
	api   *API
	svc   *fakeService
	auth  *fakeAuth
	clock *clock
}

func newEnv(t *testing.T, mod ...func(*Config)) *env {
	t.Helper()
	ck := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	svc := newFakeService(ck.Now)
	au := &fakeAuth{
		tokens: map[string]Caller{
			tokPortal:  {ClientID: portal, Scopes: []string{"signing"}},
			tokOther:   {ClientID: "other", Scopes: []string{"signing"}},
			tokNoScope: {ClientID: portal, Scopes: []string{"openid"}},
			tokCitizen: {ClientID: portal, Subject: subA, CitizenID: citizenA, Scopes: []string{"openid", "sign"}},
		},
		sessions: map[string]fakeSession{},
	}
	cfg := Config{
		Service: svc, Auth: au, BaseURL: base, CSRFKey: bytes.Repeat([]byte{7}, 32), Now: ck.Now,
		ClientNames: map[string]string{portal: "Cổng Dịch vụ công tỉnh"},
		// Most tests here are about other things than sole control: any fresh login
		// will do for them; gate_test.go tests the bound login.
		AcceptUnboundLogin: true,
	}
	for _, m := range mod {
		m(&cfg)
	}
	api, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, api: api, svc: svc, auth: au, clock: ck}
}

// session opens a browser session for citizen at level acr, authenticated age ago.
func (e *env) session(name, citizen, acr string, age time.Duration) {
	e.auth.mu.Lock()
	defer e.auth.mu.Unlock()
	e.auth.sessions[name] = fakeSession{citizenID: citizen, acr: acr, authTime: e.clock.Now().Add(-age)}
}

func (e *env) client() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *env) do(method, path, token string, hdr http.Header, body io.Reader) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantProblem checks an RFC 9457 answer and returns it.
func wantProblem(t *testing.T, r *http.Response, status int, typ string) Problem {
	t.Helper()
	body := readAll(t, r)
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", r.StatusCode, status, body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q: %s", ct, body)
	}
	var p Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != typ || p.Status != status || p.Title == "" {
		t.Fatalf("problem %+v, want type %s status %d", p, typ, status)
	}
	return p
}

func decodeReq(t *testing.T, r *http.Response, status int) requestJSON {
	t.Helper()
	body := readAll(t, r)
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", r.StatusCode, status, body)
	}
	var out requestJSON
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return out
}

type part struct {
	name, filename string
	body           []byte
}

func field(name, v string) part          { return part{name: name, body: []byte(v)} }
func file(name string, body []byte) part { return part{name: "document", filename: name, body: body} }

func form(t *testing.T, parts ...part) (http.Header, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="`+p.name+`"; filename="`+p.filename+`"`)
			h.Set("Content-Type", "application/pdf")
			w, err = mw.CreatePart(h)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(p.body)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return http.Header{"Content-Type": {mw.FormDataContentType()}}, &buf
}

func pdf(s string) []byte { return []byte("%PDF-1.7\n% " + s + "\n%%EOF\n") }

// pending stores a pending request of portal for citizen A with two documents.
func (e *env) pending(id string) signing.Request {
	now := e.clock.Now()
	r := signing.Request{
		ID: id, ClientID: portal, Subject: subA, Reason: "Đăng ký khai sinh cho con", Location: "UBND phường Bến Thành",
		Level: signing.LevelBT, Status: signing.StatusPending, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
		Documents: []signing.Document{{Title: "Tờ khai đăng ký khai sinh", Pages: 2}, {Title: "Giấy chứng sinh", Pages: 1}},
	}
	e.svc.put(r, pdf("to khai "+id), pdf("giay chung sinh "+id))
	e.svc.mu.Lock()
	defer e.svc.mu.Unlock()
	return *e.svc.reqs[id]
}

func contains(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("missing %q in:\n%s", sub, s)
		}
	}
}
