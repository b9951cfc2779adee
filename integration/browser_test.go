package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"golang.org/x/text/unicode/norm"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/examples/portal"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/testenv"
)

const chromiumPath = "/usr/bin/chromium"

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
	typed        map[string]string // field id -> what was typed or chosen, since the last reset
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
	keys := chromedp.SendKeys(chromedp.ID(id), v)
	if !norm.NFC.IsNormalString(v) {
		// Decomposed text comes from an input method (iOS, macOS, Unikey's "Unicode tổ
		// hợp"), not key by key: insert it as an IME commits it.
		keys = chromedp.Steps(chromedp.Focus(chromedp.ID(id)), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: v})
			return err
		}))
	}
	b.do(step, chromedp.WaitVisible(chromedp.ID(id)), keys)
	if got := run(b, step, chromedp.Value(chromedp.ID(id))); got != v {
		b.t.Fatalf("%s: %s: field #%s holds %q after typing %q", b.name, step, id, got, v)
	}
	b.fields++
	b.record(id, v)
}

func (b *tab) record(id, v string) {
	if b.typed == nil {
		b.typed = map[string]string{}
	}
	b.typed[id] = v
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

// typeDate types a date as the portal's hint says, dd/mm/yyyy, whatever the browser's
// language, and checks the field holds it.
func (b *tab) typeDate(step, id string, d time.Time) {
	b.t.Helper()
	b.typeInto(step, id, d.Format("02/01/2006"))
}

// choose picks an option of a select; it counts the field.
func (b *tab) choose(step, id, value string) {
	b.t.Helper()
	b.do(step, chromedp.WaitVisible(chromedp.ID(id)), chromedp.SetValue(chromedp.ID(id), value))
	if got := run(b, step, chromedp.Value(chromedp.ID(id))); got != value {
		b.t.Fatalf("%s: %s: select #%s holds %q, want %q", b.name, step, id, got, value)
	}
	b.fields++
	b.record(id, value)
}

// portalWithMotlan is the demo portal in front of a real Motlan (SQLite) and its dev eID.
type portalWithMotlan struct {
	s   *stack
	url string
}

func newPortalWithMotlan(t *testing.T) portalWithMotlan {
	t.Helper()
	// The portal's address is known before Motlan starts, so its callback can be registered.
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	s := newStackWith(t, "sqlite", false, func(c *config.Config) {
		c.Clients[0].RedirectURIs = append(c.Clients[0].RedirectURIs, srv.URL+"/callback")
		c.Clients[0].PostLogoutRedirectURIs = append(c.Clients[0].PostLogoutRedirectURIs, srv.URL+"/")
	})
	p, err := portal.New(context.Background(), portal.Config{
		Issuer: s.issuer, ClientID: s.portal.id, ClientSecret: s.portal.secret, RedirectURL: srv.URL + "/callback",
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	return portalWithMotlan{s: s, url: srv.URL}
}

// TestBrowserJourney runs the citizen's journey in Debian's Chromium, through the demo
// portal only, for both pilot bundles, in two contexts: on a desktop (the portal; the
// approval on a separate phone session) and on a phone alone (the portal and the approval
// in one session: "Mở trên điện thoại này" instead of the QR code). Each run logs in
// through Motlan and the eID, fills the bundle's fields (one name typed in decomposed
// Unicode), previews each PDF, presses Ký số, goes back (the draft is there), changes a
// field and signs again (the first request is cancelled as superseded), approves on the
// phone, and ends on the receipt with a dossier number; every statement of every signed
// PDF must trace to the eID, a typed field or a choice (journey_test.go).
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
	pm := newPortalWithMotlan(t)

	// One Chromium, with a fresh profile, headless, kept off the network.
	root, cancelRoot := context.WithTimeout(context.Background(), 20*time.Minute)
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
		chromedp.Flag("lang", "en-US"), // an English browser: the dates must still read dd/mm/yyyy
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
	t.Cleanup(func() { t.Logf("screenshots in %s", shots) })

	seq := 0
	for _, j := range pilotJourneys() {
		for _, phoneOnly := range []bool{false, true} {
			name := j.name + "-desktop"
			if phoneOnly {
				name = j.name + "-phone"
			}
			t.Run(name, func(t *testing.T) { runJourney(t, pm, browserCtx, shots, &seq, j, phoneOnly) })
		}
	}
}

// portalLogin follows the portal's login from start (a /login URL) through Motlan, the
// dev eID and the consent, with a browser that runs no script, and returns the form page.
func (pm portalWithMotlan) portalLogin(t *testing.T, b *browser, start, cccd string) string {
	t.Helper()
	loc := location(t, b.get(pm.url+start))
	for range 12 {
		switch {
		case isEID(pm.s, loc):
			cb, err := sim.Login(context.Background(), b.client, loc.String(), cccd, sim.DevPassword)
			if err != nil {
				t.Fatalf("eID login: %v", err)
			}
			loc = cb
		case strings.HasPrefix(loc.String(), pm.s.issuer+"/consent"):
			page := body(t, b.get(loc.String()))
			form := url.Values{"action": {"allow"}}
			for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
				form.Set(m[1], m[2])
			}
			loc = location(t, b.postForm(pm.s.issuer+"/consent", form))
		default:
			if !loc.IsAbs() {
				loc = must(url.Parse(pm.url)).ResolveReference(loc)
			}
			resp := b.get(loc.String())
			if resp.StatusCode == http.StatusOK {
				if !strings.HasPrefix(loc.String(), pm.url+"/ho-so") {
					t.Fatalf("login ended at %s", loc)
				}
				return body(t, resp)
			}
			loc = location(t, resp)
		}
	}
	t.Fatalf("login did not end: at %s", loc)
	return ""
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

var (
	reCSRF       = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	reIndication = regexp.MustCompile(`<li class="signed-doc" data-indication="([A-Z_]+)">`)
)

// TestPortalSigningWithoutScript is the journey through the real portal and the real
// Motlan by a browser that runs no script: the signing page works through its refresh
// link, its status endpoint long-polls Motlan, the signed state shows each document's
// verification, the download is the signed PDF; a request declined on the phone says so
// and offers a new one.
func TestPortalSigningWithoutScript(t *testing.T) {
	pm := newPortalWithMotlan(t)
	desk := newBrowser(t)
	page := pm.portalLogin(t, desk, "/login?goi=khai-sinh", haoCCCD)
	if !strings.Contains(page, `value="Lê Công Hảo" readonly`) {
		t.Fatalf("form not pre-filled:\n%s", page)
	}
	born := time.Now().AddDate(0, -2, 0).Format("02/01/2006") // as typed: dd/mm/yyyy
	csrf := reCSRF.FindStringSubmatch(page)[1]
	// submit saves the form (the draft), then presses Ký số on the preview.
	submit := func(birthplace string) (id string) {
		t.Helper()
		f := url.Values{"csrf": {csrf}, "child_name": {"Lê Minh Khôi"}, "applicant_relation": {"father"}, "applicant_ethnicity": {"Kinh"},
			"child_birthdate": {born}, "child_sex": {"male"}, "child_birthplace": {birthplace}, "child_ethnicity": {"Kinh"},
			"child_nationality": {"Việt Nam"}}
		if loc := location(t, desk.postForm(pm.url+"/ho-so", f)); loc.Path != "/ho-so/khai-sinh/xem-truoc" {
			t.Fatalf("the form went to %s", loc)
		}
		loc := location(t, desk.postForm(pm.url+"/ho-so/khai-sinh/ky-so", url.Values{"csrf": {csrf}}))
		id, ok := strings.CutPrefix(loc.Path, "/ky-so/")
		if !ok {
			t.Fatalf("Ký số went to %s", loc)
		}
		return id
	}
	status := func(id, query string) (int, map[string]any) {
		t.Helper()
		resp := desk.get(pm.url + "/ky-so/" + id + "/trang-thai" + query)
		var v map[string]any
		if err := json.Unmarshal([]byte(body(t, resp)), &v); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, v
	}
	// approval answers Motlan's approval page for request id with action, after the eID
	// login made for it (sole control: loginForApproval, in the test's goroutine); it may
	// run beside the test's goroutine, so it returns its failure.
	phone := &signingPortal{b: desk}
	approval := func(pageURL, action string) error {
		u := pageURL
		resp, err := desk.client.Get(u)
		if err != nil {
			return err
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("approval page: %d %s", resp.StatusCode, page)
		}
		form := url.Values{"action": {action}}
		for _, m := range reHidden.FindAllStringSubmatch(string(page), -1) {
			form.Add(m[1], m[2])
		}
		resp, err = desk.client.PostForm(u, form)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %d", action, resp.StatusCode)
		}
		return nil
	}

	id := submit("Bệnh viện Đa khoa tỉnh Thanh Hóa")
	if again := submit("Bệnh viện Đa khoa tỉnh Thanh Hóa"); again != id {
		t.Errorf("the same form sent twice made two requests: %s, %s", id, again)
	}
	p := body(t, desk.get(pm.url+"/ky-so/"+id))
	for _, want := range []string{`data-status="pending"`, `<a id="refresh" class="button secondary" href="/ky-so/` + id + `">`,
		`<a id="approval-link" href="` + pm.s.issuer + `/sign/` + id + `">`} {
		if !strings.Contains(p, want) {
			t.Errorf("pending page lacks %q", want)
		}
	}
	code, st := status(id, "")
	version, _ := st["version"].(float64)
	if code != http.StatusOK || st["status"] != "pending" || st["final"] != false || version < 1 {
		t.Fatalf("status before approval: %d %v", code, st)
	}
	approved := make(chan error, 1)
	pageURL := phone.loginForApproval(t, pm.s.issuer+"/sign/"+id)
	time.AfterFunc(300*time.Millisecond, func() { approved <- approval(pageURL, "approve") })
	start := time.Now()
	for st["status"] != "signed" && time.Since(start) < 30*time.Second {
		if code, st = status(id, fmt.Sprintf("?since=%d", int64(version))); code != http.StatusOK {
			t.Fatalf("status: %d %v", code, st)
		}
		version, _ = st["version"].(float64)
	}
	if err := <-approved; err != nil {
		t.Fatal(err)
	}
	if st["status"] != "signed" || st["final"] != true || !strings.Contains(fmt.Sprint(st["message"]), "Đã ký số xong") {
		t.Fatalf("status after approval: %v", st)
	}
	t.Logf("approval seen by the long-polling status endpoint after %v", time.Since(start).Round(time.Millisecond))

	// The refresh link: signed, the portal submits the dossier and shows its receipt.
	receipt := location(t, desk.get(pm.url+"/ky-so/"+id))
	if !regexp.MustCompile(`^/ho-so-cua-toi/H38-\d{8}-\d{6}$`).MatchString(receipt.Path) {
		t.Fatalf("the signed request led to %s, want a receipt with a dossier number", receipt)
	}
	p = body(t, desk.get(pm.url+receipt.Path))
	if !strings.Contains(p, `<span id="dossier-number" class="receipt-number">`+strings.TrimPrefix(receipt.Path, "/ho-so-cua-toi/")+`</span>`) {
		t.Errorf("the receipt does not show its number:\n%s", p)
	}
	inds := reIndication.FindAllStringSubmatch(p, -1)
	if len(inds) != 3 || strings.Count(p, `<dd class="signer">Lê Công Hảo</dd>`) != 3 || strings.Contains(p, "<script") {
		t.Fatalf("signed page: indications %v\n%s", inds, p)
	}
	for _, m := range inds {
		if m[1] != "TOTAL_PASSED" {
			t.Errorf("indication %s", m[1])
		}
	}
	resp := desk.get(pm.url + "/ky-so/" + id + "/tai-lieu/2")
	pdf := body(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="to-khai-bao-hiem-y-te-da-ky.pdf"` ||
		!strings.HasPrefix(pdf, "%PDF-") || !strings.Contains(pdf, "/ByteRange") {
		t.Errorf("download: %d %v %.20q", resp.StatusCode, resp.Header, pdf)
	}
	if resp := desk.get(pm.url + "/ky-so/" + id + "/tai-lieu/3"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("download of a fourth document: %d", resp.StatusCode)
	}

	// "Hồ sơ của tôi" lists the dossier; its signed PDFs stay there.
	if mine := body(t, desk.get(pm.url+"/ho-so-cua-toi")); !strings.Contains(mine, `href="`+receipt.Path+`"`) {
		t.Errorf("Hồ sơ của tôi lacks %s:\n%s", receipt.Path, mine)
	}
	if resp := desk.get(pm.url + receipt.Path + "/tai-lieu/0"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(body(t, resp), "%PDF-") {
		t.Errorf("signed PDF from the receipt: %d", resp.StatusCode)
	}

	// Declined on the phone.
	id2 := submit("Trạm y tế xã Quảng Xương")
	if id2 == id {
		t.Fatal("a new attempt replayed the signed request")
	}
	if err := approval(phone.loginForApproval(t, pm.s.issuer+"/sign/"+id2), "reject"); err != nil {
		t.Fatal(err)
	}
	if _, st := status(id2, ""); st["status"] != "rejected" || st["final"] != true {
		t.Errorf("status after decline: %v", st)
	}
	p = body(t, desk.get(pm.url+"/ky-so/"+id2))
	for _, want := range []string{`data-status="rejected"`, "Bạn đã từ chối ký trên điện thoại. Hồ sơ chưa được ký.",
		`<a id="sign-again" class="button" href="/ho-so/khai-sinh">`} {
		if !strings.Contains(p, want) {
			t.Errorf("declined page lacks %q", want)
		}
	}
	if resp := desk.get(pm.url + "/ky-so/" + id2 + "/tai-lieu/0"); resp.StatusCode != http.StatusConflict {
		t.Errorf("download of a declined document: %d, want 409", resp.StatusCode)
	}
	// "Tạo lại yêu cầu ký" finds the draft as it was typed.
	if form := body(t, desk.get(pm.url+"/ho-so/khai-sinh")); !strings.Contains(form, `value="Trạm y tế xã Quảng Xương"`) || !strings.Contains(form, `value="`+born+`"`) {
		t.Errorf("after the decline the form lost the draft:\n%s", form)
	}

	// Another citizen does not see the request.
	other := newBrowser(t)
	pm.portalLogin(t, other, "/login", linhCCCD)
	if resp := other.get(pm.url + "/ky-so/" + id); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another citizen opened the request: %d", resp.StatusCode)
	}
}
