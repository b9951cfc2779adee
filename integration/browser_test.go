package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/examples/portal"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/testenv"
)

const chromiumPath = "/usr/bin/chromium"

// tokenRecorder is the demo portal's HTTP transport: it keeps the last token response,
// so the test, playing the portal's server, learns the citizen's subject at the portal.
type tokenRecorder struct {
	mu   sync.Mutex
	last []byte
}

func (r *tokenRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/token") {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.last = b
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// subject is the sub of the ID token in the last token response.
func (r *tokenRecorder) subject(t *testing.T) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(r.last, &tok); err != nil {
		t.Fatalf("portal's token response: %v", err)
	}
	parts := strings.Split(tok.IDToken, ".")
	if len(parts) != 3 {
		t.Fatalf("portal's ID token is not a JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Sub string `json:"sub"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims.Sub == "" {
		t.Fatalf("portal's ID token payload: %v %s", err, payload)
	}
	return claims.Sub
}

// pageWatch collects what a browser tab reports: console errors, exceptions and CSP
// violations (from the browser log and from securitypolicyviolation events).
type pageWatch struct {
	name string
	mu   sync.Mutex
	errs []string // console errors, exceptions, log errors
	csp  []string
}

func (w *pageWatch) add(csp bool, format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if csp {
		w.csp = append(w.csp, msg)
	} else {
		w.errs = append(w.errs, msg)
	}
}

func isCSP(text string) bool {
	return strings.Contains(text, "Content Security Policy") || strings.Contains(text, "Content-Security-Policy")
}

// listen runs in the tab's event loop: it must return fast and send no command.
func (w *pageWatch) listen(ev any) {
	switch ev := ev.(type) {
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		if e == nil {
			return
		}
		switch {
		case e.Source == cdplog.EntrySourceSecurity || isCSP(e.Text):
			w.add(isCSP(e.Text) || e.Source == cdplog.EntrySourceSecurity, "log %s/%s: %s (%s)", e.Source, e.Level, e.Text, e.URL)
		case e.Level == cdplog.EntryLevelError:
			w.add(false, "log %s: %s (%s)", e.Source, e.Text, e.URL)
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		text := strings.Join(parts, " ")
		w.add(isCSP(text), "console.%s: %s", ev.Type, text)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		w.add(false, "exception: %s (%s:%d)", text, d.URL, d.LineNumber+1)
	}
}

// cspProbe reports securitypolicyviolation events of every document the tab loads.
const cspProbe = `document.addEventListener('securitypolicyviolation', e => {
  try { window.__motlanCSP({directive: e.violatedDirective, blocked: e.blockedURI, doc: e.documentURI, disposition: e.disposition, sample: e.sample}); } catch (_) {}
}, true);`

type cspEvent struct {
	Directive   string `json:"directive"`
	Blocked     string `json:"blocked"`
	Doc         string `json:"doc"`
	Disposition string `json:"disposition"`
	Sample      string `json:"sample"`
}

func (w *pageWatch) install() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := chromedp.ExposeFunc("__motlanCSP", func(_ context.Context, e cspEvent) (chromedp.Void, error) {
			w.add(true, "securitypolicyviolation %s on %s: blocked %q (%s) %q", e.Directive, e.Doc, e.Blocked, e.Disposition, e.Sample)
			return chromedp.Void{}, nil
		})(ctx, t); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe})
		return err
	})
}

// tab is one browser session (its own browser context: cookies, storage) with one page.
type tab struct {
	t     *testing.T
	name  string
	ctx   context.Context
	watch *pageWatch
	shots string
	seq   *int
	// what the citizen did in this tab
	taps, fields int
}

// do runs actions with a per-step timeout, so a stuck page fails with the step's name.
func (b *tab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		url, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.shot(step + "-FAILED")
		b.t.Fatalf("%s: %s: %v (at %s)", b.name, step, err, url)
	}
}

func run[T any](b *tab, step string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, step, err)
	}
	return v
}

// shot saves a full-page PNG named by step.
func (b *tab) shot(step string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("%s: screenshot %s: %v", b.name, step, err)
		return
	}
	*b.seq++
	path := filepath.Join(b.shots, fmt.Sprintf("%02d-%s-%s.png", *b.seq, b.name, step))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", step, err)
	}
}

// typeInto types v into an empty field, as the citizen would; it counts the field.
func (b *tab) typeInto(step, id, v string) {
	b.t.Helper()
	b.do(step, chromedp.WaitVisible(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), v))
	if got := run(b, step, chromedp.Value(chromedp.ID(id))); got != v {
		b.t.Fatalf("%s: %s: field #%s holds %q after typing %q", b.name, step, id, got, v)
	}
	b.fields++
}

// press clicks (desktop) or taps (phone) the element; it counts a tap.
func (b *tab) press(step string, sel chromedp.CSS, touch bool) {
	b.t.Helper()
	if touch {
		b.do(step, chromedp.WaitVisible(sel), chromedp.Tap(sel))
	} else {
		b.do(step, chromedp.WaitVisible(sel), chromedp.Click(sel))
	}
	b.taps++
}

// eidLogin does the dev eID's level-2 login: CCCD and password, then the one-time code.
func (b *tab) eidLogin(prefix, cccd string, touch bool) {
	b.t.Helper()
	b.do(prefix+" eID password page", chromedp.WaitVisible(chromedp.CSS(`main[data-stage="password"] #cccd`)))
	b.shot(prefix + "-eid-password")
	switch pre := run(b, "read CCCD field", chromedp.Value(chromedp.ID("cccd"))); pre {
	case "":
		b.typeInto("type CCCD", "cccd", cccd)
	case cccd:
		b.t.Logf("%s: the eID pre-filled the CCCD from login_hint", b.name)
	default:
		b.t.Fatalf("%s: CCCD field pre-filled with %q", b.name, pre)
	}
	b.typeInto("type password", "password", sim.DevPassword)
	b.shot(prefix + "-eid-password-filled")
	b.press("submit password", `main[data-stage="password"] button[value="login"]`, touch)

	b.do(prefix+" eID OTP page", chromedp.WaitVisible(chromedp.CSS(`main[data-stage="otp"] #dev-otp`)))
	b.shot(prefix + "-eid-otp")
	otp := strings.TrimSpace(run(b, "read dev OTP", chromedp.Text(chromedp.ID("dev-otp"))))
	if len(otp) != 6 || strings.Trim(otp, "0123456789") != "" {
		b.t.Fatalf("%s: dev OTP %q is not six digits", b.name, otp)
	}
	b.typeInto("type OTP", "otp", otp)
	b.press("submit OTP", `main[data-stage="otp"] button[value="otp"]`, touch)
}

func newTab(t *testing.T, browserCtx context.Context, name, shots string, seq *int) *tab {
	t.Helper()
	w := &pageWatch{name: name}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext(), chromedp.WithListener(w.listen))
	t.Cleanup(cancel)
	return &tab{t: t, name: name, ctx: ctx, watch: w, shots: shots, seq: seq}
}

// TestBrowserJourney runs the citizen's journey in Debian's Chromium: on a desktop, the
// demo portal's login through Motlan and the dev eID, consent, and the dossier form
// pre-filled with verified claims; then on a phone (a separate browser session), the
// approval of a signing request after a fresh level-2 login.
func TestBrowserJourney(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "chromium at %s (Debian package chromium): %v", chromiumPath, err)
	}
	shots := t.TempDir()
	if dir := os.Getenv("MOTLAN_ARTIFACTS"); dir != "" {
		shots = filepath.Join(dir, "browser")
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// The demo portal, at an address known before Motlan starts so its callback can be
	// registered.
	rec := &tokenRecorder{}
	portalSrv := httptest.NewUnstartedServer(nil)
	portalSrv.Start()
	t.Cleanup(portalSrv.Close)
	s := newStackWith(t, "sqlite", false, func(c *config.Config) {
		c.Clients[0].RedirectURIs = append(c.Clients[0].RedirectURIs, portalSrv.URL+"/callback")
		c.Clients[0].PostLogoutRedirectURIs = append(c.Clients[0].PostLogoutRedirectURIs, portalSrv.URL+"/")
	})
	p, err := portal.New(context.Background(), portal.Config{
		Issuer: s.issuer, ClientID: s.portal.id, ClientSecret: s.portal.secret, RedirectURL: portalSrv.URL + "/callback",
		HTTPClient: &http.Client{Transport: rec, Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	portalSrv.Config.Handler = p

	// One Chromium, with a fresh profile, headless, kept off the network.
	root, cancelRoot := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancelRoot)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(root,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1280, 800),
	)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	started := time.Now()
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Logf("chromium started in %v", time.Since(started).Round(time.Millisecond))

	seq := 0
	desk := newTab(t, browserCtx, "desktop", shots, &seq)
	phone := newTab(t, browserCtx, "phone", shots, &seq)
	for _, b := range []*tab{desk, phone} {
		if err := chromedp.Do(b.ctx); err != nil { // opens the tab, bound to the browser's lifetime
			t.Fatalf("%s: open tab: %v", b.name, err)
		}
	}
	desk.do("emulate desktop", desk.watch.install(), chromedp.EmulateViewport(1280, 800))
	phone.do("emulate phone", phone.watch.install(), chromedp.Emulate(device.IPhone12))

	t.Cleanup(func() {
		for _, b := range []*tab{desk, phone} {
			b.watch.mu.Lock()
			for _, e := range b.watch.errs {
				t.Logf("%s console: %s", b.name, e)
			}
			for _, e := range b.watch.csp {
				t.Errorf("%s: CSP violation: %s", b.name, e)
			}
			b.watch.mu.Unlock()
		}
		t.Logf("screenshots in %s", shots)
	})

	journey := time.Now()

	// ---- Desktop: the portal, login through Motlan and the eID, consent, the form. ----
	desk.do("portal home", chromedp.Navigate(portalSrv.URL+"/"), chromedp.WaitVisible(chromedp.ID("login-vneid")))
	desk.shot("portal-home")
	desk.press("click Đăng nhập bằng VNeID", "#login-vneid", false)
	desk.eidLogin("login", haoCCCD, false)

	desk.do("Motlan consent page", chromedp.WaitVisible(chromedp.CSS(`button[name="action"][value="allow"]`)))
	desk.shot("motlan-consent")
	consent := run(desk, "read consent", chromedp.Text(chromedp.CSS(".card")))
	if !strings.Contains(consent, "Cổng Dịch vụ công") {
		t.Errorf("consent page does not name the portal:\n%s", consent)
	}
	desk.press("allow", `button[name="action"][value="allow"]`, false)

	desk.do("portal dossier", chromedp.WaitVisible(chromedp.ID("claim-name")))
	desk.shot("portal-dossier")
	if loc := run(desk, "location", chromedp.Location()); !strings.HasPrefix(loc, portalSrv.URL+"/ho-so") {
		t.Fatalf("after consent the desktop is at %s, want %s/ho-so", loc, portalSrv.URL)
	}
	if got := run(desk, "claim-name", chromedp.Value(chromedp.ID("claim-name"))); got != "Lê Công Hảo" {
		t.Errorf("#claim-name = %q, want %q", got, "Lê Công Hảo")
	}
	if got := run(desk, "claim-cccd", chromedp.Value(chromedp.ID("claim-cccd"))); got != haoCCCD {
		t.Errorf("#claim-cccd = %q, want %q", got, haoCCCD)
	}
	for _, id := range []string{"claim-name", "claim-cccd", "claim-birthdate", "claim-address", "claim-phone"} {
		if ro := run(desk, id+" readOnly", chromedp.JavascriptAttribute[bool](chromedp.ID(id), "readOnly")); !ro {
			t.Errorf("#%s is editable, want read-only", id)
		}
	}
	if acr := strings.TrimSpace(run(desk, "claim-acr", chromedp.Text(chromedp.ID("claim-acr")))); acr != "2" {
		t.Errorf("#claim-acr = %q, want 2", acr)
	}
	deskTaps, deskFields := desk.taps, desk.fields
	loggedIn := time.Since(journey)

	// ---- The portal's server asks for the citizen's signature. ----
	sub := rec.subject(t)
	ctx := context.Background()
	cc := clientcredentials.Config{ClientID: s.portal.id, ClientSecret: s.portal.secret, TokenURL: s.issuer + "/token",
		Scopes: []string{"signing"}, AuthStyle: oauth2.AuthStyleInHeader}
	api := cc.Client(ctx)
	titles := []string{"Tờ khai đăng ký khai sinh", "Tờ khai đăng ký thường trú", "Tờ khai tham gia bảo hiểm y tế"}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("subject", sub)
	_ = mw.WriteField("reason", "Đăng ký khai sinh, thường trú, BHYT cho con")
	_ = mw.WriteField("location", "Thanh Hóa")
	for i, title := range titles {
		_ = mw.WriteField("title", title)
		fw, _ := mw.CreateFormFile("document", fmt.Sprintf("to-khai-%d.pdf", i+1))
		_, _ = fw.Write(onePagePDF(fmt.Sprintf("To khai %d", i+1)))
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, s.issuer+"/signing/v1/requests", &form)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Idempotency-Key", "browser-dossier-1")
	resp, err := api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	created := struct {
		ID          string `json:"id"`
		ApprovalURL string `json:"approval_url"`
	}{}
	if raw := body(t, resp); resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(raw), &created) != nil || created.ApprovalURL == "" {
		t.Fatalf("create signing request: %d %s", resp.StatusCode, raw)
	}

	// ---- Phone: open the link, fresh level-2 login, see the documents, sign. ----
	phone.do("open approval link", chromedp.Navigate(created.ApprovalURL))
	phone.eidLogin("sign", haoCCCD, true)
	loginTaps, loginFields := phone.taps, phone.fields

	phone.do("approval page", chromedp.WaitVisible(chromedp.CSS(`button[name="action"][value="approve"]`)))
	phone.shot("motlan-approve")
	if loc := run(phone, "location", chromedp.Location()); !strings.HasPrefix(loc, s.issuer+"/sign/") {
		t.Errorf("approval page at %s, want under %s/sign/", loc, s.issuer)
	}
	docs := run(phone, "document titles", chromedp.Evaluate[[]string](`[...document.querySelectorAll('.doc-title')].map(e => e.textContent.trim())`))
	if len(docs) != len(titles) {
		t.Fatalf("approval page lists %d documents %q, want %d", len(docs), docs, len(titles))
	}
	for i, title := range titles {
		if want := fmt.Sprintf("%d. %s", i+1, title); docs[i] != want {
			t.Errorf("document %d: %q, want %q", i, docs[i], want)
		}
	}
	label := strings.TrimSpace(run(phone, "approve label", chromedp.Text(chromedp.CSS(`button[value="approve"]`))))
	if want := fmt.Sprintf("Ký tất cả (%d tài liệu)", len(titles)); label != want {
		t.Errorf("approve button %q, want %q", label, want)
	}
	phone.press("tap Ký tất cả", `button[name="action"][value="approve"]`, true)
	phone.do("done page", chromedp.WaitVisible(chromedp.CSS(`h1.done`)))
	phone.shot("motlan-signed")

	// ---- The portal's server sees the request signed. ----
	var status struct {
		Status string `json:"status"`
	}
	for deadline := time.Now().Add(20 * time.Second); status.Status != "signed" && time.Now().Before(deadline); {
		resp, err := api.Get(s.issuer + "/signing/v1/requests/" + created.ID + "?wait=5s")
		if err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal([]byte(body(t, resp)), &status)
	}
	if status.Status != "signed" {
		t.Fatalf("signing request status %q, want signed", status.Status)
	}
	wall := time.Since(journey)

	t.Logf("desktop: %d clicks, %d typed fields (eID login: CCCD, password, OTP); portal form: 0 typed fields for the parent, claims pre-filled and read-only; logged in after %v",
		deskTaps, deskFields, loggedIn.Round(time.Millisecond))
	t.Logf("phone: %d taps and %d typed fields in total from opening the link to signed; eID login: %d taps, %d fields; after login: %d taps, %d typed fields",
		phone.taps, phone.fields, loginTaps, loginFields, phone.taps-loginTaps, phone.fields-loginFields)
	t.Logf("journey wall time (portal home to signed, with the portal's API calls): %v", wall.Round(time.Millisecond))
	if after := phone.taps - loginTaps; after > 3 {
		t.Errorf("phone: %d taps after login, the goal is three or fewer", after)
	}
}
