package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// Rotation schedules token-key rotation. Period boundaries are the multiples of Every
// since the Unix epoch, so every replica computes the same ones without talking to the
// others. PublishAhead before a boundary, each replica's background loop creates, for
// each algorithm with no key activating at or after the boundary, the next key: published
// now, active from the boundary. Its ID is fixed by algorithm and boundary, so of several
// replicas racing exactly one stores it (the store's ErrConflict tells the others it is
// done), and all sign with it from the boundary on. The key it supersedes retires
// MaxTokenLifetime+RefreshInterval after the boundary.
//
// A boundary passed while no replica ran is not made up for: the key in use keeps
// signing until the next boundary, because a key must be published before it signs.
type Rotation struct {
	Every        time.Duration // period; zero disables the schedule; at least a minute, whole seconds
	PublishAhead time.Duration // how long before its boundary a key is published; above RefreshInterval, below Every
}

func (r Rotation) enabled() bool { return r.Every > 0 }

// nextBoundary returns the first period boundary strictly after t.
func (r Rotation) nextBoundary(t time.Time) time.Time {
	ns, every := t.UnixNano(), int64(r.Every)
	k := ns / every
	if ns < 0 && ns%every != 0 {
		k-- // floor for instants before 1970, which only a broken clock shows
	}
	return time.Unix(0, (k+1)*every).UTC()
}

// scheduledKID is the ID of alg's key for the period starting at boundary: the same on
// every replica, which is what makes concurrent creation safe.
func scheduledKID(alg string, boundary time.Time) string {
	return alg + "-" + boundary.UTC().Format("20060102T150405Z")
}

func (r Rotation) validate(refresh time.Duration) error {
	if r.Every == 0 && r.PublishAhead == 0 {
		return nil
	}
	switch {
	case r.Every < time.Minute || r.Every%time.Second != 0:
		return fmt.Errorf("keys: Rotation.Every %v: want at least a minute, in whole seconds", r.Every)
	case r.PublishAhead <= 0 || r.PublishAhead >= r.Every:
		return fmt.Errorf("keys: Rotation.PublishAhead %v: want above zero and below Every (%v)", r.PublishAhead, r.Every)
	case refresh > 0 && r.PublishAhead <= refresh:
		// Every replica must have loaded the next key before the boundary, or it would
		// keep signing with the old one after the others switched.
		return fmt.Errorf("keys: Rotation.PublishAhead %v: want above RefreshInterval (%v)", r.PublishAhead, refresh)
	}
	return nil
}

// ensureKeys creates a key, active now, for each configured algorithm that has none.
func (m *Manager) ensureKeys(ctx context.Context) error {
	missing := func() []string {
		var out []string
		for _, alg := range m.cfg.Algs {
			if len(m.snap.Load().byAlg[alg]) == 0 {
				out = append(out, alg)
			}
		}
		return out
	}
	algs := missing()
	if len(algs) == 0 {
		return nil
	}
	for _, alg := range algs {
		kid := "" // random
		if r := m.cfg.Rotation; r.enabled() {
			// The current period's ID: of replicas starting together on an empty store,
			// exactly one creates it.
			kid = scheduledKID(alg, r.nextBoundary(m.now()).Add(-r.Every))
		}
		if _, err := m.create(ctx, alg, kid, time.Time{}); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	// Re-read: a replica starting at the same time may have created keys too; every
	// replica then picks the same active key from the same records.
	if err := m.Refresh(ctx); err != nil {
		return err
	}
	// A conflict on a scheduled ID whose record has already retired (a store whose keys
	// all retired) leaves an algorithm without a key: fall back to a random ID.
	for _, alg := range missing() {
		if _, err := m.create(ctx, alg, "", time.Time{}); err != nil {
			return err
		}
	}
	return m.Refresh(ctx)
}

// RotateDue creates the keys the schedule says are due now (see Rotation) and returns the
// IDs of those this call stored; a key another replica stored first counts as done. It
// refreshes after creating. Without a schedule it does nothing. The background loop calls
// it after every refresh; call it yourself when RefreshInterval is negative.
func (m *Manager) RotateDue(ctx context.Context) ([]string, error) {
	r := m.cfg.Rotation
	if !r.enabled() {
		return nil, nil
	}
	now := m.now()
	boundary := r.nextBoundary(now)
	if now.Before(boundary.Add(-r.PublishAhead)) {
		return nil, nil
	}
	due := func() []string {
		var out []string
		for _, alg := range m.cfg.Algs {
			if !slices.ContainsFunc(m.snap.Load().byAlg[alg], func(e *entry) bool { return !e.activeAt.Before(boundary) }) {
				out = append(out, alg)
			}
		}
		return out
	}
	if len(due()) == 0 {
		return nil, nil
	}
	// Read the store before generating keys (RSA takes a while): another replica may have
	// created them since this one's last refresh.
	if err := m.Refresh(ctx); err != nil {
		return nil, err
	}
	algs := due()
	if len(algs) == 0 {
		return nil, nil
	}
	var created []string
	for _, alg := range algs {
		kid, err := m.create(ctx, alg, scheduledKID(alg, boundary), boundary)
		switch {
		case errors.Is(err, store.ErrConflict):
			m.log.DebugContext(ctx, "keys: another replica created the scheduled key", "alg", alg, "active_at", boundary)
		case err != nil:
			return created, err
		default:
			created = append(created, kid)
		}
	}
	return created, m.Refresh(ctx)
}

// Rotate creates the next key of alg, published now and active from activeAt (at the
// earliest just after the key signing now became active). The current key keeps signing until then, and stays published for
// MaxTokenLifetime+RefreshInterval after. It returns the new key's ID.
func (m *Manager) Rotate(ctx context.Context, alg string, activeAt time.Time) (string, error) {
	if !slices.Contains(m.cfg.Algs, alg) {
		return "", fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
	}
	// The new key must win over the one signing now, even within the same millisecond.
	if cur := m.snap.Load().active(alg, m.now()); cur != nil && !activeAt.After(cur.activeAt) {
		activeAt = cur.activeAt.Add(time.Millisecond)
	}
	kid, err := m.create(ctx, alg, "", activeAt)
	if err != nil {
		return "", err
	}
	if err := m.Refresh(ctx); err != nil {
		return kid, err
	}
	return kid, nil
}
