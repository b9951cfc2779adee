package session

import (
	"context"
	"net/url"
	"testing"

	"github.com/motlan/motlan/idp/eid"
)

type plainEID struct{}

func (plainEID) AuthCodeURL(context.Context, string, string, string, eid.AuthOptions) (string, error) {
	return "", nil
}
func (plainEID) CheckCallback(url.Values) error { return nil }
func (plainEID) Exchange(context.Context, string, string, string) (eid.Identity, error) {
	return eid.Identity{}, nil
}

type logoutEID struct {
	plainEID
	end string
}

func (l logoutEID) EndSessionURL() string { return l.end }

// TestLogoutHint: a session keeps the eID's ID token only when the eID has an end-session
// endpoint, where it is the id_token_hint.
func TestLogoutHint(t *testing.T) {
	for _, tc := range []struct {
		name string
		eid  eid.Connector
		want string
	}{
		{"no logout at the eID", plainEID{}, ""},
		{"logout discovered without an endpoint", logoutEID{}, ""},
		{"end-session endpoint", logoutEID{end: "https://eid.example.vn/logout"}, "raw.id.token"},
	} {
		m := &Manager{cfg: Config{EID: tc.eid}}
		if got := m.logoutHint("raw.id.token"); got != tc.want {
			t.Errorf("%s: kept %q, want %q", tc.name, got, tc.want)
		}
	}
}
