package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testenv"
)

// TestSmoke runs the driver's core end to end, small: the motlan binary built and spawned
// on SQLite, 20 federated logins and 20 refreshes, with the eID session kept and with 70%
// new citizens (eID form every login), and with the minimal eID (a new citizen per login,
// no pages). It checks that everything succeeds and that the
// CPU accounting reads something; it asserts nothing about speed.
func TestSmoke(t *testing.T) {
	for _, tc := range []Options{
		{EID: "dev", EIDSSO: true},
		{EID: "dev", NewCitizens: 0.7},
		{EID: "minimal"},
	} {
		name := fmt.Sprintf("eid=%s,sso=%v,new=%v", tc.EID, tc.EIDSSO, tc.NewCitizens)
		t.Run(name, func(t *testing.T) { smoke(t, tc) })
	}
}

func smoke(t *testing.T, o Options) {
	if testing.Short() && !testenv.Strict() {
		t.Skip("builds and spawns motlan; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Missing(t, "the go command, to build ./cmd/motlan: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	o.Store, o.Concurrency, o.Warmup, o.Logins, o.Refreshes = "sqlite", 4, 4, 20, 20
	o.Timeout, o.Progress = 55*time.Second, testWriter{t}
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Phases {
		t.Logf("%s: %d ok, %d errors, p50 %.1f ms, Motlan %.4f CPU-s, driver %.4f CPU-s",
			p.Name, p.Count, p.Errors, p.P50, p.MotlanCPU, p.DriverCPU)
		for _, e := range p.FirstErrors {
			t.Errorf("%s", e)
		}
	}
	for _, want := range []struct {
		name  string
		count int
	}{{"login", 20}, {"refresh", 20}} {
		p := rep.Phase(want.name)
		switch {
		case p == nil:
			t.Errorf("no %s phase", want.name)
		case p.Errors != 0 || p.Count != want.count:
			t.Errorf("%s: %d ok and %d errors, want %d ok", want.name, p.Count, p.Errors, want.count)
		case p.MotlanCPU <= 0 || p.MotlanCPUPer1000 <= 0:
			t.Errorf("%s: Motlan CPU %v s (%v per 1000), want > 0", want.name, p.MotlanCPU, p.MotlanCPUPer1000)
		case p.DriverCPU <= 0:
			t.Errorf("%s: driver CPU %v s, want > 0", want.name, p.DriverCPU)
		case p.P50 <= 0 || p.MotlanP50 <= 0:
			t.Errorf("%s: latency p50 %v ms, Motlan %v ms, want > 0", want.name, p.P50, p.MotlanP50)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
