package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"gopkg.in/yaml.v3"

	"github.com/motlan/motlan/internal/config"
)

// The README section whose every command this file runs.
const (
	readmeHeading = "## Integrate your portal"
	// phoneMarker precedes the block during which the citizen approves on the phone.
	phoneMarker = "<!-- readme-test: the citizen approves on the phone"
	// loginMarker precedes the block that reads the address the browser ended on after
	// the citizen logged in; the test logs in and types that address.
	loginMarker = "<!-- readme-test: the citizen logs in in the browser"
	// readmePDF is the file the walkthrough uploads; the test provides it.
	readmePDF = "to-khai-khai-sinh.pdf"
)

// walkthrough is what the README section holds, in order.
type walkthrough struct {
	yaml   []string    // ```yaml blocks
	blocks []shBlock   // ```sh blocks
	claims []claimsRow // the scopes and claims table
}

type shBlock struct {
	text       string
	phoneFirst bool // the phone marker came right before it
	loginFirst bool // the login marker came right before it
}

type claimsRow struct {
	scope, claim string // claim "" for a scope without claims
	example      string // the example's code span; "" when it is prose
}

var reCodeSpan = regexp.MustCompile("^`([^`]*)`")

// parseWalkthrough reads the section from the README, from its heading to the next.
func parseWalkthrough(t *testing.T) walkthrough {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n"+readmeHeading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", readmeHeading)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var w walkthrough
	var fence string // the open fence's info string; "" outside a block
	var body []string
	phone, login := false, false
	for line := range strings.Lines(section) {
		line = strings.TrimRight(line, "\n")
		switch {
		case fence == "" && strings.HasPrefix(line, "```"):
			fence, body = strings.TrimPrefix(line, "```"), nil
		case fence != "" && line == "```":
			text := strings.Join(body, "\n")
			switch fence {
			case "sh":
				w.blocks = append(w.blocks, shBlock{text: text, phoneFirst: phone, loginFirst: login})
				phone, login = false, false
			case "yaml":
				w.yaml = append(w.yaml, text)
			default:
				t.Fatalf("README walkthrough: a ```%s block; only sh (run) and yaml (loaded) belong here", fence)
			}
			fence = ""
		case fence != "":
			body = append(body, line)
		case strings.HasPrefix(line, phoneMarker):
			phone = true
		case strings.HasPrefix(line, loginMarker):
			login = true
		case strings.HasPrefix(line, "| `"):
			cells := strings.Split(strings.Trim(line, "|"), "|")
			if len(cells) != 3 {
				t.Fatalf("claims table row with %d cells: %s", len(cells), line)
			}
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			row := claimsRow{scope: strings.Trim(cells[0], "`")}
			if cells[1] != "—" {
				row.claim = strings.Trim(cells[1], "`")
			}
			if m := reCodeSpan.FindStringSubmatch(cells[2]); m != nil {
				row.example = m[1]
			}
			w.claims = append(w.claims, row)
		}
	}
	if fence != "" {
		t.Fatalf("README walkthrough: unclosed ```%s block", fence)
	}
	return w
}

// shell is one bash process the walkthrough's blocks run in, one after another, as a
// reader would paste them: variables carry over, and the first failing command (-e,
// pipefail) or unset variable (-u) ends it.
type shell struct {
	t      *testing.T
	in     io.WriteCloser
	lines  chan string
	stderr *lockedBuffer
	n      int
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startShell(t *testing.T, dir string, env ...string) *shell {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc", "-e", "-u", "-o", "pipefail")
	cmd.Dir = dir
	// A reader's shell has none of the walkthrough's variables set.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains([]string{"MOTLAN", "CLIENT_ID", "CLIENT_SECRET", "ACCESS_TOKEN"}, name)
	})
	cmd.Env = append(cmd.Env, "no_proxy=*", "NO_PROXY=*")
	cmd.Env = append(cmd.Env, env...)
	sh := &shell{t: t, lines: make(chan string, 1024), stderr: &lockedBuffer{}}
	cmd.Stderr = sh.stderr
	var err error
	if sh.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(sh.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			sh.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = sh.in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return sh
}

func (sh *shell) marker() string { return fmt.Sprintf("<<<readme block %d done>>>", sh.n) }

// send hands a block to bash; its stdin is /dev/null, so nothing in it can read the rest
// of the script.
func (sh *shell) send(block string) { sh.sendTyping(block, "") }

// sendTyping hands a block to bash with typed (a line the reader types at its prompt) as
// its stdin, or /dev/null when typed is "".
func (sh *shell) sendTyping(block, typed string) {
	sh.t.Helper()
	sh.n++
	stdin := "</dev/null"
	if typed != "" {
		stdin = "<<'README_TYPED'\n" + typed + "\nREADME_TYPED"
	}
	if _, err := fmt.Fprintf(sh.in, "{\n%s\n} %s\necho '%s'\n", block, stdin, sh.marker()); err != nil {
		sh.t.Fatalf("block %d: writing to bash: %v\nstderr:\n%s", sh.n, err, sh.stderr)
	}
}

// collect returns the block's output once bash has run it to the end.
func (sh *shell) collect(block string) string {
	sh.t.Helper()
	var out []string
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-sh.lines:
			if !ok {
				sh.t.Fatalf("README block %d failed (bash exited):\n%s\noutput:\n%s\nstderr:\n%s", sh.n, block, strings.Join(out, "\n"), sh.stderr)
			}
			if line == sh.marker() {
				return strings.Join(out, "\n")
			}
			out = append(out, line)
		case <-timeout:
			sh.t.Fatalf("README block %d did not finish in 2 minutes:\n%s\noutput so far:\n%s\nstderr:\n%s", sh.n, block, strings.Join(out, "\n"), sh.stderr)
		}
	}
}

// TestReadmeIntegrateYourPortal runs the README's "Integrate your portal" walkthrough as
// written, against `motlan dev` built and started as a developer does: every sh block
// runs in bash, in order, with only MOTLAN set (the test's free port instead of 8080); the
// test logs the citizen in through a browser and pastes the address it ended on where the
// README says so, and approves on the phone where the README says so. Then the claims
// table must match what userinfo returned, the QR image must have come without a token,
// and the downloaded PDF must be signed (pdfsig). The production client entry (step 1)
// must be a valid clients entry.
func TestReadmeIntegrateYourPortal(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "openssl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README walkthrough needs %s: %v", tool, err)
		}
	}
	w := parseWalkthrough(t)
	if len(w.yaml) != 1 || len(w.blocks) < 9 || len(w.claims) < 10 {
		t.Fatalf("walkthrough: %d yaml blocks, %d sh blocks, %d claims rows; want 1, at least 9, at least 10",
			len(w.yaml), len(w.blocks), len(w.claims))
	}
	for name, marked := range map[string]func(shBlock) bool{
		"phone": func(b shBlock) bool { return b.phoneFirst },
		"login": func(b shBlock) bool { return b.loginFirst },
	} {
		if n := len(slices.DeleteFunc(slices.Clone(w.blocks), func(b shBlock) bool { return !marked(b) })); n != 1 {
			t.Fatalf("walkthrough: %d %s markers before sh blocks, want 1", n, name)
		}
	}

	// 1. The production client entry is one a Motlan configuration accepts.
	var reg struct {
		Clients []config.Client `yaml:"clients"`
	}
	dec := yaml.NewDecoder(strings.NewReader(w.yaml[0]))
	dec.KnownFields(true)
	if err := dec.Decode(&reg); err != nil || len(reg.Clients) != 1 {
		t.Fatalf("the README's clients entry: %v (%d clients)", err, len(reg.Clients))
	}
	if c := reg.Clients[0]; c.Secret.Env == "" || len(c.RedirectURIs) == 0 || !strings.HasPrefix(c.RedirectURIs[0], "https://") {
		t.Fatalf("the README's client %+v: want its secret from an environment variable and https redirect URIs", c)
	}

	dev := startMotlanDev(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, readmePDF), onePagePDF("To khai dang ky khai sinh"), 0o600); err != nil {
		t.Fatal(err)
	}
	sh := startShell(t, dir, "MOTLAN="+dev.issuer)
	b := newBrowser(t)

	reTitle := regexp.MustCompile(`-F title="([^"]+)"`)
	var titles []string
	var authURL, approvalURL, signedPDF, subject string
	seen := map[string]int{}
	for i, blk := range w.blocks {
		switch {
		case blk.loginFirst:
			if authURL == "" {
				t.Fatalf("block %d: the citizen logs in before any block printed an authorization URL", i+1)
			}
			// The citizen, in the browser; then the reader pastes where it ended.
			cb, sawEID, _ := dev.login(t, b, authRequest{url: authURL}, haoCCCD, "allow")
			if !sawEID || !strings.HasPrefix(cb.String(), "http://localhost:9876/callback?") || cb.Query().Get("code") == "" {
				t.Fatalf("the browser ended on %s (eID seen %v)", cb, sawEID)
			}
			sh.sendTyping(blk.text, cb.String())
		case blk.phoneFirst:
			if approvalURL == "" {
				t.Fatalf("block %d: the phone approves before any block printed an approval URL", i+1)
			}
			sh.send(blk.text)
			// The phone, while the block (long-polling) waits.
			(&signingPortal{b: b}).approve(t, approvalURL, titles...)
			seen["phone"]++
		default:
			sh.send(blk.text)
		}
		out := sh.collect(blk.text)
		switch {
		case strings.Contains(blk.text, "export MOTLAN="):
			seen["env"]++
		case strings.Contains(blk.text, "response_type"):
			seen["authorize"]++
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if authURL = lines[len(lines)-1]; !strings.HasPrefix(authURL, dev.issuer+"/authorize?") {
				t.Fatalf("the authorization block printed:\n%s", out)
			}
		case blk.loginFirst:
			seen["login"]++
			subject = idTokenSubject(t, dev.issuer, filepath.Join(dir, "token.json"))
		case strings.Contains(blk.text, "/.well-known/openid-configuration"):
			seen["discovery"]++
			checkDiscovery(t, dev, out)
		case strings.Contains(blk.text, "/userinfo"):
			seen["userinfo"]++
			checkClaimsTable(t, w.claims, out, subject)
		case strings.Contains(blk.text, "grant_type=client_credentials"):
			seen["token"]++
		case strings.Contains(blk.text, "/signing/v1/requests\""):
			seen["create"]++
			for _, m := range reTitle.FindAllStringSubmatch(blk.text, -1) {
				titles = append(titles, m[1])
			}
			for line := range strings.Lines(out) {
				if u := strings.TrimSpace(line); strings.HasPrefix(u, dev.issuer+"/sign/") {
					approvalURL = u
				}
			}
			if approvalURL == "" || len(titles) == 0 {
				t.Fatalf("creating the request printed no approval URL (titles %q):\n%s", titles, out)
			}
			if qr, err := os.ReadFile(filepath.Join(dir, "qr.png")); err != nil || !bytes.HasPrefix(qr, []byte("\x89PNG")) {
				t.Fatalf("the QR image fetched without a token: %v %.8q", err, qr)
			}
		case blk.phoneFirst:
			if lines := strings.Split(strings.TrimSpace(out), "\n"); lines[len(lines)-1] != "signed" {
				t.Fatalf("after the phone approved, the long-poll ended with:\n%s", out)
			}
		case strings.Contains(blk.text, "/signing/v1/verify"):
			seen["verify"]++
			var got struct {
				Indication string `json:"indication"`
				Level      string `json:"level"`
				Signer     string `json:"signer"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil || got.Indication != "TOTAL_PASSED" || got.Signer != "Lê Công Hảo" {
				t.Fatalf("verification printed %v:\n%s", err, out)
			}
			m := regexp.MustCompile(`-o (\S+\.pdf)`).FindStringSubmatch(blk.text)
			if m == nil {
				t.Fatalf("the download names no output file:\n%s", blk.text)
			}
			signedPDF = filepath.Join(dir, m[1])
		}
	}
	for _, step := range []string{"env", "discovery", "authorize", "login", "userinfo", "token", "create", "phone", "verify"} {
		if seen[step] != 1 {
			t.Errorf("walkthrough step %s ran %d times, want once", step, seen[step])
		}
	}
	if signedPDF == "" {
		t.Fatal("the walkthrough downloaded no signed PDF")
	}
	pdfsigAccepts(t, dev, signedPDF)
}

// startMotlanDev builds cmd/motlan and runs `motlan dev` on free ports with a fresh data
// directory, as a developer would (only the ports differ from the defaults); it returns
// when the banner says it is ready. The stack it returns holds its issuer and eID.
func startMotlanDev(t *testing.T) *stack {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "motlan")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/motlan").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/motlan: %v\n%s", err, out)
	}
	addr, eidAddr, portalAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "dev", "--data", t.TempDir(), "--addr", addr, "--eid-addr", eidAddr, "--portal-addr", portalAddr)
	cmd.Env = append(os.Environ(), "no_proxy=*", "NO_PROXY=*")
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			_, _ = logs.Write([]byte(sc.Text() + "\n"))
			if strings.HasPrefix(sc.Text(), "Motlan dev is ready") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("motlan dev exited:\n%s", logs)
	case <-time.After(2 * time.Minute):
		t.Fatalf("motlan dev not ready after 2 minutes:\n%s", logs)
	}
	host := func(a string) string { _, port, _ := net.SplitHostPort(a); return "http://localhost:" + port }
	return &stack{issuer: host(addr), eid: &httptest.Server{URL: host(eidAddr)}}
}

// idTokenSubject verifies the ID token the login block saved (signature, issuer,
// audience dev-portal) and returns its subject.
func idTokenSubject(t *testing.T, issuer, tokenJSON string) string {
	t.Helper()
	raw, err := os.ReadFile(tokenJSON)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil || tok.IDToken == "" {
		t.Fatalf("token.json: %v: %s", err, raw)
	}
	provider, err := oidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: "dev-portal"}).Verify(context.Background(), tok.IDToken)
	if err != nil {
		t.Fatalf("the ID token of the walkthrough's login: %v", err)
	}
	return idt.Subject
}

// checkDiscovery: the discovery block printed Motlan's endpoints, and the JWKS they name
// holds the current period's scheduled key (tokens.key_rotation is on by default).
func checkDiscovery(t *testing.T, s *stack, out string) {
	t.Helper()
	var d map[string]string
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("discovery block printed %v:\n%s", err, out)
	}
	for k, v := range d {
		if v != s.issuer && !strings.HasPrefix(v, s.issuer+"/") {
			t.Errorf("discovery %s = %q, not at the issuer %s", k, v, s.issuer)
		}
	}
	if d["issuer"] != s.issuer || d["token_endpoint"] == "" || d["jwks_uri"] == "" {
		t.Fatalf("discovery block printed:\n%s", out)
	}
	resp, err := http.Get(d["jwks_uri"])
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body(t, resp)), &set); err != nil {
		t.Fatal(err)
	}
	// Periods count from 1970-01-01 UTC; the stack started on an empty store at most a
	// minute ago, in this period or the one before.
	every, _ := config.KeyRotation{}.Values()
	periodOf := func(t time.Time) string {
		return time.Unix(0, t.UnixNano()/int64(every)*int64(every)).UTC().Format("20060102T150405Z")
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	for _, alg := range []string{"ES256", "RS256"} {
		now, then := alg+"-"+periodOf(time.Now()), alg+"-"+periodOf(time.Now().Add(-time.Minute))
		if !slices.Contains(kids, now) && !slices.Contains(kids, then) {
			t.Errorf("JWKS kids %v lack the scheduled %s", kids, now)
		}
	}
}

// checkClaimsTable: every claim the userinfo block printed is in the README's table with
// the example value shown, and every claim the table lists for the scopes asked was
// printed.
func checkClaimsTable(t *testing.T, rows []claimsRow, out, subject string) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("userinfo block printed %v:\n%s", err, out)
	}
	if got["sub"] != subject {
		t.Errorf("userinfo sub %v, ID token sub %s", got["sub"], subject)
	}
	flat := map[string]string{}
	for k, v := range got {
		if obj, ok := v.(map[string]any); ok {
			for kk, vv := range obj {
				flat[k+"."+kk] = jsonText(vv)
			}
			continue
		}
		flat[k] = jsonText(v)
	}
	listed := map[string]bool{}
	for _, r := range rows {
		if r.claim == "" {
			continue
		}
		listed[r.claim] = true
		v, ok := flat[r.claim]
		if !ok {
			t.Errorf("README claims table lists %s (scope %s); userinfo did not return it", r.claim, r.scope)
			continue
		}
		if r.example != "" && r.example != v {
			t.Errorf("README claims table: %s example %q; userinfo returned %q", r.claim, r.example, v)
		}
	}
	for k := range flat {
		if !listed[k] {
			t.Errorf("userinfo returned %s = %s; the README claims table does not list it", k, flat[k])
		}
	}
}

func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
