package account

import (
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

func TestCSRF(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	p, err := New(Config{Store: nilStore{}, Provider: nilProvider{}, Signing: nilSigning{}, Key: []byte(strings.Repeat("k", 32)),
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	good := p.csrfToken("cit-a", now.Add(-time.Minute))
	for _, tc := range []struct {
		name, tok, citizen string
		want               bool
	}{
		{"its own citizen", good, "cit-a", true},
		{"another citizen", good, "cit-b", false},
		{"expired", p.csrfToken("cit-a", now.Add(-31*time.Minute)), "cit-a", false},
		{"from the future", p.csrfToken("cit-a", now.Add(2*time.Minute)), "cit-a", false},
		{"empty", "", "cit-a", false},
		{"not base64", "!!!", "cit-a", false},
		{"truncated", good[:20], "cit-a", false},
		{"another key", mustPage(t, "x", now).csrfToken("cit-a", now), "cit-a", false},
	} {
		if got := p.checkCSRF(tc.tok, tc.citizen); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func mustPage(t *testing.T, key string, now time.Time) *Page {
	t.Helper()
	p, err := New(Config{Store: nilStore{}, Provider: nilProvider{}, Signing: nilSigning{}, Key: []byte(strings.Repeat(key, 32)),
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no store":  {Provider: nilProvider{}, Signing: nilSigning{}, Key: make([]byte, 32)},
		"short key": {Store: nilStore{}, Provider: nilProvider{}, Signing: nilSigning{}, Key: make([]byte, 16)},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMaskCCCD(t *testing.T) {
	for in, want := range map[string]string{
		"038092004567": "038••••••567",
		"":             "",
		"12345":        "•••••",
	} {
		if got := maskCCCD(in); got != want {
			t.Errorf("maskCCCD(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDefaultRetention(t *testing.T) {
	ended := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	r := signing.Request{Status: signing.StatusSigned, UpdatedAt: ended}
	for _, tc := range []struct {
		keep time.Duration
		want time.Time
	}{
		{0, ended.Add(30 * 24 * time.Hour)},
		{time.Hour, ended.Add(time.Hour)},
	} {
		if got := (DefaultRetention{After: tc.keep}).KeptUntil(r); !got.Equal(tc.want) {
			t.Errorf("keep %v: %v, want %v", tc.keep, got, tc.want)
		}
	}
}

func TestClaimLabel(t *testing.T) {
	for _, tc := range []struct{ lang, name, want string }{
		{"vi", "name", "Họ và tên"},
		{"en", "name", "Full name"},
		{"vi", "verified_claims.birthdate", "Ngày sinh (đã xác thực)"},
		{"vi", "x_unknown", "x_unknown"},
	} {
		if got := claimLabel(tc.lang, tc.name); got != tc.want {
			t.Errorf("claimLabel(%s, %s) = %q, want %q", tc.lang, tc.name, got, tc.want)
		}
	}
}

// Every message has its translation.
func TestMessagesComplete(t *testing.T) {
	for k := range messages["vi"] {
		if messages["en"][k] == "" {
			t.Errorf("%q has no English text", k)
		}
	}
	for k := range messages["en"] {
		if messages["vi"][k] == "" {
			t.Errorf("%q has no Vietnamese text", k)
		}
	}
}

// The zero implementations only fill the config; these tests never reach them.
type (
	nilStore    struct{ Store }
	nilProvider struct{ Provider }
	nilSigning  struct{ Signing }
)
