package integration

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/oauth2"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/server"
	"github.com/motlan/motlan/keys"
)

// startReplica starts one more Motlan on cfg's store and master key, listening on addr,
// as another replica behind the same load balancer; it logs to log.
func startReplica(t *testing.T, cfg config.Config, addr string, log *slog.Logger) {
	t.Helper()
	mk, err := keys.LoadMasterKey("", cfg.Secrets.MasterKey.File)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.DevEID = addr, nil
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	run, err := server.Start(context.Background(), cfg, mk, log)
	if err != nil {
		t.Fatalf("replica: %v", err)
	}
	t.Cleanup(func() { _ = run.Shutdown() })
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func retryAfter(t *testing.T, resp *http.Response) {
	t.Helper()
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 || n > 3600 {
		t.Errorf("Retry-After = %q, want 1..3600 seconds", resp.Header.Get("Retry-After"))
	}
}

// TestRateLimitsAcrossReplicas: two replicas on one store share the counters, so a
// client's token requests and an address's logins are limited however the load balancer
// spreads them; over the limit, the token endpoint answers 429 JSON and /authorize the
// 429 page, both with Retry-After.
func TestRateLimitsAcrossReplicas(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			var cfg config.Config
			s := newStackWith(t, driver, false, func(c *config.Config) {
				// Hour windows: the test must not straddle a window's end.
				c.RateLimits.Token.PerClient = &config.RateLimit{Limit: 3, Window: config.Duration(time.Hour)}
				c.RateLimits.Login.PerIP = &config.RateLimit{Limit: 4, Window: config.Duration(time.Hour)}
				cfg = *c
			})
			addrB := freeAddr(t)
			startReplica(t, cfg, addrB, discard())
			replicas := []string{s.issuer, "http://" + addrB}

			var statuses []int
			for i := range 6 {
				req, _ := http.NewRequest(http.MethodPost, replicas[i%2]+"/token", strings.NewReader("grant_type=client_credentials&scope=signing"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(s.portal.id, s.portal.secret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw := body(t, resp)
				statuses = append(statuses, resp.StatusCode)
				if resp.StatusCode == http.StatusTooManyRequests {
					var e struct{ Error, ErrorDescription string }
					if json.Unmarshal([]byte(raw), &e) != nil || e.Error != "temporarily_unavailable" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
						t.Errorf("429 body %s (%s), want an RFC 6749 JSON error", raw, resp.Header.Get("Content-Type"))
					}
					retryAfter(t, resp)
				}
			}
			if fmt.Sprint(statuses) != "[200 200 200 429 429 429]" {
				t.Errorf("token statuses over two replicas %v, want 3 allowed then 429", statuses)
			}

			statuses = nil
			b := newBrowser(t)
			a := s.portal.authorize([]string{"openid", "profile"})
			for i := range 6 {
				u := strings.Replace(a.url, s.issuer, replicas[i%2], 1)
				resp := b.get(u)
				page := body(t, resp)
				statuses = append(statuses, resp.StatusCode)
				if resp.StatusCode == http.StatusTooManyRequests {
					if !strings.Contains(page, "Có quá nhiều yêu cầu") {
						t.Errorf("429 page is not the Vietnamese rate-limit page:\n%.300s", page)
					}
					retryAfter(t, resp)
				}
			}
			if fmt.Sprint(statuses) != "[302 302 302 302 429 429]" {
				t.Errorf("authorize statuses over two replicas %v, want 4 allowed then 429", statuses)
			}
		})
	}
}

// TestAuditTrailEndToEnd: a login with consent, a signing and an operator's revocation
// leave a chained audit trail without personal data; motlan audit verify proves it, and
// names the record an SQL edit breaks.
func TestAuditTrailEndToEnd(t *testing.T) {
	bin := buildMotlan(t)
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			var cfg *config.Config
			s := newStackWith(t, driver, false, func(c *config.Config) { cfg = c })
			// The portal reads the citizen's profile at userinfo: a claim release.
			a := s.portal.authorize([]string{"openid", "profile", "phone"})
			cb, _, _ := s.login(t, newBrowser(t), a, haoCCCD, "allow")
			tok, _ := s.portal.redeem(t, s, a, cb)
			req, _ := http.NewRequest(http.MethodGet, s.issuer+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("userinfo: %v", err)
			} else {
				body(t, resp)
			}
			title := "Tờ khai đăng ký khai sinh"
			p := newSigningPortal(t, s)
			id, approvalURL := p.request(t, s, "audited", title)
			p.approve(t, approvalURL, title)
			if st := p.wait(t, s, id); st.Status != "signed" {
				t.Fatalf("status %q (%s), want signed", st.Status, st.Failure)
			}
			configFile := writeStackConfig(t, *cfg)
			serial := signerSerial(t, s, p, id)
			if out, err := exec.Command(bin, "revoke", "--config", configFile, "--serial", serial.Text(16), "--reason", "keyCompromise").CombinedOutput(); err != nil {
				t.Fatalf("motlan revoke: %v\n%s", err, out)
			}
			out, err := exec.Command(bin, "audit", "verify", "--config", configFile).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "unbroken") {
				t.Fatalf("motlan audit verify: %v\n%s", err, out)
			}

			st, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: driver, DSN: cfg.Storage.DSN.Value})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			recs, err := st.ListAudit(context.Background(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int64{}
			for _, r := range recs {
				if _, ok := seen[r.Kind]; !ok {
					seen[r.Kind] = r.Seq
				}
				for _, personal := range []string{haoCCCD, "Lê Công Hảo", "+84912345602", "1992-11-02", "Đông Hải", title} {
					if strings.Contains(string(r.Details)+r.Actor, personal) {
						t.Errorf("record %d (%s) holds %q: %s", r.Seq, r.Kind, personal, r.Details)
					}
				}
			}
			for _, kind := range []string{"login", "consent", "release", "signing.create", "signing.approve", "signing.signed", "certificate.revoke"} {
				if _, ok := seen[kind]; !ok {
					t.Errorf("no %s record in the audit log (kinds: %v)", kind, seen)
				}
			}
			if r := recs[len(recs)-1]; r.Kind != "certificate.revoke" || !strings.HasPrefix(r.Actor, "admin:") || !strings.Contains(string(r.Details), serial.Text(16)) {
				t.Errorf("last record %s by %s: %s; want the operator's revocation", r.Kind, r.Actor, r.Details)
			}

			// Someone with database access rewrites the approval.
			approval := seen["signing.approve"]
			sqlDriver, param := "sqlite", "?"
			if driver == "postgres" {
				sqlDriver, param = "pgx/v5", "$1"
			}
			db, err := sql.Open(sqlDriver, cfg.Storage.DSN.Value)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("UPDATE audit_log SET actor = "+param+" WHERE seq = "+strconv.FormatInt(approval, 10), "citizen:someone-else"); err != nil {
				t.Fatal(err)
			}
			out, err = exec.Command(bin, "audit", "verify", "--config", configFile).CombinedOutput()
			if want := fmt.Sprintf("BROKEN at record %d: hash mismatch", approval); err == nil || !strings.Contains(string(out), want) {
				t.Fatalf("motlan audit verify after tampering: %v, want %q:\n%s", err, want, out)
			}
		})
	}
}

// logCapture keeps every record a handler receives, as text.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// TestLogsCarryNoPersonalData runs a login that releases every claim, userinfo, and a
// signing through a Motlan whose logs (debug level) are captured, and checks that no CCCD,
// name, phone number, birth date, address, token, code or secret reached them.
func TestLogsCarryNoPersonalData(t *testing.T) {
	logs := &logCapture{}
	// The stack's issuer address is served by a replica whose logs are captured; the
	// stack's own server moves to another address and stays idle.
	s := newStackWith(t, "sqlite", false, func(c *config.Config) {
		log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		startReplica(t, *c, c.Listen, log)
		c.Listen = freeAddr(t)
	})

	b := newBrowser(t)
	scopes := []string{"openid", "profile", "address", "phone", "cccd", "offline_access"}
	a := s.portal.authorize(scopes, oauth2.SetAuthURLParam("acr_values", "2"))
	cb, _, _ := s.login(t, b, a, haoCCCD, "allow")
	code := cb.Query().Get("code")
	tok, _ := s.portal.redeem(t, s, a, cb)
	req, _ := http.NewRequest(http.MethodGet, s.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if info := body(t, resp); !strings.Contains(info, haoCCCD) {
		t.Fatalf("userinfo did not release the CCCD, so the test proves nothing: %s", info)
	}
	// Bad input on the way: a garbage bearer token and a replayed code.
	req, _ = http.NewRequest(http.MethodGet, s.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken+"x")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		body(t, resp)
	}
	if _, err := s.portal.cfg.Exchange(context.Background(), code, oauth2.VerifierOption(a.verifier)); err == nil {
		t.Fatal("a replayed code was accepted")
	}

	title := "Tờ khai đăng ký khai sinh"
	p := newSigningPortal(t, s)
	id, approvalURL := p.request(t, s, "logged", title)
	p.approve(t, approvalURL, title)
	if st := p.wait(t, s, id); st.Status != "signed" {
		t.Fatalf("status %q (%s), want signed", st.Status, st.Failure)
	}

	out := logs.String()
	if !strings.Contains(out, "signing request created") || !strings.Contains(out, "signing request signed") {
		t.Fatalf("the captured logs miss the flow, so the test proves nothing:\n%s", out)
	}
	idToken, _ := tok.Extra("id_token").(string)
	leaks := map[string]string{
		"CCCD": haoCCCD, "name": "Lê Công Hảo", "given name": "Hảo", "phone": "912345602", "birth date": "1992-11-02",
		"address": "Thôn Đông Hải", "access token": tok.AccessToken, "refresh token": tok.RefreshToken,
		"ID token": idToken, "code": code, "client secret": s.portal.secret, "eID password": sim.DevPassword,
	}
	for what, v := range leaks {
		if v != "" && strings.Contains(out, v) {
			t.Errorf("the logs hold the %s %q", what, v)
		}
	}
	// The access log: one line per request, by route, with its request id; and the
	// signing's own lines carry the request id of the approval that ran it.
	for _, re := range []string{
		`msg="http request" method=POST route=/token status=200 bytes=\d+ duration_ms=[\d.]+ remote=127\.0\.0\.1 request_id=[a-z]{24}\n`,
		`msg="http request" method=GET route="GET /eid/callback" status=30[23] .* request_id=[a-z]{24}\n`,
		`msg="http request" method=POST route="POST /sign/{id}" status=200 .* request_id=([a-z]{24})\n`,
		`msg="signing request signed" .*request_id=[a-z]{24}`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no log line matches %s", re)
		}
	}
	if strings.Contains(out, "/sign/"+id) || strings.Contains(out, "?code=") {
		t.Error("the logs hold a raw path or query")
	}
	if t.Failed() {
		t.Logf("captured logs:\n%s", out)
	}
}
