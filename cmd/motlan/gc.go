package main

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is the garbage collector's GOGC when the environment sets none. A
// login allocates a few hundred kilobytes that die with it, so at Go's default of 100 the
// collector ran every few dozen logins: at 32 concurrent first-time logins on 2 CPUs,
// 200 took 10 % off the CPU per login (integration/load, alternating runs) for a heap
// half again as large. GOGC and GOMEMLIMIT, when set, are the operator's.
const defaultGCPercent = 200

// tuneGC applies defaultGCPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}
