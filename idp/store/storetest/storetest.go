// Package storetest is the conformance suite every store.Store implementation passes, in
// the manner of Dex's storage/conformance: RunTests for behaviour, RunConcurrencyTests for
// the atomicity guarantees. Each behaviour gets a fresh store from newStore and a Clock the
// store must use as its notion of now.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testsync"

	"github.com/motlan/motlan/idp/store"
)

// Clock is a controllable time source; pass its Now to the store.
type Clock = testsync.Clock

// NewClock returns a Clock showing t.
var NewClock = testsync.NewClock

// NewStore returns an empty store that reads time from clock. It registers its own
// cleanup with t.
type NewStore func(t *testing.T, clock *Clock) store.Store

// start is the suite's "now": millisecond precision, so round trips compare exactly.
var start = time.Date(2026, 3, 1, 8, 30, 15, 123_000_000, time.UTC)

// ict is Vietnam's offset; inputs in it must come back in UTC.
var ict = time.FixedZone("ICT", 7*3600)

type env struct {
	t     *testing.T
	ctx   context.Context
	s     store.Store
	clock *Clock
}

func setup(t *testing.T, newStore NewStore) *env {
	t.Helper()
	clock := NewClock(start)
	return &env{t: t, ctx: t.Context(), s: newStore(t, clock), clock: clock}
}

// equal compares through JSON, which shows time zones (UTC is "Z"), precision, and nil
// versus empty, all of which a store must preserve.
// The suite's checks (testsync's, under short names).
var (
	equal   = testsync.Equal
	must    = testsync.Must
	wantErr = testsync.WantErr
)

// RunTests runs every behaviour test against stores from newStore.
func RunTests(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		run  func(e *env)
	}{
		{"Clients/RoundTrip", testClientRoundTrip},
		{"Clients/UpsertReplaces", testClientUpsertReplaces},
		{"Clients/NotFound", testClientNotFound},
		{"Clients/ListOrdered", testClientList},
		{"Clients/Disable", testClientDisable},
		{"Citizens/RoundTrip", testCitizenRoundTrip},
		{"Citizens/Merge", testCitizenMerge},
		{"Citizens/KeyIsIssuerAndSubject", testCitizenKey},
		{"Citizens/Verification", testCitizenVerification},
		{"Citizens/NewGetsID", testCitizenNewID},
		{"Citizens/NotFound", testCitizenNotFound},
		{"Sessions/RoundTrip", testSessionRoundTrip},
		{"Sessions/Expiry", testSessionExpiry},
		{"Sessions/Delete", testSessionDelete},
		{"Sessions/DeleteAudited", testSessionDeleteAudited},
		{"AuthRequests/RoundTrip", testAuthRequestRoundTrip},
		{"AuthRequests/UpstreamStateUnique", testAuthRequestUpstreamUnique},
		{"AuthRequests/Expiry", testAuthRequestExpiry},
		{"AuthRequests/Update", testAuthRequestUpdate},
		{"AuthRequests/UpdateFnErrorWritesNothing", testAuthRequestUpdateFnError},
		{"AuthRequests/UpdateNotFound", testAuthRequestUpdateNotFound},
		{"AuthRequests/UpdateToTakenUpstreamState", testAuthRequestUpdateConflict},
		{"AuthRequests/Delete", testAuthRequestDelete},
		{"PushedRequests/ConsumeOnce", testPushedConsumeOnce},
		{"PushedRequests/Expiry", testPushedExpiry},
		{"PushedRequests/OtherClient", testPushedOtherClient},
		{"AuthCodes/ConsumeOnce", testAuthCodeConsumeOnce},
		{"AuthCodes/NotFoundAndExpired", testAuthCodeNotFound},
		{"RefreshTokens/RoundTrip", testRefreshRoundTrip},
		{"RefreshTokens/RotateOnce", testRefreshRotateOnce},
		{"RefreshTokens/RotateNotFound", testRefreshRotateNotFound},
		{"RefreshTokens/RotateWith", testRefreshRotateWith},
		{"RefreshTokens/RotateWithSession", testRefreshRotateWithSession},
		{"RefreshTokens/Expiry", testRefreshExpiry},
		{"RefreshTokens/RevokeFamily", testRefreshRevokeFamily},
		{"RefreshTokens/RevokeFamilyAudited", testRevokeFamilyAudited},
		{"RefreshTokens/RotateAgainReplacesSuccessor", testRefreshRotateAgain},
		{"RefreshTokens/RotateAgainAfterSuccessorUsed", testRefreshRotateAgainMovedOn},
		{"RefreshTokens/RotateAgainErrors", testRefreshRotateAgainErrors},
		{"SessionClients/FromCodesAndRefreshTokens", testSessionClients},
		{"RevokedTokens/UntilExpiry", testRevokedTokens},
		{"RevokedTokens/RevokeAudited", testRevokeTokenAudited},
		{"Consents/UpsertReplaces", testConsent},
		{"Releases/ListInOrder", testReleases},
		{"Subjects/PerClient", testSubjects},
		{"TokenKeys/ConflictAndOrder", testTokenKeys},
		{"Assertions/SingleUseUntilExpiry", testAssertions},
		{"Logins/RecordLogin", testRecordLogin},
		{"Logins/RecordLoginOnce", testRecordLoginOnce},
		{"Logins/RedeemAuthCode", testRedeemAuthCode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(setup(t, newStore))
		})
	}
}

// ---- fixtures, with every field set

func client(id string) store.Client {
	return store.Client{
		ID:                     id,
		Name:                   "Cổng Dịch vụ công tỉnh",
		SecretHash:             "sha256:00112233:" + id,
		RedirectURIs:           []string{"https://dvc.example.vn/cb", "https://dvc.example.vn/cb2"},
		PostLogoutRedirectURIs: []string{"https://dvc.example.vn/"},
		AllowedScopes:          []string{"openid", "profile", "cccd"},
		AuthMethod:             "private_key_jwt",
		JWKS:                   json.RawMessage(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"BB"}]}`),
		JWKSURI:                "https://dvc.example.vn/jwks",
		SubjectType:            "pairwise",
		IDTokenAlg:             "ES256",
		FirstParty:             true,
		UpdatedAt:              start,
		RequirePAR:             true,

		BackchannelLogoutURI:             "https://dvc.example.vn/backchannel",
		BackchannelLogoutSessionRequired: true,
	}
}

func attr(value string, level int) store.Attribute {
	return store.Attribute{Value: json.RawMessage(value), Source: "https://eid.example.vn", Level: level,
		VerifiedAt: start.Add(-time.Minute)}
}

// stated is an attribute with everything the eID can state about it: verified or not, its
// raw acr (a URI) and amr, and its updated_at given in Vietnam's offset (stored as UTC).
func stated(value string, verified bool) store.Attribute {
	a := attr(value, 2)
	a.Verified, a.ACR, a.AMR = verified, "urn:vn:eid:loa:2", []string{"pwd", "face"}
	a.EIDUpdatedAt = start.Add(-48 * time.Hour)
	return a
}

func citizen(subject string) store.Citizen {
	return store.Citizen{
		ID:      "cit-" + subject,
		Issuer:  "https://eid.example.vn",
		Subject: subject,
		CCCD:    "001099012345",
		Attributes: map[string]store.Attribute{
			"name":         stated(`"Nguyễn Văn Lĩnh"`, true),
			"phone_number": stated(`"+84912345601"`, false),
			"family_name":  attr(`"Lê Công Hảo"`, 2),
			"given_name":   attr(`"Ĩ"`, 1),
			"address": attr(`{"formatted":"12 Lê Lợi, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh",`+
				`"street_address":"12 Lê Lợi","locality":"Quận 1","region":"TP. Hồ Chí Minh","country":"VN"}`, 2),
		},
		CreatedAt: start,
		UpdatedAt: start,
	}
}

func session(id string) store.Session {
	return store.Session{
		ID:              id,
		CitizenID:       "cit-1",
		AuthTime:        start.Add(-time.Second),
		ACR:             "2",
		AMR:             []string{"pwd", "otp"},
		UpstreamIDToken: "eyJhbGciOiJFUzI1NiJ9.e30.sig",
		CreatedAt:       start,
		ExpiresAt:       start.Add(8 * time.Hour),
	}
}

func authRequest(id, upstreamState string) store.AuthRequest {
	return store.AuthRequest{
		ID:                  id,
		ClientID:            "portal",
		RedirectURI:         "https://dvc.example.vn/cb",
		ResponseMode:        "query",
		Scopes:              []string{"openid", "profile", "address"},
		State:               "rp-state",
		Nonce:               "rp-nonce",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		DPoPJKT:             "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
		Prompt:              []string{"login", "consent"},
		MaxAge:              -1,
		ACRValues:           []string{"2"},
		Claims:              json.RawMessage(`{"userinfo":{"name":{"essential":true}}}`),
		UILocales:           []string{"vi", "en"},
		LoginHint:           "Nguyễn Văn Lĩnh",
		UpstreamState:       upstreamState,
		UpstreamNonce:       "up-nonce",
		UpstreamVerifier:    "up-verifier",
		SessionID:           "sess-1",
		CSRFToken:           "csrf",
		CreatedAt:           start,
		ExpiresAt:           start.Add(10 * time.Minute),
	}
}

func authCode(id string) store.AuthCode {
	return store.AuthCode{
		ID:                  id,
		ClientID:            "portal",
		RedirectURI:         "https://dvc.example.vn/cb",
		CitizenID:           "cit-1",
		SessionID:           "sess-1",
		Scopes:              []string{"openid", "profile"},
		Nonce:               "rp-nonce",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		DPoPJKT:             "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
		Claims:              json.RawMessage(`{"id_token":{"acr":{"values":["2"]}}}`),
		AuthTime:            start.Add(-time.Second),
		ACR:                 "2",
		AMR:                 []string{"pwd"},
		CreatedAt:           start,
		ExpiresAt:           start.Add(time.Minute),
	}
}

func refresh(id, family string) store.RefreshToken {
	return store.RefreshToken{
		ID:        id,
		FamilyID:  family,
		ClientID:  "portal",
		CitizenID: "cit-1",
		SessionID: "sess-1",
		Scopes:    []string{"openid", "offline_access"},
		Claims:    json.RawMessage(`{"userinfo":{"address":null}}`),
		AuthTime:  start.Add(-time.Second),
		ACR:       "2",
		AMR:       []string{"pwd"},
		CreatedAt: start,
		ExpiresAt: start.Add(24 * time.Hour),
	}
}

// ---- clients

func testClientRoundTrip(e *env) {
	c := client("portal")
	must(e.t, "upsert", e.s.UpsertClient(e.ctx, c))
	got, err := e.s.GetClient(e.ctx, "portal")
	must(e.t, "get", err)
	equal(e.t, "client", got, c)
}

func testClientUpsertReplaces(e *env) {
	must(e.t, "upsert", e.s.UpsertClient(e.ctx, client("portal")))
	c := store.Client{ID: "portal", Name: "Cổng mới", AuthMethod: "none", SubjectType: "public",
		IDTokenAlg: "RS256", RedirectURIs: []string{"https://new.example.vn/cb"}, UpdatedAt: start.Add(time.Hour)}
	must(e.t, "upsert again", e.s.UpsertClient(e.ctx, c))
	got, err := e.s.GetClient(e.ctx, "portal")
	must(e.t, "get", err)
	equal(e.t, "client", got, c)
}

func testClientNotFound(e *env) {
	_, err := e.s.GetClient(e.ctx, "nobody")
	wantErr(e.t, "get unknown", err, store.ErrNotFound)
}

func testClientList(e *env) {
	got, err := e.s.ListClients(e.ctx)
	must(e.t, "list empty", err)
	if len(got) != 0 {
		e.t.Fatalf("empty store lists %d clients", len(got))
	}
	b, a := client("b-client"), client("a-client")
	must(e.t, "upsert b", e.s.UpsertClient(e.ctx, b))
	must(e.t, "upsert a", e.s.UpsertClient(e.ctx, a))
	got, err = e.s.ListClients(e.ctx)
	must(e.t, "list", err)
	equal(e.t, "clients", got, []store.Client{a, b})
}

// ---- citizens

func testCitizenRoundTrip(e *env) {
	c := citizen("sub-1")
	got, err := e.s.UpsertCitizen(e.ctx, c)
	must(e.t, "upsert", err)
	equal(e.t, "upsert result", got, c)
	got, err = e.s.GetCitizen(e.ctx, c.ID)
	must(e.t, "get", err)
	equal(e.t, "citizen", got, c)
	if string(got.Attributes["name"].Value) != `"Nguyễn Văn Lĩnh"` {
		e.t.Errorf("name = %s", got.Attributes["name"].Value)
	}
}

func testCitizenMerge(e *env) {
	first := citizen("sub-1")
	_, err := e.s.UpsertCitizen(e.ctx, first)
	must(e.t, "upsert", err)

	later := start.Add(time.Hour)
	second := store.Citizen{
		ID:      "another-id", // ignored: the stored ID stays
		Issuer:  first.Issuer,
		Subject: first.Subject,
		CCCD:    "079203004567",
		Attributes: map[string]store.Attribute{
			"name":      {Value: json.RawMessage(`"Lê Công Hảo"`), Source: "https://eid2.example.vn", Level: 2, VerifiedAt: later.In(ict)},
			"birthdate": attr(`"1990-02-03"`, 2),
		},
		CreatedAt: later, // ignored: the stored CreatedAt stays
		UpdatedAt: later,
	}
	want := first
	want.CCCD = second.CCCD
	want.UpdatedAt = later
	want.Attributes = map[string]store.Attribute{
		"name":         {Value: json.RawMessage(`"Lê Công Hảo"`), Source: "https://eid2.example.vn", Level: 2, VerifiedAt: later},
		"birthdate":    attr(`"1990-02-03"`, 2),
		"family_name":  first.Attributes["family_name"],
		"given_name":   first.Attributes["given_name"],
		"address":      first.Attributes["address"],
		"phone_number": first.Attributes["phone_number"],
	}
	got, err := e.s.UpsertCitizen(e.ctx, second)
	must(e.t, "upsert again", err)
	equal(e.t, "upsert result", got, want)
	got, err = e.s.GetCitizen(e.ctx, first.ID)
	must(e.t, "get", err)
	equal(e.t, "merged citizen", got, want)

	// No attributes and no CCCD given: all kept (an eID that omits the number must not
	// erase it).
	third := store.Citizen{Issuer: first.Issuer, Subject: first.Subject, UpdatedAt: later}
	got, err = e.s.UpsertCitizen(e.ctx, third)
	must(e.t, "upsert without attributes", err)
	equal(e.t, "after empty upsert", got, want)
}

// testCitizenVerification: what the eID stated about each attribute comes back as given,
// times in UTC, and a later login's statement replaces the earlier one (a phone the eID
// verified once and not the next time is no longer verified).
func testCitizenVerification(e *env) {
	c := citizen("sub-ida")
	a := c.Attributes["name"]
	a.EIDUpdatedAt = a.EIDUpdatedAt.In(ict)
	a.VerifiedAt = a.VerifiedAt.In(ict)
	c.Attributes["name"] = a
	got, err := e.s.UpsertCitizen(e.ctx, c)
	must(e.t, "upsert", err)
	got, err = e.s.GetCitizen(e.ctx, got.ID)
	must(e.t, "get", err)
	name := got.Attributes["name"]
	if !name.Verified || name.ACR != "urn:vn:eid:loa:2" || len(name.AMR) != 2 || name.AMR[1] != "face" {
		e.t.Errorf("name = %+v, want verified with the eID's acr and amr", name)
	}
	if !name.EIDUpdatedAt.Equal(start.Add(-48*time.Hour)) || name.EIDUpdatedAt.Location() != time.UTC {
		e.t.Errorf("eid updated_at = %v, want %v in UTC", name.EIDUpdatedAt, start.Add(-48*time.Hour))
	}
	if got.Attributes["phone_number"].Verified {
		e.t.Error("phone stated unverified came back verified")
	}
	if !got.Attributes["given_name"].EIDUpdatedAt.IsZero() || got.Attributes["given_name"].ACR != "" {
		e.t.Errorf("given_name gained fields it was stored without: %+v", got.Attributes["given_name"])
	}
	name.Verified = false
	_, err = e.s.UpsertCitizen(e.ctx, store.Citizen{Issuer: c.Issuer, Subject: c.Subject,
		Attributes: map[string]store.Attribute{"name": name}})
	must(e.t, "upsert again", err)
	got, err = e.s.GetCitizen(e.ctx, got.ID)
	must(e.t, "get again", err)
	if got.Attributes["name"].Verified {
		e.t.Error("a later unverified statement did not replace the verified one")
	}
}

func testCitizenKey(e *env) {
	a := citizen("same-sub")
	b := citizen("same-sub")
	b.ID, b.Issuer = "cit-other-issuer", "https://other-eid.example.vn"
	_, err := e.s.UpsertCitizen(e.ctx, a)
	must(e.t, "upsert a", err)
	_, err = e.s.UpsertCitizen(e.ctx, b)
	must(e.t, "upsert b", err)
	for _, c := range []store.Citizen{a, b} {
		got, err := e.s.GetCitizen(e.ctx, c.ID)
		must(e.t, "get", err)
		equal(e.t, "citizen "+c.ID, got, c)
	}
}

func testCitizenNewID(e *env) {
	c := citizen("sub-new")
	c.ID, c.CreatedAt, c.UpdatedAt = "", time.Time{}, time.Time{}
	got, err := e.s.UpsertCitizen(e.ctx, c)
	must(e.t, "upsert", err)
	if got.ID == "" {
		e.t.Fatal("new citizen without ID got none")
	}
	if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
		e.t.Errorf("zero times not filled: created %v updated %v", got.CreatedAt, got.UpdatedAt)
	}
	stored, err := e.s.GetCitizen(e.ctx, got.ID)
	must(e.t, "get", err)
	equal(e.t, "stored", stored, got)
}

func testCitizenNotFound(e *env) {
	_, err := e.s.GetCitizen(e.ctx, "nobody")
	wantErr(e.t, "get unknown", err, store.ErrNotFound)
}

// ---- sessions

func testSessionRoundTrip(e *env) {
	s := session("sess-1")
	in := s
	in.AuthTime, in.CreatedAt, in.ExpiresAt = s.AuthTime.In(ict), s.CreatedAt.In(ict), s.ExpiresAt.In(ict)
	must(e.t, "create", e.s.CreateSession(e.ctx, in))
	got, err := e.s.GetSession(e.ctx, s.ID)
	must(e.t, "get", err)
	equal(e.t, "session (UTC)", got, s)
	_, err = e.s.GetSession(e.ctx, "nobody")
	wantErr(e.t, "get unknown", err, store.ErrNotFound)
}

func testSessionExpiry(e *env) {
	s := session("sess-1")
	must(e.t, "create", e.s.CreateSession(e.ctx, s))
	e.clock.Set(s.ExpiresAt.Add(-time.Millisecond))
	_, err := e.s.GetSession(e.ctx, s.ID)
	must(e.t, "get just before expiry", err)
	e.clock.Set(s.ExpiresAt)
	_, err = e.s.GetSession(e.ctx, s.ID)
	wantErr(e.t, "get at expiry", err, store.ErrNotFound)
}

func testSessionDelete(e *env) {
	must(e.t, "create", e.s.CreateSession(e.ctx, session("sess-1")))
	must(e.t, "create other", e.s.CreateSession(e.ctx, session("sess-2")))
	must(e.t, "delete", e.s.DeleteSession(e.ctx, "sess-1"))
	_, err := e.s.GetSession(e.ctx, "sess-1")
	wantErr(e.t, "get deleted", err, store.ErrNotFound)
	_, err = e.s.GetSession(e.ctx, "sess-2")
	must(e.t, "get other", err)
}

// ---- auth requests

func testAuthRequestRoundTrip(e *env) {
	r := authRequest("ar-1", "up-state-1")
	must(e.t, "create", e.s.CreateAuthRequest(e.ctx, r))
	got, err := e.s.GetAuthRequest(e.ctx, r.ID)
	must(e.t, "get", err)
	equal(e.t, "auth request", got, r)
	got, err = e.s.GetAuthRequestByUpstreamState(e.ctx, "up-state-1")
	must(e.t, "get by upstream state", err)
	equal(e.t, "auth request by upstream state", got, r)

	// Minimal request: empty lists and raw JSON stay empty.
	min := store.AuthRequest{ID: "ar-2", ClientID: "portal", MaxAge: -1, CreatedAt: start, ExpiresAt: start.Add(time.Minute)}
	must(e.t, "create minimal", e.s.CreateAuthRequest(e.ctx, min))
	got, err = e.s.GetAuthRequest(e.ctx, min.ID)
	must(e.t, "get minimal", err)
	equal(e.t, "minimal auth request", got, min)

	_, err = e.s.GetAuthRequest(e.ctx, "nobody")
	wantErr(e.t, "get unknown", err, store.ErrNotFound)
	_, err = e.s.GetAuthRequestByUpstreamState(e.ctx, "nobody")
	wantErr(e.t, "get by unknown upstream state", err, store.ErrNotFound)
}

func testAuthRequestUpstreamUnique(e *env) {
	must(e.t, "create", e.s.CreateAuthRequest(e.ctx, authRequest("ar-1", "up-1")))
	err := e.s.CreateAuthRequest(e.ctx, authRequest("ar-2", "up-1"))
	wantErr(e.t, "create with taken upstream state", err, store.ErrConflict)
	// Empty upstream states are not unique, and are not found by lookup.
	must(e.t, "create empty a", e.s.CreateAuthRequest(e.ctx, authRequest("ar-3", "")))
	must(e.t, "create empty b", e.s.CreateAuthRequest(e.ctx, authRequest("ar-4", "")))
	_, err = e.s.GetAuthRequestByUpstreamState(e.ctx, "")
	wantErr(e.t, "get by empty upstream state", err, store.ErrNotFound)
}

func testAuthRequestExpiry(e *env) {
	r := authRequest("ar-1", "up-1")
	must(e.t, "create", e.s.CreateAuthRequest(e.ctx, r))
	e.clock.Set(r.ExpiresAt)
	_, err := e.s.GetAuthRequest(e.ctx, r.ID)
	wantErr(e.t, "get expired", err, store.ErrNotFound)
	_, err = e.s.GetAuthRequestByUpstreamState(e.ctx, r.UpstreamState)
	wantErr(e.t, "get expired by upstream state", err, store.ErrNotFound)
	_, err = e.s.UpdateAuthRequest(e.ctx, r.ID, func(a store.AuthRequest) (store.AuthRequest, error) {
		e.t.Error("fn called for an expired request")
		return a, nil
	})
	wantErr(e.t, "update expired", err, store.ErrNotFound)
}

func testAuthRequestUpdate(e *env) {
	r := authRequest("ar-1", "")
	must(e.t, "create", e.s.CreateAuthRequest(e.ctx, r))
	want := r
	want.UpstreamState, want.UpstreamNonce, want.UpstreamVerifier = "up-new", "n2", "v2"
	want.SessionID, want.CSRFToken = "sess-9", "csrf-9"
	want.Scopes = []string{"openid"}
	want.ExpiresAt = start.Add(20 * time.Minute)
	got, err := e.s.UpdateAuthRequest(e.ctx, r.ID, func(old store.AuthRequest) (store.AuthRequest, error) {
		equal(e.t, "fn input", old, r)
		n := want
		n.ExpiresAt = want.ExpiresAt.In(ict)
		return n, nil
	})
	must(e.t, "update", err)
	equal(e.t, "update result", got, want)
	got, err = e.s.GetAuthRequest(e.ctx, r.ID)
	must(e.t, "get", err)
	equal(e.t, "updated", got, want)
	got, err = e.s.GetAuthRequestByUpstreamState(e.ctx, "up-new")
	must(e.t, "get by new upstream state", err)
	equal(e.t, "updated by upstream state", got, want)

	// Clearing the upstream state frees it.
	_, err = e.s.UpdateAuthRequest(e.ctx, r.ID, func(a store.AuthRequest) (store.AuthRequest, error) {
		a.UpstreamState = ""
		return a, nil
	})
	must(e.t, "clear upstream state", err)
	_, err = e.s.GetAuthRequestByUpstreamState(e.ctx, "up-new")
	wantErr(e.t, "get by cleared upstream state", err, store.ErrNotFound)
	must(e.t, "reuse freed upstream state", e.s.CreateAuthRequest(e.ctx, authRequest("ar-2", "up-new")))
}

func testAuthRequestUpdateFnError(e *env) {
	r := authRequest("ar-1", "up-1")
	must(e.t, "create", e.s.CreateAuthRequest(e.ctx, r))
	boom := errors.New("boom")
	_, err := e.s.UpdateAuthRequest(e.ctx, r.ID, func(a store.AuthRequest) (store.AuthRequest, error) {
		a.SessionID = "should-not-stick"
		return a, fmt.Errorf("wrapped: %w", boom)
	})
	wantErr(e.t, "update with failing fn", err, boom)
	got, err := e.s.GetAuthRequest(e.ctx, r.ID)
	must(e.t, "get", err)
	equal(e.t, "unchanged", got, r)
}

func testAuthRequestUpdateNotFound(e *env) {
	_, err := e.s.UpdateAuthRequest(e.ctx, "nobody", func(a store.AuthRequest) (store.AuthRequest, error) {
		e.t.Error("fn called for an unknown request")
		return a, nil
	})
	wantErr(e.t, "update unknown", err, store.ErrNotFound)
}

func testAuthRequestUpdateConflict(e *env) {
	must(e.t, "create 1", e.s.CreateAuthRequest(e.ctx, authRequest("ar-1", "up-1")))
	r2 := authRequest("ar-2", "up-2")
	must(e.t, "create 2", e.s.CreateAuthRequest(e.ctx, r2))
	_, err := e.s.UpdateAuthRequest(e.ctx, "ar-2", func(a store.AuthRequest) (store.AuthRequest, error) {
		a.UpstreamState = "up-1"
		return a, nil
	})
	wantErr(e.t, "update to taken upstream state", err, store.ErrConflict)
	got, err := e.s.GetAuthRequest(e.ctx, "ar-2")
	must(e.t, "get", err)
	equal(e.t, "unchanged", got, r2)
}

func testAuthRequestDelete(e *env) {
	must(e.t, "create", e.s.CreateAuthRequest(e.ctx, authRequest("ar-1", "up-1")))
	must(e.t, "delete", e.s.DeleteAuthRequest(e.ctx, "ar-1"))
	_, err := e.s.GetAuthRequest(e.ctx, "ar-1")
	wantErr(e.t, "get deleted", err, store.ErrNotFound)
	_, err = e.s.GetAuthRequestByUpstreamState(e.ctx, "up-1")
	wantErr(e.t, "get deleted by upstream state", err, store.ErrNotFound)
	wantErr(e.t, "delete again", e.s.DeleteAuthRequest(e.ctx, "ar-1"), store.ErrNotFound)
}

// ---- pushed authorization requests

// pushed is a validated request as /par stores it: no upstream state yet.
func pushed() store.AuthRequest {
	r := authRequest("ar-pushed", "")
	r.UpstreamNonce, r.UpstreamVerifier, r.SessionID = "", "", ""
	// Bytes as the client sent them: whitespace and characters JSON would escape.
	r.Claims = json.RawMessage(`{ "userinfo": {"name": {"essential": true}, "x<&>": null} }`)
	r.CreatedAt, r.ExpiresAt = start.In(ict), start.Add(10*time.Minute).In(ict)
	return r
}

func testPushedConsumeOnce(e *env) {
	r := pushed()
	must(e.t, "create", e.s.CreatePushedRequest(e.ctx, "pr-1", r, start.Add(time.Minute)))
	wantErr(e.t, "create taken id", e.s.CreatePushedRequest(e.ctx, "pr-1", r, start.Add(time.Minute)), store.ErrConflict)
	got, err := e.s.ConsumePushedRequest(e.ctx, "pr-1", "portal")
	must(e.t, "consume", err)
	want := r
	want.CreatedAt, want.ExpiresAt = start, start.Add(10*time.Minute)
	equal(e.t, "consumed", got, want)
	if string(got.Claims) != string(r.Claims) {
		e.t.Errorf("claims bytes changed: %s", got.Claims)
	}
	_, err = e.s.ConsumePushedRequest(e.ctx, "pr-1", "portal")
	wantErr(e.t, "consume again", err, store.ErrNotFound)
	_, err = e.s.ConsumePushedRequest(e.ctx, "nobody", "portal")
	wantErr(e.t, "consume unknown", err, store.ErrNotFound)
	// An empty claims request stays empty.
	r.Claims = nil
	must(e.t, "create without claims", e.s.CreatePushedRequest(e.ctx, "pr-2", r, start.Add(time.Minute)))
	got, err = e.s.ConsumePushedRequest(e.ctx, "pr-2", "portal")
	must(e.t, "consume without claims", err)
	if got.Claims != nil {
		e.t.Errorf("claims = %q, want nil", got.Claims)
	}
}

func testPushedExpiry(e *env) {
	must(e.t, "create", e.s.CreatePushedRequest(e.ctx, "pr-1", pushed(), start.Add(time.Minute)))
	must(e.t, "create 2", e.s.CreatePushedRequest(e.ctx, "pr-2", pushed(), start.Add(2*time.Minute)))
	e.clock.Set(start.Add(time.Minute))
	_, err := e.s.ConsumePushedRequest(e.ctx, "pr-1", "portal")
	wantErr(e.t, "consume expired", err, store.ErrNotFound)
	// Creating another purges the expired ones but keeps the live ones.
	must(e.t, "create 3", e.s.CreatePushedRequest(e.ctx, "pr-3", pushed(), start.Add(3*time.Minute)))
	_, err = e.s.ConsumePushedRequest(e.ctx, "pr-2", "portal")
	must(e.t, "consume live", err)
}

func testPushedOtherClient(e *env) {
	must(e.t, "create", e.s.CreatePushedRequest(e.ctx, "pr-1", pushed(), start.Add(time.Minute)))
	_, err := e.s.ConsumePushedRequest(e.ctx, "pr-1", "other")
	wantErr(e.t, "consume as another client", err, store.ErrNotFound)
	_, err = e.s.ConsumePushedRequest(e.ctx, "pr-1", "portal")
	must(e.t, "consume as the pushing client", err)
}

// ---- auth codes

func testAuthCodeConsumeOnce(e *env) {
	c := authCode("code-1")
	must(e.t, "create", e.s.CreateAuthCode(e.ctx, c))
	got, err := e.s.ConsumeAuthCode(e.ctx, c.ID)
	must(e.t, "consume", err)
	equal(e.t, "consumed", got, c)
	got, err = e.s.ConsumeAuthCode(e.ctx, c.ID)
	wantErr(e.t, "consume again", err, store.ErrAlreadyUsed)
	equal(e.t, "record with ErrAlreadyUsed", got, c)
}

func testAuthCodeNotFound(e *env) {
	_, err := e.s.ConsumeAuthCode(e.ctx, "nobody")
	wantErr(e.t, "consume unknown", err, store.ErrNotFound)
	c := authCode("code-1")
	must(e.t, "create", e.s.CreateAuthCode(e.ctx, c))
	used := authCode("code-2")
	must(e.t, "create used", e.s.CreateAuthCode(e.ctx, used))
	_, err = e.s.ConsumeAuthCode(e.ctx, used.ID)
	must(e.t, "consume", err)
	e.clock.Set(c.ExpiresAt)
	_, err = e.s.ConsumeAuthCode(e.ctx, c.ID)
	wantErr(e.t, "consume expired", err, store.ErrNotFound)
	_, err = e.s.ConsumeAuthCode(e.ctx, used.ID)
	wantErr(e.t, "consume used and expired", err, store.ErrNotFound)
}

// ---- refresh tokens

func testRefreshRoundTrip(e *env) {
	r := refresh("rt-1", "fam-1")
	must(e.t, "create", e.s.CreateRefreshToken(e.ctx, r))
	got, err := e.s.GetRefreshToken(e.ctx, r.ID)
	must(e.t, "get", err)
	equal(e.t, "refresh token", got, r)
	_, err = e.s.GetRefreshToken(e.ctx, "nobody")
	wantErr(e.t, "get unknown", err, store.ErrNotFound)
}

// rotationPair stores a live token and returns it with a successor made a minute later,
// when the clock now is.
func rotationPair(e *env) (old, next store.RefreshToken) {
	old = refresh("rt-1", "fam-1")
	must(e.t, "create", e.s.CreateRefreshToken(e.ctx, old))
	e.clock.Advance(time.Minute)
	next = refresh("rt-2", "fam-1")
	next.CreatedAt = start.Add(time.Minute)
	return old, next
}

func testRefreshRotateOnce(e *env) {
	old, next := rotationPair(e)
	// What minting stores rides in the rotation's transaction.
	minted := store.Minted{Subject: &store.ClientSubject{ClientID: "portal", Subject: "sub-rotate", CitizenID: "cit-1", At: start},
		Release: &store.Release{CitizenID: "cit-1", ClientID: "portal", Claims: []string{"name"}, Via: "id_token", At: start}}
	must(e.t, "rotate", rotate(e, old.ID, next, minted))
	who, err := e.s.SubjectCitizen(e.ctx, "portal", "sub-rotate")
	must(e.t, "subject stored with the rotation", err)
	equal(e.t, "subject's citizen", who, "cit-1")
	rels, err := e.s.ListReleases(e.ctx, "cit-1")
	must(e.t, "releases", err)
	equal(e.t, "releases stored with the rotation", len(rels), 1)

	got, err := e.s.GetRefreshToken(e.ctx, old.ID)
	must(e.t, "get old", err)
	want := old
	want.UsedAt = next.CreatedAt
	want.SuccessorID = next.ID
	equal(e.t, "old after rotation", got, want)
	got, err = e.s.GetRefreshToken(e.ctx, next.ID)
	must(e.t, "get next", err)
	equal(e.t, "next", got, next)

	again := refresh("rt-3", "fam-1")
	err = rotate(e, old.ID, again, store.Minted{Subject: &store.ClientSubject{
		ClientID: "portal", Subject: "sub-failed-rotation", CitizenID: "cit-1", At: start}})
	wantErr(e.t, "rotate used", err, store.ErrAlreadyUsed)
	_, err = e.s.GetRefreshToken(e.ctx, again.ID)
	wantErr(e.t, "token from a failed rotation", err, store.ErrNotFound)
	_, err = e.s.SubjectCitizen(e.ctx, "portal", "sub-failed-rotation")
	wantErr(e.t, "subject from a failed rotation", err, store.ErrNotFound)
	got, err = e.s.GetRefreshToken(e.ctx, old.ID)
	must(e.t, "get old again", err)
	equal(e.t, "old after failed rotation", got, want)
}

func testRefreshRotateNotFound(e *env) {
	err := rotate(e, "nobody", refresh("rt-2", "fam-1"))
	wantErr(e.t, "rotate unknown", err, store.ErrNotFound)
	_, err = e.s.GetRefreshToken(e.ctx, "rt-2")
	wantErr(e.t, "token from a failed rotation", err, store.ErrNotFound)
}

// rotate spends oldID for next, storing what m holds, as a refresh does whose decision
// is to rotate.
func rotate(e *env, oldID string, next store.RefreshToken, m ...store.Minted) error {
	return e.s.RotateRefreshTokenWith(e.ctx, oldID, func(store.RefreshToken, bool, func() (store.Citizen, error)) (store.RefreshToken, store.Minted, error) {
		if len(m) == 0 {
			return next, store.Minted{}, nil
		}
		return next, m[0], nil
	})
}

// decision records what RotateRefreshTokenWith gave decide, and answers with next and m,
// or err.
type decision struct {
	calls int
	old   store.RefreshToken
	live  bool
	next  store.RefreshToken
	m     store.Minted
	err   error
	// the token's citizen, as read in the transaction
	cit    store.Citizen
	citErr error
}

func (d *decision) decide(old store.RefreshToken, live bool, citizen func() (store.Citizen, error)) (store.RefreshToken, store.Minted, error) {
	d.calls++
	d.old, d.live = old, live
	d.cit, d.citErr = citizen()
	return d.next, d.m, d.err
}

func testRefreshRotateWith(e *env) {
	old, next := rotationPair(e)
	minted := store.Minted{Subject: &store.ClientSubject{ClientID: "portal", Subject: "sub-with", CitizenID: "cit-1", At: start}}

	// decide's error is returned as is and stores nothing, not even the claim.
	refused := errors.New("refused by decide")
	d := &decision{next: next, m: minted, err: refused}
	err := e.s.RotateRefreshTokenWith(e.ctx, old.ID, d.decide)
	if err != refused {
		e.t.Fatalf("rotate refused: got %v, want decide's error as is", err)
	}
	equal(e.t, "token decide saw", d.old, old)
	wantErr(e.t, "the token's citizen before there is one", d.citErr, store.ErrNotFound)
	// The token's citizen, read in the transaction.
	cit := citizen("1")
	if _, err := e.s.UpsertCitizen(e.ctx, cit); err != nil {
		e.t.Fatal(err)
	}
	got, err := e.s.GetRefreshToken(e.ctx, old.ID)
	must(e.t, "get old after refusal", err)
	equal(e.t, "old after refusal", got, old)
	_, err = e.s.GetRefreshToken(e.ctx, next.ID)
	wantErr(e.t, "next after refusal", err, store.ErrNotFound)

	d = &decision{next: next, m: minted}
	must(e.t, "rotate", e.s.RotateRefreshTokenWith(e.ctx, old.ID, d.decide))
	equal(e.t, "decide called", d.calls, 1)
	must(e.t, "the token's citizen", d.citErr)
	equal(e.t, "the token's citizen", d.cit, cit)
	want := old
	want.UsedAt, want.SuccessorID = next.CreatedAt, next.ID
	got, err = e.s.GetRefreshToken(e.ctx, old.ID)
	must(e.t, "get old", err)
	equal(e.t, "old after rotation", got, want)
	got, err = e.s.GetRefreshToken(e.ctx, next.ID)
	must(e.t, "get next", err)
	equal(e.t, "next", got, next)
	who, err := e.s.SubjectCitizen(e.ctx, "portal", "sub-with")
	must(e.t, "subject stored with the rotation", err)
	equal(e.t, "subject's citizen", who, "cit-1")

	// A spent token is read as it is; rotating it again is ErrAlreadyUsed and stores nothing.
	again := refresh("rt-3", "fam-1")
	d = &decision{next: again}
	err = e.s.RotateRefreshTokenWith(e.ctx, old.ID, d.decide)
	wantErr(e.t, "rotate spent", err, store.ErrAlreadyUsed)
	equal(e.t, "spent token decide saw", d.old, want)
	_, err = e.s.GetRefreshToken(e.ctx, again.ID)
	wantErr(e.t, "token from a failed rotation", err, store.ErrNotFound)

	// Unknown and expired tokens are ErrNotFound without a decision.
	d = &decision{next: again}
	err = e.s.RotateRefreshTokenWith(e.ctx, "nobody", d.decide)
	wantErr(e.t, "rotate unknown", err, store.ErrNotFound)
	e.clock.Set(next.ExpiresAt)
	err = e.s.RotateRefreshTokenWith(e.ctx, next.ID, d.decide)
	wantErr(e.t, "rotate expired", err, store.ErrNotFound)
	equal(e.t, "decide called for unknown or expired", d.calls, 0)
}

// testRefreshRotateWithSession: decide learns whether the token's session is live as
// GetSession would find it: stored and not expired.
func testRefreshRotateWithSession(e *env) {
	sess := session("sess-1")
	must(e.t, "create session", e.s.CreateSession(e.ctx, sess))
	r := refresh("rt-1", "fam-1")
	must(e.t, "create", e.s.CreateRefreshToken(e.ctx, r))
	orphan := refresh("rt-orphan", "fam-2")
	orphan.SessionID = "sess-gone"
	must(e.t, "create orphan", e.s.CreateRefreshToken(e.ctx, orphan))
	refused := errors.New("only looking")
	for _, tc := range []struct {
		name string
		id   string
		at   time.Time
		live bool
	}{
		{"live session", r.ID, start, true},
		{"no such session", orphan.ID, start, false},
		{"just before the session expires", r.ID, sess.ExpiresAt.Add(-time.Millisecond), true},
		{"session expired", r.ID, sess.ExpiresAt, false},
	} {
		e.clock.Set(tc.at)
		d := &decision{err: refused}
		if err := e.s.RotateRefreshTokenWith(e.ctx, tc.id, d.decide); err != refused {
			e.t.Fatalf("%s: got %v, want decide's error", tc.name, err)
		}
		equal(e.t, tc.name, d.live, tc.live)
	}
	must(e.t, "delete session", e.s.DeleteSession(e.ctx, sess.ID))
	e.clock.Set(start)
	d := &decision{err: refused}
	if err := e.s.RotateRefreshTokenWith(e.ctx, r.ID, d.decide); err != refused {
		e.t.Fatalf("session deleted: got %v, want decide's error", err)
	}
	equal(e.t, "session deleted", d.live, false)
}

func testRefreshExpiry(e *env) {
	r := refresh("rt-1", "fam-1")
	must(e.t, "create", e.s.CreateRefreshToken(e.ctx, r))
	e.clock.Set(r.ExpiresAt)
	_, err := e.s.GetRefreshToken(e.ctx, r.ID)
	wantErr(e.t, "get expired", err, store.ErrNotFound)
	err = rotate(e, r.ID, refresh("rt-2", "fam-1"))
	wantErr(e.t, "rotate expired", err, store.ErrNotFound)
	_, err = e.s.GetRefreshToken(e.ctx, "rt-2")
	wantErr(e.t, "token from a failed rotation", err, store.ErrNotFound)
}

func testRefreshRevokeFamily(e *env) {
	a := refresh("rt-1", "fam-1")
	must(e.t, "create", e.s.CreateRefreshToken(e.ctx, a))
	b := refresh("rt-2", "fam-1")
	b.CreatedAt = start.Add(time.Second)
	must(e.t, "rotate", rotate(e, a.ID, b))
	other := refresh("rt-other", "fam-2")
	must(e.t, "create other family", e.s.CreateRefreshToken(e.ctx, other))

	must(e.t, "revoke", e.s.RevokeRefreshFamily(e.ctx, "fam-1"))
	must(e.t, "revoke again", e.s.RevokeRefreshFamily(e.ctx, "fam-1"))
	must(e.t, "revoke unknown family", e.s.RevokeRefreshFamily(e.ctx, "fam-none"))
	for _, id := range []string{a.ID, b.ID} {
		got, err := e.s.GetRefreshToken(e.ctx, id)
		must(e.t, "get "+id, err)
		if !got.Revoked {
			e.t.Errorf("%s not revoked", id)
		}
	}
	err := rotate(e, b.ID, refresh("rt-3", "fam-1"))
	wantErr(e.t, "rotate revoked", err, store.ErrNotFound)
	_, err = e.s.GetRefreshToken(e.ctx, "rt-3")
	wantErr(e.t, "token from a failed rotation", err, store.ErrNotFound)

	got, err := e.s.GetRefreshToken(e.ctx, other.ID)
	must(e.t, "get other family", err)
	equal(e.t, "other family untouched", got, other)
}

func testRefreshRotateAgain(e *env) {
	old := refresh("rt-1", "fam-1")
	must(e.t, "create", e.s.CreateRefreshToken(e.ctx, old))
	next := refresh("rt-2", "fam-1")
	next.CreatedAt = start.Add(time.Second)
	must(e.t, "rotate", rotate(e, old.ID, next))
	retry := refresh("rt-3", "fam-1")
	retry.CreatedAt = start.Add(2 * time.Second)
	must(e.t, "rotate again", e.s.RotateRefreshTokenAgain(e.ctx, old.ID, retry, store.Minted{Subject: &store.ClientSubject{
		ClientID: "portal", Subject: "sub-retry", CitizenID: "cit-1", At: start}}))
	who, err := e.s.SubjectCitizen(e.ctx, "portal", "sub-retry")
	must(e.t, "subject stored with the retry", err)
	equal(e.t, "subject's citizen", who, "cit-1")

	got, err := e.s.GetRefreshToken(e.ctx, old.ID)
	must(e.t, "get old", err)
	want := old
	want.UsedAt, want.SuccessorID = next.CreatedAt, retry.ID // UsedAt does not move
	equal(e.t, "old after retry", got, want)
	got, err = e.s.GetRefreshToken(e.ctx, next.ID)
	must(e.t, "get replaced successor", err)
	wantNext := next
	wantNext.Revoked = true
	equal(e.t, "replaced successor", got, wantNext)
	got, err = e.s.GetRefreshToken(e.ctx, retry.ID)
	must(e.t, "get new successor", err)
	equal(e.t, "new successor", got, retry)
	err = rotate(e, next.ID, refresh("rt-x", "fam-1"))
	wantErr(e.t, "rotate replaced successor", err, store.ErrNotFound)

	// A second retry replaces the second successor.
	again := refresh("rt-4", "fam-1")
	must(e.t, "rotate again twice", e.s.RotateRefreshTokenAgain(e.ctx, old.ID, again))
	got, err = e.s.GetRefreshToken(e.ctx, retry.ID)
	must(e.t, "get second successor", err)
	if !got.Revoked {
		e.t.Error("second successor not revoked by the second retry")
	}
	_, err = e.s.GetRefreshToken(e.ctx, "rt-x")
	wantErr(e.t, "token from a failed rotation", err, store.ErrNotFound)
}

func testRefreshRotateAgainMovedOn(e *env) {
	old := refresh("rt-1", "fam-1")
	must(e.t, "create", e.s.CreateRefreshToken(e.ctx, old))
	next := refresh("rt-2", "fam-1")
	must(e.t, "rotate", rotate(e, old.ID, next))
	must(e.t, "rotate successor", rotate(e, next.ID, refresh("rt-3", "fam-1")))
	err := e.s.RotateRefreshTokenAgain(e.ctx, old.ID, refresh("rt-4", "fam-1"))
	wantErr(e.t, "retry after the successor was used", err, store.ErrAlreadyUsed)
	_, err = e.s.GetRefreshToken(e.ctx, "rt-4")
	wantErr(e.t, "token from a failed retry", err, store.ErrNotFound)
	got, err := e.s.GetRefreshToken(e.ctx, old.ID)
	must(e.t, "get old", err)
	equal(e.t, "old's successor kept", got.SuccessorID, next.ID)
}

func testRefreshRotateAgainErrors(e *env) {
	err := e.s.RotateRefreshTokenAgain(e.ctx, "nobody", refresh("rt-9", "fam-1"))
	wantErr(e.t, "unknown", err, store.ErrNotFound)
	unused := refresh("rt-unused", "fam-1")
	must(e.t, "create unused", e.s.CreateRefreshToken(e.ctx, unused))
	err = e.s.RotateRefreshTokenAgain(e.ctx, unused.ID, refresh("rt-9", "fam-1"))
	wantErr(e.t, "never rotated", err, store.ErrConflict)

	old := refresh("rt-1", "fam-2")
	must(e.t, "create", e.s.CreateRefreshToken(e.ctx, old))
	must(e.t, "rotate", rotate(e, old.ID, refresh("rt-2", "fam-2")))
	must(e.t, "revoke", e.s.RevokeRefreshFamily(e.ctx, "fam-2"))
	err = e.s.RotateRefreshTokenAgain(e.ctx, old.ID, refresh("rt-9", "fam-2"))
	wantErr(e.t, "revoked", err, store.ErrNotFound)

	short := refresh("rt-s1", "fam-3")
	short.ExpiresAt = start.Add(time.Hour)
	must(e.t, "create short", e.s.CreateRefreshToken(e.ctx, short))
	must(e.t, "rotate short", rotate(e, short.ID, refresh("rt-s2", "fam-3")))
	e.clock.Set(short.ExpiresAt)
	err = e.s.RotateRefreshTokenAgain(e.ctx, short.ID, refresh("rt-9", "fam-3"))
	wantErr(e.t, "expired", err, store.ErrNotFound)
	_, err = e.s.GetRefreshToken(e.ctx, "rt-9")
	wantErr(e.t, "token from a failed retry", err, store.ErrNotFound)
}

// ---- revoked access tokens

func testRevokedTokens(e *env) {
	got, err := e.s.TokenRevoked(e.ctx, "jti-1")
	must(e.t, "unknown", err)
	equal(e.t, "unknown revoked", got, false)
	must(e.t, "revoke", e.s.RevokeToken(e.ctx, "jti-1", start.Add(time.Minute)))
	must(e.t, "revoke again", e.s.RevokeToken(e.ctx, "jti-1", start.Add(time.Minute)))
	got, err = e.s.TokenRevoked(e.ctx, "jti-1")
	must(e.t, "revoked", err)
	equal(e.t, "revoked", got, true)
	got, err = e.s.TokenRevoked(e.ctx, "jti-2")
	must(e.t, "other", err)
	equal(e.t, "other jti revoked", got, false)
	e.clock.Set(start.Add(time.Minute))
	got, err = e.s.TokenRevoked(e.ctx, "jti-1")
	must(e.t, "after expiry", err)
	equal(e.t, "revoked after its expiry", got, false)
	// An expired entry not yet collected is renewed by a new revocation.
	must(e.t, "revoke after expiry", e.s.RevokeToken(e.ctx, "jti-1", start.Add(2*time.Minute)))
	got, err = e.s.TokenRevoked(e.ctx, "jti-1")
	must(e.t, "renewed", err)
	equal(e.t, "renewed entry revoked", got, true)
}

// ---- consents

func testConsent(e *env) {
	_, err := e.s.GetConsent(e.ctx, "cit-1", "portal")
	wantErr(e.t, "get unknown", err, store.ErrNotFound)
	c := store.Consent{CitizenID: "cit-1", ClientID: "portal", Scopes: []string{"openid", "profile"}, GrantedAt: start}
	must(e.t, "upsert", e.s.UpsertConsent(e.ctx, c))
	other := store.Consent{CitizenID: "cit-1", ClientID: "other", Scopes: []string{"openid"}, GrantedAt: start}
	must(e.t, "upsert other client", e.s.UpsertConsent(e.ctx, other))
	got, err := e.s.GetConsent(e.ctx, "cit-1", "portal")
	must(e.t, "get", err)
	equal(e.t, "consent", got, c)

	// The consent's audit record is written with it, pending.
	audited, ok := e.s.(store.Audit)
	if !ok {
		e.t.Fatal("the store keeps no audit log: a consent's audit record has nowhere to go")
	}
	pending0, _, err := audited.PendingAudit(e.ctx)
	must(e.t, "pending before", err)
	c2 := store.Consent{CitizenID: "cit-1", ClientID: "portal", Scopes: []string{"openid", "cccd"}, GrantedAt: start.Add(time.Hour)}
	must(e.t, "upsert replaces", e.s.UpsertConsent(e.ctx, c2, store.AuditRecord{At: start, Kind: "consent",
		Actor: "citizen:cit-1", Details: json.RawMessage(`{"client":"portal"}`)}))
	pending, _, err := audited.PendingAudit(e.ctx)
	must(e.t, "pending after", err)
	equal(e.t, "pending audit records", pending, pending0+1)
	got, err = e.s.GetConsent(e.ctx, "cit-1", "portal")
	must(e.t, "get replaced", err)
	equal(e.t, "replaced consent", got, c2)
	got, err = e.s.GetConsent(e.ctx, "cit-1", "other")
	must(e.t, "get other", err)
	equal(e.t, "other consent", got, other)
}

// ---- releases

func testReleases(e *env) {
	got, err := e.s.ListReleases(e.ctx, "cit-1")
	must(e.t, "list empty", err)
	if len(got) != 0 {
		e.t.Fatalf("empty store lists %d releases", len(got))
	}
	r1 := store.Release{CitizenID: "cit-1", ClientID: "portal", Claims: []string{"name", "address"}, Via: "id_token", At: start}
	r2 := store.Release{CitizenID: "cit-1", ClientID: "portal", Claims: []string{"cccd"}, Via: "userinfo", At: start}
	r0 := store.Release{CitizenID: "cit-1", ClientID: "other", Claims: []string{"sub"}, Via: "id_token", At: start.Add(-time.Hour)}
	r3 := store.Release{CitizenID: "cit-1", ClientID: "portal", Claims: []string{"birthdate"}, Via: "userinfo", At: start.Add(time.Second)}
	else1 := store.Release{CitizenID: "cit-2", ClientID: "portal", Claims: []string{"name"}, Via: "id_token", At: start}
	for _, r := range []store.Release{r1, r2, r0, else1, r3} {
		must(e.t, "record", e.s.RecordRelease(e.ctx, r))
	}
	got, err = e.s.ListReleases(e.ctx, "cit-1")
	must(e.t, "list", err)
	// By time; releases in the same millisecond in the order recorded.
	equal(e.t, "releases", got, []store.Release{r0, r1, r2, r3})
}

// ---- subjects

func testSubjects(e *env) {
	_, err := e.s.SubjectCitizen(e.ctx, "portal", "sub-a")
	wantErr(e.t, "unknown subject", err, store.ErrNotFound)
	must(e.t, "record", e.s.RecordSubject(e.ctx, "portal", "sub-a", "cit-1", start))
	must(e.t, "record again", e.s.RecordSubject(e.ctx, "portal", "sub-a", "cit-1", start.Add(time.Hour)))
	must(e.t, "record other client", e.s.RecordSubject(e.ctx, "other", "sub-b", "cit-1", start))
	got, err := e.s.SubjectCitizen(e.ctx, "portal", "sub-a")
	must(e.t, "resolve", err)
	equal(e.t, "citizen", got, "cit-1")
	// A sub is known only to the client it was given to.
	_, err = e.s.SubjectCitizen(e.ctx, "other", "sub-a")
	wantErr(e.t, "sub of another client", err, store.ErrNotFound)
	_, err = e.s.SubjectCitizen(e.ctx, "portal", "sub-b")
	wantErr(e.t, "another client's sub", err, store.ErrNotFound)
}

// ---- token keys

func testTokenKeys(e *env) {
	key := func(id string, created time.Time) store.TokenKey {
		return store.TokenKey{ID: id, Alg: "ES256", Sealed: []byte{0, 1, 2, 0xff, byte(len(id))},
			PublicJWK: json.RawMessage(`{"kty":"EC","kid":"` + id + `","crv":"P-256","x":"AA","y":"BB"}`),
			CreatedAt: created, ActiveAt: created.Add(time.Hour)}
	}
	k1 := key("k1", start.Add(time.Hour))
	k2 := key("k2", start)
	k2.RetireAt = start.Add(90 * 24 * time.Hour)
	k3 := key("k0", start.Add(time.Hour)) // same CreatedAt as k1: ID breaks the tie
	k3.Alg = "RS256"
	for _, k := range []store.TokenKey{k1, k2, k3} {
		must(e.t, "create "+k.ID, e.s.CreateTokenKey(e.ctx, k))
	}
	dup := key("k1", start.Add(2*time.Hour))
	wantErr(e.t, "create taken ID", e.s.CreateTokenKey(e.ctx, dup), store.ErrConflict)
	got, err := e.s.ListTokenKeys(e.ctx)
	must(e.t, "list", err)
	equal(e.t, "token keys", got, []store.TokenKey{k2, k3, k1})
}

// ---- client assertions

func testAssertions(e *env) {
	exp := e.clock.Now().Add(5 * time.Minute)
	must(e.t, "first use", e.s.UseAssertion(e.ctx, "portal", "jti-1", exp))
	wantErr(e.t, "replay", e.s.UseAssertion(e.ctx, "portal", "jti-1", exp), store.ErrAlreadyUsed)
	must(e.t, "same jti, other client", e.s.UseAssertion(e.ctx, "other", "jti-1", exp))
	must(e.t, "other jti", e.s.UseAssertion(e.ctx, "portal", "jti-2", exp))
	e.clock.Advance(6 * time.Minute)
	// Past its expiry the assertion itself is refused by exp; the record may be reused.
	must(e.t, "after expiry", e.s.UseAssertion(e.ctx, "portal", "jti-1", e.clock.Now().Add(time.Minute)))
}

// ---- batched login writes

func testRecordLogin(e *env) {
	c := citizen("rec-sub")
	c.ID = "" // the store assigns it
	sess := session("sess-rec")
	sess.CitizenID = ""
	code := authCode("code-rec")
	code.CitizenID = ""
	got, err := e.s.RecordLogin(e.ctx, store.Login{Citizen: c, Session: sess, Code: &code})
	must(e.t, "record login", err)
	if got.ID == "" || got.Attributes["name"].Value == nil {
		e.t.Fatalf("stored citizen: %+v", got)
	}
	gs, err := e.s.GetSession(e.ctx, "sess-rec")
	must(e.t, "get session", err)
	if gs.CitizenID != got.ID {
		e.t.Fatalf("session citizen %q, want %q", gs.CitizenID, got.ID)
	}
	gc, err := e.s.ConsumeAuthCode(e.ctx, "code-rec")
	must(e.t, "consume recorded code", err)
	if gc.CitizenID != got.ID || gc.SessionID != "sess-rec" {
		e.t.Fatalf("code citizen/session %q/%q", gc.CitizenID, gc.SessionID)
	}

	// A second login of the same citizen without a code merges and keeps the ID.
	again, err := e.s.RecordLogin(e.ctx, store.Login{Citizen: store.Citizen{Issuer: c.Issuer, Subject: c.Subject}, Session: session("sess-rec-2")})
	must(e.t, "record second login", err)
	if again.ID != got.ID || again.CCCD != c.CCCD {
		e.t.Fatalf("second login changed the citizen: %+v", again)
	}

	// All or nothing: a taken session ID stores neither the citizen change nor the code.
	dup := authCode("code-dup")
	_, err = e.s.RecordLogin(e.ctx, store.Login{Citizen: citizen("rec-other"), Session: session("sess-rec"), Code: &dup})
	wantErr(e.t, "duplicate session", err, store.ErrConflict)
	_, err = e.s.ConsumeAuthCode(e.ctx, "code-dup")
	wantErr(e.t, "code of a failed login", err, store.ErrNotFound)
}

// A login whose transaction travelled in a cookie is single-use through its Once.
func testRecordLoginOnce(e *env) {
	once := &store.Once{Namespace: "motlan:upstream", Key: "state-1", ExpiresAt: e.clock.Now().Add(time.Minute)}
	first, err := e.s.RecordLogin(e.ctx, store.Login{Citizen: citizen("once-sub"), Session: session("sess-once-1"), Once: once})
	must(e.t, "first use", err)

	// A replay stores nothing: neither the session nor the code nor the citizen's change.
	code := authCode("code-once")
	changed := citizen("once-sub")
	changed.CCCD = "001099000000"
	_, err = e.s.RecordLogin(e.ctx, store.Login{Citizen: changed, Session: session("sess-once-2"), Code: &code, Once: once})
	wantErr(e.t, "replay", err, store.ErrAlreadyUsed)
	_, err = e.s.GetSession(e.ctx, "sess-once-2")
	wantErr(e.t, "session of a replay", err, store.ErrNotFound)
	_, err = e.s.ConsumeAuthCode(e.ctx, "code-once")
	wantErr(e.t, "code of a replay", err, store.ErrNotFound)
	got, err := e.s.GetCitizen(e.ctx, first.ID)
	must(e.t, "citizen", err)
	if got.CCCD == changed.CCCD {
		e.t.Errorf("a replayed login changed the citizen")
	}

	// It shares the assertions' single-use records, namespace for client.
	wantErr(e.t, "as an assertion", e.s.UseAssertion(e.ctx, once.Namespace, once.Key, once.ExpiresAt), store.ErrAlreadyUsed)
	// Another key of the namespace is free.
	_, err = e.s.RecordLogin(e.ctx, store.Login{Citizen: citizen("once-sub"), Session: session("sess-once-3"),
		Once: &store.Once{Namespace: once.Namespace, Key: "state-2", ExpiresAt: once.ExpiresAt}})
	must(e.t, "another key", err)

	// Once expired, the record no longer blocks (the transaction's own expiry is the
	// caller's check).
	e.clock.Advance(2 * time.Minute)
	once.ExpiresAt = e.clock.Now().Add(time.Minute)
	_, err = e.s.RecordLogin(e.ctx, store.Login{Citizen: citizen("once-sub"), Session: session("sess-once-4"), Once: once})
	must(e.t, "after expiry", err)
	// ... and the record that replaced it holds for its own lifetime.
	_, err = e.s.RecordLogin(e.ctx, store.Login{Citizen: citizen("once-sub"), Session: session("sess-once-5"), Once: once})
	wantErr(e.t, "replay after the replacement", err, store.ErrAlreadyUsed)
}

func testRedeemAuthCode(e *env) {
	cit, err := e.s.UpsertCitizen(e.ctx, citizen("redeem-sub"))
	must(e.t, "citizen", err)
	c := authCode("code-redeem")
	c.CitizenID = cit.ID
	must(e.t, "create", e.s.CreateAuthCode(e.ctx, c))
	rt := refresh("rt-redeem", "code-redeem")
	// Everything the token endpoint stores rides in the redemption's transaction: the
	// refresh token, the client's subject, the release and its pending audit record.
	subj := store.ClientSubject{ClientID: "portal", Subject: "sub-redeem", CitizenID: c.CitizenID, At: start}
	rel := store.Release{CitizenID: c.CitizenID, ClientID: "portal", Claims: []string{"name"}, Via: "id_token", At: start}
	audited, ok := e.s.(store.Audit)
	if !ok {
		e.t.Fatal("the store keeps no audit log: a redemption's audit records have nowhere to go")
	}
	pending0, _, err := audited.PendingAudit(e.ctx)
	must(e.t, "pending before", err)
	got, err := e.s.RedeemAuthCode(e.ctx, c.ID, func(ac store.AuthCode, citizen func() (store.Citizen, error)) (store.Redemption, error) {
		equal(e.t, "code seen by next", ac, c)
		cit, err := citizen()
		must(e.t, "citizen read in the redemption", err)
		equal(e.t, "the code's citizen", cit.ID, c.CitizenID)
		return store.Redemption{Refresh: &rt, Minted: store.Minted{Subject: &subj, Release: &rel, Audit: []store.AuditRecord{
			{At: start, Kind: "release", Actor: "citizen:" + c.CitizenID, Details: json.RawMessage(`{"client":"portal"}`)},
		}}}, nil
	})
	must(e.t, "redeem", err)
	equal(e.t, "redeemed code", got, c)
	stored, err := e.s.GetRefreshToken(e.ctx, "rt-redeem")
	must(e.t, "refresh token stored with the redemption", err)
	equal(e.t, "refresh token", stored, rt)
	who, err := e.s.SubjectCitizen(e.ctx, "portal", "sub-redeem")
	must(e.t, "subject stored with the redemption", err)
	equal(e.t, "subject's citizen", who, c.CitizenID)
	rels, err := e.s.ListReleases(e.ctx, c.CitizenID)
	must(e.t, "releases", err)
	if len(rels) != 1 || !rels[0].At.Equal(start) || rels[0].Via != "id_token" {
		e.t.Fatalf("releases after the redemption: %+v, want one via id_token", rels)
	}
	pending, _, err := audited.PendingAudit(e.ctx)
	must(e.t, "pending after", err)
	equal(e.t, "pending audit records", pending, pending0+1)

	got, err = e.s.RedeemAuthCode(e.ctx, c.ID, func(store.AuthCode, func() (store.Citizen, error)) (store.Redemption, error) {
		e.t.Fatal("next called for a used code")
		return store.Redemption{}, nil
	})
	wantErr(e.t, "redeem again", err, store.ErrAlreadyUsed)
	equal(e.t, "used code returned", got, c)
	_, err = e.s.RedeemAuthCode(e.ctx, "no-such-code", nil)
	wantErr(e.t, "unknown code", err, store.ErrNotFound)

	// next failing burns the code and stores nothing.
	c2 := authCode("code-burn")
	must(e.t, "create", e.s.CreateAuthCode(e.ctx, c2))
	boom := errors.New("pkce mismatch")
	rt2 := refresh("rt-burn", "code-burn")
	subj2 := store.ClientSubject{ClientID: "portal", Subject: "sub-burn", CitizenID: c2.CitizenID, At: start}
	_, err = e.s.RedeemAuthCode(e.ctx, c2.ID, func(store.AuthCode, func() (store.Citizen, error)) (store.Redemption, error) {
		return store.Redemption{Refresh: &rt2, Minted: store.Minted{Subject: &subj2}}, boom
	})
	wantErr(e.t, "next's error", err, boom)
	_, err = e.s.GetRefreshToken(e.ctx, "rt-burn")
	wantErr(e.t, "nothing stored", err, store.ErrNotFound)
	_, err = e.s.SubjectCitizen(e.ctx, "portal", "sub-burn")
	wantErr(e.t, "no subject stored", err, store.ErrNotFound)
	_, err = e.s.ConsumeAuthCode(e.ctx, c2.ID)
	wantErr(e.t, "burnt code", err, store.ErrAlreadyUsed)

	// A code whose citizen is not stored: next learns it from citizen(), and what it
	// returns is still stored.
	c4 := authCode("code-orphan")
	c4.CitizenID = "no-such-citizen"
	must(e.t, "create", e.s.CreateAuthCode(e.ctx, c4))
	rt4 := refresh("rt-orphan", "code-orphan")
	_, err = e.s.RedeemAuthCode(e.ctx, c4.ID, func(_ store.AuthCode, citizen func() (store.Citizen, error)) (store.Redemption, error) {
		_, err := citizen()
		wantErr(e.t, "citizen of an orphan code", err, store.ErrNotFound)
		return store.Redemption{Refresh: &rt4}, nil
	})
	must(e.t, "redeem orphan", err)
	_, err = e.s.GetRefreshToken(e.ctx, "rt-orphan")
	must(e.t, "refresh token of the orphan code", err)

	// Expired codes are not found.
	c3 := authCode("code-old")
	must(e.t, "create", e.s.CreateAuthCode(e.ctx, c3))
	e.clock.Set(c3.ExpiresAt.Add(time.Second))
	_, err = e.s.RedeemAuthCode(e.ctx, c3.ID, nil)
	wantErr(e.t, "expired", err, store.ErrNotFound)
}

// ---- clients of a session

func testSessionClients(e *env) {
	got, err := e.s.SessionClients(e.ctx, "sess-1")
	must(e.t, "empty", err)
	if len(got) != 0 {
		e.t.Fatalf("empty store lists clients %v", got)
	}
	// portal: a code and, from it, two refresh tokens (one revoked); shop: only a code,
	// consumed; bank: only a refresh token; other: a code of another session.
	c1 := authCode("code-portal")
	must(e.t, "code portal", e.s.CreateAuthCode(e.ctx, c1))
	c2 := authCode("code-shop")
	c2.ClientID = "shop"
	must(e.t, "code shop", e.s.CreateAuthCode(e.ctx, c2))
	_, err = e.s.ConsumeAuthCode(e.ctx, c2.ID)
	must(e.t, "consume shop", err)
	c3 := authCode("code-other")
	c3.ClientID, c3.SessionID = "other", "sess-2"
	must(e.t, "code other", e.s.CreateAuthCode(e.ctx, c3))
	must(e.t, "refresh portal", e.s.CreateRefreshToken(e.ctx, refresh("rt-portal-1", "fam-portal")))
	must(e.t, "refresh portal 2", e.s.CreateRefreshToken(e.ctx, refresh("rt-portal-2", "fam-portal")))
	must(e.t, "revoke portal", e.s.RevokeRefreshFamily(e.ctx, "fam-portal"))
	rb := refresh("rt-bank", "fam-bank")
	rb.ClientID = "bank"
	must(e.t, "refresh bank", e.s.CreateRefreshToken(e.ctx, rb))

	got, err = e.s.SessionClients(e.ctx, "sess-1")
	must(e.t, "sess-1", err)
	equal(e.t, "clients of sess-1", got, []string{"bank", "portal", "shop"})
	got, err = e.s.SessionClients(e.ctx, "sess-2")
	must(e.t, "sess-2", err)
	equal(e.t, "clients of sess-2", got, []string{"other"})
	got, err = e.s.SessionClients(e.ctx, "sess-none")
	must(e.t, "unknown session", err)
	if len(got) != 0 {
		e.t.Errorf("unknown session lists clients %v", got)
	}
	// Sessions deleted (logout) keep their records until they expire: the list outlives
	// the session, which is when back-channel logout reads it.
	must(e.t, "create session", e.s.CreateSession(e.ctx, session("sess-1")))
	must(e.t, "delete session", e.s.DeleteSession(e.ctx, "sess-1"))
	got, err = e.s.SessionClients(e.ctx, "sess-1")
	must(e.t, "after logout", err)
	equal(e.t, "clients after logout", got, []string{"bank", "portal", "shop"})
}
