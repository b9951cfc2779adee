package httpapi

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

func TestPollWait(t *testing.T) {
	low := func(int64) int64 { return 0 }
	high := func(n int64) int64 { return n - 1 }
	tests := []struct {
		name string
		wait time.Duration
		n    func(int64) int64
		want time.Duration
	}{
		{"short wait as asked", 400 * time.Millisecond, high, 400 * time.Millisecond},
		{"just below the threshold as asked", minJitteredWait - time.Nanosecond, low, minJitteredWait - time.Nanosecond},
		{"threshold, earliest", minJitteredWait, low, 3 * time.Second},
		{"threshold, latest", minJitteredWait, high, minJitteredWait},
		{"cap, earliest", MaxWait, low, 45 * time.Second},
		{"cap, latest", MaxWait, high, MaxWait},
		{"20s, midway", 20 * time.Second, func(n int64) int64 { return n / 2 }, 17500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pollWait(tc.wait, tc.n); got != tc.want {
				t.Errorf("pollWait(%v) = %v, want %v", tc.wait, got, tc.want)
			}
		})
	}
	t.Run("random source stays in [3/4 wait, wait] and spreads", func(t *testing.T) {
		for _, wait := range []time.Duration{minJitteredWait, 30 * time.Second, MaxWait} {
			lo, hi := wait, time.Duration(0)
			for range 10000 {
				got := pollWait(wait, defaultJitter)
				if got < wait*3/4 || got > wait {
					t.Fatalf("pollWait(%v) = %v, outside [%v, %v]", wait, got, wait*3/4, wait)
				}
				lo, hi = min(lo, got), max(hi, got)
			}
			// 10,000 uniform draws leave no tenth of the window empty at either end.
			if tenth := wait / 40; lo > wait*3/4+tenth || hi < wait-tenth {
				t.Errorf("pollWait(%v) drew only [%v, %v]", wait, lo, hi)
			}
		}
	})
	t.Run("deterministic source", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		got := pollWait(MaxWait, r.Int64N)
		r = rand.New(rand.NewPCG(1, 2))
		if again := pollWait(MaxWait, r.Int64N); again != got {
			t.Errorf("same seed: %v then %v", got, again)
		}
	})
}

// TestLongPollJitter: an unchanged long-poll is held for the jittered wait, never longer
// than asked and never less than 3/4 of it; a change still answers at once.
func TestLongPollJitter(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")
	cases := []struct {
		name     string
		query    string
		n        func(int64) int64
		wantWait time.Duration
	}{
		{"cap, earliest", "wait=60s", func(int64) int64 { return 0 }, 45 * time.Second},
		{"cap, latest", "wait=90s", func(n int64) int64 { return n - 1 }, MaxWait},
		{"short wait untouched", "wait=3s", func(int64) int64 { return 0 }, 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.api.jitter = tc.n
			// A change ends the wait at once: the held duration is what the service was
			// asked for, recorded by the fake.
			n := len(e.svc.waits)
			r := decodeReq(t, e.do("GET", "/signing/v1/requests/r1", tokPortal, nil, nil), 200)
			go func() {
				time.Sleep(100 * time.Millisecond)
				e.svc.update("r1", func(*signing.Request) {})
			}()
			start := time.Now()
			decodeReq(t, e.do("GET", "/signing/v1/requests/r1?"+tc.query+"&since="+strconv.FormatInt(r.Version, 10), tokPortal, nil, nil), 200)
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("a change answered after %v", el)
			}
			if len(e.svc.waits) != n+1 || e.svc.waits[n] != tc.wantWait {
				t.Fatalf("service waits %v, want %v last", e.svc.waits[n:], tc.wantWait)
			}
		})
	}
	t.Run("unchanged: answered in [3/4 wait, wait]", func(t *testing.T) {
		e.api.jitter = defaultJitter
		r := decodeReq(t, e.do("GET", "/signing/v1/requests/r1", tokPortal, nil, nil), 200)
		start := time.Now()
		out := decodeReq(t, e.do("GET", "/signing/v1/requests/r1?wait=4s&since="+strconv.FormatInt(r.Version, 10), tokPortal, nil, nil), 200)
		el := time.Since(start)
		if el < 3*time.Second {
			t.Errorf("answered after %v, before 3/4 of the 4s wait", el)
		}
		// The service is never asked to hold longer than the wait; the answer then
		// takes only a loopback round trip.
		if w := e.svc.waits[len(e.svc.waits)-1]; w < 3*time.Second || w > 4*time.Second {
			t.Errorf("service held %v, outside [3s, 4s]", w)
		}
		if el > 4*time.Second+500*time.Millisecond {
			t.Errorf("answered after %v, past the 4s wait", el)
		}
		if out.Version != r.Version {
			t.Errorf("version %d, want %d", out.Version, r.Version)
		}
	})
}
