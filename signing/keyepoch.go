package signing

import (
	"context"
	"fmt"
	"strconv"
)

// KeyEpochs is implemented by a Store that lets a citizen replace their signing key (the
// citizen's own page revokes a certificate when a phone is lost): the key label carries
// the epoch, so the next signing creates a new key. Vault records are never deleted or
// changed (the software vault caches them), so a new key needs a new label.
type KeyEpochs interface {
	// CitizenKeyEpoch is how many times the citizen's key was replaced (0: never).
	CitizenKeyEpoch(ctx context.Context, citizenID string) (int, error)
}

// citizenKeyLabel is the vault label of the citizen's current key: CitizenKeyLabel, with
// "/<epoch>" once the key was replaced.
func (s *Service) citizenKeyLabel(ctx context.Context, citizenID string) (string, error) {
	label := CitizenKeyLabel(citizenID)
	ke, ok := s.cfg.Store.(KeyEpochs)
	if !ok {
		return label, nil
	}
	n, err := ke.CitizenKeyEpoch(ctx, citizenID)
	if err != nil {
		return "", fmt.Errorf("citizen key epoch: %w", err)
	}
	if n > 0 {
		label += "/" + strconv.Itoa(n)
	}
	return label, nil
}
