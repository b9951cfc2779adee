package cscserver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/internal/testsync"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/keys/vault"
	"github.com/motlan/motlan/signing"
	"github.com/motlan/motlan/signing/csc/cscserver"
)

// This suite is written from the CSC API v2.0 text: raw JSON in and out, each endpoint's
// required parameters and errors, SAD single use, hash binding, numSignatures. The server
// runs over a real signing service (SQLite store, software vault, dev CA) and the store's
// single-use records.

const (
	citA, citB     = "cit-hao", "cit-an"
	tokA, tokA2    = "tok-hao", "tok-hao-other-client"
	tokB, tokNoSvc = "tok-an", "tok-noscope"
	tokCC          = "tok-client-credentials"
)

type people struct{}

func (people) Citizen(_ context.Context, id string) (signing.CitizenInfo, error) {
	switch id {
	case citA:
		return signing.CitizenInfo{ID: id, Name: "Lê Công Hảo", CCCD: "038092004567", Province: "Thanh Hóa"}, nil
	case citB:
		return signing.CitizenInfo{ID: id, Name: "Nguyễn Văn An", CCCD: "001203000111", Province: "Hà Nội"}, nil
	}
	return signing.CitizenInfo{}, errors.New("no such citizen")
}

type fakeAuth struct {
	mu       sync.Mutex
	tokens   map[string]cscserver.Caller
	sessions map[string]struct {
		cid, acr string
		at       time.Time
	}
}

func (a *fakeAuth) Caller(r *http.Request) (cscserver.Caller, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	defer a.mu.Unlock()
	c, known := a.tokens[tok]
	if !ok || !known {
		return cscserver.Caller{}, errors.New("unknown token")
	}
	return c, nil
}

func (a *fakeAuth) BrowserCitizen(r *http.Request) (cid, acr string, at time.Time, ok bool) {
	if ck, err := r.Cookie("sid"); err == nil {
		a.mu.Lock()
		s, known := a.sessions[ck.Value]
		a.mu.Unlock()
		cid, acr, at, ok = s.cid, s.acr, s.at, known
	}
	return cid, acr, at, ok
}

func (a *fakeAuth) StepUpURL(returnPath, lang string) string {
	return "https://id.motlan.test/stepup?return=" + returnPath
}

type env struct {
	mu     sync.Mutex
	events []cscserver.AuditEvent
	t      testing.TB
	srv    *httptest.Server
	h      http.Handler
	auth   *fakeAuth
	clock  *testsync.Clock
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := t.Context()
	clock := testsync.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "m.db"), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mk := make([]byte, keys.MasterKeySize)
	rand.Read(mk)
	sealer, _ := keys.NewSealer(mk)
	v, err := vault.NewSoftware(vault.SoftwareConfig{Store: st, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := ca.New(ctx, ca.Config{Storage: &ca.MemStorage{}, Sealer: sealer, BaseURL: "http://127.0.0.1:1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for id, cccd := range map[string]string{citA: "038092004567", citB: "001203000111"} {
		if _, err := st.UpsertCitizen(ctx, store.Citizen{ID: id, Issuer: "https://eid.test", Subject: id, CCCD: cccd}); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := signing.NewService(signing.ServiceConfig{Store: st, Vault: v, CA: dev, Citizens: people{}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	tsaCA := testpki.NewCA(t)
	au := &fakeAuth{tokens: map[string]cscserver.Caller{
		tokA:     {ClientID: "rp", CitizenID: citA, Scopes: []string{"openid", "service"}},
		tokA2:    {ClientID: "other-rp", CitizenID: citA, Scopes: []string{"service"}},
		tokB:     {ClientID: "rp", CitizenID: citB, Scopes: []string{"service"}},
		tokNoSvc: {ClientID: "rp", CitizenID: citA, Scopes: []string{"openid", "sign"}},
		tokCC:    {ClientID: "rp", Scopes: []string{"service"}},
	}, sessions: map[string]struct {
		cid, acr string
		at       time.Time
	}{}}
	e := &env{t: t, auth: au, clock: clock}
	srv, err := cscserver.New(cscserver.Config{
		Audit: func(_ context.Context, ev cscserver.AuditEvent) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
		},
		Credentials: svc, Auth: au, Citizens: st, Key: bytes.Repeat([]byte{9}, 32), Now: clock.Now, Timestamp: tsaCA.Timestamper(nil),
		Once: cscserver.OnceFrom(st.UseAssertion, store.ErrAlreadyUsed),
		Throttle: func(ctx context.Context, key string, limit int, window time.Duration) (bool, error) {
			ok, _, err := st.TakeRateLimit(ctx, key, limit, window, clock.Now())
			return ok, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e.srv, e.h = hs, srv.Handler()
	return e
}

// call POSTs body (a JSON string) to method with token and returns status and the answer.
func (e *env) call(method, token, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/csc/v2/"+method, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("%s: answer is not a JSON object: %d %s", method, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// wantError checks an OAuth-style error answer.
func wantError(t *testing.T, what string, status int, out map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || out["error"] != wantCode || out["error_description"] == "" {
		t.Errorf("%s: %d %v, want %d %q with a description", what, status, out, wantStatus, wantCode)
	}
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// credentialID is the caller's credential from credentials/list.
func (e *env) credentialID(tok string) string {
	e.t.Helper()
	st, out := e.call("credentials/list", tok, `{}`)
	ids, _ := out["credentialIDs"].([]any)
	if st != 200 || len(ids) != 1 {
		e.t.Fatalf("credentials/list: %d %v", st, out)
	}
	return ids[0].(string)
}

// otp is what the citizen reads on /csc/otp after a fresh level-2 login.
func (e *env) otp(cid string) string {
	e.t.Helper()
	e.auth.mu.Lock()
	e.auth.sessions["s-"+cid] = struct {
		cid, acr string
		at       time.Time
	}{cid, "2", e.clock.Now().Add(-time.Minute)}
	e.auth.mu.Unlock()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/csc/otp", nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: "s-" + cid})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`<p class="code">(\d{8})</p>`).FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		e.t.Fatalf("otp page: %d %s", resp.StatusCode, page)
	}
	return string(m[1])
}

func digests(n int) ([][]byte, []string) {
	var ds [][]byte
	var b64 []string
	for i := range n {
		d := sha256.Sum256([]byte(fmt.Sprintf("signed attributes %d", i)))
		ds = append(ds, d[:])
		b64 = append(b64, base64.StdEncoding.EncodeToString(d[:]))
	}
	return ds, b64
}

const sha256OID = "2.16.840.1.101.3.4.2.1"

// authorize gets a SAD for hashes with a fresh OTP.
func (e *env) authorize(tok, cid, cred string, hashes []string) string {
	e.t.Helper()
	st, out := e.call("credentials/authorize", tok, jsonOf(map[string]any{
		"credentialID": cred, "numSignatures": len(hashes), "hashes": hashes, "hashAlgorithmOID": sha256OID,
		"authData": []any{map[string]any{"id": "OTP", "value": e.otp(cid)}},
	}))
	sad, _ := out["SAD"].(string)
	if st != 200 || sad == "" || out["expiresIn"] == nil {
		e.t.Fatalf("authorize: %d %v", st, out)
	}
	return sad
}

func TestInfo(t *testing.T) {
	e := newEnv(t)
	st, out := e.call("info", "", `{}`)
	if st != 200 || out["specs"] != "2.0.0.2" || out["name"] == "" || out["region"] != "VN" {
		t.Fatalf("info: %d %v", st, out)
	}
	methods := jsonOf(out["methods"])
	for _, m := range []string{"credentials/list", "credentials/info", "credentials/authorize", "signatures/signHash", "signatures/timestamp"} {
		if !strings.Contains(methods, `"`+m+`"`) {
			t.Errorf("info lacks method %s: %s", m, methods)
		}
	}
}

// Every method but info needs a citizen's token with the service scope, and POST.
func TestServiceAuthorization(t *testing.T) {
	e := newEnv(t)
	for _, m := range []string{"credentials/list", "credentials/info", "credentials/authorize", "signatures/signHash", "credentials/getChallenge", "signatures/timestamp"} {
		st, out := e.call(m, "", `{}`)
		wantError(t, m+" without token", st, out, 401, "invalid_token")
		st, out = e.call(m, "forged", `{}`)
		wantError(t, m+" with a forged token", st, out, 401, "invalid_token")
		st, out = e.call(m, tokNoSvc, `{}`)
		wantError(t, m+" without the service scope", st, out, 403, "insufficient_scope")
	}
	resp, err := http.Get(e.srv.URL + "/csc/v2/credentials/list")
	if err != nil || resp.StatusCode != 405 {
		t.Errorf("GET credentials/list: %v %v", resp.StatusCode, err)
	}
	st, out := e.call("credentials/list", tokA, `[1,2]`)
	wantError(t, "a body that is no object", st, out, 400, "invalid_request")
}

func TestCredentialsListAndInfo(t *testing.T) {
	e := newEnv(t)
	st, out := e.call("credentials/list", tokA, `{"credentialInfo": true, "certificates": "chain", "certInfo": true, "authInfo": true}`)
	if st != 200 {
		t.Fatalf("list: %d %v", st, out)
	}
	ids, _ := out["credentialIDs"].([]any)
	infos, _ := out["credentialInfos"].([]any)
	if len(ids) != 1 || len(infos) != 1 {
		t.Fatalf("list: %v", out)
	}
	info := infos[0].(map[string]any)
	key, cert, auth := info["key"].(map[string]any), info["cert"].(map[string]any), info["auth"].(map[string]any)
	certs, _ := cert["certificates"].([]any)
	if info["credentialID"] != ids[0] || key["status"] != "enabled" || len(key["algo"].([]any)) == 0 || key["len"] == nil ||
		cert["status"] != "valid" || len(certs) < 2 || !strings.Contains(cert["subjectDN"].(string), "CCCD:038092004567") ||
		cert["validFrom"] == nil || cert["validTo"] == nil || cert["issuerDN"] == nil || cert["serialNumber"] == nil ||
		auth["mode"] != "explicit" || info["SCAL"] != "2" || info["multisign"] == nil {
		t.Fatalf("credentialInfo: %v", info)
	}
	der, _ := base64.StdEncoding.DecodeString(certs[0].(string))
	if _, err := x509.ParseCertificate(der); err != nil {
		t.Fatalf("certificates[0]: %v", err)
	}
	if b := e.credentialID(tokB); b == ids[0] {
		t.Fatal("two citizens share a credential id")
	}

	st, out = e.call("credentials/list", tokA, `{"userID": "someone"}`)
	wantError(t, "userID with a user token", st, out, 400, "invalid_request")

	id := ids[0].(string)
	for _, tc := range []struct {
		body  string
		certs int
	}{{`{"credentialID": "` + id + `"}`, 1}, {`{"credentialID": "` + id + `", "certificates": "none"}`, 0},
		{`{"credentialID": "` + id + `", "certificates": "chain"}`, len(certs)}} {
		st, out := e.call("credentials/info", tokA, tc.body)
		got, _ := out["cert"].(map[string]any)["certificates"].([]any)
		if st != 200 || len(got) != tc.certs || out["auth"] == nil {
			t.Errorf("info %s: %d, %d certificates, auth %v", tc.body, st, len(got), out["auth"])
		}
	}
	st, out = e.call("credentials/info", tokA, `{"credentialID": "`+id+`", "authInfo": false}`)
	if st != 200 || out["auth"].(map[string]any)["mode"] != "" {
		t.Errorf("authInfo false still gave auth: %v", out["auth"])
	}
	for name, body := range map[string]string{
		"missing credentialID": `{}`, "wrong type": `{"credentialID": 7}`,
		"bad certificates": `{"credentialID": "` + id + `", "certificates": "all"}`,
	} {
		st, out := e.call("credentials/info", tokA, body)
		wantError(t, "info with "+name, st, out, 400, "invalid_request")
	}
	st, out = e.call("credentials/info", tokB, `{"credentialID": "`+id+`"}`)
	wantError(t, "another citizen's credential", st, out, 400, "invalid_credentialID")
}

// authorize then signHash: one SAD, exactly its hashes, once.
func TestAuthorizeAndSignHash(t *testing.T) {
	e := newEnv(t)
	cred := e.credentialID(tokA)
	ds, hashes := digests(3)
	sad := e.authorize(tokA, citA, cred, hashes)

	st, out := e.call("credentials/info", tokA, `{"credentialID": "`+cred+`", "certificates": "single"}`)
	der, _ := base64.StdEncoding.DecodeString(out["cert"].(map[string]any)["certificates"].([]any)[0].(string))
	cert, err := x509.ParseCertificate(der)
	if st != 200 || err != nil {
		t.Fatal(st, err)
	}
	sign := func(tok, sad string, hashes []string, algo string) (int, map[string]any) {
		return e.call("signatures/signHash", tok, jsonOf(map[string]any{
			"credentialID": cred, "SAD": sad, "hashes": hashes, "hashAlgorithmOID": sha256OID, "signAlgo": algo,
		}))
	}
	const ecdsaSHA256 = "1.2.840.10045.4.3.2"
	// Rejections that do not spend the SAD.
	st, out = sign(tokA, sad, hashes[:2], ecdsaSHA256)
	wantError(t, "fewer hashes than authorized", st, out, 400, "invalid_request")
	_, other := digests(4)
	st, out = sign(tokA, sad, other[1:], ecdsaSHA256)
	wantError(t, "other hashes than authorized", st, out, 400, "invalid_request")
	st, out = sign(tokA, sad, hashes, "")
	wantError(t, "no signAlgo", st, out, 400, "invalid_request")
	st, out = sign(tokA, sad, hashes, "1.2.840.113549.1.1.11")
	wantError(t, "RSA signAlgo for an ECDSA key", st, out, 400, "invalid_request")
	st, out = sign(tokA2, sad, hashes, ecdsaSHA256)
	wantError(t, "SAD of another client", st, out, 400, "invalid_request")
	st, out = sign(tokA, "forged"+sad[6:], hashes, ecdsaSHA256)
	wantError(t, "forged SAD", st, out, 400, "invalid_request")
	st, out = e.call("signatures/signHash", tokA, jsonOf(map[string]any{"credentialID": cred, "hashes": hashes, "hashAlgorithmOID": sha256OID, "signAlgo": ecdsaSHA256}))
	wantError(t, "no SAD", st, out, 400, "invalid_request")

	st, out = sign(tokA, sad, hashes, ecdsaSHA256)
	sigs, _ := out["signatures"].([]any)
	if st != 200 || len(sigs) != 3 {
		t.Fatalf("signHash: %d %v", st, out)
	}
	for i, s := range sigs {
		sig, _ := base64.StdEncoding.DecodeString(s.(string))
		if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), ds[i], sig) {
			t.Errorf("signature %d does not verify over hash %d", i, i)
		}
	}
	st, out = sign(tokA, sad, hashes, ecdsaSHA256)
	wantError(t, "the SAD a second time", st, out, 400, "expired_sad")
	e.mu.Lock()
	events := append([]cscserver.AuditEvent(nil), e.events...)
	e.mu.Unlock()
	if len(events) != 2 || events[0].Signed || !events[1].Signed || events[1].CitizenID != citA || events[1].ClientID != "rp" ||
		strings.Join(events[1].Hashes, ",") != strings.Join(hashes, ",") {
		t.Fatalf("audit events %+v: want the authorisation, then the one signHash with its hashes", events)
	}

	sad2 := e.authorizeNextWindow(tokA, citA, cred, hashes)
	e.clock.Advance(6 * time.Minute)
	st, out = sign(tokA, sad2, hashes, ecdsaSHA256)
	wantError(t, "an expired SAD", st, out, 400, "expired_sad")
}

// authorizeNextWindow waits out the OTP window (each code is single use) and authorizes.
func (e *env) authorizeNextWindow(tok, cid, cred string, hashes []string) string {
	e.clock.Advance(5 * time.Minute)
	return e.authorize(tok, cid, cred, hashes)
}

func TestAuthorizeRequiredFields(t *testing.T) {
	e := newEnv(t)
	cred := e.credentialID(tokA)
	_, hashes := digests(2)
	otp := e.otp(citA)
	base := func() map[string]any {
		return map[string]any{"credentialID": cred, "numSignatures": 2, "hashes": hashes, "hashAlgorithmOID": sha256OID,
			"authData": []any{map[string]any{"id": "OTP", "value": otp}}}
	}
	for _, tc := range []struct {
		name string
		mod  func(map[string]any)
		code string
	}{
		{"no credentialID", func(m map[string]any) { delete(m, "credentialID") }, "invalid_request"},
		{"no hashes (SCAL2)", func(m map[string]any) { delete(m, "hashes") }, "invalid_request"},
		{"numSignatures not the hashes", func(m map[string]any) { m["numSignatures"] = 3 }, "invalid_request"},
		{"numSignatures zero", func(m map[string]any) { m["numSignatures"] = 0 }, "invalid_request"},
		{"numSignatures over multisign", func(m map[string]any) { m["numSignatures"] = 51 }, "invalid_request"},
		{"no hashAlgorithmOID", func(m map[string]any) { delete(m, "hashAlgorithmOID") }, "invalid_request"},
		{"SHA-1", func(m map[string]any) { m["hashAlgorithmOID"] = "1.3.14.3.2.26" }, "invalid_request"},
		{"a hash that is not 32 bytes", func(m map[string]any) { m["hashes"] = []string{hashes[0], "AAAA"} }, "invalid_request"},
		{"v1 hash parameter", func(m map[string]any) { m["hash"] = hashes }, "invalid_request"},
		{"no authData", func(m map[string]any) { delete(m, "authData") }, "invalid_request"},
		{"wrong OTP", func(m map[string]any) { m["authData"] = []any{map[string]any{"id": "OTP", "value": "12345678"}} }, "invalid_otp"},
		{"the OTP of another citizen", func(m map[string]any) { m["credentialID"] = e.credentialID(tokB) }, "invalid_credentialID"},
	} {
		m := base()
		tc.mod(m)
		st, out := e.call("credentials/authorize", tokA, jsonOf(m))
		wantError(t, tc.name, st, out, 400, tc.code)
	}
	// The OTP works once.
	if st, out := e.call("credentials/authorize", tokA, jsonOf(base())); st != 200 {
		t.Fatalf("authorize: %d %v", st, out)
	}
	st, out := e.call("credentials/authorize", tokA, jsonOf(base()))
	wantError(t, "the OTP a second time", st, out, 400, "invalid_otp")
	// Citizen B cannot use A's code for their own credential.
	m := base()
	m["credentialID"] = e.credentialID(tokB)
	st, out = e.call("credentials/authorize", tokB, jsonOf(m))
	wantError(t, "A's OTP for B", st, out, 400, "invalid_otp")
}

// The code needs a fresh level-2 login; the page carries its CSP.
func TestOTPPage(t *testing.T) {
	e := newEnv(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for name, sess := range map[string]struct {
		acr string
		age time.Duration
	}{"level 1": {"1", time.Minute}, "old login": {"2", 10 * time.Minute}} {
		e.auth.mu.Lock()
		e.auth.sessions["x"] = struct {
			cid, acr string
			at       time.Time
		}{citA, sess.acr, e.clock.Now().Add(-sess.age)}
		e.auth.mu.Unlock()
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/csc/otp", nil)
		req.AddCookie(&http.Cookie{Name: "sid", Value: "x"})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/stepup") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, err := client.Get(e.srv.URL + "/csc/otp")
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("no session: %v %v", resp.StatusCode, err)
	}
	first, second, other := e.otp(citA), e.otp(citA), e.otp(citB)
	if len(first) != 8 || first == second || first == other {
		t.Errorf("codes %q %q (a second visit), %q (another citizen)", first, second, other)
	}
}

func TestTimestamp(t *testing.T) {
	e := newEnv(t)
	d := sha256.Sum256([]byte("signature value"))
	st, out := e.call("signatures/timestamp", tokA, jsonOf(map[string]any{"hash": base64.StdEncoding.EncodeToString(d[:]), "hashAlgorithmOID": sha256OID}))
	tok, _ := out["timestamp"].(string)
	if raw, err := base64.StdEncoding.DecodeString(tok); st != 200 || err != nil || len(raw) < 100 {
		t.Fatalf("timestamp: %d %v", st, out)
	}
	st, out = e.call("signatures/timestamp", tokA, `{"hash": "AAAA", "hashAlgorithmOID": "`+sha256OID+`"}`)
	wantError(t, "timestamp of a short hash", st, out, 400, "invalid_request")
}

// A client's own token (client_credentials, scope service) names the citizen by userID;
// signing still needs the citizen's OTP.
func TestClientCredentialsService(t *testing.T) {
	e := newEnv(t)
	st, out := e.call("credentials/list", tokCC, `{}`)
	wantError(t, "list without userID", st, out, 400, "invalid_request")
	st, out = e.call("credentials/list", tokCC, `{"userID": "038092009999"}`)
	if ids, _ := out["credentialIDs"].([]any); st != 200 || ids == nil || len(ids) != 0 {
		t.Fatalf("unknown userID: %d %v", st, out)
	}
	st, out = e.call("credentials/list", tokCC, `{"userID": "CCCD:038092004567"}`)
	ids, _ := out["credentialIDs"].([]any)
	if st != 200 || len(ids) != 1 || ids[0] != e.credentialID(tokA) {
		t.Fatalf("list by CCCD: %d %v", st, out)
	}
	cred := ids[0].(string)
	st, out = e.call("credentials/info", tokCC, `{"credentialID": "`+cred[:len(cred)-2]+`xx"}`)
	wantError(t, "a forged credential id", st, out, 400, "invalid_credentialID")
	_, hashes := digests(2)
	sad := e.authorize(tokCC, citA, cred, hashes)
	st, out = e.call("signatures/signHash", tokCC, jsonOf(map[string]any{"credentialID": cred, "SAD": sad, "hashes": hashes,
		"hashAlgorithmOID": sha256OID, "signAlgo": "1.2.840.10045.4.3.2"}))
	if sigs, _ := out["signatures"].([]any); st != 200 || len(sigs) != 2 {
		t.Fatalf("signHash: %d %v", st, out)
	}
}

// Guessing OTPs is bounded: 30 authorizations per citizen per ten minutes, then 429.
func TestAuthorizeThrottled(t *testing.T) {
	e := newEnv(t)
	cred := e.credentialID(tokA)
	_, hashes := digests(1)
	wrong := jsonOf(map[string]any{"credentialID": cred, "numSignatures": 1, "hashes": hashes, "hashAlgorithmOID": sha256OID,
		"authData": []any{map[string]any{"id": "OTP", "value": "12345678"}}})
	for i := range 30 {
		if st, out := e.call("credentials/authorize", tokA, wrong); st != 400 || out["error"] != "invalid_otp" {
			t.Fatalf("attempt %d: %d %v", i+1, st, out)
		}
	}
	st, out := e.call("credentials/authorize", tokA, wrong)
	wantError(t, "the 31st attempt", st, out, 429, "temporarily_unavailable")
	// Another citizen is not held back.
	if st, out := e.call("credentials/authorize", tokB, strings.Replace(wrong, cred, e.credentialID(tokB), 1)); st != 400 {
		t.Fatalf("citizen B: %d %v", st, out)
	}
	e.clock.Advance(11 * time.Minute)
	if st, _ := e.call("credentials/authorize", tokA, wrong); st != 400 {
		t.Fatalf("after the window: %d", st)
	}
}
