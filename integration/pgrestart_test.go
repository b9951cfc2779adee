package integration

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/internal/testpg"
)

// answer is one response Motlan gave under load.
type answer struct {
	at         time.Time
	method     string
	path       string
	status     int
	retryAfter string
}

// recorder is a RoundTripper that notes every response from Motlan (the proxy's host).
type recorder struct {
	host string
	mu   sync.Mutex
	all  []answer
}

func (rec *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.URL.Host == rec.host {
		rec.mu.Lock()
		rec.all = append(rec.all, answer{time.Now(), r.Method, r.URL.Path, resp.StatusCode, resp.Header.Get("Retry-After")})
		rec.mu.Unlock()
	}
	return resp, err
}

func (rec *recorder) answers() []answer {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]answer(nil), rec.all...)
}

// loadLogin is a login that reached the relying party: the token endpoint answered 200
// with an ID token that verified, and the refresh token it gave.
type loadLogin struct {
	cccd       string
	start, end time.Time
	refresh    string
}

// loadLogins logs cccd in again and again through a fresh browser each time, as a portal's
// users do, until stop is closed; failures (a 503 while the database is down) end one
// attempt, and the next one starts after a short pause.
func loadLogins(rs *replicaStack, rec *recorder, cccd string, stop <-chan struct{}, out chan<- loadLogin) {
	client := &http.Client{Transport: rec}
	for {
		select {
		case <-stop:
			return
		default:
		}
		start := time.Now()
		if refresh, err := oneLogin(rs, client, cccd); err == nil {
			out <- loadLogin{cccd: cccd, start: start, end: time.Now(), refresh: refresh}
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// oneLogin is the code flow without assertions: any unexpected answer is an error. It
// returns the refresh token.
func oneLogin(rs *replicaStack, api *http.Client, cccd string) (string, error) {
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Transport: api.Transport, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	a := rs.portal.authorize([]string{"openid", "profile"})
	next := func(u string, form url.Values) (*url.URL, error) {
		var resp *http.Response
		var err error
		if form == nil {
			resp, err = b.Get(u)
		} else {
			resp, err = b.PostForm(u, form)
		}
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			return nil, fmt.Errorf("%s: %d", u, resp.StatusCode)
		}
		return resp.Location()
	}
	loc, err := next(a.url, nil)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(loc.String(), rs.eid.URL+"/") {
		return "", fmt.Errorf("authorize sent the browser to %s", loc)
	}
	cb, err := sim.Login(context.Background(), b, loc.String(), cccd, sim.DevPassword)
	if err != nil {
		return "", err
	}
	if loc, err = next(cb.String(), nil); err != nil {
		return "", err
	}
	if strings.HasPrefix(loc.String(), rs.issuer+"/consent") {
		resp, err := b.Get(loc.String())
		if err != nil {
			return "", err
		}
		page := readBody(resp)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("consent page: %d", resp.StatusCode)
		}
		form := url.Values{"action": {"allow"}}
		for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
			form.Set(m[1], m[2])
		}
		if loc, err = next(rs.issuer+"/consent", form); err != nil {
			return "", err
		}
	}
	code := loc.Query().Get("code")
	if !strings.HasPrefix(loc.String(), rs.portal.redirect+"?") || code == "" {
		return "", fmt.Errorf("no code: %s", loc)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, api)
	tok, err := rs.portal.cfg.Exchange(ctx, code, oauth2.VerifierOption(a.verifier))
	if err != nil {
		return "", err
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rs.portal.verifier.Verify(ctx, raw)
	if err != nil {
		return "", err
	}
	if idt.Nonce != a.nonce {
		return "", fmt.Errorf("nonce %q", idt.Nonce)
	}
	if tok.RefreshToken == "" {
		return "", errors.New("no refresh token")
	}
	return tok.RefreshToken, nil
}

// readBody reads and closes a response body outside the test's goroutine; a read error
// leaves it short, and the caller's status check decides.
func readBody(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// loadSigning creates a signing request, approves it and waits for its end, again and
// again until stop is closed; it returns how many were signed.
func loadSigning(rs *replicaStack, p *signingPortal, rec *recorder, stop <-chan struct{}) int {
	cc := clientcredentials.Config{ClientID: rs.portal.id, ClientSecret: rs.portal.secret, TokenURL: rs.issuer + "/token",
		Scopes: []string{"signing"}, AuthStyle: oauth2.AuthStyleInHeader}
	api := cc.Client(context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: rec, Timeout: 30 * time.Second}))
	pb := &http.Client{Jar: p.b.client.Jar, Transport: rec, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signed := 0
	for n := 0; ; n++ {
		select {
		case <-stop:
			return signed
		default:
		}
		if signOnce(rs, p, api, pb, n) {
			signed++
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func signOnce(rs *replicaStack, p *signingPortal, api, pb *http.Client, n int) bool {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("subject", p.subject)
	for i := range 2 {
		_ = mw.WriteField("title", fmt.Sprintf("Tờ khai %d-%d", n, i))
		fw, _ := mw.CreateFormFile("document", "d.pdf")
		_, _ = fw.Write(onePagePDF(fmt.Sprintf("Load %d-%d", n, i)))
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, rs.issuer+"/signing/v1/requests", &form)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := api.Do(req)
	if err != nil {
		return false
	}
	var created struct {
		ID          string `json:"id"`
		ApprovalURL string `json:"approval_url"`
	}
	raw := readBody(resp)
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(raw), &created) != nil {
		return false
	}
	cccd := p.cccd
	if cccd == "" {
		cccd = haoCCCD
	}
	text, err := approvalPageAfterLogin(pb, created.ApprovalURL, cccd)
	if err != nil {
		return false
	}
	approve := url.Values{"action": {"approve"}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`).FindAllStringSubmatch(text, -1) {
		approve.Add(m[1], m[2])
	}
	if resp, err := pb.PostForm(created.ApprovalURL, approve); err != nil {
		return false
	} else {
		readBody(resp)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		resp, err := api.Get(rs.issuer + "/signing/v1/requests/" + created.ID + "?wait=5s")
		if err != nil {
			return false
		}
		var st struct{ Status string }
		_ = json.Unmarshal([]byte(readBody(resp)), &st)
		if st.Status == "signed" {
			return true
		}
		if resp.StatusCode != http.StatusOK {
			time.Sleep(200 * time.Millisecond)
		}
	}
	return false
}

// TestPostgresRestartUnderLoad stops and restarts a PostgreSQL server of the test's own
// under concurrent logins and signings through the proxy: while it is down Motlan answers
// only 503 with Retry-After (never 500 or 401) or goes on where it can; /readyz turns
// false, then true; Motlan recovers without a restart; and every login that reached the
// relying party (the token endpoint answered 200 with an ID token) has its audit record.
// It runs twice: the server shut down fast, as in a restart, and stopped at once, as in
// a crash, which loses what it had not yet written to its WAL.
func TestPostgresRestartUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*testpg.Instance)
	}{
		{"restart", (*testpg.Instance).Stop},
		{"crash", (*testpg.Instance).Crash},
	} {
		t.Run(tc.name, func(t *testing.T) { testPostgresRestartUnderLoad(t, tc.stop) })
	}
}

func testPostgresRestartUnderLoad(t *testing.T, stopPG func(*testpg.Instance)) {
	pg := testpg.StartOwn(t)
	bin := buildMotlan(t)
	rs := newReplicaStack(t, bin, pg.DSN, 1, "rate_limits: {disabled: true}\n")
	admin := "http://" + rs.reps[0].adminAddr
	rec := &recorder{host: strings.TrimPrefix(rs.issuer, "http://")}
	p := newSigningPortal(t, rs.stack)

	stop := make(chan struct{})
	logins := make(chan loadLogin, 10000)
	var wg sync.WaitGroup
	citizens := []string{linhCCCD, "038178003321", "038204007788", "038165001357"}
	for _, c := range citizens {
		wg.Add(1)
		go func() { defer wg.Done(); loadLogins(rs, rec, c, stop, logins) }()
	}
	signedCh := make(chan int, 1)
	wg.Add(1)
	go func() { defer wg.Done(); signedCh <- loadSigning(rs, p, rec, stop) }()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	time.Sleep(3 * time.Second)
	downFrom := time.Now()
	stopPG(pg)
	waitReady(t, admin, http.StatusServiceUnavailable)
	time.Sleep(4 * time.Second) // load against the outage
	pg.Start()
	waitReady(t, admin, http.StatusOK)
	upAt := time.Now()

	// Recovery without a restart: every login worker gets through again.
	recovered := map[string]bool{}
	var all []loadLogin
	for deadline := time.Now().Add(60 * time.Second); len(recovered) < len(citizens) && time.Now().Before(deadline); {
		select {
		case l := <-logins:
			all = append(all, l)
			if l.start.After(upAt) {
				recovered[l.cccd] = true
			}
		case <-time.After(time.Second):
		}
	}
	close(stop)
	wg.Wait()
	close(logins)
	for l := range logins {
		all = append(all, l)
	}
	signed := <-signedCh
	if len(recovered) < len(citizens) {
		t.Fatalf("after the database came back, only %v logged in again", recovered)
	}
	if signed == 0 {
		t.Errorf("no signing request was signed under the load")
	}

	// Only 503s with Retry-After while it was down; never 500 or 401.
	down503 := 0
	counts := map[int]int{}
	for _, a := range rec.answers() {
		counts[a.status]++
		switch {
		case a.status == http.StatusServiceUnavailable:
			if a.retryAfter == "" {
				t.Errorf("%s %s: 503 without Retry-After", a.method, a.path)
			}
			if a.at.After(downFrom) && a.at.Before(upAt) {
				down503++
			}
		case a.status >= 500 || a.status == http.StatusUnauthorized:
			t.Errorf("%s %s answered %d at %v (the database went down at %v, was back at %v)",
				a.method, a.path, a.status, a.at.Format("15:04:05.000"), downFrom.Format("15:04:05.000"), upAt.Format("15:04:05.000"))
		}
	}
	t.Logf("%d logins reached the relying party, %d signing requests signed; answers by status %v; %d 503s during the outage",
		len(all), signed, counts, down503)
	if down503 == 0 {
		t.Error("no request met the outage: the load did not run against it")
	}
	if t.Failed() { // Motlan's own account of what it failed, for the next reader
		for _, line := range strings.Split(rs.reps[0].stderr.String(), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Log(line)
			}
		}
	}
	checkLoginAudit(t, pg.DSN, all)
	checkLastRefreshes(t, rs, all, downFrom)
	out, err := exec.Command(bin, "audit", "verify", "--config", rs.reps[0].cfgPath).CombinedOutput()
	if err != nil {
		t.Errorf("motlan audit verify: %v\n%s", err, out)
	}
}

// checkLastRefreshes refreshes the tokens of the last logins that reached the relying
// party before the server went down, those whose writes were newest when it stopped:
// each must still work, the stop having lost nothing the relying party received.
func checkLastRefreshes(t *testing.T, rs *replicaStack, logins []loadLogin, downFrom time.Time) {
	t.Helper()
	var before []loadLogin
	for _, l := range logins {
		if l.end.Before(downFrom) {
			before = append(before, l)
		}
	}
	slices.SortFunc(before, func(a, b loadLogin) int { return a.end.Compare(b.end) })
	before = before[max(0, len(before)-16):]
	if len(before) == 0 {
		t.Fatal("no login reached the relying party before the server went down")
	}
	ctx := context.Background()
	for _, l := range before {
		tok, err := rs.portal.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: l.refresh}).Token()
		if err != nil || tok.AccessToken == "" {
			t.Errorf("refresh of a login that ended %v before the server went down: %v", downFrom.Sub(l.end), err)
		}
	}
	t.Logf("the last %d logins before the server went down (the newest %v before it) still refresh",
		len(before), downFrom.Sub(before[len(before)-1].end))
}

func waitReady(t *testing.T, admin string, want int) {
	t.Helper()
	got := 0
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got = resp.StatusCode; got == want {
			return
		}
	}
	t.Fatalf("/readyz: %d, want %d", got, want)
}

// checkLoginAudit matches every login that reached the relying party with its own login
// audit record (sealed or still pending): the citizen's, for the portal, written between
// the login's start and its token.
func checkLoginAudit(t *testing.T, dsn string, logins []loadLogin) {
	t.Helper()
	db, err := sql.Open("pgx/v5", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	type record struct {
		at   time.Time
		used bool
	}
	byActor := map[string][]*record{}
	rows, err := db.QueryContext(ctx, `SELECT at, actor, details FROM audit_log WHERE kind = 'login'
		UNION ALL SELECT at, actor, details FROM audit_pending WHERE kind = 'login' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var at int64
		var actor, details string
		if err := rows.Scan(&at, &actor, &details); err != nil {
			t.Fatal(err)
		}
		var d struct{ Client string }
		if json.Unmarshal([]byte(details), &d) == nil && d.Client == "portal" {
			byActor[actor] = append(byActor[actor], &record{at: time.UnixMilli(at)})
		}
	}
	rows.Close()
	actorOf := map[string]string{}
	missing := 0
	for _, l := range logins {
		actor, ok := actorOf[l.cccd]
		if !ok {
			var id string
			if err := db.QueryRowContext(ctx, "SELECT id FROM citizens WHERE cccd = $1", l.cccd).Scan(&id); err != nil {
				t.Fatalf("citizen %s: %v", l.cccd, err)
			}
			actor = "citizen:" + id
			actorOf[l.cccd] = actor
		}
		found := false
		for _, r := range byActor[actor] {
			if !r.used && !r.at.Before(l.start.Add(-time.Second)) && !r.at.After(l.end.Add(time.Second)) {
				r.used, found = true, true
				break
			}
		}
		if !found {
			missing++
			t.Errorf("a login of %s (%v to %v) reached the relying party without an audit record",
				l.cccd, l.start.Format("15:04:05.000"), l.end.Format("15:04:05.000"))
		}
	}
	if missing == 0 {
		t.Logf("each of %d logins has its audit record", len(logins))
	}
}

// approvalPageAfterLogin opens an approval link as the phone does under load: the step-up
// login, the dev eID (a login made for this approval) and back to the page with its
// ticket; any answer out of that path is an error (the database may be down).
func approvalPageAfterLogin(pb *http.Client, approvalURL, cccd string) (string, error) {
	next := func(u string) (*url.URL, error) {
		resp, err := pb.Get(u)
		if err != nil {
			return nil, err
		}
		readBody(resp)
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			return nil, fmt.Errorf("%s: HTTP %d, want a redirect", u, resp.StatusCode)
		}
		return resp.Location()
	}
	stepUp, err := next(approvalURL)
	if err != nil {
		return "", err
	}
	upstream, err := next(stepUp.String())
	if err != nil {
		return "", err
	}
	cb, err := sim.Login(context.Background(), pb, upstream.String(), cccd, sim.DevPassword)
	if err != nil {
		return "", err
	}
	back, err := next(cb.String())
	if err != nil {
		return "", err
	}
	resp, err := pb.Get(back.String())
	if err != nil {
		return "", err
	}
	text := readBody(resp)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("approval page: HTTP %d", resp.StatusCode)
	}
	return text, nil
}
