// Command load drives complete federated logins and refresh-token rotations against a
// Motlan process and reports throughput, latency and the CPU the Motlan process spends.
//
//	go run ./integration/load -store sqlite
//	go run ./integration/load -store postgres -pg-dsn postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//	scripts/load.sh                       # both stores, the parameters
//
// What it runs. The driver builds ./cmd/motlan (or takes -motlan-bin), starts the dev eID
// (adapters/vneid/sim) inside its own process on a loopback port, and starts Motlan as a
// separate process with a generated configuration (motlan serve --config): one confidential,
// first-party relying party (no consent page) and the selected store (SQLite in a temporary
// directory, or a fresh load_<random> schema on PostgreSQL, dropped afterwards). All traffic
// stays on 127.0.0.1.
//
// A login is what a relying party and a browser do: GET /authorize at Motlan (with PKCE,
// state and nonce) → the eID → Motlan's callback → the redirect to the relying party with a
// code → the token exchange (x/oauth2, client_secret_basic, PKCE verifier) → the ID token
// verified by go-oidc (signature, iss, aud, exp, nonce, at_hash). Every login starts with
// an empty Motlan cookie jar, so every login is a full federated login: Motlan makes a new
// authorization transaction, redirects to the eID, and on the callback exchanges the eID's
// code, verifies its ID token, reads its userinfo, upserts the citizen, opens a session,
// issues a code and then the tokens.
//
// The eID's own session. By default (-eid-sso) each worker keeps its eID session cookie
// after its first login, so the eID answers the authorization request with an immediate
// redirect instead of the password and one-time-code pages: the upstream is "fast", and the
// driver's CPU is not spent rendering and parsing the eID's forms. Motlan's work is the
// same either way. With -eid-sso=false every login also goes through the eID's forms, and
// logins cycle through -citizens distinct citizens.
//
// The minimal eID (-eid minimal, mineid.go) replaces the dev eID with an OpenID provider
// that does only what a login needs: its authorization endpoint redirects back at once
// with a code, its token endpoint returns an ES256 ID token carrying every claim (no
// userinfo) for a citizen it mints for the login, a new one each time (-new-citizens
// below 1 mixes in citizens seen before). The driver's CPU then goes to driving the
// broker, not to the eID's pages, and every measured login creates a citizen.
//
// Dex (-target dex -dex-bin PATH) is measured the same way against the minimal eID: the
// driver writes a Dex configuration (SQLite storage, one oidc connector, the relying
// party as a static client, no approval screen), starts the binary and drives the same
// flow, following Dex's own redirects (its connector and approval steps); Dex is asked for
// openid, profile and offline_access (it refuses scopes it does not know) and signs with
// its own RS256 keys. The driver never builds Dex: see scripts/load-compare.sh.
//
// A refresh rotates a refresh token (each refresh uses the one the previous returned;
// worker k starts from the refresh token of login k) and verifies the new ID token.
//
// CPU: utime+stime of the Motlan process from /proc/<pid>/stat (all threads) before and
// after each phase. The dev eID runs in the driver, so the upstream's work is not counted
// as Motlan's; the driver's CPU is reported beside it for context. Latency is the wall time
// of the whole operation as the relying party sees it, unadjusted; the motlan-p50/p99
// columns count only the HTTP round trips to Motlan (for a login that includes Motlan's
// back-channel calls to the eID made from the callback).
//
// With -profile DIR, Motlan is configured with debug.pprof_listen and a CPU profile of each
// measured phase is written to DIR (go tool pprof -top DIR/motlan-sqlite-login.pprof).
//
// Exit status: 0 when every operation succeeded; 1 on any error (the first few are
// printed); 3 with -check when a target of the issue is missed.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"text/tabwriter"
	"time"
)

// The targets (2-core machine, SQLite, 32 concurrent logins).
const (
	targetLoginCPU   = 1.4   // CPU-seconds of Motlan per 1000 federated logins
	targetRefreshCPU = 1.1   // per 1000 refreshes
	targetLoginP99   = 100.0 // milliseconds
)

func main() {
	// The driver shares the 2 cores with Motlan, so its own GC work inflates the CPU time
	// Motlan is charged per operation; a lazier collector keeps the driver out of the way.
	// Motlan's process gets the environment unchanged.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	var o Options
	flag.StringVar(&o.Store, "store", "sqlite", "storage: sqlite or postgres")
	flag.StringVar(&o.PGDSN, "pg-dsn", os.Getenv("MOTLAN_TEST_POSTGRES_DSN"), "PostgreSQL server DSN for -store postgres (a fresh schema is created in it and dropped)")
	flag.StringVar(&o.MotlanBin, "motlan-bin", "", "motlan binary to run, itself and not a wrapper script: its pid is what is measured (default: go build ./cmd/motlan)")
	flag.StringVar(&o.MotlanLogLevel, "motlan-log", "warn", "Motlan's log.level")
	flag.IntVar(&o.Concurrency, "concurrency", 32, "concurrent logins (and refreshes)")
	flag.IntVar(&o.Logins, "logins", 2000, "measured logins")
	flag.IntVar(&o.Refreshes, "refreshes", 2000, "measured refreshes")
	flag.IntVar(&o.Warmup, "warmup", 200, "warm-up logins, not measured (at least -concurrency)")
	flag.IntVar(&o.Citizens, "citizens", 256, "distinct citizens at the eID (at least -concurrency)")
	flag.BoolVar(&o.EIDSSO, "eid-sso", true, "keep each worker's eID session: the eID redirects back at once")
	flag.Float64Var(&o.NewCitizens, "new-citizens", 0, "share (0 to 1) of measured logins by citizens never seen before, the others returning (needs -eid-sso=false)")
	flag.StringVar(&o.EID, "eid", "dev", "upstream eID: dev (the dev eID and its pages) or minimal (redirects back at once, a new citizen per login; -new-citizens below 1 mixes in returning ones)")
	flag.StringVar(&o.Target, "target", "motlan", "broker measured: motlan, or dex (needs -eid minimal and -dex-bin; SQLite)")
	flag.StringVar(&o.DexBin, "dex-bin", "", "Dex binary for -target dex (build it yourself: see scripts/load.sh)")
	flag.IntVar(&o.TolerateErrors, "tolerate-errors", 0, "let each phase go on through this many errors (0: the first errors stop the run); CPU per 1000 counts failed operations")
	flag.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "overall limit of the run")
	flag.StringVar(&o.ProfileDir, "profile", "", "write CPU profiles of Motlan per phase into this directory")
	flag.IntVar(&o.ProfileSeconds, "profile-seconds", 0, "profile length (0: estimated from the warm-up rate)")
	flag.BoolVar(&o.KeepDir, "keep", false, "keep the temporary directory (config, database, Motlan's log)")
	flag.IntVar(&o.Waiters, "waiters", 0, "run the waiting-phones benchmark instead: this many pending signing requests, each with an open long-poll (-store postgres)")
	flag.DurationVar(&o.IdleWindow, "idle-window", 20*time.Second, "waiters: how long the idle cost is measured (keep it under 60s-the ramp)")
	flag.IntVar(&o.Approvals, "approvals", 20, "waiters: approvals timed to their long-poll's answer")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	check := flag.Bool("check", false, "exit 3 when a target of the issue is missed")
	driverProfile := flag.String("driver-profile", "", "write a CPU profile of the driver itself (and the dev eID) to this file")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "load: unexpected arguments %v\n", flag.Args())
		os.Exit(2)
	}
	o.Progress = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *driverProfile != "" {
		f, err := os.Create(*driverProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "load: -driver-profile:", err)
			os.Exit(2)
		}
		defer f.Close()
	}
	rep, err := Run(ctx, o)
	if *driverProfile != "" {
		pprof.StopCPUProfile()
	}
	if rep != nil {
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		} else {
			PrintReport(os.Stdout, rep)
		}
		PrintErrors(os.Stderr, rep)
	}
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	case rep.FailedBeyond(o.TolerateErrors):
		os.Exit(1)
	case *check && len(Missed(rep)) > 0:
		os.Exit(3)
	}
}

// PrintReport writes the compact table and the targets.
func PrintReport(w io.Writer, r *Report) {
	sso := "kept per worker (eID redirects back at once)"
	if !r.EIDSSO {
		sso = "none (eID password and OTP pages every login)"
	}
	newShare := r.NewCitizens
	if r.EID == "minimal" {
		sso = "minimal eID (redirects back at once)"
		if newShare <= 0 {
			newShare = 1
		}
	}
	fmt.Fprintf(w, "target=%s store=%s concurrency=%d cpus=%d eid=%s new-citizens=%.0f%%\n", r.Target, r.Store, r.Concurrency, r.CPUs, sso, newShare*100)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tcount\terrors\trate/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\ttarget p50\ttarget p99\ttarget CPU-s/1000\tpg CPU-s/1000\tdriver CPU-s/1000\tother CPU-s\t")
	for _, p := range r.Phases {
		pg := "-"
		if r.Store == "postgres" {
			pg = fmt.Sprintf("%.2f", p.PGCPUPer1000)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\t%s\t%.2f\t%.2f\t\n",
			p.Name, p.Count, p.Errors, p.Rate, p.P50, p.P90, p.P99, p.Max, p.MotlanP50, p.MotlanP99,
			p.MotlanCPUPer1000, pg, p.DriverCPUPer1000, p.OtherCPU)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "(latency: whole operation as the relying party sees it; target p50/p99: round trips to the target (Motlan or Dex) only;")
	fmt.Fprintln(w, " driver CPU includes the in-process eID; other CPU-s: the rest of the machine during the phase)")
	for _, p := range r.Phases {
		if p.Name == "warmup" || len(p.Steps) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s steps p50/p99/max ms:", p.Name)
		for _, s := range p.Steps {
			fmt.Fprintf(w, "  %s %.1f/%.1f/%.0f", s.Name, s.P50, s.P99, s.Max)
		}
		fmt.Fprintln(w)
	}
	if l := r.Phase("login"); l != nil {
		fmt.Fprintf(w, "target login:   %.2f CPU-s/1000 (≤ %.1f) %s; p99 %.1f ms (< %.0f ms at 32) %s\n",
			l.MotlanCPUPer1000, targetLoginCPU, verdict(l.MotlanCPUPer1000 <= targetLoginCPU),
			l.P99, targetLoginP99, verdict(l.P99 < targetLoginP99))
	}
	if r.Waiters != nil {
		printWaiters(w, r.Waiters)
	}
	if f := r.Phase("refresh"); f != nil {
		fmt.Fprintf(w, "target refresh: %.2f CPU-s/1000 (≤ %.1f) %s\n",
			f.MotlanCPUPer1000, targetRefreshCPU, verdict(f.MotlanCPUPer1000 <= targetRefreshCPU))
	}
	for _, p := range r.Phases {
		if p.Profile != "" {
			fmt.Fprintf(w, "profile %s: go tool pprof -top %s\n", p.Name, p.Profile)
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// Missed lists the targets the report misses.
func Missed(r *Report) []string {
	var out []string
	if l := r.Phase("login"); l != nil {
		if l.MotlanCPUPer1000 > targetLoginCPU {
			out = append(out, "login CPU")
		}
		if l.P99 >= targetLoginP99 {
			out = append(out, "login p99")
		}
	}
	if f := r.Phase("refresh"); f != nil && f.MotlanCPUPer1000 > targetRefreshCPU {
		out = append(out, "refresh CPU")
	}
	if r.Waiters != nil {
		out = append(out, missedWaiters(r.Waiters)...)
	}
	return out
}

// PrintErrors writes the first errors of each phase.
func PrintErrors(w io.Writer, r *Report) {
	for _, p := range r.Phases {
		if p.Errors == 0 {
			continue
		}
		fmt.Fprintf(w, "%s: %d errors; the first:\n", p.Name, p.Errors)
		for _, e := range p.FirstErrors {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}
