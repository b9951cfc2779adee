package account

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/testpg"
)

// quietProvider ends nothing at the provider: these tests look at the store.
type quietProvider struct{ browserProvider }

func (quietProvider) DenyAccessTokens(context.Context, []string) error        { return nil }
func (quietProvider) NotifyLogout(context.Context, string, string, ...string) {}

// TestActsAuditedWithThemselves: withdrawing a consent and ending a session on /me write
// their audit records in the same transaction as the act (issue 10), on both stores: the
// record is pending once the page answers, and a withdrawal of nothing writes none.
func TestActsAuditedWithThemselves(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	opens := map[string]func(t *testing.T) *sqlstore.Store{
		"sqlite": func(t *testing.T) *sqlstore.Store {
			return openStore(t, sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "motlan.db")})
		},
		"postgres": func(t *testing.T) *sqlstore.Store {
			return openStore(t, sqlstore.Config{Driver: sqlstore.DriverPostgres, DSN: testpg.DSN(t)})
		},
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st := open(t)
			cit, err := st.UpsertCitizen(ctx, store.Citizen{Issuer: "https://eid.example.vn", Subject: "sub-a", CCCD: "038085001234", CreatedAt: now, UpdatedAt: now})
			if err != nil {
				t.Fatal(err)
			}
			if err := st.UpsertConsent(ctx, store.Consent{CitizenID: cit.ID, ClientID: "portal", Scopes: []string{"openid"}, GrantedAt: now}); err != nil {
				t.Fatal(err)
			}
			if err := st.CreateSession(ctx, store.Session{ID: "sess-a", CitizenID: cit.ID, AuthTime: now, ACR: "2", CreatedAt: now, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			log, err := audit.New(audit.Config{Store: st})
			if err != nil {
				t.Fatal(err)
			}
			p, err := New(Config{Store: st, Provider: quietProvider{browserProvider{citizen: cit.ID, acr: "2", authTime: now}}, Signing: nilSigning{},
				Key: []byte(strings.Repeat("k", 32)), Now: func() time.Time { return now }, Audit: log})
			if err != nil {
				t.Fatal(err)
			}
			csrf := p.csrfToken(cit.ID, now)
			post := func(path string) int {
				req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				p.Handler().ServeHTTP(rec, req)
				return rec.Code
			}
			pending := func() int {
				n, _, err := st.PendingAudit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			n0 := pending()
			steps := []struct {
				name, path string
				status     int
				records    int
			}{
				{"withdraw", "/me/consents/portal/withdraw", http.StatusSeeOther, 1},
				{"withdraw again", "/me/consents/portal/withdraw", http.StatusNotFound, 0},
				{"end session", "/me/sessions/" + p.sessionHandle("sess-a") + "/end", http.StatusSeeOther, 1},
			}
			for _, s := range steps {
				if got := post(s.path); got != s.status {
					t.Fatalf("%s: %d, want %d", s.name, got, s.status)
				}
				if n := pending(); n != n0+s.records {
					t.Errorf("%s: %d pending audit records, want %d", s.name, n, n0+s.records)
				}
				n0 += s.records
			}
			if _, err := st.GetConsent(ctx, cit.ID, "portal"); err == nil {
				t.Error("the consent is still there")
			}
			if _, err := st.GetSession(ctx, "sess-a"); err == nil {
				t.Error("the session is still there")
			}
			sealed, err := st.SealPendingAudit(ctx, 100, audit.Seal)
			if err != nil || len(sealed) < 2 {
				t.Fatalf("seal: %d records, %v", len(sealed), err)
			}
			want := []struct{ kind, detail string }{{KindConsentWithdraw, `{"client":"portal"}`}, {KindSessionEnd, `{"via":"me"}`}}
			for i, w := range want {
				r := sealed[len(sealed)-2+i]
				if r.Kind != w.kind || r.Actor != audit.Citizen(cit.ID) || string(r.Details) != w.detail {
					t.Errorf("record %d: %s %s %s, want %s %s", i, r.Kind, r.Actor, r.Details, w.kind, w.detail)
				}
			}
		})
	}
}

func openStore(t *testing.T, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
