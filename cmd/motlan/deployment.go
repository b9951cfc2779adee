package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/server"
	"github.com/motlan/motlan/keys"
)

// deployment is what an operator command (revoke, extend, audit verify) acts on: the
// deployment of a configuration file (--config), or motlan dev's data directory (--dev).
type deployment struct {
	cmd                   string
	path, data, storeKind *string
	dev                   *bool
}

// deploymentFlags declares --config, --dev, --data and --store on fs.
func deploymentFlags(fs *flag.FlagSet) *deployment {
	return &deployment{
		cmd:       fs.Name(),
		path:      fs.String("config", "", "configuration file (as for motlan serve)"),
		dev:       fs.Bool("dev", false, "act on a motlan dev data directory (--data) instead of --config"),
		data:      fs.String("data", ".motlan-dev", "with --dev: motlan dev's data directory"),
		storeKind: fs.String("store", "sqlite", "with --dev: the store motlan dev ran with, sqlite or postgres ($MOTLAN_DEV_POSTGRES_DSN)"),
	}
}

// load returns the deployment's configuration and, with withKey (always with --dev), its
// master key.
func (d *deployment) load(withKey bool) (config.Config, []byte, error) {
	switch {
	case *d.dev && *d.path != "":
		return config.Config{}, nil, fmt.Errorf("%s: give --config or --dev, not both", d.cmd)
	case *d.dev:
		masterKey, err := keys.LoadMasterKey("", filepath.Join(*d.data, "master.key"))
		if err != nil {
			return config.Config{}, nil, fmt.Errorf("--data %s: %w (has motlan dev run there?)", *d.data, err)
		}
		cfg := server.DevConfig(*d.data, server.DevPorts{Motlan: "localhost:8080", EID: "localhost:8081", Portal: "localhost:8082"}, masterKey)
		switch *d.storeKind {
		case "sqlite":
			if _, err := os.Stat(cfg.Storage.DSN.Value); err != nil {
				return config.Config{}, nil, fmt.Errorf("--data %s: %w (has motlan dev run there?)", *d.data, err)
			}
		case "postgres":
			cfg.Storage = config.Storage{Driver: "postgres", DSN: config.Secret{Env: "MOTLAN_DEV_POSTGRES_DSN"}}
		default:
			return config.Config{}, nil, fmt.Errorf("--store %q: want sqlite or postgres", *d.storeKind)
		}
		return cfg, masterKey, nil
	case *d.path != "":
		cfg, err := config.Load(*d.path)
		if err != nil || !withKey {
			return cfg, nil, err
		}
		masterKey, err := keys.LoadMasterKey(cfg.Secrets.MasterKey.Env, cfg.Secrets.MasterKey.File)
		if err != nil {
			return config.Config{}, nil, fmt.Errorf("secrets.master_key: %w", err)
		}
		return cfg, masterKey, nil
	default:
		return config.Config{}, nil, errors.New(d.cmd + ": --config FILE or --dev is required")
	}
}
