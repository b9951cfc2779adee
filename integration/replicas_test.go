package integration

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/motlan/motlan/internal/testpg"
	"github.com/motlan/motlan/internal/testpki"
)

// tsaGate is the replicas' time-stamp authority (signing.tsa_url), an RFC 3161 server
// (digitorus/timestamp with testpki's TSA, independent of keys/tsa) behind a gate the test controls: while shut, calls beyond the allowed number wait (the
// signing run that made them is held mid-signing). Calls answered are counted: each
// answered call is one signature that went on to be stored.
type tsaGate struct {
	srv     *httptest.Server
	mu      sync.Mutex
	credits int           // calls that may pass while shut
	open    chan struct{} // closed: every call passes
	arrived int
	passed  int
	epoch   int         // calls are counted by the epoch they arrived in
	byEpoch map[int]int // calls answered, by the epoch they arrived in
	arrival chan struct{}
}

func newTSAGate(t *testing.T) *tsaGate {
	ca := testpki.NewCA(t)
	ts := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		q, err := timestamp.ParseRequest(raw)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tok := timestamp.Timestamp{HashAlgorithm: q.HashAlgorithm, HashedMessage: q.HashedMessage, Nonce: q.Nonce,
			Time: time.Now(), Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, AddTSACertificate: true}
		resp, err := tok.CreateResponseWithOpts(ca.TSA, ca.TSAKey, crypto.SHA256)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		_, _ = w.Write(resp)
	})
	g := &tsaGate{open: make(chan struct{}), arrival: make(chan struct{}, 1000), byEpoch: map[int]int{}}
	close(g.open) // open until a test shuts it
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.arrived++
		epoch, open, pass := g.epoch, g.open, g.credits > 0
		if pass {
			g.credits--
		}
		g.mu.Unlock()
		g.arrival <- struct{}{}
		if !pass {
			select {
			case <-open:
			case <-r.Context().Done(): // the replica that asked died
				return
			}
		}
		rec := httptest.NewRecorder()
		ts.ServeHTTP(rec, r)
		if r.Context().Err() != nil {
			return
		}
		g.mu.Lock()
		g.passed++
		g.byEpoch[epoch]++
		g.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(g.srv.Close)
	t.Cleanup(g.release)
	return g
}

// shut holds every call after the next credits.
func (g *tsaGate) shut(credits int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open, g.credits = make(chan struct{}), credits
}

func (g *tsaGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// nextEpoch starts counting calls anew; it returns the new epoch.
func (g *tsaGate) nextEpoch() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.epoch++
	return g.epoch
}

func (g *tsaGate) answered(epoch int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.byEpoch[epoch]
}

func (g *tsaGate) counts() (arrived, passed int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.arrived, g.passed
}

// waitArrived waits until n calls have arrived in all.
func (g *tsaGate) waitArrived(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if a, _ := g.counts(); a >= n {
			return
		}
	}
	a, p := g.counts()
	t.Fatalf("time-stamp calls: %d arrived (%d answered), want %d", a, p, n)
}

// apiRequest is the signing API's view of a request, as much as these tests read.
type apiRequest struct {
	Status    string    `json:"status"`
	Failure   string    `json:"failure"`
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	Documents []struct {
		SignedAt     time.Time `json:"signed_at"`
		SignedSHA256 string    `json:"signed_sha256"`
	} `json:"documents"`
}

// get reads request id through the proxy; replica pins it to one (-1: round robin);
// wait is the long-poll's wait parameter ("" for none).
func (p *signingPortal) get(t *testing.T, s *stack, id string, replica int, since int64, wait string) (apiRequest, int) {
	t.Helper()
	u := s.issuer + "/signing/v1/requests/" + id
	if wait != "" {
		u += "?wait=" + wait + "&since=" + strconv.FormatInt(since, 10)
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if replica >= 0 {
		req.Header.Set(pinHeader, strconv.Itoa(replica))
	}
	resp, err := p.api.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	raw := body(t, resp)
	var out apiRequest
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("GET %s: %v: %s", u, err, raw)
		}
	}
	return out, resp.StatusCode
}

// approveForm opens the approval page, after the eID login made for it, and returns the
// form it would post.
func (p *signingPortal) approveForm(t *testing.T, approvalURL string) map[string][]string {
	t.Helper()
	_, page := p.openApproval(t, approvalURL)
	form := map[string][]string{"action": {"approve"}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`).FindAllStringSubmatch(page, -1) {
		form[m[1]] = append(form[m[1]], m[2])
	}
	return form
}

// TestThreeReplicas runs three motlan processes on one PostgreSQL database behind a
// round-robin proxy: a login begun on one replica finishes on others; a signing request
// created on A, approved through B and long-polled on C wakes the long-poll within 100 ms
// of the approval; a replica killed with SIGKILL while it signs has the request's
// documents signed within 10 s of its restart, each once.
func TestThreeReplicas(t *testing.T) {
	bin := buildMotlan(t)
	gate := newTSAGate(t)
	rs := newReplicaStack(t, bin, testpg.DSN(t), 3,
		"signing: {tsa_url: "+strconv.Quote(gate.srv.URL)+"}\nrate_limits: {disabled: true}\n")
	const A, B, C = 0, 1, 2

	t.Run("login across replicas", func(t *testing.T) { testLoginAcrossReplicas(t, rs) })

	p := newSigningPortal(t, rs.stack)
	titles := []string{"Tờ khai đăng ký khai sinh", "Giấy chứng sinh", "Tờ khai đăng ký thường trú", "Tờ khai tham gia BHYT"}

	t.Run("created on A, approved through B, long-polled on C", func(t *testing.T) {
		rs.proxy.pin(A)
		id, approvalURL := p.request(t, rs.stack, "replicas-wake", titles[0], titles[1])
		rs.proxy.pin(B)
		form := p.approveForm(t, approvalURL)
		before, _ := p.get(t, rs.stack, id, C, 0, "")
		gate.shut(0) // the run holds at its first time-stamp: no change after the approval's
		type polled struct {
			r   apiRequest
			at  time.Time
			err string
		}
		done := make(chan polled, 1)
		go func() {
			r, code := p.get(t, rs.stack, id, C, before.Version, "20s")
			at := time.Now()
			if code != http.StatusOK {
				done <- polled{err: fmt.Sprintf("long-poll: %d", code)}
				return
			}
			done <- polled{r: r, at: at}
		}()
		time.Sleep(300 * time.Millisecond) // the long-poll is waiting on C
		approved := p.b.postForm(approvalURL, form)
		page := body(t, approved)
		got := <-done
		if got.err != "" {
			t.Fatal(got.err)
		}
		if got.r.Status != "signing" || got.r.Version != before.Version+1 {
			t.Fatalf("the long-poll on C returned %s v%d, want signing v%d", got.r.Status, got.r.Version, before.Version+1)
		}
		// updated_at is the approval's commit, on the store's clock (this machine's).
		lag := got.at.Sub(got.r.UpdatedAt)
		t.Logf("long-poll on C returned %v after the approval on B committed", lag)
		if lag > 100*time.Millisecond {
			t.Errorf("the long-poll on C returned %v after the approval on B, want within 100 ms", lag)
		}
		// The approval answered "đang ký" while its run waits for the TSA.
		if approved.StatusCode != http.StatusOK || !strings.Contains(page, "Đang ký") {
			t.Errorf("approval while signing: %d %.400s", approved.StatusCode, page)
		}
		gate.release()
		rs.proxy.pin(-1)
		if st := p.wait(t, rs.stack, id); st.Status != "signed" {
			t.Fatalf("request %s after the TSA answered: %+v", id, st)
		}
	})

	t.Run("SIGKILL mid-signing", func(t *testing.T) { testKillMidSigning(t, rs, p, gate, titles) })
}

// testLoginAcrossReplicas: the whole code flow through the proxy, each step on the next
// replica; the ID token verifies and userinfo answers on yet another replica.
func testLoginAcrossReplicas(t *testing.T, rs *replicaStack) {
	mark := len(rs.proxy.log())
	b := newBrowser(t)
	a := rs.portal.authorize([]string{"openid", "profile", "cccd"})
	cb, sawEID, _ := rs.login(t, b, a, linhCCCD, "allow")
	if !sawEID {
		t.Fatal("the login did not go to the eID")
	}
	tok, idt := rs.portal.redeem(t, rs.stack, a, cb) // the ID token verified with the JWKS
	req, _ := http.NewRequest(http.MethodGet, rs.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp := do(t, http.DefaultClient, req)
	raw := body(t, resp)
	var info struct{ Sub, Name string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(raw), &info) != nil || info.Sub != idt.Subject || info.Name != "Nguyễn Văn Lĩnh" {
		t.Fatalf("userinfo: %d %s (ID token subject %s)", resp.StatusCode, raw, idt.Subject)
	}
	served, used := map[string]int{}, map[int]bool{}
	var steps []string
	for _, s := range rs.proxy.log()[mark:] {
		served[s.method+" "+s.path] = s.backend
		used[s.backend] = true
		steps = append(steps, fmt.Sprintf("%s %s on %d", s.method, s.path, s.backend))
	}
	t.Logf("the login's requests: %s", strings.Join(steps, "; "))
	// The eID callback finishes, on another replica, the login /authorize began.
	if served["GET /authorize"] == served["GET /eid/callback"] || len(used) != 3 {
		t.Fatalf("the login did not move between replicas: %s", strings.Join(steps, "; "))
	}
}

// testKillMidSigning: four documents, the first two time-stamped and stored, the other
// two held at the TSA; the replica signing them (the one that took the approval) is
// killed with SIGKILL. An approval sent again meanwhile is answered "đang ký". Restarted,
// the replica signs the other two within 10 s, and only them: the stored two keep their
// bytes, every document has one valid signature.
func testKillMidSigning(t *testing.T, rs *replicaStack, p *signingPortal, gate *tsaGate, titles []string) {
	const A, B, C = 0, 1, 2
	rs.proxy.pin(A)
	id, approvalURL := p.request(t, rs.stack, "replicas-kill", titles...)
	rs.proxy.pin(B)
	form := p.approveForm(t, approvalURL)
	arrived0, passed0 := gate.counts()
	gate.shut(2)
	approved := p.b.postForm(approvalURL, form)
	if page := body(t, approved); approved.StatusCode != http.StatusOK || !strings.Contains(page, "Đang ký") {
		t.Fatalf("approval: %d %.400s", approved.StatusCode, page)
	}
	gate.waitArrived(t, arrived0+len(titles))
	var mid apiRequest
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mid, _ = p.get(t, rs.stack, id, A, 0, "")
		if signedDocs(mid) == 2 {
			break
		}
	}
	if signedDocs(mid) != 2 || mid.Status != "signing" {
		t.Fatalf("before the kill: %s with %d documents signed, want signing with 2", mid.Status, signedDocs(mid))
	}
	rs.proxy.pin(-1)
	rs.proxy.setDown(B, true)
	rs.reps[B].kill()
	_, passedBefore := gate.counts()
	if passedBefore-passed0 != 2 {
		t.Fatalf("%d time-stamps answered before the kill, want 2", passedBefore-passed0)
	}

	// The citizen's phone sends the approval again (its answer was lost): another replica
	// says the documents are being signed.
	again := p.b.postForm(approvalURL, form)
	if page := body(t, again); again.StatusCode != http.StatusOK || !strings.Contains(page, "Đang ký") {
		t.Errorf("approval sent again while the request waits for its replica: %d %.400s", again.StatusCode, page)
	}

	afterKill := gate.nextEpoch() // calls held for the dead replica arrived before
	gate.release()
	rs.reps[B].start()
	rs.proxy.setDown(B, false)
	restarted := rs.reps[B].startedAt
	var done apiRequest
	for time.Since(restarted) < 10*time.Second {
		done, _ = p.get(t, rs.stack, id, C, 0, "")
		if done.Status == "signed" || done.Status == "failed" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(restarted)
	if done.Status != "signed" {
		t.Fatalf("%v after the restart: %s (%s), %d of %d signed; replica log:\n%s", took, done.Status, done.Failure,
			signedDocs(done), len(titles), rs.reps[B].stderr)
	}
	t.Logf("all documents signed %v after the replica was restarted (%v after it was ready)", took, time.Since(rs.reps[B].readyAt))
	if n := gate.answered(afterKill); n != 2 {
		t.Errorf("%d documents time-stamped after the restart, want the 2 unsigned ones", n)
	}
	for i := range mid.Documents {
		if mid.Documents[i].SignedSHA256 != "" && done.Documents[i].SignedSHA256 != mid.Documents[i].SignedSHA256 {
			t.Errorf("document %d was stored before the kill and changed after it", i)
		}
	}
	root := fetchCert(t, rs.issuer+"/ca/root.crt")
	db := testpki.NSSDB(t, root)
	for i := range titles {
		resp, err := p.api.Get(fmt.Sprintf("%s/signing/v1/requests/%s/documents/%d", rs.issuer, id, i))
		if err != nil {
			t.Fatal(err)
		}
		signed, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(signed, []byte("%PDF")) {
			t.Fatalf("document %d: %d", i, resp.StatusCode)
		}
		if out, sigs := testpki.Pdfsig(t, db, signed); len(sigs) != 1 || !sigs[0].Valid || !sigs[0].Trusted {
			t.Errorf("document %d: want one valid signature:\n%s", i, out)
		}
	}
}

func signedDocs(r apiRequest) int {
	n := 0
	for _, d := range r.Documents {
		if !d.SignedAt.IsZero() {
			n++
		}
	}
	return n
}
