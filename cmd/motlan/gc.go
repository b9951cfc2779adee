package main

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is the garbage collector's GOGC when the environment sets none. A
// login allocates about 130 KB that die with it, so at Go's default of 100 the collector
// ran every few dozen logins. At 32 concurrent first-time logins on 2 CPUs (integration/load,
// alternating runs) 200 took 10 % off the CPU per login against 100, and 400 about 6 %
// more on PostgreSQL, for a peak RSS of about 100 MB instead of 73 (800: 146 MB, and
// no less CPU in a first run). GOGC and GOMEMLIMIT, when set, are the operator's.
const defaultGCPercent = 400

// tuneGC applies defaultGCPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}
