package signing

import (
	"context"
	"time"
)

// A phone re-polls when its long-poll ends with nothing changed, asking from the version
// it was just given. This process knows that version is still current when no change has
// been announced since the read it came from: changes made here wake it (notify), changes
// made by other replicas arrive through the Notifier, whose reconnection wakes everything.
// So the re-poll waits without reading the store (with 10,000 phones, about 170 reads a
// second fewer). A remembered request is trusted for knownFor after its read at most, the
// bound this package already puts on a lost announcement (SafetyRecheck).

const knownFor = SafetyRecheck

type knownRequest struct {
	r      Request
	readAt time.Time
}

// knownRequests is guarded by Service.mu.
type knownRequests struct {
	m     map[string]knownRequest
	swept time.Time
}

// forget drops id ("": everything); Service.mu held.
func (k *knownRequests) forget(id string) {
	if id == "" {
		k.m = nil
		return
	}
	delete(k.m, id)
}

// current is the request for a wait from sinceVersion, and when it was read: with trust,
// the remembered one when it is that version, of this client, and young enough; else it
// is read now.
func (s *Service) current(ctx context.Context, clientID, id string, sinceVersion int64, trust bool) (Request, time.Time, error) {
	now := s.now()
	if trust && sinceVersion >= 0 {
		s.mu.Lock()
		kr, ok := s.known.m[id]
		s.mu.Unlock()
		if ok && kr.r.Version == sinceVersion && kr.r.ClientID == clientID && now.Sub(kr.readAt) < knownFor {
			r, err := s.expireIfDue(ctx, kr.r)
			return r, kr.readAt, err
		}
	}
	r, err := s.Get(ctx, clientID, id)
	return r, now, err
}

// rememberUnlessChanged keeps r, read at readAt, as current, unless ch (the wait's wake-up,
// closed at a change) is closed; it reports whether it kept it. Under Service.mu, as wake
// is: a change either closed ch before, or forgets r after.
func (s *Service) rememberUnlessChanged(r Request, readAt time.Time, ch <-chan struct{}) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-ch:
		return false
	default:
	}
	if r.Status.Final() || r.ID == "" {
		return true
	}
	k := &s.known
	now := s.now()
	if k.m == nil {
		k.m = map[string]knownRequest{}
	}
	// Entries of requests no longer polled go once they are too old to be used.
	if now.Sub(k.swept) > knownFor {
		for id, kr := range k.m {
			if now.Sub(kr.readAt) >= knownFor {
				delete(k.m, id)
			}
		}
		k.swept = now
	}
	k.m[r.ID] = knownRequest{r: r, readAt: readAt}
	return true
}
