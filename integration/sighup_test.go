package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/keys"
)

// TestSIGHUPRemovesClient runs motlan serve as a process: after its configuration file
// loses a client and the process gets SIGHUP, that client's access token fails at the
// signing API (401) without a restart; SIGTERM then stops it cleanly.
func TestSIGHUPRemovesClient(t *testing.T) {
	bin := buildMotlan(t)
	var eidCfg config.EID
	newStackWith(t, "sqlite", false, func(c *config.Config) { eidCfg = c.EID }) // for its dev eID
	dir := t.TempDir()
	if _, err := keys.EnsureMasterKeyFile(filepath.Join(dir, "master.key")); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	secret := randSecret()
	q := strconv.Quote
	write := func(clients ...string) string {
		yml := fmt.Sprintf("issuer: %s\nlisten: %s\nlog: {level: warn, format: text}\nstorage: {driver: sqlite, dsn: {value: %s}}\n"+
			"secrets: {master_key: {file: %s}}\neid: {issuer: %s, client_id: %s, client_secret: {value: %s}}\nclients:\n",
			q("http://"+addr), q(addr), q(filepath.Join(dir, "motlan.db")), q(filepath.Join(dir, "master.key")),
			q(eidCfg.Issuer), q(eidCfg.ClientID), q(eidCfg.ClientSecret.Value))
		for _, id := range clients {
			yml += fmt.Sprintf("  - {id: %s, secret: {value: %s}, redirect_uris: [\"https://%s.example.test/cb\"], scopes: [openid, signing]}\n", id, secret, id)
		}
		path := filepath.Join(dir, "motlan.yaml")
		if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cmd := exec.Command(bin, "serve", "--config", write("portal", "bhyt"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			body(t, resp)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("motlan serve did not answer within 20 s")
		}
	}
	cc := clientcredentials.Config{ClientID: "portal", ClientSecret: secret, TokenURL: base + "/token", Scopes: []string{"signing"}, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	status := func() int {
		req, _ := http.NewRequest(http.MethodGet, base+"/signing/v1/requests/no-such-request", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp := do(t, http.DefaultClient, req)
		body(t, resp)
		return resp.StatusCode
	}
	if got := status(); got != http.StatusNotFound {
		t.Fatalf("signing API with a configured client's token: %d, want 404", got)
	}
	write("bhyt")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	got := 0
	for deadline := time.Now().Add(5 * time.Second); got != http.StatusUnauthorized && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = status()
	}
	if got != http.StatusUnauthorized {
		t.Errorf("signing API after SIGHUP removed the client: %d, want 401", got)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("motlan serve after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("motlan serve did not stop within 20 s of SIGTERM")
	}
}
