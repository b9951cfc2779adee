package authflow

import (
	"testing"

	"github.com/motlan/motlan/idp/store"
)

// The developer client of `motlan dev` may use any loopback http redirect URI; every
// other client, and that one for other URIs, needs an exact match.
func TestRedirectAllowedLoopback(t *testing.T) {
	dev := store.Client{ID: "dev", RedirectURIs: []string{"http://localhost:9876/callback"}}
	prod := store.Client{ID: "prod", RedirectURIs: []string{"https://dvc.example.vn/cb"}}
	f := &Flow{cfg: Config{LoopbackClients: map[string]bool{"dev": true}}}
	for _, tc := range []struct {
		client store.Client
		uri    string
		want   bool
	}{
		{dev, "http://localhost:9876/callback", true},
		{dev, "http://localhost:3000/oidc/cb", true},
		{dev, "http://127.0.0.1:51234/", true},
		{dev, "http://[::1]:8000/cb", true},
		{dev, "http://localhost/cb", true},
		{dev, "https://localhost:3000/cb", false},
		{dev, "http://localhost.evil.example:3000/cb", false},
		{dev, "http://evil.example/cb", false},
		{dev, "http://user@localhost:3000/cb", false},
		{dev, "http://localhost:3000/cb?x=1", false},
		{dev, "http://localhost:3000/cb#f", false},
		{prod, "https://dvc.example.vn/cb", true},
		{prod, "http://localhost:3000/cb", false},
		{prod, "https://dvc.example.vn/cb2", false},
	} {
		if got := f.redirectAllowed(tc.client, tc.uri); got != tc.want {
			t.Errorf("client %s, %s: allowed %v, want %v", tc.client.ID, tc.uri, got, tc.want)
		}
	}
}
