package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/motlan/motlan/adapters/vneid/sim"
	"golang.org/x/oauth2"
)

// Phase is the result of one phase.
type Phase struct {
	Name        string   `json:"name"`
	Count       int      `json:"count"`
	Errors      int      `json:"errors"`
	FirstErrors []string `json:"first_errors,omitempty"`
	WallSeconds float64  `json:"wall_seconds"`
	Rate        float64  `json:"rate_per_second"`
	// Latency of the whole operation as the relying party sees it, in milliseconds.
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
	// MotlanP50/P99: the same, counting only the HTTP round trips to Motlan (for a login
	// that includes Motlan's own calls to the eID from the callback).
	MotlanP50 float64 `json:"motlan_p50_ms"`
	MotlanP99 float64 `json:"motlan_p99_ms"`
	// CPU seconds of the Motlan process during the phase, and per 1000 operations.
	MotlanCPU        float64 `json:"motlan_cpu_seconds"`
	MotlanCPUPer1000 float64 `json:"motlan_cpu_seconds_per_1000"`
	// MotlanCPUStat: the same from /proc/<pid>/stat utime+stime (10 ms ticks), a cross-check.
	MotlanCPUStat float64 `json:"motlan_cpu_seconds_proc_stat"`
	// CPU seconds of the driver (including the in-process dev eID) during the phase.
	DriverCPU        float64 `json:"driver_cpu_seconds"`
	DriverCPUPer1000 float64 `json:"driver_cpu_seconds_per_1000"`
	// CPU seconds of Motlan's PostgreSQL backends (found by application_name), and per
	// 1000 operations; zero on SQLite.
	PGCPU        float64 `json:"postgres_cpu_seconds"`
	PGCPUPer1000 float64 `json:"postgres_cpu_seconds_per_1000"`
	// CPU seconds the rest of the machine spent during the phase: other processes
	// competing for the same cores. A large figure means the latencies are not clean.
	OtherCPU float64 `json:"other_cpu_seconds"`
	Profile  string  `json:"profile,omitempty"`
	// Steps: latency of each step of the operation, in milliseconds.
	Steps []Step `json:"steps,omitempty"`
}

// Step is the latency of one step of an operation.
type Step struct {
	Name string  `json:"name"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// opResult is what one operation measured besides its total time.
type opResult struct {
	motlan time.Duration   // round trips to Motlan
	steps  []time.Duration // per step, in the phase's stepNames order
}

var (
	loginSteps   = []string{"authorize", "eid", "callback", "token", "verify"}
	refreshSteps = []string{"token", "verify"}
)

// Report is the result of a run.
type Report struct {
	Target      string   `json:"target"`
	EID         string   `json:"eid"`
	Store       string   `json:"store"`
	Concurrency int      `json:"concurrency"`
	EIDSSO      bool     `json:"eid_sso"`
	NewCitizens float64  `json:"new_citizens"`
	CPUs        int      `json:"cpus"`
	MotlanPid   int      `json:"motlan_pid"`
	Phases      []*Phase `json:"phases"`
	// Waiters is the waiting-phones benchmark's result (waiters mode only).
	Waiters *WaitersReport `json:"waiters,omitempty"`
}

// Phase returns the named phase, or nil.
func (r *Report) Phase(name string) *Phase {
	for _, p := range r.Phases {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Failed reports whether any phase had an error.
func (r *Report) Failed() bool { return r.FailedBeyond(0) }

// FailedBeyond reports whether any phase had more than n errors.
func (r *Report) FailedBeyond(n int) bool {
	for _, p := range r.Phases {
		if p.Errors > n {
			return true
		}
	}
	return false
}

// Run starts the stack, runs warm-up, login and refresh phases, and stops the stack.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	st, err := StartStack(ctx, o)
	if err != nil {
		return nil, err
	}
	defer func() { _ = st.Close() }()
	rep, err := drive(ctx, st, o)
	if err == nil && !st.Alive() {
		err = fmt.Errorf("motlan exited during the run:\n%s", st.LogTail(30))
	}
	if rep != nil && rep.Failed() {
		if tail := st.LogTail(15); tail != "" && o.Progress != nil {
			fmt.Fprintf(o.Progress, "motlan log (tail):\n%s\n", tail)
		}
	}
	return rep, err
}

// ---- the driver ----

type driver struct {
	o         Options
	st        *Stack
	transport *motlanTimer
	base      *http.Transport
	client    *http.Client // shared, no cookies: token endpoint, discovery, JWKS
	oauth     oauth2.Config
	verifier  *oidc.IDTokenVerifier
}

type chain struct {
	refresh string
	sub     string
}

func drive(ctx context.Context, st *Stack, o Options) (*Report, error) {
	d, workers, err := newDriver(ctx, st, o)
	if err != nil {
		return nil, err
	}
	defer d.close()
	rep := &Report{Target: o.Target, EID: o.EID, Store: o.Store, Concurrency: o.Concurrency, EIDSSO: o.EIDSSO, NewCitizens: o.NewCitizens, CPUs: runtime.NumCPU(), MotlanPid: st.Pid}
	if o.Waiters > 0 {
		return rep, d.waiters(ctx, rep, workers)
	}
	// Warm-up: every worker's first login (the eID form once per worker when its session
	// is kept), connection pools, Motlan's caches; not reported in the totals.
	warm := max(o.Warmup, o.Concurrency)
	var pick *picker
	if o.EID == "dev" {
		pick = newPicker(&o, st.Citizens, warm)
	}
	login := func(w *worker, i int, measured bool) (opResult, *chain, error) {
		if o.EIDSSO || o.EID == "minimal" {
			return w.login(ctx, w.citizen)
		}
		return w.login(ctx, pick.next(i, measured))
	}
	p, err := d.phase(ctx, "warmup", warm, workers, 0, loginSteps, func(w *worker, i int) (opResult, error) {
		res, _, err := login(w, i, false)
		return res, err
	})
	if err != nil {
		return rep, err
	}
	rep.Phases = append(rep.Phases, p)
	if p.Errors > o.TolerateErrors {
		return rep, nil
	}
	profSecs := o.ProfileSeconds
	if profSecs <= 0 && p.Rate > 0 {
		profSecs = int(math.Ceil(float64(o.Logins)/p.Rate*1.3)) + 1
		profSecs = min(max(profSecs, 2), 120)
	}

	chains := make([]*chain, o.Logins)
	p, err = d.phase(ctx, "login", o.Logins, workers, profSecs, loginSteps, func(w *worker, i int) (opResult, error) {
		res, c, err := login(w, i, true)
		chains[i] = c
		return res, err
	})
	if err != nil {
		return rep, err
	}
	rep.Phases = append(rep.Phases, p)
	if p.Errors > o.TolerateErrors || o.Refreshes <= 0 {
		return rep, nil
	}

	// Refresh: worker k rotates its own token chain, started from a login's refresh token;
	// every refresh uses the token the previous one returned.
	var live []*chain
	for _, c := range chains {
		if c != nil && c.refresh != "" {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return rep, errors.New("no refresh token from the logins")
	}
	workers = workers[:min(len(workers), len(live))] // one chain per token: rotation spends it
	for i, w := range workers {
		w.chain = *live[i]
	}
	p, err = d.phase(ctx, "refresh", o.Refreshes, workers, profSecs, refreshSteps, func(w *worker, _ int) (opResult, error) {
		return w.refresh(ctx)
	})
	if err != nil {
		return rep, err
	}
	rep.Phases = append(rep.Phases, p)
	return rep, nil
}

// newDriver connects to the stack (discovery) and makes the workers, each a browser.
func newDriver(ctx context.Context, st *Stack, o Options) (*driver, []*worker, error) {
	base := &http.Transport{
		Proxy:               nil, // never a proxy: loopback only
		MaxIdleConns:        8 * o.Concurrency,
		MaxIdleConnsPerHost: 4 * o.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	d := &driver{o: o, st: st, transport: &motlanTimer{host: st.MotlanHost, base: base}, base: base}
	d.client = &http.Client{Transport: d.transport, Timeout: 15 * time.Second}
	pctx := oidc.ClientContext(ctx, d.client)
	provider, err := oidc.NewProvider(pctx, st.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("discovery: %w", err)
	}
	d.oauth = oauth2.Config{
		ClientID: rpID, ClientSecret: st.RPSecret, RedirectURL: rpRedirect, Scopes: st.Scopes,
		Endpoint: provider.Endpoint(),
	}
	d.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	d.verifier = provider.Verifier(&oidc.Config{ClientID: rpID, SupportedSigningAlgs: []string{"ES256", "RS256"}})

	workers := make([]*worker, o.Concurrency)
	for i := range workers {
		workers[i] = &worker{d: d, id: i, jar: &splitJar{motlanHost: st.MotlanHost, motlan: newJar(), eid: newJar()}}
		if len(st.Citizens) > 0 { // none with the minimal eID: it mints its own
			workers[i].citizen = st.Citizens[i%len(st.Citizens)].CCCD
		}
		workers[i].http = &http.Client{
			Transport: d.transport, Jar: workers[i].jar, Timeout: 15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return d, workers, nil
}

func (d *driver) close() { d.base.CloseIdleConnections() }

// picker chooses the citizen of each login when the eID session is not kept.
type picker struct {
	o                  *Options
	returning, fresh   []sim.Citizen
	seen               int          // returning citizens the warm-up logs in
	nextOld, nextFresh atomic.Int64 // next returning citizen, next new one
}

// newPicker splits citizens into the returning pool and the never-seen ones the measured
// logins need; the warm-up's logins go over the pool from its start.
func newPicker(o *Options, citizens []sim.Citizen, warm int) *picker {
	n := len(citizens) - o.freshCitizens()
	return &picker{o: o, returning: citizens[:n], fresh: citizens[n:], seen: min(warm, n)}
}

// next returns the ID number of the citizen who makes login i: the warm-up and plain runs
// go round the pool; with NewCitizens, a measured login is a new citizen's or a citizen's
// the warm-up logged in.
func (p *picker) next(i int, measured bool) string {
	switch {
	case measured && p.o.isNew(i):
		return p.fresh[p.nextFresh.Add(1)-1].CCCD
	case measured && p.o.NewCitizens > 0:
		return p.returning[int(p.nextOld.Add(1)-1)%p.seen].CCCD
	}
	return p.returning[int(p.nextOld.Add(1)-1)%len(p.returning)].CCCD
}

// phase runs op count times over the workers and measures it.
func (d *driver) phase(ctx context.Context, name string, count int, workers []*worker, profSecs int,
	stepNames []string, op func(w *worker, i int) (opResult, error)) (*Phase, error) {
	p := &Phase{Name: name, Count: count}
	if count <= 0 {
		return p, nil
	}
	var prof chan error
	if d.o.ProfileDir != "" && profSecs > 0 && name != "warmup" {
		p.Profile = filepath.Join(d.o.ProfileDir, d.o.Target+"-"+d.o.Store+"-"+name+".pprof")
		prof = make(chan error, 1)
		go func() { prof <- d.fetchProfile(ctx, p.Profile, profSecs) }()
		time.Sleep(100 * time.Millisecond) // let the profiler start before the load does
	}

	c0, err := d.snap(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	s := runOps(ctx, name, count, len(stepNames), workers, op, d.o.TolerateErrors)
	wall := time.Since(start)
	c1, err := d.snap(ctx)
	if err != nil {
		return nil, err
	}
	if prof != nil {
		if err := <-prof; err != nil {
			fmt.Fprintf(os.Stderr, "load: profile %s: %v\n", name, err)
			p.Profile = ""
		}
	}
	p.FirstErrors = s.firstErrors
	s.summarize(ctx, p, name, stepNames, wall)
	p.addCPU(c0, c1)
	return p, nil
}

// samples holds the latencies of one phase's operations, by operation index.
type samples struct {
	lat, mlat   []time.Duration
	steps       [][]time.Duration
	done        []bool
	nerr        atomic.Int64
	stopAt      int64
	mu          sync.Mutex
	firstErrors []string
}

// maxErrors stops a phase after this many errors (unless -tolerate-errors allows more): the
// first ones say what is wrong.
const maxErrors = 5

// runOps runs op count times, spread over the workers, and records each latency; it stops
// after maxErrors errors, or after tolerate+1.
func runOps(ctx context.Context, name string, count, nsteps int, workers []*worker,
	op func(w *worker, i int) (opResult, error), tolerate int) *samples {
	s := &samples{lat: make([]time.Duration, count), mlat: make([]time.Duration, count),
		steps: make([][]time.Duration, nsteps), done: make([]bool, count), stopAt: max(maxErrors, int64(tolerate)+1)}
	for k := range s.steps {
		s.steps[k] = make([]time.Duration, count)
	}
	var (
		idx    atomic.Int64
		wg     sync.WaitGroup
		stopCh = make(chan struct{})
		stop   sync.Once
	)
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopCh:
					return
				default:
				}
				i := int(idx.Add(1) - 1)
				if i >= count || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				res, err := op(w, i)
				if s.record(i, time.Since(t0), res, err, name) {
					stop.Do(func() { close(stopCh) })
				}
			}
		}()
	}
	wg.Wait()
	return s
}

// record keeps operation i's result; it reports whether the phase has had too many errors.
func (s *samples) record(i int, lat time.Duration, res opResult, err error, name string) bool {
	s.lat[i], s.mlat[i] = lat, res.motlan
	for k := range min(len(s.steps), len(res.steps)) {
		s.steps[k][i] = res.steps[k]
	}
	if err == nil {
		s.done[i] = true
		return false
	}
	n := s.nerr.Add(1)
	s.mu.Lock()
	if len(s.firstErrors) < maxErrors {
		s.firstErrors = append(s.firstErrors, fmt.Sprintf("%s #%d: %v", name, i, err))
	}
	s.mu.Unlock()
	return n >= s.stopAt
}

// summarize fills p's counts, rate and percentiles from the successful operations.
func (s *samples) summarize(ctx context.Context, p *Phase, name string, stepNames []string, wall time.Duration) {
	count := len(s.lat)
	var ok, okM []time.Duration
	okS := make([][]time.Duration, len(s.steps))
	for i := range count {
		if s.done[i] {
			ok = append(ok, s.lat[i])
			okM = append(okM, s.mlat[i])
			for k := range s.steps {
				okS[k] = append(okS[k], s.steps[k][i])
			}
		}
	}
	p.Errors = int(s.nerr.Load())
	if missing := count - len(ok) - p.Errors; missing > 0 {
		if ctx.Err() != nil {
			p.FirstErrors = append(p.FirstErrors, fmt.Sprintf("%s: %d not run: %v", name, missing, ctx.Err()))
			p.Errors += missing
		}
	}
	p.Count = len(ok)
	p.WallSeconds = wall.Seconds()
	if wall > 0 {
		p.Rate = float64(len(ok)) / wall.Seconds()
	}
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }
	slices.Sort(ok)
	slices.Sort(okM)
	if n := len(ok); n > 0 {
		p.P50, p.P90, p.P99, p.Max = ms(pct(ok, 50)), ms(pct(ok, 90)), ms(pct(ok, 99)), ms(ok[n-1])
		p.MotlanP50, p.MotlanP99 = ms(pct(okM, 50)), ms(pct(okM, 99))
		for k, name := range stepNames {
			slices.Sort(okS[k])
			p.Steps = append(p.Steps, Step{Name: name, P50: ms(pct(okS[k], 50)), P99: ms(pct(okS[k], 99)), Max: ms(okS[k][n-1])})
		}
	}
}

// addCPU fills p's CPU figures from the snapshots before and after the phase.
func (p *Phase) addCPU(c0, c1 cpuSnap) {
	p.MotlanCPU = c1.motlan - c0.motlan
	p.MotlanCPUStat = c1.motlanStat - c0.motlanStat
	p.DriverCPU = c1.driver - c0.driver
	for pid, v := range c1.pg {
		p.PGCPU += v - c0.pg[pid] // a backend born during the phase counts from zero
	}
	p.OtherCPU = max(0, (c1.machine-c0.machine)-p.MotlanCPU-p.DriverCPU-p.PGCPU)
	if n := p.Count + p.Errors; n > 0 {
		p.MotlanCPUPer1000 = p.MotlanCPU * 1000 / float64(n)
		p.DriverCPUPer1000 = p.DriverCPU * 1000 / float64(n)
		p.PGCPUPer1000 = p.PGCPU * 1000 / float64(n)
	}
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// fetchProfile saves a CPU profile of Motlan taken over the next secs seconds.
func (d *driver) fetchProfile(ctx context.Context, path string, secs int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	u := "http://" + d.st.PprofAddr + "/debug/pprof/profile?seconds=" + strconv.Itoa(secs)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: time.Duration(secs+30) * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
