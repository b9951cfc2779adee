package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/ca"
)

// OpenCA opens the dev CA the way a running Motlan does: its records in the store, its
// keys sealed with the master key, its URLs under the issuer. motlan revoke uses it to
// act on the same CA as the servers.
func OpenCA(ctx context.Context, cfg config.Config, st *sqlstore.Store, masterKey []byte, log *slog.Logger) (*ca.DevCA, error) {
	sealer, err := keys.NewSealer(masterKey)
	if err != nil {
		return nil, err
	}
	return openCA(ctx, cfg, st, sealer, log)
}

func openCA(ctx context.Context, cfg config.Config, st *sqlstore.Store, sealer *keys.Sealer, log *slog.Logger) (*ca.DevCA, error) {
	devCA, err := ca.New(ctx, ca.Config{Storage: st.CAStorage(), Sealer: sealer, BaseURL: cfg.Issuer, Logger: log,
		SubjectAddress: cfg.Signing.CertificateAddress})
	if err != nil {
		return nil, fmt.Errorf("dev CA: %w", err)
	}
	return devCA, nil
}
