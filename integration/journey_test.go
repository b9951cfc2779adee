package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/text/unicode/norm"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/internal/testpki"
)

// anhCCCD: Trịnh Thị Ngọc Ánh, level 2, a citizen who has not used the portal before.
const anhCCCD = "038178003321"

// journey is one bundle's run through the portal.
type journey struct {
	name   string // subtest and screenshot prefix
	start  string // the home page's button
	bundle string // its id: /ho-so/{bundle}
	path   string // the form's path after the login
	cccd   string // the citizen
	titles []string
	fill   func(b *tab) // types and chooses the bundle's fields, one name in NFD
	nfd    string       // that name, as it must read (NFC) in the PDFs
	// change is the field changed after going back, and its new value: the second Ký số
	// then replaces the first request.
	change [2]string
	// statements are what the PDFs may state besides the eID's data and the typed fields,
	// each with where it comes from: the citizen's choices as the forms word them, and
	// the wording of the procedures the citizen chose (the bundle).
	statements map[string]string
}

func pilotJourneys() []journey {
	// A recent birth: the bundle is for a child under six.
	born := time.Now().In(time.FixedZone("ICT", 7*3600)).AddDate(0, 0, -7)
	born = time.Date(born.Year(), born.Month(), born.Day(), 0, 0, 0, 0, time.UTC)
	died := born.AddDate(0, 0, 3)
	return []journey{
		{
			name: "khai-sinh", start: "#login-vneid", bundle: "khai-sinh", path: "/ho-so", cccd: haoCCCD,
			titles: []string{"Tờ khai đăng ký khai sinh", "Tờ khai đăng ký thường trú", "Tờ khai tham gia bảo hiểm y tế"},
			fill: func(b *tab) {
				b.choose("choose the relation", "applicant-relation", "father")
				b.choose("choose the applicant's ethnic group", "applicant-ethnicity", "Kinh")
				b.typeInto("type the child's name (NFD)", "child-name", norm.NFD.String("Lê Minh Khôi"))
				b.typeDate("type the child's birth date", "child-birthdate", born)
				b.choose("choose the child's sex", "child-sex", "male")
				b.typeInto("type the place of birth", "child-birthplace", "Bệnh viện Đa khoa tỉnh Thanh Hóa")
				b.choose("choose the child's ethnic group", "child-ethnicity", "Mường")
				b.choose("choose the child's nationality", "child-nationality", "Việt Nam")
				b.typeInto("type the mother's name", "other-name", "Hà Thị Mai")
				b.typeDate("type the mother's birth date", "other-birthdate", time.Date(1994, 5, 6, 0, 0, 0, 0, time.UTC))
				b.choose("choose the mother's ethnic group", "other-ethnicity", "Mường")
				b.choose("choose the mother's nationality", "other-nationality", "Việt Nam")
				b.typeInto("type the mother's residence", "other-address", "Thôn Đông Hải, Phường Sầm Sơn, Tỉnh Thanh Hóa")
			},
			nfd:    "Lê Minh Khôi",
			change: [2]string{"child-birthplace", "Trạm y tế phường Sầm Sơn"},
			statements: map[string]string{
				"Cha":      "choice: the applicant is the child's father",
				"Nam":      "choice: the child's sex",
				"Kinh":     "choice: the applicant's ethnic group",
				"Mường":    "choice: the child's and the mother's ethnic group",
				"Việt Nam": "choice: the child's and the mother's nationality (the applicant's is the eID's)",
				"Đăng ký thường trú cho trẻ em tại nơi thường trú của cha (người kê khai)": "procedure chosen (bundle) and the relation chosen",
				"Cấp cùng lúc đăng ký khai sinh":                                           "procedure chosen: the ID number comes with the birth registration",
				"Ủy ban nhân dân cấp xã nơi cư trú, tỉnh Thanh Hóa":                        "procedure chosen: where the birth is registered",
				"Trẻ em dưới 6 tuổi (ngân sách nhà nước đóng)":                             "procedure chosen, for a child whose typed birth date makes it under six",
				born.Format("02/01/2006"):                                                  "typed: the child's birth date",
				"06/05/1994":                                                               "typed: the mother's birth date",
			},
		},
		{
			name: "khai-tu", start: "#start-khai-tu", bundle: "khai-tu", path: "/ho-so/khai-tu", cccd: anhCCCD,
			titles: []string{"Tờ khai đăng ký khai tử", "Tờ khai xóa đăng ký thường trú", "Tờ khai đề nghị hỗ trợ chi phí mai táng"},
			fill: func(b *tab) {
				b.typeInto("type the name of the deceased (NFD)", "deceased-name", norm.NFD.String("Trịnh Văn Lĩnh"))
				b.typeInto("type the ID number of the deceased", "deceased-cccd", "038045001234")
				b.typeDate("type the birth date of the deceased", "deceased-birthdate", time.Date(1945, 1, 1, 0, 0, 0, 0, time.UTC))
				b.choose("choose the sex of the deceased", "deceased-sex", "male")
				b.typeDate("type the date of death", "death-date", died)
				b.typeInto("type the place of death", "death-place", "Nhà riêng, thôn Ĩnh, xã Quảng Xương")
				b.typeInto("type the residence of the deceased", "deceased-address", "Thôn Ĩnh, xã Quảng Xương, tỉnh Thanh Hóa")
				b.choose("choose the relationship", "relationship", "child")
			},
			nfd:    "Trịnh Văn Lĩnh",
			change: [2]string{"death-place", "Bệnh viện Đa khoa huyện Quảng Xương"},
			statements: map[string]string{
				"Con": "choice: the applicant is the child of the deceased",
				"Nam": "choice: the sex of the deceased",
				"Xóa đăng ký thường trú do người đăng ký thường trú đã chết": "procedure chosen (bundle)",
				"01/01/1945":              "typed: the birth date of the deceased",
				died.Format("02/01/2006"): "typed: the date of death",
			},
		},
	}
}

// The forms' labels and section headings: the frame of each statement, not statements.
var (
	formLabels = []string{"Họ, chữ đệm và tên", "Ngày, tháng, năm sinh", "Giới tính", "Số định danh cá nhân", "Nơi thường trú",
		"Số điện thoại", "Dân tộc", "Quốc tịch", "Quan hệ với người được khai sinh", "Nơi sinh", "Nơi cư trú cuối cùng", "Nơi cư trú",
		"Đề nghị", "Địa chỉ đăng ký thường trú", "Quan hệ với người được đăng ký", "Nơi đăng ký khai sinh", "Đối tượng",
		"Địa chỉ nhận thẻ", "Quan hệ với trẻ", "Quan hệ với người đã chết", "Đã chết vào ngày", "Nơi chết", "Ngày chết",
		"Quan hệ với người được xóa đăng ký"}
	formHeadings = []string{"Người yêu cầu", "Người được khai sinh", "Thông tin người mẹ", "Thông tin người cha",
		"Người được đăng ký thường trú", "Nội dung đề nghị", "Người kê khai", "Người tham gia", "Cha, mẹ hoặc người giám hộ",
		"Người đã chết", "Người được xóa đăng ký thường trú", "Thông tin người đã chết", "Người đứng ra tổ chức mai táng"}
)

// traceStatements reads a form's text (pdftotext -raw: the order it was drawn in) from its
// addressee to its pledge, takes away the labels and headings, and checks that every value
// left is one the citizen can trace: the eID's data, a typed field, or a choice; sources
// maps each to where it comes from. It returns how many statements it checked.
func traceStatements(t *testing.T, name, text string, sources map[string]string) int {
	t.Helper()
	text = strings.Join(strings.Fields(text), " ")
	_, body, ok := strings.Cut(text, "Kính gửi:")
	body, _, ok2 := strings.Cut(body, "Tôi cam đoan")
	if !ok || !ok2 {
		t.Errorf("%s: no addressee or pledge in:\n%s", name, text)
		return 0
	}
	// From the addressee's line to the first heading: the addressee itself.
	first := len(body)
	for _, h := range formHeadings {
		if i := strings.Index(body, h); i >= 0 && i < first {
			first = i
		}
	}
	body = body[first:]
	alts := make([]string, 0, len(formLabels)+len(formHeadings))
	for _, l := range formLabels {
		alts = append(alts, regexp.QuoteMeta(l)+":")
	}
	for _, h := range formHeadings {
		alts = append(alts, regexp.QuoteMeta(h)+`(?: |$)`)
	}
	slices.SortFunc(alts, func(a, b string) int { return len(b) - len(a) }) // longest first
	frame := regexp.MustCompile(strings.Join(alts, "|"))
	n := 0
	for _, v := range frame.Split(body, -1) {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		n++
		if _, ok := sources[v]; !ok {
			t.Errorf("%s states %q: not from the eID, a typed field or a choice", name, v)
		}
	}
	return n
}

// sourcesFor: every statement the journey's PDFs may make, with its source.
func sourcesFor(t *testing.T, j journey, typed map[string]string) map[string]string {
	t.Helper()
	src := map[string]string{}
	for _, c := range sim.DefaultCitizens() {
		if c.CCCD != j.cccd {
			continue
		}
		birth, _ := time.Parse(time.DateOnly, c.Birthdate)
		for v, what := range map[string]string{c.FullName(): "name", birth.Format("02/01/2006"): "birth date", c.CCCD: "ID number",
			c.Address.Formatted: "address", c.Phone: "phone", c.Nationality: "nationality", c.Sex: "sex"} {
			src[norm.NFC.String(v)] = "eID: " + what
		}
	}
	if len(src) == 0 {
		t.Fatalf("no dev eID citizen %s", j.cccd)
	}
	for id, v := range typed {
		src[norm.NFC.String(v)] = "typed: #" + id
	}
	for v, why := range j.statements {
		src[v] = why
	}
	return src
}

// pdfText is pdftotext -raw of a PDF: its text in the order it was drawn.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-raw", "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// fetchPDF downloads a PDF the way the page's own script would (same origin, cookies).
func (b *tab) fetchPDF(href string) []byte {
	b.t.Helper()
	b64 := run(b, "download "+href, chromedp.Evaluate[string](`fetch(`+strconv.Quote(href)+`).then(r => r.ok ? r.arrayBuffer() : Promise.reject(r.status)).then(b => {
		let s = ''; new Uint8Array(b).forEach(c => s += String.fromCharCode(c)); return btoa(s); })`, chromedp.EvalAwaitPromise))
	pdf, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !strings.HasPrefix(string(pdf), "%PDF-") {
		b.t.Fatalf("%s: download %s: %v %.20q", b.name, href, err, pdf)
	}
	return pdf
}

// smallTargets lists the page's visible controls under 44 CSS pixels high.
func (b *tab) smallTargets(page string) {
	b.t.Helper()
	small := run(b, "tap targets", chromedp.Evaluate[[]string](`[...document.querySelectorAll('a, button, input:not([type=hidden]), select, summary')]
		.filter(e => e.offsetParent !== null)
		.map(e => [e, e.getBoundingClientRect()]).filter(([e, r]) => r.height < 44)
		.map(([e, r]) => (e.id || e.className || e.tagName) + ' ' + Math.round(r.height) + 'px')`))
	if len(small) > 0 {
		b.t.Errorf("%s: %s: tap targets under 44 px: %q", b.name, page, small)
	}
}

// requestStatusAt reads a signing request at Motlan with the portal's own credentials.
func requestStatusAt(t *testing.T, pm portalWithMotlan, id string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: pm.s.portal.id, ClientSecret: pm.s.portal.secret,
		TokenURL: pm.s.issuer + "/token", Scopes: []string{"signing"}}
	resp, err := cc.Client(context.Background()).Get(pm.s.issuer + "/signing/v1/requests/" + id)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(body(t, resp)), &st); err != nil {
		t.Fatal(err)
	}
	return st.Status
}

// supersededLinkSaysSo opens a superseded request's approval link as a phone that has not
// logged in would: Motlan says the request was replaced, before any eID login.
func supersededLinkSaysSo(t *testing.T, link string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	if resp.StatusCode/100 == 3 {
		t.Errorf("the superseded link %s redirects to %s (a login) before saying it was replaced", link, resp.Header.Get("Location"))
	}
	if !strings.Contains(page, "Yêu cầu này đã được thay bằng yêu cầu mới") {
		t.Errorf("the superseded link %s does not say it was replaced (status %d)", link, resp.StatusCode)
	}
}

// pressBesidePDFs presses a control of a page that embeds PDF viewers, from the
// keyboard (Tab to it, Enter): headless Chromium does not deliver synthetic mouse or touch
// input to the page reliably once a PDF viewer is embedded (observed: no click event
// arrives). It waits for the viewers to load first, as they take the focus; it counts a
// tap.
func (b *tab) pressBesidePDFs(step string, sel chromedp.CSS) {
	b.t.Helper()
	b.do(step+": PDF viewers loaded", chromedp.Evaluate[chromedp.Void](`Promise.all([...document.querySelectorAll('iframe.pdf-preview')].map(f =>
		new Promise(done => { f.addEventListener('load', done); setTimeout(done, 3000); })))`, chromedp.EvalAwaitPromise))
	b.do(step, chromedp.WaitVisible(sel), chromedp.Focus(sel), chromedp.KeyEvent("\r"))
	b.taps++
}

// signingPageID waits for the portal's signing page and returns its approval link.
func (b *tab) signingPage(phoneOnly bool) (approvalURL string) {
	b.t.Helper()
	b.do("Ký số page", chromedp.WaitVisible(chromedp.ID("signing")), chromedp.WaitReady(chromedp.ID("approval-link")))
	if phoneOnly {
		// A phone-sized screen: a button opens the link here; no QR code to scan.
		b.do("open-here button", chromedp.WaitVisible(chromedp.ID("open-here")), chromedp.WaitNotVisible(chromedp.ID("sign-qr")))
	} else {
		b.do("QR code", chromedp.WaitVisible(chromedp.ID("sign-qr")), chromedp.WaitNotVisible(chromedp.ID("open-here")))
		w := run(b, "QR loaded", chromedp.Evaluate[int](`new Promise(done => {
			const img = document.getElementById('sign-qr');
			if (img.complete) { done(img.naturalWidth); return; }
			img.addEventListener('load', () => done(img.naturalWidth));
			img.addEventListener('error', () => done(0));
		})`, chromedp.EvalAwaitPromise))
		if w < 200 {
			b.t.Errorf("%s: QR image naturalWidth %d: not loaded", b.name, w)
		}
	}
	text := run(b, "sign page text", chromedp.Evaluate[string](`document.body.innerText`))
	if strings.Contains(text, "gửi yêu cầu ký tới VNeID") || strings.Contains(strings.ToLower(text), "sent to vneid") {
		b.t.Errorf("%s: the signing page says the request was sent to VNeID:\n%s", b.name, text)
	}
	return run(b, "approval link", chromedp.Evaluate[string](`document.getElementById('approval-link').href`))
}

// toPreview presses "Tiếp tục" and checks the preview shows each PDF: embedded on a
// desktop, a link to each on a phone. Every statement of each previewed PDF must trace.
func (b *tab) toPreview(j journey, phoneOnly bool, sources map[string]string) {
	b.t.Helper()
	b.press("Tiếp tục", "#continue", phoneOnly)
	b.do("preview page", chromedp.WaitVisible(chromedp.ID("preview-title")))
	b.shot("portal-preview")
	srcs := run(b, "previews", chromedp.Evaluate[[]string](`[...document.querySelectorAll('iframe.pdf-preview')].map(f => f.getAttribute('src'))`))
	visible := run(b, "previews shown", chromedp.Evaluate[int](`[...document.querySelectorAll('iframe.pdf-preview')].filter(f => f.offsetParent !== null).length`))
	links := run(b, "preview links", chromedp.Evaluate[int](`[...document.querySelectorAll('a.preview-open')].filter(a => a.offsetParent !== null).length`))
	if len(srcs) != len(j.titles) || (!phoneOnly && visible != len(j.titles)) || links != len(j.titles) {
		b.t.Fatalf("%s: preview: %d PDFs, %d shown, %d links; want %d each (frames hidden on a phone)", b.name, len(srcs), visible, links, len(j.titles))
	}
	for i, src := range srcs {
		traceStatements(b.t, fmt.Sprintf("%s preview %d", b.name, i+1), pdfText(b.t, b.fetchPDF(src)), sources)
	}
}

func runJourney(t *testing.T, pm portalWithMotlan, browserCtx context.Context, shots string, seq *int, j journey, phoneOnly bool) {
	kind := map[bool]string{false: "desktop", true: "phone"}[phoneOnly]
	pt := newTab(t, browserCtx, j.name+"-"+kind+"-portal", shots, seq)
	ap := pt
	if !phoneOnly {
		ap = newTab(t, browserCtx, j.name+"-"+kind+"-approver", shots, seq)
	}
	for _, b := range slices.Compact([]*tab{pt, ap}) {
		if err := chromedp.Do(b.ctx); err != nil { // opens the tab, bound to the browser's lifetime
			t.Fatalf("%s: open tab: %v", b.name, err)
		}
	}
	if phoneOnly {
		pt.do("emulate phone", pt.watch.install(), chromedp.Emulate(device.IPhone12))
	} else {
		pt.do("emulate desktop", pt.watch.install(), chromedp.EmulateViewport(1280, 800))
		ap.do("emulate phone", ap.watch.install(), chromedp.Emulate(device.IPhone12))
	}
	t.Cleanup(func() {
		for _, b := range slices.Compact([]*tab{pt, ap}) {
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
	var citizen string
	for _, c := range sim.DefaultCitizens() {
		if c.CCCD == j.cccd {
			citizen = c.FullName()
		}
	}
	journeyStart := time.Now()

	// ---- The portal: login through Motlan and the eID, consent, the form. ----
	pt.do("portal home", chromedp.Navigate(pm.url+"/"), chromedp.WaitVisible(chromedp.CSS(j.start)))
	pt.shot("portal-home")
	pt.smallTargets("home")
	pt.press("press "+j.start, chromedp.CSS(j.start), phoneOnly)
	pt.eidLogin("login", j.cccd, phoneOnly)
	eidTaps, eidFields := pt.taps, pt.fields
	// The consent, unless this citizen gave it to the portal in an earlier context.
	pt.do("Motlan consent page or the form", chromedp.WaitVisible(chromedp.CSS(`button[name="action"][value="allow"], #claim-name`)))
	consent := run(pt, "consent asked", chromedp.Evaluate[int](`document.querySelectorAll('button[name="action"][value="allow"]').length`)) > 0
	if consent {
		if text := run(pt, "read consent", chromedp.Text(chromedp.CSS(".card"))); !strings.Contains(text, "Cổng Dịch vụ công") {
			t.Errorf("consent page does not name the portal:\n%s", text)
		}
		pt.press("allow", `button[name="action"][value="allow"]`, phoneOnly)
	}

	pt.do("portal dossier", chromedp.WaitVisible(chromedp.ID("claim-name")))
	if loc := run(pt, "location", chromedp.Location()); loc != pm.url+j.path {
		t.Fatalf("after consent the portal is at %s, want %s%s", loc, pm.url, j.path)
	}
	for id, want := range map[string]string{"claim-name": citizen, "claim-cccd": j.cccd, "claim-nationality": "Việt Nam"} {
		if got := run(pt, id, chromedp.Value(chromedp.ID(id))); got != want {
			t.Errorf("#%s = %q, want %q", id, got, want)
		}
	}
	for _, id := range []string{"claim-name", "claim-cccd", "claim-birthdate", "claim-address", "claim-phone"} {
		if ro := run(pt, id+" readOnly", chromedp.JavascriptAttribute[bool](chromedp.ID(id), "readOnly")); !ro {
			t.Errorf("#%s is editable, want read-only", id)
		}
		if v := run(pt, id+" value", chromedp.Value(chromedp.ID(id))); v == "" {
			t.Errorf("#%s is empty, want the verified claim", id)
		}
		if mark := run(pt, id+" verified", chromedp.Text(chromedp.ID(id+"-verified"))); !strings.Contains(mark, "Đã xác thực qua VNeID, mức 2") {
			t.Errorf("#%s-verified = %q, want the eID's verification at level 2", id, mark)
		}
	}
	if acr := strings.TrimSpace(run(pt, "claim-acr", chromedp.Text(chromedp.ID("claim-acr")))); acr != "2" {
		t.Errorf("#claim-acr = %q, want 2", acr)
	}
	editable := run(pt, "editable fields", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#dossier-form input:not([type=hidden]), #dossier-form select, #dossier-form textarea')].filter(e => !e.readOnly && !e.disabled).map(e => e.name)`))
	hints := run(pt, "date hints", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#dossier-form .hint')].map(h => h.textContent)`))
	if len(hints) == 0 || slices.ContainsFunc(hints, func(h string) bool { return !strings.Contains(h, "dd/mm/yyyy") }) {
		t.Errorf("date fields' hints %q, want dd/mm/yyyy on each", hints)
	}
	pt.smallTargets("form")
	loggedIn := time.Since(journeyStart)

	pt.typed = nil
	j.fill(pt)
	typed := pt.typed
	bundleFields := pt.fields - eidFields
	if bundleFields != len(editable) {
		t.Errorf("the citizen filled %d fields, the form has %d editable ones %q", bundleFields, len(editable), editable)
	}
	pt.shot("portal-dossier-filled")
	sources := sourcesFor(t, j, typed)
	pt.toPreview(j, phoneOnly, sources)
	pt.pressBesidePDFs("Ký số", "#sign")
	first := pt.signingPage(phoneOnly)
	pt.shot("portal-ky-so")
	pt.smallTargets("signing page")

	// ---- Back: the draft is all there, NFC; a change and Ký số again. ----
	pt.do("back to the preview", chromedp.NavigateBack(), chromedp.WaitVisible(chromedp.ID("preview-title")))
	// From the preview, "Sửa thông tin" (a second Back stalls headless Chromium on the
	// PDF viewers' frames); a tap, as for Ký số.
	pt.pressBesidePDFs("Sửa thông tin", "#edit")
	pt.do("the form again", chromedp.WaitVisible(chromedp.ID("dossier-form")))
	for id, v := range typed {
		if got := run(pt, "draft "+id, chromedp.Value(chromedp.ID(id))); got != norm.NFC.String(v) {
			t.Errorf("after Back #%s holds %q, want %q (the draft, NFC)", id, got, norm.NFC.String(v))
		}
	}
	old := typed[j.change[0]]
	// The citizen selects the field's text and types over it.
	pt.do("clear "+j.change[0], chromedp.Evaluate[chromedp.Void](`document.getElementById(`+strconv.Quote(j.change[0])+`).value = ''`))
	pt.typeInto("change "+j.change[0], j.change[0], j.change[1])
	sources[j.change[1]] = "typed: #" + j.change[0] + " (changed)"
	delete(sources, norm.NFC.String(old)) // the old value must not be signed
	pt.toPreview(j, phoneOnly, sources)
	pt.pressBesidePDFs("Ký số again", "#sign")
	second := pt.signingPage(phoneOnly)
	if second == first {
		t.Fatalf("changed forms reused the request %s", first)
	}
	firstID := first[strings.LastIndex(first, "/")+1:]
	if st := requestStatusAt(t, pm, firstID); st != "canceled" {
		t.Errorf("the superseded request %s is %q at Motlan, want canceled", firstID, st)
	}
	supersededLinkSaysSo(t, first)
	portalTaps := pt.taps

	// ---- The phone: the approval link, the eID login, one tap to sign. ----
	apTaps, apFields := ap.taps, ap.fields // on a phone alone, the same tab as the portal
	if phoneOnly {
		ap.press("Mở trên điện thoại này", "#open-here", true)
	} else {
		ap.do("open approval link", chromedp.Navigate(second))
	}
	opened := ap.taps // the link opened: a tap on a phone alone, a scan otherwise
	ap.do("approval or login", chromedp.WaitVisible(chromedp.CSS(`main[data-stage="password"] #cccd, button[name="action"][value="approve"]`)))
	// Sole control: every approval has its own eID login, even right after the portal's.
	if n := run(ap, "login asked", chromedp.Evaluate[int](`document.querySelectorAll('main[data-stage="password"] #cccd').length`)); n == 0 {
		t.Fatalf("%s: the approval link opened the approval page without an eID login made for it", ap.name)
	}
	ap.eidLogin("sign", j.cccd, true)
	loginTaps, loginFields := ap.taps-opened, ap.fields-apFields
	ap.do("approval page", chromedp.WaitVisible(chromedp.CSS(`button[name="action"][value="approve"]`)))
	ap.shot("motlan-approve")
	docs := run(ap, "document titles", chromedp.Evaluate[[]string](`[...document.querySelectorAll('.doc-title')].map(e => e.textContent.trim())`))
	if len(docs) != len(j.titles) {
		t.Fatalf("approval page lists %d documents %q, want %d", len(docs), docs, len(j.titles))
	}
	for i, title := range j.titles {
		if want := fmt.Sprintf("%d. %s", i+1, title); docs[i] != want {
			t.Errorf("document %d: %q, want %q", i, docs[i], want)
		}
	}
	label := strings.TrimSpace(run(ap, "approve label", chromedp.Text(chromedp.CSS(`button[value="approve"]`))))
	if want := fmt.Sprintf("Ký tất cả (%d tài liệu)", len(j.titles)); label != want {
		t.Errorf("approve button %q, want %q", label, want)
	}
	ap.press("tap Ký tất cả", `button[name="action"][value="approve"]`, true)
	ap.do("done page", chromedp.WaitVisible(chromedp.CSS(`h1.done`)))
	ap.shot("motlan-signed")

	// ---- The portal: submitted, the receipt with a dossier number. ----
	if phoneOnly {
		// Back to the portal, where the request's return_url leads.
		pt.do("return to the portal", chromedp.Navigate(pm.url+"/ho-so/"+j.bundle+"/ky-so"))
	}
	ctx, cancel := context.WithTimeout(pt.ctx, 40*time.Second)
	err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("dossier-number")))
	cancel()
	if err != nil {
		pt.shot("portal-receipt-FAILED")
		t.Fatalf("the portal did not turn to the receipt: %v", err)
	}
	wall := time.Since(journeyStart)
	pt.shot("portal-receipt")
	number := strings.TrimSpace(run(pt, "dossier number", chromedp.Text(chromedp.ID("dossier-number"))))
	if !regexp.MustCompile(`^H38-\d{8}-\d{6}$`).MatchString(number) {
		t.Errorf("dossier number %q, want H38-YYYYMMDD-NNNNNN", number)
	}
	if loc := run(pt, "location", chromedp.Location()); loc != pm.url+"/ho-so-cua-toi/"+number {
		t.Errorf("the receipt is at %s", loc)
	}
	if !phoneOnly && pt.taps != portalTaps {
		t.Errorf("the desktop needed %d more clicks after Ký số", pt.taps-portalTaps)
	}
	shown := run(pt, "receipt text", chromedp.Evaluate[string](`document.body.innerText`))
	for _, hidden := range []string{"TOTAL_PASSED", "PAdES"} {
		if strings.Contains(shown, hidden) {
			t.Errorf("the receipt shows %q outside its details", hidden)
		}
	}
	if !strings.Contains(shown, "Bước tiếp theo") || !strings.Contains(shown, "chi tiết") {
		t.Errorf("the receipt lacks next steps or a details link:\n%s", shown)
	}
	pt.smallTargets("receipt")
	type docResult struct{ Title, Href, Text, Signer, Time, Indication, Level string }
	results := run(pt, "signed documents", chromedp.Evaluate[[]docResult](`[...document.querySelectorAll('.signed-doc')].map(li => ({
		Title: li.querySelector('a.download').textContent.trim(), Href: li.querySelector('a.download').getAttribute('href'),
		Text: li.querySelector('.indication').textContent.trim(), Signer: li.querySelector('.signer').textContent,
		Time: li.querySelector('.signed-time').textContent, Indication: li.querySelector('.indication-code').textContent,
		Level: li.querySelector('.level').textContent}))`))
	if len(results) != len(j.titles) {
		t.Fatalf("the receipt lists %d documents, want %d: %+v", len(results), len(j.titles), results)
	}
	nss := testpki.NSSDB(t, fetchCert(t, pm.s.issuer+"/ca/root.crt"))
	statements := 0
	for i, r := range results {
		if r.Title != j.titles[i] || r.Text != "✓ Chữ ký hợp lệ" || r.Signer != citizen || !strings.HasSuffix(r.Time, "(GMT+7)") ||
			r.Indication != "TOTAL_PASSED" || r.Level != "PAdES B-T" {
			t.Errorf("signed document %d: %+v; want %q, ✓ Chữ ký hợp lệ, %q, a time; TOTAL_PASSED, PAdES B-T in the details", i, r, j.titles[i], citizen)
		}
		pdf := pt.fetchPDF(r.Href)
		path := filepath.Join(t.TempDir(), fmt.Sprintf("%d.pdf", i))
		if err := os.WriteFile(path, pdf, 0o644); err != nil {
			t.Fatal(err)
		}
		_ = os.WriteFile(filepath.Join(shots, fmt.Sprintf("%s-%s-signed-%d.pdf", j.name, kind, i+1)), pdf, 0o644)
		out, sigs := testpki.PdfsigFile(t, nss, path)
		if len(sigs) != 1 || !sigs[0].Valid || !sigs[0].Trusted || !sigs[0].Total || sigs[0].CN != citizen {
			t.Errorf("pdfsig on signed document %d: %+v\n%s", i, sigs, out)
		}
		text := pdfText(t, pdf)
		statements += traceStatements(t, fmt.Sprintf("signed %s", j.titles[i]), text, sources)
		if !norm.NFC.IsNormalString(text) || !strings.Contains(text, j.nfd) {
			t.Errorf("signed %s: text NFC %v, holds %q: %v", j.titles[i], norm.NFC.IsNormalString(text), j.nfd, strings.Contains(text, j.nfd))
		}
	}
	pt.do("Hồ sơ của tôi", chromedp.Navigate(pm.url+"/ho-so-cua-toi"), chromedp.WaitVisible(chromedp.ID("mine-title")))
	if n := run(pt, "listed", chromedp.Evaluate[int](`document.querySelectorAll('a.dossier-link[href="/ho-so-cua-toi/`+number+`"]').length`)); n != 1 {
		t.Errorf("Hồ sơ của tôi does not list %s", number)
	}

	t.Logf("%s %s: consent asked %v; portal %d taps/clicks in all (eID login %d), %d typed fields at the eID and %d for the bundle (+1 changed after Back) %q; logged in after %v",
		j.name, kind, consent, portalTaps, eidTaps, eidFields, bundleFields, editable, loggedIn.Round(time.Millisecond))
	after := ap.taps - opened - loginTaps
	t.Logf("%s %s: approval %d taps and %d typed fields from the link to signed (opening it %d, eID login %d taps and %d fields, after it %d taps)",
		j.name, kind, ap.taps-apTaps, ap.fields-apFields, opened-apTaps, loginTaps, loginFields, after)
	t.Logf("%s %s: %d statements in the signed PDFs, each traced; dossier %s; wall time portal home to receipt %v",
		j.name, kind, statements, number, wall.Round(time.Millisecond))
	if after > 3 {
		t.Errorf("phone: %d taps after login, the goal is three or fewer", after)
	}
}
