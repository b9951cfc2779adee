package testpg

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testenv"
)

// Instance is a PostgreSQL server of the test's own, in a temporary directory, that the
// test may stop and start (the shared server of MOTLAN_TEST_POSTGRES_DSN must never be).
type Instance struct {
	t    testing.TB
	bin  string // the directory of initdb and pg_ctl
	dir  string // the data directory
	port int
	DSN  string // to its postgres database, trust authentication
}

// StartOwn initialises and starts a PostgreSQL server on a free loopback port; it is
// stopped and removed when t ends. Without PostgreSQL's binaries the test is skipped, or
// failed under MOTLAN_TEST_STRICT=1.
func StartOwn(t testing.TB) *Instance {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		testenv.Missing(t, "PostgreSQL binaries (/usr/lib/postgresql/*/bin/initdb)")
		return nil
	}
	root, err := os.MkdirTemp("", "motlan-pg-")
	if err != nil {
		t.Fatal(err)
	}
	in := &Instance{t: t, bin: filepath.Dir(bins[len(bins)-1]), dir: filepath.Join(root, "data"), port: freePort(t)}
	if os.Geteuid() == 0 { // PostgreSQL refuses to run as root: the directory goes to postgres
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("testpg: running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(root, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = in.pgctl("stop", "-m", "immediate")
		_ = os.RemoveAll(root)
	})
	if out, err := in.command("initdb", "-D", in.dir, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("testpg: initdb: %v\n%s", err, out)
	}
	in.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", in.port)
	in.Start()
	return in
}

// Start starts the server and waits until it accepts connections.
func (in *Instance) Start() {
	in.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", in.port, filepath.Dir(in.dir))
	if err := in.pgctl("start", "-w", "-t", "60", "-l", filepath.Join(filepath.Dir(in.dir), "log"), "-o", opts); err != nil {
		in.t.Fatalf("testpg: start: %v", err)
	}
	db, err := sql.Open("pgx/v5", in.DSN)
	if err != nil {
		in.t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for db.PingContext(ctx) != nil {
		if ctx.Err() != nil {
			in.t.Fatal("testpg: the server did not answer after start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down (fast: open connections are cut, as in a crash or restart).
func (in *Instance) Stop() {
	in.t.Helper()
	if err := in.pgctl("stop", "-w", "-m", "fast"); err != nil {
		in.t.Fatalf("testpg: stop: %v", err)
	}
}

// Crash stops the server at once (immediate: its processes end without a checkpoint,
// connections are cut mid-transaction), as a crash of the server's processes does; the
// next Start recovers from the WAL. The machine does not crash: what the server wrote
// to its files without a flush stays.
func (in *Instance) Crash() {
	in.t.Helper()
	if err := in.pgctl("stop", "-w", "-m", "immediate"); err != nil {
		in.t.Fatalf("testpg: crash: %v", err)
	}
}

func (in *Instance) pgctl(args ...string) error {
	cmd := in.command("pg_ctl", append([]string{"-D", in.dir}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl %s: %w\n%s", args[0], err, out)
	}
	return nil
}

// command runs a PostgreSQL binary, as the postgres user when the test runs as root.
func (in *Instance) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(in.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
