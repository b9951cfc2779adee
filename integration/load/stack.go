package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx/v5" for the schema of a PostgreSQL run
	"golang.org/x/text/unicode/norm"
	"gopkg.in/yaml.v3"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/keys"
)

// The relying party the driver plays, registered in the generated configuration.
const (
	rpID       = "load-rp"
	rpRedirect = "http://127.0.0.1:9/load-rp/callback" // never contacted: redirects are not followed
	eidClient  = "motlan"
)

// rpScopes are requested by every login.
var rpScopes = []string{"openid", "profile", "address", "phone", "cccd"}

// Stack is a spawned broker process (Motlan, or Dex with -target dex) and the in-process
// eID it federates to.
type Stack struct {
	Issuer     string   // http://127.0.0.1:PORT
	MotlanHost string   // 127.0.0.1:PORT: the broker's, Motlan's or Dex's
	Scopes     []string // what the relying party asks for
	EIDURL     string
	PprofAddr  string // empty unless profiling
	RPSecret   string
	Citizens   []sim.Citizen // those the driver logs in (all level 2)
	Pid        int

	dir      string
	pg       *pgSchema  // nil on SQLite
	pgc      *pgCounter // waiters mode: counts Motlan's queries
	logPath  string
	cmd      *exec.Cmd
	exited   chan struct{}
	eid      *http.Server
	closers  []func() error
	keepDir  bool
	progress io.Writer
}

func randSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// moduleRoot is the directory holding go.mod, found with the go command.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the motlan module: run from the repository or pass -motlan-bin")
	}
	return filepath.Dir(gomod), nil
}

// BuildMotlan compiles ./cmd/motlan into dir and returns the binary's path.
func BuildMotlan(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "motlan")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/motlan")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/motlan: %w\n%s", err, out.String())
	}
	return bin, nil
}

// loadCitizens generates n valid level-2 citizens registered in Thanh Hóa (province 038),
// with ID numbers in a range the sim's default citizens do not use.
func loadCitizens(n int) []sim.Citizen {
	families := []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ"}
	givens := []string{"An", "Bình", "Cường", "Dũng", "Hà", "Hương", "Khánh", "Linh", "Minh", "Ngọc", "Phúc", "Quân", "Tâm", "Thảo", "Trung", "Yến"}
	out := make([]sim.Citizen, n)
	for i := range out {
		year := 1960 + i%40
		sex, d4, middle := sim.SexMale, 0, "Văn"
		if i%2 == 1 {
			sex, d4, middle = sim.SexFemale, 1, "Thị"
		}
		street := fmt.Sprintf("Số %d đường Lê Lợi", 1+i%300)
		out[i] = sim.Citizen{
			Subject:       fmt.Sprintf("vn-load-%06d", i),
			CCCD:          fmt.Sprintf("038%d%02d%06d", d4, year%100, 500000+i),
			FamilyName:    norm.NFC.String(families[i%len(families)]),
			MiddleName:    norm.NFC.String(middle),
			GivenName:     norm.NFC.String(givens[(i/len(families))%len(givens)]),
			Birthdate:     fmt.Sprintf("%d-%02d-%02d", year, 1+i%12, 1+i%28),
			Sex:           sex,
			Nationality:   norm.NFC.String("Việt Nam"),
			PlaceOfOrigin: norm.NFC.String("Xã Hoằng Hóa, Tỉnh Thanh Hóa"),
			Address: sim.Address{
				Formatted:     norm.NFC.String(street + ", Phường Hạc Thành, Tỉnh Thanh Hóa"),
				StreetAddress: norm.NFC.String(street),
				Locality:      norm.NFC.String("Phường Hạc Thành"),
				Region:        norm.NFC.String("Tỉnh Thanh Hóa"),
				Country:       "VN",
			},
			Phone: fmt.Sprintf("+8491%07d", 5000000+i),
			Level: 2,
		}
	}
	return out
}

// pgSchema is the fresh schema of a PostgreSQL run, and the administrative connection
// that made it (kept to find Motlan's backends and to drop the schema at the end).
type pgSchema struct {
	db       *sql.DB
	name     string
	database bool   // a database of its own (waiters mode: its statistics are Motlan's alone)
	appName  string // application_name of Motlan's connections, to find its backends
	dsn      string // the server DSN with search_path and application_name
}

// createSchema makes a fresh schema on the server, and a DSN whose search_path is that
// schema and whose application_name marks Motlan's backends.
func createSchema(ctx context.Context, base string) (*pgSchema, error) {
	db, err := sql.Open("pgx/v5", base)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db.SetMaxOpenConns(1)
	pg := &pgSchema{db: db, name: "load_" + strings.ToLower(rand.Text())}
	pg.appName = "motlan-" + pg.name
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := db.ExecContext(cctx, "CREATE SCHEMA "+pg.name); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: create schema: %w", err)
	}
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			_ = pg.drop()
			return nil, fmt.Errorf("postgres DSN: %w", err)
		}
		q := u.Query()
		q.Set("search_path", pg.name)
		q.Set("application_name", pg.appName)
		u.RawQuery = q.Encode()
		pg.dsn = u.String()
	} else {
		pg.dsn = base + " search_path=" + pg.name + " application_name=" + pg.appName
	}
	return pg, nil
}

func (pg *pgSchema) drop() error {
	defer pg.db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if pg.database {
		if _, err := pg.db.ExecContext(ctx, "DROP DATABASE "+pg.name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("postgres: drop database %s: %w", pg.name, err)
		}
		return nil
	}
	if _, err := pg.db.ExecContext(ctx, "DROP SCHEMA "+pg.name+" CASCADE"); err != nil {
		return fmt.Errorf("postgres: drop schema %s: %w", pg.name, err)
	}
	return nil
}

// createDatabase makes a fresh database on the server (the waiters mode's, dropped with
// everything in it at the end), and a DSN (URL form) naming it.
func createDatabase(ctx context.Context, base string) (*pgSchema, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("postgres: -waiters needs a postgres:// URL DSN")
	}
	db, err := sql.Open("pgx/v5", base)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db.SetMaxOpenConns(1)
	pg := &pgSchema{db: db, name: "load_" + strings.ToLower(rand.Text()), database: true}
	pg.appName = "motlan-" + pg.name
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(cctx, "CREATE DATABASE "+pg.name); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: create database: %w", err)
	}
	u.Path = "/" + pg.name
	q := u.Query()
	q.Set("application_name", pg.appName)
	u.RawQuery = q.Encode()
	pg.dsn = u.String()
	return pg, nil
}

// backends returns the process ids of Motlan's PostgreSQL backends.
func (pg *pgSchema) backends(ctx context.Context) ([]int, error) {
	rows, err := pg.db.QueryContext(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", pg.appName)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return nil, err
		}
		pids = append(pids, pid)
	}
	return pids, rows.Err()
}

// StartStack starts the dev eID in this process and Motlan as a child process configured
// by a generated YAML file, and waits until Motlan answers /healthz.
func StartStack(ctx context.Context, o Options) (s *Stack, err error) {
	s = &Stack{exited: make(chan struct{}), keepDir: o.KeepDir, progress: o.Progress}
	defer func() {
		if err != nil {
			_ = s.Close()
			s = nil
		}
	}()
	if s.dir, err = os.MkdirTemp("", "motlan-load-"); err != nil {
		return s, err
	}
	eidSecret, err := s.startEID(o)
	if err != nil {
		return s, err
	}
	if o.Target == "dex" {
		return s, s.startDex(ctx, o, eidSecret)
	}
	bin := o.MotlanBin
	if bin == "" {
		s.logf("building ./cmd/motlan ...")
		if bin, err = BuildMotlan(ctx, s.dir); err != nil {
			return s, err
		}
	}
	s.Scopes = rpScopes
	dsn, err := s.storageDSN(ctx, o)
	if err != nil {
		return s, err
	}
	cfgPath, err := s.writeConfig(o, dsn, eidSecret)
	if err != nil {
		return s, err
	}
	return s, s.startMotlan(ctx, bin, cfgPath)
}

// startEID runs the dev eID in this process (its CPU is the driver's, not Motlan's) and
// picks Motlan's address; it returns the eID client secret Motlan must use.
func (s *Stack) startEID(o Options) (string, error) {
	eidLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s.EIDURL = "http://" + eidLn.Addr().String()
	if s.MotlanHost, err = freeAddr(); err != nil {
		_ = eidLn.Close()
		return "", err
	}
	s.Issuer = "http://" + s.MotlanHost
	eidSecret := randSecret()
	if o.EID == "minimal" {
		m, err := newMinimalEID(s.EIDURL, map[string]string{eidClient: eidSecret}, o.NewCitizens)
		if err != nil {
			_ = eidLn.Close()
			return "", err
		}
		s.eid = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = s.eid.Serve(eidLn) }()
		return eidSecret, nil
	}
	s.Citizens = loadCitizens(max(o.Citizens, 1) + o.freshCitizens())
	h, err := sim.New(sim.Config{
		Issuer:   s.EIDURL,
		Clients:  []sim.Client{{ID: eidClient, Secret: eidSecret, RedirectURIs: []string{idp.CallbackURL(s.Issuer)}}},
		Citizens: append(sim.DefaultCitizens(), s.Citizens...),
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		_ = eidLn.Close()
		return "", err
	}
	s.eid = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	go func() { _ = s.eid.Serve(eidLn) }()
	return eidSecret, nil
}

// storageDSN returns the store's DSN: a file in the stack's directory, or a fresh
// PostgreSQL schema dropped when the stack closes.
func (s *Stack) storageDSN(ctx context.Context, o Options) (string, error) {
	switch o.Store {
	case "sqlite":
		return filepath.Join(s.dir, "motlan.db"), nil
	case "postgres":
		if o.PGDSN == "" {
			return "", errors.New("-store postgres needs -pg-dsn or MOTLAN_TEST_POSTGRES_DSN")
		}
		var err error
		if o.Waiters > 0 {
			s.pg, err = createDatabase(ctx, o.PGDSN)
		} else {
			s.pg, err = createSchema(ctx, o.PGDSN)
		}
		if err != nil {
			return "", err
		}
		s.closers = append(s.closers, s.pg.drop)
		if o.Waiters > 0 { // count Motlan's queries on the wire (pgcount.go)
			var dsn string
			if s.pgc, dsn, err = startPGCounter(s.pg.dsn); err != nil {
				return "", err
			}
			s.closers = append(s.closers, s.pgc.Close)
			return dsn, nil
		}
		return s.pg.dsn, nil
	}
	return "", fmt.Errorf("-store %q: want sqlite or postgres", o.Store)
}

// writeConfig writes Motlan's configuration and master key into the stack's directory
// and returns the configuration's path.
func (s *Stack) writeConfig(o Options, dsn, eidSecret string) (string, error) {
	mkPath := filepath.Join(s.dir, "master.key")
	if _, err := keys.EnsureMasterKeyFile(mkPath); err != nil {
		return "", fmt.Errorf("master key: %w", err)
	}
	s.RPSecret = randSecret()
	cfg := map[string]any{
		"issuer":  s.Issuer,
		"listen":  s.MotlanHost,
		"log":     map[string]any{"level": o.MotlanLogLevel, "format": "text"},
		"storage": map[string]any{"driver": o.Store, "dsn": map[string]any{"value": dsn}},
		"secrets": map[string]any{"master_key": map[string]any{"file": mkPath}},
		"eid": map[string]any{
			"issuer": s.EIDURL, "client_id": eidClient,
			"client_secret": map[string]any{"value": eidSecret},
			"scopes":        []string{"openid", "profile", "address", "phone"},
			"timeout":       "5s",
		},
		"clients": []any{map[string]any{
			"id": rpID, "name": "Load driver", "secret": map[string]any{"value": s.RPSecret},
			"redirect_uris": []string{rpRedirect}, "scopes": append(rpScopes, "signing"),
			"auth_method": "client_secret_basic", "first_party": true,
		}},
	}
	// Every login comes from this one address and a handful of citizens, which the default
	// limits (300 logins a minute per address) exist to stop.
	cfg["rate_limits"] = map[string]any{"disabled": true}
	if o.ProfileDir != "" {
		var err error
		if s.PprofAddr, err = freeAddr(); err != nil {
			return "", err
		}
		cfg["debug"] = map[string]any{"pprof_listen": s.PprofAddr}
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	cfgPath := filepath.Join(s.dir, "motlan.yaml")
	if err := os.WriteFile(cfgPath, y, 0o600); err != nil {
		return "", err
	}
	// Fail here, with the config package's own message, if the keys drifted.
	if _, err := config.Load(cfgPath); err != nil {
		return "", fmt.Errorf("generated configuration: %w", err)
	}
	return cfgPath, nil
}

// startMotlan runs `motlan serve` with its output in the stack's log and waits until it
// answers.
func (s *Stack) startMotlan(ctx context.Context, bin, cfgPath string) error {
	s.logPath = filepath.Join(s.dir, "motlan.log")
	logf, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, logf.Close)
	s.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.Env = os.Environ()
	if err := s.cmd.Start(); err != nil {
		close(s.exited)
		return fmt.Errorf("start motlan: %w", err)
	}
	s.Pid = s.cmd.Process.Pid
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	return s.waitHealthy(ctx, "/healthz", 60*time.Second)
}

func (s *Stack) logf(format string, a ...any) {
	if s.progress != nil {
		fmt.Fprintf(s.progress, format+"\n", a...)
	}
}

// waitHealthy polls path on the broker until it answers 200.
func (s *Stack) waitHealthy(ctx context.Context, path string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Issuer+path, nil)
		if resp, err := c.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("the broker exited before it was healthy:\n%s", s.LogTail(30))
		case <-ctx.Done():
			return fmt.Errorf("the broker was not healthy within %s:\n%s", limit, s.LogTail(30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Alive reports whether the Motlan process is still running.
func (s *Stack) Alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// LogTail returns the last n lines Motlan wrote.
func (s *Stack) LogTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Close stops Motlan (SIGTERM, then SIGKILL after 10 s), the dev eID, drops the schema and
// removes the temporary directory.
func (s *Stack) Close() error {
	var errs []error
	if s.cmd != nil && s.cmd.Process != nil {
		if s.Alive() {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
		}
	}
	if s.eid != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, s.eid.Shutdown(ctx))
		cancel()
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	if s.dir != "" && !s.keepDir {
		errs = append(errs, os.RemoveAll(s.dir))
	} else if s.dir != "" {
		s.logf("kept %s", s.dir)
	}
	return errors.Join(errs...)
}
