package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// dexScopes are what the relying party asks Dex for: Dex refuses scopes it does not know
// (address, phone, cccd), and gives a refresh token only with offline_access.
var dexScopes = []string{"openid", "profile", "offline_access"}

// startDex runs the Dex binary of -dex-bin (built by the operator, never by the driver)
// with SQLite storage in the stack's directory or, with -store postgres, a fresh database
// of its own on the server (its backends found by application_name, as Motlan's are), one
// oidc connector to the minimal eID, the driver's relying party as a static client and no
// approval screen, and waits until its discovery document answers. Dex signs its ID
// tokens with its own rotating RS256 keys.
func (s *Stack) startDex(ctx context.Context, o Options, eidSecret string) error {
	s.Scopes = dexScopes
	s.RPSecret = randSecret()
	storage, env, err := s.dexStorage(ctx, o)
	if err != nil {
		return err
	}
	cfg := map[string]any{
		"issuer":  s.Issuer,
		"storage": storage,
		"web":     map[string]any{"http": s.MotlanHost},
		"logger":  map[string]any{"level": "warn", "format": "text"},
		"oauth2":  map[string]any{"skipApprovalScreen": true, "responseTypes": []string{"code"}},
		"staticClients": []any{map[string]any{
			"id": rpID, "secret": s.RPSecret, "name": "Load driver", "redirectURIs": []string{rpRedirect},
		}},
		"connectors": []any{map[string]any{
			"type": "oidc", "id": "eid", "name": "eID",
			"config": map[string]any{
				"issuer": s.EIDURL, "clientID": eidClient, "clientSecret": eidSecret,
				"redirectURI": s.Issuer + "/callback",
				// No email scope: the eID has no e-mail; the name is the full name claim.
				"scopes": []string{"profile"}, "userNameKey": "ho_va_ten",
			},
		}},
		"enablePasswordDB": false,
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(s.dir, "dex.yaml")
	if err := os.WriteFile(cfgPath, y, 0o600); err != nil {
		return err
	}
	s.logPath = filepath.Join(s.dir, "dex.log")
	logf, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, logf.Close)
	s.cmd = exec.Command(o.DexBin, "serve", cfgPath)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.Env = append(os.Environ(), env...)
	if err := s.cmd.Start(); err != nil {
		close(s.exited)
		return fmt.Errorf("start dex: %w", err)
	}
	s.Pid = s.cmd.Process.Pid
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	// Its keys answer once the first signing key is made: then it can issue tokens.
	return s.waitHealthy(ctx, "/keys", 60*time.Second)
}

// dexStorage is Dex's storage configuration, and the environment that goes with it.
func (s *Stack) dexStorage(ctx context.Context, o Options) (map[string]any, []string, error) {
	if o.Store != "postgres" {
		return map[string]any{"type": "sqlite3", "config": map[string]any{"file": filepath.Join(s.dir, "dex.db")}}, nil, nil
	}
	if o.PGDSN == "" {
		return nil, nil, errors.New("-store postgres needs -pg-dsn or MOTLAN_TEST_POSTGRES_DSN")
	}
	pg, err := createDatabase(ctx, o.PGDSN)
	if err != nil {
		return nil, nil, err
	}
	s.pg = pg
	s.closers = append(s.closers, pg.drop)
	u, err := url.Parse(pg.dsn)
	if err != nil {
		return nil, nil, err
	}
	port, _ := strconv.Atoi(u.Port())
	pass, _ := u.User.Password()
	cfg := map[string]any{"host": u.Hostname(), "port": port, "database": strings.TrimPrefix(u.Path, "/"),
		"user": u.User.Username(), "password": pass, "ssl": map[string]any{"mode": cmp.Or(u.Query().Get("sslmode"), "disable")}}
	// Dex's lib/pq takes the application name from the environment.
	return map[string]any{"type": "postgres", "config": cfg}, []string{"PGAPPNAME=" + pg.appName}, nil
}
