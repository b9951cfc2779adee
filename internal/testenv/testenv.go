// Package testenv decides what a test does when a real dependency (PostgreSQL, a browser,
// SoftHSM, pdfsig) is missing: skip it normally, fail it under MOTLAN_TEST_STRICT=1, so CI
// can never pass by skipping.
package testenv

import (
	"os"
	"testing"
)

// Strict reports whether missing dependencies must fail tests.
func Strict() bool { return os.Getenv("MOTLAN_TEST_STRICT") == "1" }

// Missing skips t, or fails it under strict mode, because a dependency is missing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if Strict() {
		t.Fatalf("MOTLAN_TEST_STRICT=1 and a dependency is missing: "+format, args...)
	}
	t.Skipf("dependency missing: "+format, args...)
}
