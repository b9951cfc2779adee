package main

// The waiting-phones benchmark (-waiters N): N pending signing requests on one Motlan with
// PostgreSQL, each with an open long-poll, as N phones showing "waiting for approval".
//
//  1. warm-up logins, then the unloaded login phase ("login-unloaded");
//  2. N requests created through the signing API (client credentials), all for the
//     citizen of worker 0, with one small PDF each;
//  3. N long-polls opened (?wait=60s&since=1), each on its own connection, ramped at
//     about 1000 a second; a phone re-polls when its answer is still pending;
//  4. the idle window (-idle-window, default 20 s, cut short to end before the first
//     long-poll's 60 s are up, so that no long-poll ends in it): Motlan's CPU from
//     /proc, and its store queries counted on the wire by a proxy between Motlan and
//     PostgreSQL (pgcount.go: every Query and Execute message);
//  4b. the steady window: the next 60 s, in which every phone's wait ends once and it
//     polls again (the cost of a client's re-poll, not of waiting);
//  5. the loaded login phase ("login-loaded"), the N long-polls still held;
//  6. -approvals approvals by the citizen on the approval page, each timed from the
//     approval's POST to its phone's long-poll answer;
//  7. the phones hang up, and the unloaded logins run again ("login-after"): the
//     baseline is the mean p99 of the two unloaded phases, which bracket the loaded one.
//
// Targets (issue 10): idle Motlan under 0.1 core and under 10 store queries a second;
// the loaded login p99 within 20% of the unloaded one.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/internal/testpki"
)

// Targets of the waiters benchmark.
const (
	targetIdleCores      = 0.1
	targetIdleQueries    = 10.0 // per second
	targetLoginP99Growth = 1.2  // loaded p99 / unloaded p99
)

// WaitersReport is the waiters benchmark's result.
type WaitersReport struct {
	Waiters           int     `json:"waiters"`
	CreateSeconds     float64 `json:"create_seconds"`
	OpenSeconds       float64 `json:"open_seconds"`
	IdleWindowSeconds float64 `json:"idle_window_seconds"`
	// IdleCores is Motlan's CPU during the idle window, in cores.
	IdleCores float64 `json:"idle_motlan_cores"`
	// IdleQueries is Motlan's store transactions per second during the idle window.
	IdleQueries float64 `json:"idle_store_queries_per_second"`
	// IdleRepolls counts long-polls that ended and were made again during the idle
	// window (0 when it was idle indeed).
	IdleRepolls int64 `json:"idle_repolls"`
	// Steady*: over the next 60 s, in which every phone's wait is up once and it polls
	// again: Motlan's cores, store queries and re-polls per second, queries per re-poll.
	SteadyCores      float64 `json:"steady_motlan_cores"`
	SteadyQueries    float64 `json:"steady_store_queries_per_second"`
	SteadyRepolls    float64 `json:"steady_repolls_per_second"`
	QueriesPerRepoll float64 `json:"queries_per_repoll"`
	// LoginP99Unloaded is the mean p99 (ms) of the logins before the waiters and after
	// they hung up; Loaded, with the waiters held; Ratio, loaded / unloaded.
	LoginP99Unloaded float64 `json:"login_p99_unloaded_ms"`
	LoginP99Loaded   float64 `json:"login_p99_loaded_ms"`
	LoginP99Ratio    float64 `json:"login_p99_ratio"`
	// Approval-to-answer latency: from the approval's POST to the phone's answer, ms.
	Approvals         int      `json:"approvals"`
	ApprovalAnswerP50 float64  `json:"approval_to_answer_p50_ms"`
	ApprovalAnswerMax float64  `json:"approval_to_answer_max_ms"`
	PollErrors        int64    `json:"poll_errors"`
	Poll5xx           int64    `json:"poll_5xx"`
	Repolls           int64    `json:"repolls"`
	FirstPollErrors   []string `json:"first_poll_errors,omitempty"`
}

// phone is one waiting long-poll.
type phone struct {
	id, approval string
	answered     chan time.Time // the time of the first answer that is not pending
}

// phones holds the long-polls and counts what went wrong.
type phones struct {
	client               *http.Client
	issuer               string
	errs, fives, repolls atomic.Int64
	mu                   sync.Mutex
	first                []string
}

func (ps *phones) fail(format string, a ...any) {
	ps.errs.Add(1)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.first) < 5 {
		ps.first = append(ps.first, fmt.Sprintf(format, a...))
	}
}

// hold long-polls ph until its request leaves pending or ctx ends.
func (ps *phones) hold(ctx context.Context, ph *phone) {
	since := int64(1)
	for polls := 0; ctx.Err() == nil; polls++ {
		if polls > 0 {
			ps.repolls.Add(1)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/signing/v1/requests/%s?wait=60s&since=%d", ps.issuer, ph.id, since), nil)
		resp, err := ps.client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				ps.fail("long-poll: %v", err)
				time.Sleep(time.Second)
			}
			continue
		}
		var st struct {
			Status  string `json:"status"`
			Version int64  `json:"version"`
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			ps.fives.Add(1)
		}
		if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &st) != nil {
			if ctx.Err() == nil {
				ps.fail("long-poll: HTTP %d %v %.100q", resp.StatusCode, err, raw)
				time.Sleep(time.Second)
			}
			continue
		}
		if st.Status != "pending" {
			ph.answered <- time.Now()
			return
		}
		since = st.Version
	}
}

// waiters runs the benchmark (see the top of this file).
func (d *driver) waiters(ctx context.Context, rep *Report, workers []*worker) error {
	o := d.o
	wr := &WaitersReport{Waiters: o.Waiters}
	rep.Waiters = wr
	login := func(w *worker, _ int) (opResult, error) { res, _, err := w.login(ctx, w.citizen); return res, err }
	for _, name := range []string{"warmup", "login-unloaded"} {
		n := o.Logins
		if name == "warmup" {
			n = max(o.Warmup, o.Concurrency)
		}
		p, err := d.phase(ctx, name, n, workers, 0, loginSteps, login)
		if err != nil {
			return err
		}
		rep.Phases = append(rep.Phases, p)
		if p.Errors > 0 {
			return fmt.Errorf("%s: %d errors", name, p.Errors)
		}
	}
	citizen := workers[0]
	_, ch, err := citizen.login(ctx, citizen.citizen)
	if err != nil {
		return fmt.Errorf("the citizen's login: %w", err)
	}
	cc := clientcredentials.Config{ClientID: rpID, ClientSecret: d.st.RPSecret, TokenURL: d.st.Issuer + "/token",
		Scopes: []string{"signing"}, AuthStyle: oauth2.AuthStyleInHeader}
	ts := cc.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, d.client))
	api := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: d.transport}, Timeout: 30 * time.Second}

	d.progress("creating %d signing requests ...", o.Waiters)
	start := time.Now()
	list, err := d.createRequests(ctx, api, ch.sub, o.Waiters)
	if err != nil {
		return err
	}
	wr.CreateSeconds = time.Since(start).Seconds()

	// Each phone its own connection: no limit per host, every idle one kept.
	phoneTransport := &http.Transport{Proxy: nil, MaxIdleConns: o.Waiters + 64, MaxIdleConnsPerHost: o.Waiters + 64,
		IdleConnTimeout: 5 * time.Minute, DisableCompression: true}
	defer phoneTransport.CloseIdleConnections()
	ps := &phones{issuer: d.st.Issuer, client: &http.Client{Transport: &oauth2.Transport{Source: ts, Base: phoneTransport}}}
	hctx, hangUp := context.WithCancel(ctx)
	var held sync.WaitGroup
	defer func() { hangUp(); held.Wait() }()
	d.progress("opening %d long-polls ...", o.Waiters)
	start = time.Now()
	tick := time.NewTicker(time.Millisecond)
	for _, ph := range list {
		<-tick.C
		held.Go(func() { ps.hold(hctx, ph) })
	}
	tick.Stop()
	wr.OpenSeconds = time.Since(start).Seconds()
	// The window starts once Motlan has taken in the last long-polls (its query count
	// settles: under 20 in half a second, or 15 s passed), and ends before the first
	// one's 60 s are up (its re-poll is no longer idle).
	for settle := time.Now().Add(15 * time.Second); time.Now().Before(settle); {
		q := d.st.pgc.queries.Load()
		time.Sleep(500 * time.Millisecond)
		if d.st.pgc.queries.Load()-q < 20 {
			break
		}
	}
	window := min(o.IdleWindow, time.Until(start.Add(58*time.Second)))
	window = max(window, 3*time.Second)
	d.progress("idle window %v ...", window.Round(time.Second))
	wr.IdleRepolls = ps.repolls.Load()
	idle, err := d.measureWindow(ctx, window)
	if err != nil {
		return err
	}
	wr.IdleRepolls = ps.repolls.Load() - wr.IdleRepolls
	wr.IdleWindowSeconds, wr.IdleCores, wr.IdleQueries = idle.seconds, idle.cores, idle.queries

	// The steady state: every phone re-polls when its 60 s are up.
	time.Sleep(time.Until(start.Add(61 * time.Second)))
	d.progress("steady window 60s (every phone re-polls once) ...")
	r0 := ps.repolls.Load()
	steady, err := d.measureWindow(ctx, 60*time.Second)
	if err != nil {
		return err
	}
	wr.SteadyCores, wr.SteadyQueries = steady.cores, steady.queries
	wr.SteadyRepolls = float64(ps.repolls.Load()-r0) / steady.seconds
	if wr.SteadyRepolls > 0 {
		wr.QueriesPerRepoll = wr.SteadyQueries / wr.SteadyRepolls
	}

	p, err := d.phase(ctx, "login-loaded", o.Logins, workers, 0, loginSteps, login)
	if err != nil {
		return err
	}
	rep.Phases = append(rep.Phases, p)
	wr.LoginP99Loaded = p.P99

	d.progress("timing %d approvals ...", o.Approvals)
	if err := timeApprovals(ctx, citizen, list[:min(o.Approvals, len(list))], wr); err != nil {
		return err
	}
	wr.PollErrors, wr.Poll5xx, wr.Repolls = ps.errs.Load(), ps.fives.Load(), ps.repolls.Load()
	wr.FirstPollErrors = ps.first

	// The phones hang up; the unloaded logins again, so that the baseline brackets the
	// loaded phase (the machine is shared: its noise moves both).
	hangUp()
	held.Wait()
	phoneTransport.CloseIdleConnections()
	after, err := d.phase(ctx, "login-after", o.Logins, workers, 0, loginSteps, login)
	if err != nil {
		return err
	}
	rep.Phases = append(rep.Phases, after)
	wr.LoginP99Unloaded = (rep.Phase("login-unloaded").P99 + after.P99) / 2
	if wr.LoginP99Unloaded > 0 {
		wr.LoginP99Ratio = wr.LoginP99Loaded / wr.LoginP99Unloaded
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (d *driver) progress(format string, a ...any) {
	if d.o.Progress != nil {
		fmt.Fprintf(d.o.Progress, "load: "+format+"\n", a...)
	}
}

// idleSnap reads Motlan's CPU and the count of its store queries.
func (d *driver) idleSnap(ctx context.Context) (cpuSnap, int64, error) {
	c, err := d.snap(ctx)
	return c, d.st.pgc.queries.Load(), err
}

// spent is what Motlan spent over a measured window: CPU cores and store queries a second.
type spent struct{ seconds, cores, queries float64 }

// measureWindow sleeps for dur and reports Motlan's CPU and store queries meanwhile.
func (d *driver) measureWindow(ctx context.Context, dur time.Duration) (spent, error) {
	c0, x0, err := d.idleSnap(ctx)
	if err != nil {
		return spent{}, err
	}
	t0 := time.Now()
	time.Sleep(dur)
	c1, x1, err := d.idleSnap(ctx)
	if err != nil {
		return spent{}, err
	}
	secs := time.Since(t0).Seconds()
	return spent{seconds: secs, cores: (c1.motlan - c0.motlan) / secs, queries: float64(x1-x0) / secs}, nil
}

// timeApprovals approves each phone's request as the citizen and reports the approval-to-answer latencies.
func timeApprovals(ctx context.Context, citizen *worker, phones []*phone, wr *WaitersReport) error {
	var lat []time.Duration
	for _, ph := range phones {
		l, err := citizen.approve(ctx, ph) // with its own eID login (approvalPage)
		if err != nil {
			return err
		}
		lat = append(lat, l)
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		wr.Approvals = len(lat)
		wr.ApprovalAnswerP50 = ms(lat[len(lat)/2])
		wr.ApprovalAnswerMax = ms(lat[len(lat)-1])
	}
	return nil
}

// createRequests creates n signing requests for subject, o.Concurrency at a time.
func (d *driver) createRequests(ctx context.Context, api *http.Client, subject string, n int) ([]*phone, error) {
	pdf := testpki.MinimalPDF(1)
	out := make([]*phone, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, d.o.Concurrency)
	for range d.o.Concurrency {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				ph, err := createRequest(ctx, api, d.st.Issuer, subject, pdf, i)
				if err != nil {
					errc <- err
					return
				}
				out[i] = ph
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	return out, ctx.Err()
}

func createRequest(ctx context.Context, api *http.Client, issuer, subject string, pdf []byte, i int) (*phone, error) {
	var form strings.Builder
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("subject", subject)
	_ = mw.WriteField("reason", "Hồ sơ chờ ký")
	_ = mw.WriteField("title", fmt.Sprintf("Tờ khai %d", i))
	fw, _ := mw.CreateFormFile("document", "to-khai.pdf")
	_, _ = fw.Write(pdf)
	_ = mw.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/signing/v1/requests", strings.NewReader(form.String()))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := api.Do(req)
	if err != nil {
		return nil, fmt.Errorf("create request %d: %w", i, err)
	}
	defer resp.Body.Close()
	var created struct {
		ID          string `json:"id"`
		ApprovalURL string `json:"approval_url"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(raw, &created) != nil || created.ID == "" {
		return nil, fmt.Errorf("create request %d: HTTP %d %.200q", i, resp.StatusCode, raw)
	}
	return &phone{id: created.ID, approval: created.ApprovalURL, answered: make(chan time.Time, 1)}, nil
}

// errStepUp: the approval page still asked for a login after the eID login made for it.
var errStepUp = errors.New("the approval page asks for a fresh login")

var reHidden = regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`)

// approvalPage opens an approval link as the citizen's phone: every approval needs an eID
// login made for it (sole control), so the link leads to the eID (password and one-time
// code) and back; it returns the page and its form's address.
func (w *worker) approvalPage(ctx context.Context, link string) (page, action string, _ error) {
	u := link
	for hop := 0; ; hop++ {
		resp, err := w.get(ctx, u)
		if err != nil {
			return "", "", fmt.Errorf("approval page: %w", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			action := u
			if m := reAction.FindStringSubmatch(string(b)); m != nil {
				action = resolve(u, html.UnescapeString(m[1]))
			}
			return string(b), action, nil
		case resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound:
			return "", "", fmt.Errorf("approval page: HTTP %d", resp.StatusCode)
		case hop > 0:
			return "", "", fmt.Errorf("approval page: to %s after the eID login: %w", resp.Header.Get("Location"), errStepUp)
		}
		loc, err := w.follow(ctx, "step-up", resolve(u, resp.Header.Get("Location")), w.d.st.EIDURL+"/")
		if err != nil {
			return "", "", err
		}
		cb, err := sim.Login(ctx, w.http, loc.String(), w.citizen, sim.DevPassword)
		if err != nil {
			return "", "", fmt.Errorf("step-up at the eID: %w", err)
		}
		back, err := w.follow(ctx, "step-up callback", cb.String(), w.d.st.Issuer+"/sign/")
		if err != nil {
			return "", "", err
		}
		u = back.String()
	}
}

// resolve is ref against base (an approval page's relative links).
func resolve(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return b.ResolveReference(r).String()
}

var reAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)

// approve approves ph's request on its approval page and returns the time from the POST
// to the phone's long-poll answer.
func (w *worker) approve(ctx context.Context, ph *phone) (time.Duration, error) {
	page, action, err := w.approvalPage(ctx, ph.approval)
	if err != nil {
		return 0, err
	}
	form := url.Values{"action": {"approve"}}
	for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
		form.Add(m[1], m[2])
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, action, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sent := time.Now()
	done := make(chan error, 1)
	go func() {
		resp, err := w.http.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
		}
		done <- err
	}()
	select {
	case at := <-ph.answered:
		if err := <-done; err != nil {
			return 0, fmt.Errorf("approve: %w", err)
		}
		return at.Sub(sent), nil
	case err := <-done:
		if err != nil {
			return 0, fmt.Errorf("approve: %w", err)
		}
		select {
		case at := <-ph.answered:
			return at.Sub(sent), nil
		case <-time.After(30 * time.Second):
			return 0, errors.New("approved, but its long-poll was not answered within 30 s")
		}
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// printWaiters writes the waiters benchmark's figures and targets.
func printWaiters(w io.Writer, r *WaitersReport) {
	fmt.Fprintf(w, "waiters: %d pending requests created in %.1f s, long-polls opened in %.1f s; %d re-polls, %d poll errors (%d 5xx)\n",
		r.Waiters, r.CreateSeconds, r.OpenSeconds, r.Repolls, r.PollErrors, r.Poll5xx)
	for _, e := range r.FirstPollErrors {
		fmt.Fprintf(w, "  %s\n", e)
	}
	fmt.Fprintf(w, "target idle CPU:     %.3f Motlan cores over %.0f s with every long-poll held, %d re-polls in it (< %.1f) %s\n", r.IdleCores, r.IdleWindowSeconds, r.IdleRepolls, targetIdleCores, verdict(r.IdleCores < targetIdleCores))
	fmt.Fprintf(w, "target idle queries: %.2f store queries/s (< %.0f) %s\n", r.IdleQueries, targetIdleQueries, verdict(r.IdleQueries < targetIdleQueries))
	fmt.Fprintf(w, "target login p99:    %.1f ms with the waiters, %.1f ms without (mean of before and after): ×%.2f (≤ ×%.1f) %s\n",
		r.LoginP99Loaded, r.LoginP99Unloaded, r.LoginP99Ratio, targetLoginP99Growth, verdict(r.LoginP99Ratio <= targetLoginP99Growth))
	fmt.Fprintf(w, "steady (60 s, each phone re-polls once): %.3f Motlan cores, %.1f store queries/s, %.1f re-polls/s, %.2f queries per re-poll\n",
		r.SteadyCores, r.SteadyQueries, r.SteadyRepolls, r.QueriesPerRepoll)
	fmt.Fprintf(w, "approval to answer:  p50 %.1f ms, max %.1f ms over %d approvals\n", r.ApprovalAnswerP50, r.ApprovalAnswerMax, r.Approvals)
}

// missedWaiters lists the waiters targets the report misses.
func missedWaiters(r *WaitersReport) []string {
	var out []string
	if r.IdleCores >= targetIdleCores {
		out = append(out, "idle CPU")
	}
	if r.IdleQueries >= targetIdleQueries {
		out = append(out, "idle queries")
	}
	if r.LoginP99Ratio > targetLoginP99Growth {
		out = append(out, "login p99 with waiters")
	}
	return out
}
