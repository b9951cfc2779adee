package integration

import (
	"os"
	"testing"

	_ "modernc.org/sqlite" // for reading the store's file directly in assertions

	"github.com/motlan/motlan/internal/testhsm"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testhsm.Cleanup()
	os.Exit(code)
}
