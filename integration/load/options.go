package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Options configure one run.
type Options struct {
	// TolerateErrors lets each phase go on through this many failed operations, and the
	// run on to the next phase (a target that fails some under load, as Dex on PostgreSQL
	// does with serialization failures); 0: the first errors stop the run. CPU per 1000
	// counts failed operations too.
	TolerateErrors int
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
	// NewCitizens is the share (0 to 1) of measured logins made by a citizen who never
	// logged in before: Motlan creates the citizen's record then. The others are
	// returning citizens who logged in during the warm-up. Needs EIDSSO off.
	NewCitizens float64
	// EID is the upstream: "dev" (the dev eID, adapters/vneid/sim) or "minimal" (an
	// OpenID provider that redirects back at once and mints a new citizen per login, with
	// NewCitizens, when above 0, the share of new ones; see mineid.go).
	EID string
	// Target is the broker measured: "motlan", or "dex" (a Dex binary, DexBin, federating
	// to the minimal eID with one oidc connector).
	Target         string
	DexBin         string
	Timeout        time.Duration
	ProfileDir     string // when set, CPU profiles of Motlan per phase are written here
	ProfileSeconds int    // 0: estimated from the warm-up rate
	KeepDir        bool
	Progress       io.Writer // progress lines; nil: silent
	// Waiters, when positive, runs the waiting-phones benchmark instead (waiters.go):
	// that many pending signing requests, each with an open long-poll (PostgreSQL only).
	Waiters    int
	IdleWindow time.Duration // waiters: how long the idle cost is measured; default 20 s
	Approvals  int           // waiters: approvals timed to their long-poll's answer; default 20
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
	if o.IdleWindow <= 0 {
		o.IdleWindow = 20 * time.Second
	}
	if o.Approvals <= 0 {
		o.Approvals = 20
	}
	if o.EID == "" {
		o.EID = "dev"
	}
	if o.Target == "" {
		o.Target = "motlan"
	}
}

// validate reports options that cannot run together.
func (o *Options) validate() error {
	switch {
	case o.NewCitizens < 0 || o.NewCitizens > 1:
		return fmt.Errorf("-new-citizens %v: want a share from 0 to 1", o.NewCitizens)
	case o.EID != "" && o.EID != "dev" && o.EID != "minimal": // "": dev (defaults)
		return fmt.Errorf("-eid %q: want dev or minimal", o.EID)
	case o.Target != "" && o.Target != "motlan" && o.Target != "dex": // "": motlan
		return fmt.Errorf("-target %q: want motlan or dex", o.Target)
	case o.Target == "dex" && (o.EID != "minimal" || o.DexBin == ""):
		return errors.New("-target dex needs -eid minimal and -dex-bin")
	case o.Target == "dex" && o.Waiters > 0:
		return errors.New("-waiters measures Motlan's signing API: not with -target dex")
	case o.NewCitizens > 0 && o.EIDSSO && o.EID != "minimal":
		return errors.New("-new-citizens needs -eid-sso=false: an eID session belongs to one citizen")
	case o.Waiters > 0 && o.Store != "postgres":
		return errors.New("-waiters needs -store postgres (its queries are counted on the PostgreSQL wire)")
	}
	return nil
}

// freshCitizens is how many never-seen citizens the measured logins need.
func (o *Options) freshCitizens() int {
	if o.EID == "minimal" {
		return 0 // the minimal eID mints its own
	}
	return int(math.Ceil(o.NewCitizens * float64(o.Logins)))
}

// isNew reports whether measured login i is a new citizen's: spread evenly, so that any
// stretch of logins has the configured share.
func (o *Options) isNew(i int) bool {
	return math.Floor(float64(i+1)*o.NewCitizens) > math.Floor(float64(i)*o.NewCitizens)
}
