package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/motlan/motlan/adapters/vneid/sim"
)

// Options configure one run.
type Options struct {
	Store          string // sqlite | postgres
	PGDSN          string // server DSN for -store postgres; a fresh schema is made in it
	MotlanBin      string // empty: go build ./cmd/motlan
	MotlanLogLevel string
	Concurrency    int
	Logins         int
	Refreshes      int
	Warmup         int
	Citizens       int  // distinct citizens the sim knows for the driver
	EIDSSO         bool // keep each worker's eID session cookie: the upstream skips its form
	Timeout        time.Duration
	ProfileDir     string // when set, CPU profiles of Motlan per phase are written here
	ProfileSeconds int    // 0: estimated from the warm-up rate
	KeepDir        bool
	Progress       io.Writer // progress lines; nil: silent
}

func (o *Options) defaults() {
	if o.Store == "" {
		o.Store = "sqlite"
	}
	if o.MotlanLogLevel == "" {
		o.MotlanLogLevel = "warn"
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Citizens < o.Concurrency {
		o.Citizens = o.Concurrency
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
}

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
	Store       string   `json:"store"`
	Concurrency int      `json:"concurrency"`
	EIDSSO      bool     `json:"eid_sso"`
	CPUs        int      `json:"cpus"`
	MotlanPid   int      `json:"motlan_pid"`
	Phases      []*Phase `json:"phases"`
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
func (r *Report) Failed() bool {
	for _, p := range r.Phases {
		if p.Errors > 0 {
			return true
		}
	}
	return false
}

// Run starts the stack, runs warm-up, login and refresh phases, and stops the stack.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
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

// ---- CPU accounting ----

// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ, 100 on Linux
// whatever the kernel's HZ (getconf CLK_TCK).
const userHZ = 100

// processCPU returns the CPU time a process has used, all threads, in seconds: the sum of
// its threads' run time from /proc/<pid>/task/*/schedstat (nanoseconds), or, where the
// kernel has no schedstat, utime+stime from /proc/<pid>/stat (in 10 ms ticks: too coarse
// for a short phase). Both count the same thing, time on a CPU, user and system; the
// schedstat sum misses threads that exited, which a Go server seldom does.
func processCPU(pid int) (float64, error) {
	if v, err := schedstatCPU(pid); err == nil {
		return v, nil
	}
	return statCPU(pid)
}

func schedstatCPU(pid int) (float64, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var ns uint64
	n := 0
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, errors.New("unexpected schedstat format")
		}
		ns += v
		n++
	}
	if n == 0 {
		return 0, errors.New("no schedstat")
	}
	return float64(ns) / 1e9, nil
}

// statCPU returns utime+stime of a process, all threads, in seconds.
func statCPU(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: split after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	stt, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc stat format")
	}
	return float64(ut+stt) / userHZ, nil
}

// machineBusy returns the CPU time all cores spent busy since boot, in seconds.
func machineBusy() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("unexpected /proc/stat format")
	}
	var busy uint64
	for k, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		if k == 3 || k == 4 {
			continue // idle, iowait
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, errors.New("unexpected /proc/stat format")
		}
		busy += n
	}
	return float64(busy) / userHZ, nil
}

// cpuSnap is the CPU consumed so far by each party, in seconds.
type cpuSnap struct {
	motlan, driver, machine float64
	motlanStat              float64         // utime+stime, as a cross-check of motlan
	pg                      map[int]float64 // Motlan's PostgreSQL backends by pid
}

func (d *driver) snap(ctx context.Context) (cpuSnap, error) {
	var c cpuSnap
	var err error
	if d.st.pg != nil {
		pids, err := d.st.pg.backends(ctx)
		if err != nil {
			return c, fmt.Errorf("find Motlan's PostgreSQL backends: %w", err)
		}
		c.pg = make(map[int]float64, len(pids))
		for _, pid := range pids {
			if v, err := processCPU(pid); err == nil { // a server elsewhere: not counted
				c.pg[pid] = v
			}
		}
	}
	if c.machine, err = machineBusy(); err != nil {
		return c, err
	}
	c.driver = selfCPU()
	if c.motlan, err = processCPU(d.st.Pid); err != nil {
		return c, fmt.Errorf("read Motlan's CPU: %w", err)
	}
	if c.motlanStat, err = statCPU(d.st.Pid); err != nil {
		return c, fmt.Errorf("read Motlan's CPU: %w", err)
	}
	return c, nil
}

// selfCPU returns this process's user+system CPU in seconds (microsecond resolution).
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// ---- HTTP plumbing ----

type timerKey struct{}

// motlanTimer adds the duration of every round trip to Motlan's host (until the response
// headers arrive) to the *atomic.Int64 carried by the request's context.
type motlanTimer struct {
	host string
	base http.RoundTripper
}

func (t *motlanTimer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Hostname() != "127.0.0.1" && req.URL.Hostname() != "localhost" {
		return nil, fmt.Errorf("load driver: refusing to contact %s: loopback only", req.URL.Host)
	}
	acc, _ := req.Context().Value(timerKey{}).(*atomic.Int64)
	if acc == nil || req.URL.Host != t.host {
		return t.base.RoundTrip(req)
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	acc.Add(int64(time.Since(start)))
	return resp, err
}

// splitJar keeps Motlan's cookies and the eID's apart (cookie jars ignore ports, and both
// listen on 127.0.0.1), so that a login can start with no Motlan cookie while the worker
// keeps its eID session.
type splitJar struct {
	motlanHost  string
	motlan, eid http.CookieJar
}

func (j *splitJar) jar(u *url.URL) http.CookieJar {
	if u.Host == j.motlanHost {
		return j.motlan
	}
	return j.eid
}
func (j *splitJar) SetCookies(u *url.URL, cs []*http.Cookie) { j.jar(u).SetCookies(u, cs) }
func (j *splitJar) Cookies(u *url.URL) []*http.Cookie        { return j.jar(u).Cookies(u) }

func newJar() http.CookieJar { j, _ := cookiejar.New(nil); return j }

// ---- the driver ----

type driver struct {
	o         Options
	st        *Stack
	transport *motlanTimer
	client    *http.Client // shared, no cookies: token endpoint, discovery, JWKS
	oauth     oauth2.Config
	verifier  *oidc.IDTokenVerifier
}

type chain struct {
	refresh string
	sub     string
}

func drive(ctx context.Context, st *Stack, o Options) (*Report, error) {
	base := &http.Transport{
		Proxy:               nil, // never a proxy: loopback only
		MaxIdleConns:        8 * o.Concurrency,
		MaxIdleConnsPerHost: 4 * o.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer base.CloseIdleConnections()
	d := &driver{o: o, st: st, transport: &motlanTimer{host: st.MotlanHost, base: base}}
	d.client = &http.Client{Transport: d.transport, Timeout: 15 * time.Second}
	pctx := oidc.ClientContext(ctx, d.client)
	provider, err := oidc.NewProvider(pctx, st.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	d.oauth = oauth2.Config{
		ClientID: rpID, ClientSecret: st.RPSecret, RedirectURL: rpRedirect, Scopes: rpScopes,
		Endpoint: provider.Endpoint(),
	}
	d.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	d.verifier = provider.Verifier(&oidc.Config{ClientID: rpID, SupportedSigningAlgs: []string{"ES256", "RS256"}})

	rep := &Report{Store: o.Store, Concurrency: o.Concurrency, EIDSSO: o.EIDSSO, CPUs: runtime.NumCPU(), MotlanPid: st.Pid}
	workers := make([]*worker, o.Concurrency)
	for i := range workers {
		workers[i] = &worker{d: d, id: i, jar: &splitJar{motlanHost: st.MotlanHost, motlan: newJar(), eid: newJar()},
			citizen: st.Citizens[i%len(st.Citizens)].CCCD}
		workers[i].http = &http.Client{
			Transport: d.transport, Jar: workers[i].jar, Timeout: 15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	var next atomic.Int64 // next citizen, when the eID session is not kept

	login := func(w *worker, _ int) (opResult, *chain, error) {
		cccd := w.citizen
		if !o.EIDSSO {
			cccd = st.Citizens[int(next.Add(1)-1)%len(st.Citizens)].CCCD
		}
		return w.login(ctx, cccd)
	}

	// Warm-up: every worker's first login (the eID form once per worker when its session
	// is kept), connection pools, Motlan's caches; not reported in the totals.
	warm := max(o.Warmup, o.Concurrency)
	p, err := d.phase(ctx, "warmup", warm, workers, 0, loginSteps, func(w *worker, i int) (opResult, error) {
		res, _, err := login(w, i)
		return res, err
	})
	if err != nil {
		return rep, err
	}
	rep.Phases = append(rep.Phases, p)
	if p.Errors > 0 {
		return rep, nil
	}
	profSecs := o.ProfileSeconds
	if profSecs <= 0 && p.Rate > 0 {
		profSecs = int(math.Ceil(float64(o.Logins)/p.Rate*1.3)) + 1
		profSecs = min(max(profSecs, 2), 120)
	}

	chains := make([]*chain, o.Logins)
	p, err = d.phase(ctx, "login", o.Logins, workers, profSecs, loginSteps, func(w *worker, i int) (opResult, error) {
		res, c, err := login(w, i)
		chains[i] = c
		return res, err
	})
	if err != nil {
		return rep, err
	}
	rep.Phases = append(rep.Phases, p)
	if p.Errors > 0 || o.Refreshes <= 0 {
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

// phase runs op count times over the workers and measures it.
func (d *driver) phase(ctx context.Context, name string, count int, workers []*worker, profSecs int,
	stepNames []string, op func(w *worker, i int) (opResult, error)) (*Phase, error) {
	p := &Phase{Name: name, Count: count}
	if count <= 0 {
		return p, nil
	}
	lat := make([]time.Duration, count)
	mlat := make([]time.Duration, count)
	steps := make([][]time.Duration, len(stepNames))
	for k := range steps {
		steps[k] = make([]time.Duration, count)
	}
	done := make([]bool, count)
	var (
		idx    atomic.Int64
		nerr   atomic.Int64
		mu     sync.Mutex
		wg     sync.WaitGroup
		stopCh = make(chan struct{})
		stop   sync.Once
	)
	const maxErrors = 5 // stop the phase after this many: the first ones say what is wrong

	var prof chan error
	if d.o.ProfileDir != "" && profSecs > 0 && name != "warmup" {
		p.Profile = filepath.Join(d.o.ProfileDir, "motlan-"+d.o.Store+"-"+name+".pprof")
		prof = make(chan error, 1)
		go func() { prof <- d.fetchProfile(ctx, p.Profile, profSecs) }()
		time.Sleep(100 * time.Millisecond) // let the profiler start before the load does
	}

	c0, err := d.snap(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
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
				lat[i], mlat[i] = time.Since(t0), res.motlan
				for k := range min(len(steps), len(res.steps)) {
					steps[k][i] = res.steps[k]
				}
				if err != nil {
					if nerr.Add(1) >= maxErrors {
						stop.Do(func() { close(stopCh) })
					}
					mu.Lock()
					if len(p.FirstErrors) < maxErrors {
						p.FirstErrors = append(p.FirstErrors, fmt.Sprintf("%s #%d: %v", name, i, err))
					}
					mu.Unlock()
					continue
				}
				done[i] = true
			}
		}()
	}
	wg.Wait()
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

	var ok, okM []time.Duration
	okS := make([][]time.Duration, len(steps))
	for i := range count {
		if done[i] {
			ok = append(ok, lat[i])
			okM = append(okM, mlat[i])
			for k := range steps {
				okS[k] = append(okS[k], steps[k][i])
			}
		}
	}
	p.Errors = int(nerr.Load())
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
	p.MotlanCPU = c1.motlan - c0.motlan
	p.MotlanCPUStat = c1.motlanStat - c0.motlanStat
	p.DriverCPU = c1.driver - c0.driver
	for pid, v := range c1.pg {
		p.PGCPU += v - c0.pg[pid] // a backend born during the phase counts from zero
	}
	p.OtherCPU = max(0, (c1.machine-c0.machine)-p.MotlanCPU-p.DriverCPU-p.PGCPU)
	if n := len(ok) + p.Errors; n > 0 {
		p.MotlanCPUPer1000 = p.MotlanCPU * 1000 / float64(n)
		p.DriverCPUPer1000 = p.DriverCPU * 1000 / float64(n)
		p.PGCPUPer1000 = p.PGCPU * 1000 / float64(n)
	}
	return p, nil
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

// ---- one worker: a browser plus the relying party's back channel ----

type worker struct {
	d       *driver
	id      int
	jar     *splitJar
	http    *http.Client
	citizen string
	chain   chain
}

func (w *worker) get(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return w.http.Do(req)
}

// redirect GETs u and returns the Location of its 302/303; anything else is an error.
func (w *worker) redirect(ctx context.Context, step, u string) (*url.URL, error) {
	resp, err := w.get(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return nil, fmt.Errorf("%s: want a redirect, got HTTP %d: %q", step, resp.StatusCode, b)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	return loc, nil
}

// login is one complete federated login as the relying party and the browser see it:
// authorize at Motlan, log in at the eID, Motlan's callback, the code at the relying
// party's redirect URI, the token exchange with PKCE, and the ID token verified by go-oidc
// (signature, issuer, audience, expiry, nonce, at_hash).
func (w *worker) login(ctx context.Context, cccd string) (res opResult, _ *chain, _ error) {
	d := w.d
	var acc atomic.Int64
	ctx = context.WithValue(ctx, timerKey{}, &acc)
	res.steps = make([]time.Duration, len(loginSteps))
	t := time.Now()
	lap := func(k int) {
		now := time.Now()
		res.steps[k], t = now.Sub(t), now
		res.motlan = time.Duration(acc.Load())
	}
	w.jar.motlan = newJar() // a new browser as far as Motlan is concerned: no session
	if !d.o.EIDSSO {
		w.jar.eid = newJar()
	}
	state, nonce, verifier := randSecret(), randSecret(), oauth2.GenerateVerifier()
	authURL := d.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))

	loc, err := w.redirect(ctx, "authorize", authURL)
	lap(0)
	if err != nil {
		return res, nil, err
	}
	if !strings.HasPrefix(loc.String(), d.st.EIDURL+"/") {
		return res, nil, fmt.Errorf("authorize: Motlan sent the browser to %s, not to the eID", loc.Redacted())
	}
	// The eID: with the worker's eID session it redirects straight back; otherwise the
	// password and one-time-code pages. sim.Login handles both.
	cb, err := sim.Login(ctx, w.http, loc.String(), cccd, sim.DevPassword)
	lap(1)
	if err != nil {
		return res, nil, fmt.Errorf("eID: %w", err)
	}
	if cb.Host != d.st.MotlanHost {
		return res, nil, fmt.Errorf("eID: returned to %s, not to Motlan", cb.Redacted())
	}
	final, err := w.redirect(ctx, "callback", cb.String())
	lap(2)
	if err != nil {
		return res, nil, err
	}
	q := final.Query()
	switch {
	case !strings.HasPrefix(final.String(), rpRedirect+"?"):
		return res, nil, fmt.Errorf("callback: sent to %s, not to the relying party", final.Redacted())
	case q.Get("error") != "":
		return res, nil, fmt.Errorf("callback: error=%s: %s", q.Get("error"), q.Get("error_description"))
	case q.Get("state") != state:
		return res, nil, errors.New("callback: state mismatch")
	case q.Get("iss") != d.st.Issuer:
		return res, nil, fmt.Errorf("callback: iss %q", q.Get("iss"))
	case q.Get("code") == "":
		return res, nil, errors.New("callback: no code")
	}
	tctx := context.WithValue(ctx, oauth2.HTTPClient, d.client)
	tok, err := d.oauth.Exchange(tctx, q.Get("code"), oauth2.VerifierOption(verifier))
	lap(3)
	if err != nil {
		return res, nil, fmt.Errorf("token: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := d.verifier.Verify(oidc.ClientContext(ctx, d.client), raw)
	if err != nil {
		return res, nil, fmt.Errorf("ID token: %w", err)
	}
	if idt.Nonce != nonce {
		return res, nil, errors.New("ID token: nonce mismatch")
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		return res, nil, fmt.Errorf("ID token: at_hash: %w", err)
	}
	lap(4)
	if tok.RefreshToken == "" {
		return res, nil, errors.New("token: no refresh token")
	}
	return res, &chain{refresh: tok.RefreshToken, sub: idt.Subject}, nil
}

// refresh rotates the worker's refresh token once and verifies the new ID token.
func (w *worker) refresh(ctx context.Context) (res opResult, _ error) {
	d := w.d
	if w.chain.refresh == "" {
		return res, errors.New("refresh: this worker has no refresh token (fewer logins than workers)")
	}
	var acc atomic.Int64
	ctx = context.WithValue(ctx, timerKey{}, &acc)
	res.steps = make([]time.Duration, len(refreshSteps))
	t0 := time.Now()
	tctx := context.WithValue(ctx, oauth2.HTTPClient, d.client)
	tok, err := d.oauth.TokenSource(tctx, &oauth2.Token{RefreshToken: w.chain.refresh}).Token()
	res.motlan = time.Duration(acc.Load())
	res.steps[0] = time.Since(t0)
	if err != nil {
		w.chain.refresh = ""
		return res, fmt.Errorf("refresh: %w", err)
	}
	if tok.RefreshToken == "" || tok.RefreshToken == w.chain.refresh {
		w.chain.refresh = ""
		return res, errors.New("refresh: the refresh token was not rotated")
	}
	w.chain.refresh = tok.RefreshToken
	t1 := time.Now()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := d.verifier.Verify(oidc.ClientContext(ctx, d.client), raw)
	if err != nil {
		return res, fmt.Errorf("refresh: ID token: %w", err)
	}
	if idt.Subject != w.chain.sub {
		return res, fmt.Errorf("refresh: ID token sub %q, the login's was %q", idt.Subject, w.chain.sub)
	}
	res.steps[1] = time.Since(t1)
	return res, nil
}
