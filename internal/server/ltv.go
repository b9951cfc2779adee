package server

import (
	"context"
	"log/slog"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/signing/ltv"
)

// OpenExtender builds the B-LT/B-LTA extender the way a running Motlan does: the dev CA
// from the store (its OCSP responder and CRLs answered in process), the configured TSA or
// the built-in one. motlan extend uses it, so it works whether or not a server runs.
func OpenExtender(ctx context.Context, cfg config.Config, st *sqlstore.Store, masterKey []byte, log *slog.Logger) (*ltv.Extender, error) {
	sealer, err := keys.NewSealer(masterKey)
	if err != nil {
		return nil, err
	}
	devCA, err := openCA(ctx, cfg, st, sealer, log)
	if err != nil {
		return nil, err
	}
	stamp, err := timestamper(ctx, cfg, devCA, &signingParts{}, observer{})
	if err != nil {
		return nil, err
	}
	_, trust, err := signingBackend(cfg.Signing, observer{}, log)
	if err != nil {
		return nil, err
	}
	return longTerm(cfg, devCA, trust, stamp, observer{}, log)
}
