package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/testsync"
	"github.com/motlan/motlan/signing"
	"github.com/motlan/motlan/signing/signingtest"
)

// accountFixture is two citizens, each with a session, a consent, a code, a refresh
// token, a release, a subject, a signing request and an audit record for the portal.
type accountFixture struct {
	s    *sqlstore.Store
	ctx  context.Context
	now  time.Time
	a, b store.Citizen
	reqA string
	reqB string
}

func newAccountFixture(t *testing.T, open func(testing.TB, func() time.Time) *sqlstore.Store) *accountFixture {
	t.Helper()
	now := time.Date(2026, 3, 1, 8, 30, 15, 123_000_000, time.UTC)
	clock := testsync.NewClock(now)
	f := &accountFixture{s: open(t, clock.Now), ctx: t.Context(), now: now}
	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for _, cid := range []string{"portal", "bhyt"} {
		ok("upsert client", f.s.UpsertClient(f.ctx, store.Client{ID: cid, Name: cid, AllowedScopes: []string{"openid"}, AuthMethod: "client_secret_basic", SubjectType: "pairwise", UpdatedAt: now}))
	}
	for i, sub := range []string{"sub-a", "sub-b"} {
		c, err := f.s.UpsertCitizen(f.ctx, store.Citizen{Issuer: "https://eid.example.vn", Subject: sub, CCCD: "03808500123" + string(rune('4'+i)),
			Attributes: map[string]store.Attribute{"name": {Value: json.RawMessage(`"Nguyễn Văn Lĩnh"`), Source: "https://eid.example.vn", Level: 2, VerifiedAt: now, Verified: true}},
			CreatedAt:  now, UpdatedAt: now})
		ok("upsert citizen", err)
		if i == 0 {
			f.a = c
		} else {
			f.b = c
		}
		sess := "sess-" + sub
		ok("session", f.s.CreateSession(f.ctx, store.Session{ID: sess, CitizenID: c.ID, AuthTime: now, ACR: "2", CreatedAt: now.Add(time.Duration(i) * time.Second), ExpiresAt: now.Add(time.Hour)}))
		ok("old session", f.s.CreateSession(f.ctx, store.Session{ID: "gone-" + sub, CitizenID: c.ID, AuthTime: now, ACR: "2", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}))
		for _, cl := range []string{"portal", "bhyt"} {
			ok("consent", f.s.UpsertConsent(f.ctx, store.Consent{CitizenID: c.ID, ClientID: cl, Scopes: []string{"openid", "profile"}, GrantedAt: now}))
		}
		ok("code", f.s.CreateAuthCode(f.ctx, store.AuthCode{ID: "code-" + sub, ClientID: "portal", RedirectURI: "https://p/cb", CitizenID: c.ID, SessionID: sess, Scopes: []string{"openid"}, AuthTime: now, ACR: "2", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))
		ok("refresh", f.s.CreateRefreshToken(f.ctx, store.RefreshToken{ID: "rt-" + sub, FamilyID: "fam-" + sub, ClientID: "portal", CitizenID: c.ID, SessionID: sess, Scopes: []string{"openid"}, AuthTime: now, ACR: "2", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		ok("bhyt refresh", f.s.CreateRefreshToken(f.ctx, store.RefreshToken{ID: "rt-bhyt-" + sub, FamilyID: "fam-bhyt-" + sub, ClientID: "bhyt", CitizenID: c.ID, SessionID: sess, Scopes: []string{"openid"}, AuthTime: now, ACR: "2", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		ok("release", f.s.RecordRelease(f.ctx, store.Release{CitizenID: c.ID, ClientID: "portal", Claims: []string{"name"}, Via: "id_token", At: now}))
		ok("subject", f.s.RecordSubject(f.ctx, "portal", "p-"+sub, c.ID, now))
		r, pdfs := signingtest.Request("req-"+sub, "portal", "p-"+sub, 1, now)
		r.CitizenID = c.ID
		_, err = f.s.CreateSigningRequest(f.ctx, r, pdfs)
		ok("signing request", err)
		_, err = f.s.AppendAudit(f.ctx, []store.AuditRecord{{At: now, Kind: "login", Actor: "citizen:" + c.ID, Details: json.RawMessage(`{"acr":"2"}`)}},
			func(store.AuditRecord) (string, error) { return "h", nil })
		ok("audit", err)
	}
	f.reqA, f.reqB = "req-sub-a", "req-sub-b"
	return f
}

func TestAccountConformance(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, f *accountFixture)
	}{
		{"ListsOnlyTheCitizensOwn", testAccountLists},
		{"DeleteConsentOnce", testAccountDeleteConsent},
		{"DeleteConsentAudited", testAccountDeleteConsentAudited},
		{"ClientGrantsAndRevoke", testAccountRevokeClient},
		{"ForgetCitizenKey", testAccountForgetKey},
		{"DeleteCitizen", testAccountDeleteCitizen},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, newAccountFixture(t, b.open)) })
			}
		})
	}
}

func testAccountLists(t *testing.T, f *accountFixture) {
	sessions, err := f.s.ListCitizenSessions(f.ctx, f.a.ID)
	if err != nil || len(sessions) != 1 || sessions[0].ID != "sess-sub-a" || sessions[0].CitizenID != f.a.ID {
		t.Errorf("sessions of a: %+v, %v; want only the live sess-sub-a", sessions, err)
	}
	consents, err := f.s.ListConsents(f.ctx, f.a.ID)
	if err != nil || len(consents) != 2 || consents[0].ClientID != "bhyt" || consents[1].ClientID != "portal" || consents[0].CitizenID != f.a.ID ||
		!slices.Equal(consents[1].Scopes, []string{"openid", "profile"}) || !consents[1].GrantedAt.Equal(f.now) {
		t.Errorf("consents of a: %+v, %v", consents, err)
	}
	reqs, err := f.s.ListCitizenSigningRequests(f.ctx, f.a.ID, 0)
	if err != nil || len(reqs) != 1 || reqs[0].ID != f.reqA {
		t.Errorf("signing requests of a: %v, %v; want only %s", reqs, err, f.reqA)
	}
	audit, err := f.s.ListActorAudit(f.ctx, "citizen:"+f.a.ID, 10)
	if err != nil || len(audit) != 1 || audit[0].Actor != "citizen:"+f.a.ID || audit[0].Kind != "login" {
		t.Errorf("audit of a: %+v, %v", audit, err)
	}
	if none, err := f.s.ListConsents(f.ctx, "nobody"); err != nil || len(none) != 0 {
		t.Errorf("consents of nobody: %v, %v", none, err)
	}
}

func testAccountDeleteConsent(t *testing.T, f *accountFixture) {
	if err := f.s.DeleteConsent(f.ctx, f.a.ID, "portal"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.DeleteConsent(f.ctx, f.a.ID, "portal"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := f.s.GetConsent(f.ctx, f.a.ID, "portal"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("consent still there: %v", err)
	}
	if _, err := f.s.GetConsent(f.ctx, f.b.ID, "portal"); err != nil {
		t.Errorf("b's consent went too: %v", err)
	}
	if _, err := f.s.GetConsent(f.ctx, f.a.ID, "bhyt"); err != nil {
		t.Errorf("a's consent to bhyt went too: %v", err)
	}
}

// The withdrawal and its audit record commit together: a record that cannot be written
// keeps the consent, and a withdrawal of nothing writes no record.
func testAccountDeleteConsentAudited(t *testing.T, f *accountFixture) {
	pending := func() int {
		t.Helper()
		n, _, err := f.s.PendingAudit(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	rec := store.AuditRecord{At: f.now, Kind: "consent.withdraw", Actor: "citizen:" + f.a.ID, Details: json.RawMessage(`{"client":"portal"}`)}
	n0 := pending()
	if err := f.s.DeleteConsent(f.ctx, f.a.ID, "portal", store.AuditRecord{At: f.now, Actor: "citizen:" + f.a.ID}); err == nil {
		t.Fatal("withdrawal with an unwritable audit record: no error")
	}
	if _, err := f.s.GetConsent(f.ctx, f.a.ID, "portal"); err != nil {
		t.Errorf("consent gone after a failed withdrawal: %v", err)
	}
	if n := pending(); n != n0 {
		t.Errorf("pending records after a failed withdrawal: %d, want %d", n, n0)
	}
	if err := f.s.DeleteConsent(f.ctx, f.a.ID, "portal", rec); err != nil {
		t.Fatal(err)
	}
	if n := pending(); n != n0+1 {
		t.Errorf("pending records after the withdrawal: %d, want %d", n, n0+1)
	}
	if err := f.s.DeleteConsent(f.ctx, f.a.ID, "portal", rec); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second withdrawal: %v, want ErrNotFound", err)
	}
	if n := pending(); n != n0+1 {
		t.Errorf("pending records after a withdrawal of nothing: %d, want %d", n, n0+1)
	}
	sealed, err := f.s.SealPendingAudit(f.ctx, 100, func(store.AuditRecord) (string, error) { return "h", nil })
	if err != nil || len(sealed) != n0+1 {
		t.Fatalf("seal: %d records, %v", len(sealed), err)
	}
	if got := sealed[len(sealed)-1]; got.Kind != rec.Kind || got.Actor != rec.Actor || string(got.Details) != string(rec.Details) || !got.At.Equal(rec.At) {
		t.Errorf("withdrawal record: %+v, want %+v", got, rec)
	}
}

func testAccountRevokeClient(t *testing.T, f *accountFixture) {
	fams, sess, err := f.s.ClientGrants(f.ctx, f.a.ID, "portal")
	if err != nil || !slices.Equal(fams, []string{"code-sub-a", "fam-sub-a"}) || !slices.Equal(sess, []string{"sess-sub-a"}) {
		t.Errorf("grants: %v %v %v", fams, sess, err)
	}
	n, err := f.s.RevokeClientRefreshTokens(f.ctx, f.a.ID, "portal")
	if err != nil || n != 1 {
		t.Fatalf("revoke: %d, %v; want 1", n, err)
	}
	for id, want := range map[string]bool{"rt-sub-a": true, "rt-bhyt-sub-a": false, "rt-sub-b": false} {
		rt, err := f.s.GetRefreshToken(f.ctx, id)
		if err != nil || rt.Revoked != want {
			t.Errorf("%s revoked %v (%v), want %v", id, rt.Revoked, err, want)
		}
	}
	if n, err := f.s.RevokeClientRefreshTokens(f.ctx, f.a.ID, "portal"); err != nil || n != 0 {
		t.Errorf("revoke again: %d, %v; want 0", n, err)
	}
}

func testAccountForgetKey(t *testing.T, f *accountFixture) {
	cert := signing.CitizenCert{CitizenID: f.a.ID, Serial: "0a", Certificate: []byte{1}, NotAfter: f.now.Add(time.Hour)}
	if err := f.s.PutCitizenCert(f.ctx, cert, ""); err != nil {
		t.Fatal(err)
	}
	epoch := func(id string) int {
		t.Helper()
		n, err := f.s.CitizenKeyEpoch(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := epoch(f.a.ID); n != 0 {
		t.Errorf("epoch before any replacement %d, want 0", n)
	}
	// Another serial (a certificate issued since) stays; the epoch moves anyway.
	if err := f.s.ForgetCitizenKey(f.ctx, f.a.ID, "0b"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.CitizenCert(f.ctx, f.a.ID); err != nil {
		t.Errorf("certificate with another serial forgotten: %v", err)
	}
	if err := f.s.ForgetCitizenKey(f.ctx, f.a.ID, "0a"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.CitizenCert(f.ctx, f.a.ID); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("certificate kept: %v", err)
	}
	if n := epoch(f.a.ID); n != 2 {
		t.Errorf("epoch after two replacements %d, want 2", n)
	}
	if n := epoch(f.b.ID); n != 0 {
		t.Errorf("the other citizen's epoch %d, want 0", n)
	}
}

func testAccountDeleteCitizen(t *testing.T, f *accountFixture) {
	if err := f.s.DeleteCitizen(f.ctx, f.a.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.s.DeleteCitizen(f.ctx, f.a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := f.s.GetCitizen(f.ctx, f.a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("citizen kept: %v", err)
	}
	if c, _ := f.s.ListConsents(f.ctx, f.a.ID); len(c) != 0 {
		t.Errorf("consents kept: %v", c)
	}
	if r, _ := f.s.ListReleases(f.ctx, f.a.ID); len(r) != 0 {
		t.Errorf("releases kept: %v", r)
	}
	if s, _ := f.s.ListCitizenSessions(f.ctx, f.a.ID); len(s) != 0 {
		t.Errorf("sessions kept: %v", s)
	}
	if _, err := f.s.SubjectCitizen(f.ctx, "portal", "p-sub-a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("subject kept: %v", err)
	}
	if rt, err := f.s.GetRefreshToken(f.ctx, "rt-sub-a"); err != nil || !rt.Revoked {
		t.Errorf("refresh token not revoked: %+v %v", rt, err)
	}
	if _, err := f.s.ConsumeAuthCode(f.ctx, "code-sub-a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("code kept: %v", err)
	}
	// Kept by law or by the retention configuration: the audit record, the signing request.
	if a, _ := f.s.ListActorAudit(f.ctx, "citizen:"+f.a.ID, 10); len(a) != 1 {
		t.Errorf("audit records %v, want the one kept", a)
	}
	if _, err := f.s.GetSigningRequest(f.ctx, f.reqA); err != nil {
		t.Errorf("signing request: %v, want kept", err)
	}
	// The other citizen is untouched.
	if _, err := f.s.GetCitizen(f.ctx, f.b.ID); err != nil {
		t.Errorf("b: %v", err)
	}
	if c, _ := f.s.ListConsents(f.ctx, f.b.ID); len(c) != 2 {
		t.Errorf("b's consents: %v", c)
	}
	if rt, err := f.s.GetRefreshToken(f.ctx, "rt-sub-b"); err != nil || rt.Revoked {
		t.Errorf("b's refresh token: %+v %v", rt, err)
	}
	// A new login for the same eID subject starts from an empty record, under a new id.
	c, err := f.s.UpsertCitizen(f.ctx, store.Citizen{Issuer: "https://eid.example.vn", Subject: "sub-a", CreatedAt: f.now, UpdatedAt: f.now})
	if err != nil || c.ID == f.a.ID || len(c.Attributes) != 0 || c.CCCD != "" {
		t.Errorf("new login after deletion: %+v, %v", c, err)
	}
}
