package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/examples/portal"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/testenv"
	"github.com/motlan/motlan/internal/testpki"
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

// typeDate types a date into a date input as the citizen does, in the order the browser
// shows its parts (en-US here: month, day, year), and checks the value the form sends.
func (b *tab) typeDate(step, id string, d time.Time) {
	b.t.Helper()
	b.do(step, chromedp.WaitVisible(chromedp.ID(id)), chromedp.Click(chromedp.ID(id)),
		chromedp.SendKeys(chromedp.ID(id), d.Format("01022006")))
	if got, want := run(b, step, chromedp.Value(chromedp.ID(id))), d.Format(time.DateOnly); got != want {
		b.t.Fatalf("%s: %s: date field #%s holds %q, want %q", b.name, step, id, got, want)
	}
	b.fields++
}

// choose picks an option of a select; it counts the field.
func (b *tab) choose(step, id, value string) {
	b.t.Helper()
	b.do(step, chromedp.WaitVisible(chromedp.ID(id)), chromedp.SetValue(chromedp.ID(id), value))
	if got := run(b, step, chromedp.Value(chromedp.ID(id))); got != value {
		b.t.Fatalf("%s: %s: select #%s holds %q, want %q", b.name, step, id, got, value)
	}
	b.fields++
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

// journey is one bundle's run through the portal.
type journey struct {
	name    string // subtest and screenshot prefix
	start   string // the home page's button
	path    string // the form's path
	cccd    string // the citizen
	citizen string // their name, as verified by the eID
	titles  []string
	fill    func(desk *tab) // types the bundle's fields
	inPDF   []string        // what the signed PDFs must show, diacritics exact
}

// TestBrowserJourney runs the citizen's journey in Debian's Chromium, through the demo
// portal only: on a desktop, the portal's home, "Đăng nhập bằng VNeID", the dev eID, the
// consent, the bundle's form pre-filled with verified claims where the citizen types only
// the bundle's own fields, and "Ký số" with a QR code; then on a phone (a separate browser
// session), the approval link, a fresh level-2 login and one tap to sign; the desktop page
// turns to the signed state by itself, with the three signed PDFs and their verification.
// Both pilot bundles go through the same code.
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
	root, cancelRoot := context.WithTimeout(context.Background(), 4*time.Minute)
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
		chromedp.Flag("lang", "en-US"), // the date input's order of parts (typeDate)
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
	// A recent birth: the bundle is for a child under six.
	born := time.Now().In(time.FixedZone("ICT", 7*3600)).AddDate(0, 0, -7)
	born = time.Date(born.Year(), born.Month(), born.Day(), 0, 0, 0, 0, time.UTC)
	died := born.AddDate(0, 0, 3)
	for _, j := range []journey{
		{
			name: "khai-sinh", start: "#login-vneid", path: "/ho-so", cccd: haoCCCD, citizen: "Lê Công Hảo",
			titles: []string{"Tờ khai đăng ký khai sinh", "Tờ khai đăng ký thường trú", "Tờ khai tham gia bảo hiểm y tế"},
			fill: func(desk *tab) {
				desk.typeInto("type the child's name", "child-name", "Lê Minh Khôi")
				desk.typeDate("type the child's birth date", "child-birthdate", born)
				desk.choose("choose the child's sex", "child-sex", "male")
				desk.typeInto("type the place of birth", "child-birthplace", "Bệnh viện Đa khoa tỉnh Thanh Hóa")
			},
			inPDF: []string{"TỜ KHAI ĐĂNG KÝ KHAI SINH", "Lê Minh Khôi", "Lê Công Hảo", born.Format("02/01/2006"), "Bệnh viện Đa khoa tỉnh Thanh Hóa"},
		},
		{
			name: "khai-tu", start: "#start-khai-tu", path: "/ho-so/khai-tu", cccd: anhCCCD, citizen: "Trịnh Thị Ngọc Ánh",
			titles: []string{"Tờ khai đăng ký khai tử", "Tờ khai xóa đăng ký thường trú", "Tờ khai đề nghị hỗ trợ chi phí mai táng"},
			fill: func(desk *tab) {
				desk.typeInto("type the name of the deceased", "deceased-name", "Trịnh Văn Lĩnh")
				desk.typeInto("type the ID number of the deceased", "deceased-cccd", "038045001234")
				desk.typeDate("type the birth date of the deceased", "deceased-birthdate", time.Date(1945, 1, 1, 0, 0, 0, 0, time.UTC))
				desk.choose("choose the sex of the deceased", "deceased-sex", "male")
				desk.typeDate("type the date of death", "death-date", died)
				desk.typeInto("type the place of death", "death-place", "Nhà riêng, thôn Ĩnh, xã Quảng Xương")
				desk.typeInto("type the residence of the deceased", "deceased-address", "Thôn Ĩnh, xã Quảng Xương, tỉnh Thanh Hóa")
				desk.choose("choose the relationship", "relationship", "child")
			},
			inPDF: []string{"TỜ KHAI ĐĂNG KÝ KHAI TỬ", "Trịnh Văn Lĩnh", "Trịnh Thị Ngọc Ánh", "Thôn Ĩnh, xã Quảng Xương", "01/01/1945"},
		},
	} {
		t.Run(j.name, func(t *testing.T) { runJourney(t, pm, browserCtx, shots, &seq, j) })
	}
}

// anhCCCD: Trịnh Thị Ngọc Ánh, level 2, a citizen who has not used the portal before.
const anhCCCD = "038178003321"

func runJourney(t *testing.T, pm portalWithMotlan, browserCtx context.Context, shots string, seq *int, j journey) {
	desk := newTab(t, browserCtx, j.name+"-desktop", shots, seq)
	phone := newTab(t, browserCtx, j.name+"-phone", shots, seq)
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
	})
	s := pm.s
	journeyStart := time.Now()

	// ---- Desktop: the portal, login through Motlan and the eID, consent, the form. ----
	desk.do("portal home", chromedp.Navigate(pm.url+"/"), chromedp.WaitVisible(chromedp.CSS(j.start)))
	desk.shot("portal-home")
	desk.press("click "+j.start, chromedp.CSS(j.start), false)
	desk.eidLogin("login", j.cccd, false)
	eidTaps, eidFields := desk.taps, desk.fields

	desk.do("Motlan consent page", chromedp.WaitVisible(chromedp.CSS(`button[name="action"][value="allow"]`)))
	desk.shot("motlan-consent")
	if consent := run(desk, "read consent", chromedp.Text(chromedp.CSS(".card"))); !strings.Contains(consent, "Cổng Dịch vụ công") {
		t.Errorf("consent page does not name the portal:\n%s", consent)
	}
	desk.press("allow", `button[name="action"][value="allow"]`, false)

	desk.do("portal dossier", chromedp.WaitVisible(chromedp.ID("claim-name")))
	desk.shot("portal-dossier")
	if loc := run(desk, "location", chromedp.Location()); loc != pm.url+j.path {
		t.Fatalf("after consent the desktop is at %s, want %s%s", loc, pm.url, j.path)
	}
	if got := run(desk, "claim-name", chromedp.Value(chromedp.ID("claim-name"))); got != j.citizen {
		t.Errorf("#claim-name = %q, want %q", got, j.citizen)
	}
	if got := run(desk, "claim-cccd", chromedp.Value(chromedp.ID("claim-cccd"))); got != j.cccd {
		t.Errorf("#claim-cccd = %q, want %q", got, j.cccd)
	}
	for _, id := range []string{"claim-name", "claim-cccd", "claim-birthdate", "claim-address", "claim-phone"} {
		if ro := run(desk, id+" readOnly", chromedp.JavascriptAttribute[bool](chromedp.ID(id), "readOnly")); !ro {
			t.Errorf("#%s is editable, want read-only", id)
		}
		if v := run(desk, id+" value", chromedp.Value(chromedp.ID(id))); v == "" {
			t.Errorf("#%s is empty, want the verified claim", id)
		}
		// From verified_claims: the eID verified it, at level 2 (the dev eID verified
		// these citizens' phones too).
		if mark := run(desk, id+" verified", chromedp.Text(chromedp.ID(id+"-verified"))); !strings.Contains(mark, "Đã xác thực qua VNeID, mức 2") {
			t.Errorf("#%s-verified = %q, want the eID's verification at level 2", id, mark)
		}
	}
	if acr := strings.TrimSpace(run(desk, "claim-acr", chromedp.Text(chromedp.ID("claim-acr")))); acr != "2" {
		t.Errorf("#claim-acr = %q, want 2", acr)
	}
	// The only editable fields are the bundle's own.
	editable := run(desk, "editable fields", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#dossier-form input:not([type=hidden]), #dossier-form select, #dossier-form textarea')].filter(e => !e.readOnly && !e.disabled).map(e => e.name)`))
	loggedIn := time.Since(journeyStart)

	j.fill(desk)
	bundleFields := desk.fields - eidFields
	if bundleFields != len(editable) {
		t.Errorf("the citizen filled %d fields, the form has %d editable ones %q", bundleFields, len(editable), editable)
	}
	desk.shot("portal-dossier-filled")
	desk.press("click Ký số", "#sign", false)

	desk.do("Ký số page", chromedp.WaitVisible(chromedp.ID("sign-qr")), chromedp.WaitVisible(chromedp.ID("approval-link")))
	// The QR code is its own request (the portal asks Motlan for the request first): wait
	// for it to load or fail.
	qrWidth := run(desk, "QR loaded", chromedp.Evaluate[int](`new Promise(done => {
		const img = document.getElementById('sign-qr');
		if (img.complete) { done(img.naturalWidth); return; }
		img.addEventListener('load', () => done(img.naturalWidth));
		img.addEventListener('error', () => done(0));
	})`, chromedp.EvalAwaitPromise))
	if qrWidth < 200 {
		t.Errorf("QR image naturalWidth %d: not loaded", qrWidth)
	}
	desk.shot("portal-ky-so")
	approvalURL := run(desk, "approval link", chromedp.Evaluate[string](`document.getElementById('approval-link').href`))
	if !strings.HasPrefix(approvalURL, s.issuer+"/sign/") {
		t.Fatalf("approval link %q, want under %s/sign/", approvalURL, s.issuer)
	}
	if n := run(desk, "refresh link", chromedp.Evaluate[int](`document.querySelectorAll('a#refresh[href^="/ky-so/"]').length`)); n != 1 {
		t.Errorf("no refresh link for a browser without script")
	}
	deskTaps := desk.taps
	signPage := run(desk, "location", chromedp.Location())

	// ---- Phone: open the link, fresh level-2 login, see the documents, sign. ----
	phone.do("open approval link", chromedp.Navigate(approvalURL))
	phone.eidLogin("sign", j.cccd, true)
	loginTaps, loginFields := phone.taps, phone.fields

	phone.do("approval page", chromedp.WaitVisible(chromedp.CSS(`button[name="action"][value="approve"]`)))
	phone.shot("motlan-approve")
	docs := run(phone, "document titles", chromedp.Evaluate[[]string](`[...document.querySelectorAll('.doc-title')].map(e => e.textContent.trim())`))
	if len(docs) != len(j.titles) {
		t.Fatalf("approval page lists %d documents %q, want %d", len(docs), docs, len(j.titles))
	}
	for i, title := range j.titles {
		if want := fmt.Sprintf("%d. %s", i+1, title); docs[i] != want {
			t.Errorf("document %d: %q, want %q", i, docs[i], want)
		}
	}
	label := strings.TrimSpace(run(phone, "approve label", chromedp.Text(chromedp.CSS(`button[value="approve"]`))))
	if want := fmt.Sprintf("Ký tất cả (%d tài liệu)", len(j.titles)); label != want {
		t.Errorf("approve button %q, want %q", label, want)
	}
	phone.press("tap Ký tất cả", `button[name="action"][value="approve"]`, true)
	phone.do("done page", chromedp.WaitVisible(chromedp.CSS(`h1.done`)))
	phone.shot("motlan-signed")

	// ---- Desktop: the page turns to the signed state by itself. ----
	ctx, cancel := context.WithTimeout(desk.ctx, 40*time.Second)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#signing[data-status="signed"] .signed-doc`))); err != nil {
		cancel()
		desk.shot("portal-signed-FAILED")
		t.Fatalf("the desktop page did not turn to signed by itself: %v", err)
	}
	cancel()
	wall := time.Since(journeyStart)
	if loc := run(desk, "location", chromedp.Location()); loc != signPage {
		t.Errorf("the desktop left the signing page for %s", loc)
	}
	if desk.taps != deskTaps {
		t.Errorf("the desktop needed %d more clicks after Ký số", desk.taps-deskTaps)
	}
	desk.shot("portal-signed")
	type docResult struct {
		Title, Href, Indication, Signer, Time, Level string
	}
	results := run(desk, "signed documents", chromedp.Evaluate[[]docResult](`[...document.querySelectorAll('.signed-doc')].map(li => ({
		Title: li.querySelector('a.download').textContent.trim(), Href: li.querySelector('a.download').getAttribute('href'),
		Indication: li.dataset.indication, Signer: (li.querySelector('.signer') || {}).textContent || '',
		Time: (li.querySelector('.signed-time') || {}).textContent || '', Level: (li.querySelector('.level') || {}).textContent || ''}))`))
	if len(results) != len(j.titles) {
		t.Fatalf("signed page lists %d documents, want %d: %+v", len(results), len(j.titles), results)
	}
	for i, r := range results {
		if r.Title != j.titles[i] || r.Indication != "TOTAL_PASSED" || r.Signer != j.citizen || !strings.HasSuffix(r.Time, "(GMT+7)") || r.Level != "PAdES B-T" {
			t.Errorf("signed document %d: %+v; want %q, TOTAL_PASSED, signer %q, a time, PAdES B-T", i, r, j.titles[i], j.citizen)
		}
	}

	// The signed PDFs, downloaded through the portal as the citizen's browser does.
	nss := testpki.NSSDB(t, fetchCert(t, s.issuer+"/ca/root.crt"))
	for i, r := range results {
		b64 := run(desk, "download "+r.Href, chromedp.Evaluate[string](`fetch(`+strconv.Quote(r.Href)+`).then(r => r.ok ? r.arrayBuffer() : Promise.reject(r.status)).then(b => {
			let s = ''; new Uint8Array(b).forEach(c => s += String.fromCharCode(c)); return btoa(s); })`, chromedp.EvalAwaitPromise))
		pdf, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			t.Fatalf("download %s: %v %.20q", r.Href, err, pdf)
		}
		path := filepath.Join(t.TempDir(), fmt.Sprintf("%d.pdf", i))
		if err := os.WriteFile(path, pdf, 0o644); err != nil {
			t.Fatal(err)
		}
		if shots != "" {
			_ = os.WriteFile(filepath.Join(shots, fmt.Sprintf("%s-signed-%d.pdf", j.name, i+1)), pdf, 0o644)
		}
		out, sigs := testpki.PdfsigFile(t, nss, path)
		if len(sigs) != 1 || !sigs[0].Valid || !sigs[0].Trusted || !sigs[0].Total || sigs[0].CN != j.citizen {
			t.Errorf("pdfsig on signed document %d: %+v\n%s", i, sigs, out)
		}
		if i == 0 {
			text, err := exec.Command("pdftotext", "-enc", "UTF-8", path, "-").Output()
			if err != nil {
				t.Fatalf("pdftotext: %v", err)
			}
			for _, want := range j.inPDF {
				if !strings.Contains(string(text), want) {
					t.Errorf("signed %s lacks %q:\n%s", j.titles[0], want, text)
				}
			}
		}
	}

	t.Logf("%s desktop: %d clicks in all (login button and eID %d, consent 1, Ký số 1); %d typed fields at the eID (CCCD, password, OTP) and %d for the bundle (%q); 0 for the parent's verified data; logged in after %v",
		j.name, deskTaps, eidTaps, eidFields, bundleFields, editable, loggedIn.Round(time.Millisecond))
	t.Logf("%s phone: %d taps and %d typed fields from opening the link to signed; eID login: %d taps, %d fields; after login: %d taps, %d typed fields",
		j.name, phone.taps, phone.fields, loginTaps, loginFields, phone.taps-loginTaps, phone.fields-loginFields)
	t.Logf("%s journey wall time (portal home to the desktop showing three verified signed PDFs): %v", j.name, wall.Round(time.Millisecond))
	if after := phone.taps - loginTaps; after > 3 {
		t.Errorf("phone: %d taps after login, the goal is three or fewer", after)
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
	born := time.Now().AddDate(0, -2, 0).Format("02/01/2006") // as typed where the browser has no date picker
	submit := func(attempt string) (id string) {
		t.Helper()
		f := url.Values{"csrf": {reCSRF.FindStringSubmatch(page)[1]}, "attempt": {attempt}, "child_name": {"Lê Minh Khôi"},
			"child_birthdate": {born}, "child_sex": {"male"}, "child_birthplace": {"Bệnh viện Đa khoa tỉnh Thanh Hóa"}}
		loc := location(t, desk.postForm(pm.url+"/ho-so", f))
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

	id := submit("1")
	if again := submit("1"); again != id {
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

	p = body(t, desk.get(pm.url+"/ky-so/"+id)) // the refresh link
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

	// Declined on the phone.
	id2 := submit("2")
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

	// Another citizen does not see the request.
	other := newBrowser(t)
	pm.portalLogin(t, other, "/login", linhCCCD)
	if resp := other.get(pm.url + "/ky-so/" + id); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another citizen opened the request: %d", resp.StatusCode)
	}
}
