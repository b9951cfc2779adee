// Package testhsm gives tests a real PKCS#11 token: SoftHSM2 (Debian package softhsm2)
// with one fresh token per test process. A test package that uses it calls Cleanup from
// its TestMain.
package testhsm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/motlan/motlan/internal/testenv"
)

// The token: its label, user PIN and security-officer PIN.
const (
	TokenLabel = "motlan-test"
	PIN        = "1234"
	SOPIN      = "5678"
)

// modulePaths are where Debian puts the SoftHSM2 module.
var modulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
}

var (
	tokenOnce   sync.Once
	tokenModule string
	tokenErr    error
	tokenMiss   string
	tokenDir    string
)

// Cleanup removes the token directory; call it from TestMain after m.Run.
func Cleanup() {
	if tokenDir != "" {
		os.RemoveAll(tokenDir)
	}
}

// Module returns the module path of a SoftHSM2 whose configuration (SOFTHSM2_CONF, set
// for the whole process before the module is first loaded) points at a temporary token
// directory holding one fresh token, TokenLabel. It is made once per process; a missing
// SoftHSM2 skips the test, or fails it under MOTLAN_TEST_STRICT=1.
func Module(t testing.TB) string {
	t.Helper()
	tokenOnce.Do(func() {
		for _, p := range modulePaths {
			if _, err := os.Stat(p); err == nil {
				tokenModule = p
				break
			}
		}
		if tokenModule == "" {
			tokenMiss = "SoftHSM2 module (Debian package softhsm2) not in " + strings.Join(modulePaths, ", ")
			return
		}
		util, err := exec.LookPath("softhsm2-util")
		if err != nil {
			tokenMiss = "softhsm2-util (Debian package softhsm2) not on PATH"
			return
		}
		dir, err := os.MkdirTemp("", "motlan-softhsm-")
		if err != nil {
			tokenErr = err
			return
		}
		tokenDir = dir
		tokens := filepath.Join(dir, "tokens")
		conf := filepath.Join(dir, "softhsm2.conf")
		if err := os.Mkdir(tokens, 0o700); err != nil {
			tokenErr = err
			return
		}
		body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			tokenErr = err
			return
		}
		os.Setenv("SOFTHSM2_CONF", conf)
		out, err := exec.Command(util, "--init-token", "--free", "--label", TokenLabel,
			"--pin", PIN, "--so-pin", SOPIN).CombinedOutput()
		if err != nil {
			tokenErr = fmt.Errorf("softhsm2-util --init-token: %v: %s", err, out)
		}
	})
	if tokenMiss != "" {
		testenv.Missing(t, "%s", tokenMiss)
	}
	if tokenErr != nil {
		t.Fatal(tokenErr)
	}
	return tokenModule
}
