package httpapi

import (
	"math/rand/v2"
	"time"
)

// Long-poll jitter. Phones open their long-polls at about the same time (a batch of
// requests sent together, a replica's restart) and re-poll as soon as a wait ends, so
// waits of one length would keep them in step: every minute all of them re-poll in the
// same few seconds, a burst that delays everything else the server does. A long-poll
// that nothing changed therefore ends at a random point in the last quarter of its wait,
// which spreads the re-polls over a quarter of the wait after a few rounds. Clients
// already treat an answer that is still pending as normal, whenever it comes.
const (
	// minJitteredWait: shorter waits end when asked, as a test or a short client
	// timeout expects.
	minJitteredWait = 4 * time.Second
	// jitterShare is the part of the wait (its end) in which an unchanged long-poll ends.
	jitterShare = 4 // 1/4
)

// pollWait is how long a long-poll of wait is held if nothing changes: wait itself when
// shorter than minJitteredWait, otherwise uniformly in [wait - wait/4, wait]. n returns
// a uniform int64 in [0, its argument), as rand.Int64N.
func pollWait(wait time.Duration, n func(int64) int64) time.Duration {
	if wait < minJitteredWait {
		return wait
	}
	span := wait / jitterShare
	return wait - span + time.Duration(n(int64(span)+1))
}

// defaultJitter is the API's random source for pollWait.
func defaultJitter(n int64) int64 { return rand.Int64N(n) }
