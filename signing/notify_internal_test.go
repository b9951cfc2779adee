package signing

import (
	"testing"
	"time"
)

// TestRecheckNeverBeforeTwoThirds pins what Wait's "no re-check timer for a wait of
// at most SafetyRecheck less a third" rests on: the jittered re-check never fires
// earlier than that, so such a wait ends (its deadline) before any re-check could.
func TestRecheckNeverBeforeTwoThirds(t *testing.T) {
	floor := SafetyRecheck - SafetyRecheck/3
	if floor < 60*time.Second {
		t.Fatalf("the earliest re-check, %v, is shorter than the HTTP API's 60 s cap: its waits would need the timer", floor)
	}
	for range 100000 {
		if got := jittered(SafetyRecheck); got <= floor || got > SafetyRecheck {
			t.Fatalf("jittered(%v) = %v, outside (%v, %v]", SafetyRecheck, got, floor, SafetyRecheck)
		}
	}
}
