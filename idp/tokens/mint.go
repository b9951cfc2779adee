package tokens

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/motlan/motlan/idp/claims"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/keys"
)

// Draft is a grant's tokens before signing, and what must be stored before they are
// handed out: the (client, subject) pair and the claims the ID token releases, with the
// release's audit record. A caller that has a transaction open for the grant stores them
// in it (see store.Redemption); Mint stores them one by one.
type Draft struct {
	Subject *store.ClientSubject // nil: this process recorded the pair already
	Release *store.Release       // nil: the ID token releases no claims
	Audit   []store.AuditRecord  // the release's record, nil without one (or without an audit log)

	alg string
	jkt string
	at  AccessClaims
	id  map[string]any
}

// Draft prepares the tokens of grant g for client c; jkt, when set, binds the access token
// to that DPoP key. citizen is called only when the ID token releases claims; it may read
// in the caller's transaction. Draft itself makes no store call.
func (t *Tokens) Draft(ctx context.Context, c store.Client, g Source, jkt string, citizen func() (store.Citizen, error)) (Draft, error) {
	now := t.cfg.Now()
	sub := t.Subject(c, g.CitizenID)
	var d Draft
	// Remembered so that the client's sub resolves back to the citizen (signing requests).
	if !t.known(c.ID, sub) {
		d.Subject = &store.ClientSubject{ClientID: c.ID, Subject: sub, CitizenID: g.CitizenID, At: now}
	}
	d.jkt, d.alg = jkt, c.IDTokenAlg
	if d.alg == "" {
		d.alg = "ES256"
	}
	sid := ""
	if g.SessionID != "" {
		sid = t.Sid(g.SessionID)
	}
	d.at = AccessClaims{
		Iss: t.cfg.Issuer, Sub: sub, Aud: t.cfg.Issuer, Exp: now.Add(t.cfg.AccessTokenTTL).Unix(), Iat: now.Unix(),
		Jti: rand.Text(), ClientID: c.ID, Scope: strings.Join(g.Scopes, " "), AuthTime: g.AuthTime.Unix(),
		ACR: g.ACR, AMR: g.AMR, Sid: sid, Cit: t.SealCitizen(g.CitizenID, c.ID), Cnf: Cnf(jkt),
	}
	if g.Family != "" {
		d.at.Fam = t.FamilyRef(g.Family)
	}
	var req claims.Request
	if len(g.Claims) > 0 {
		req, _ = claims.Parse(string(g.Claims)) // validated at /authorize
	}
	if (len(req.UserInfo) > 0 || len(req.VerifiedUserInfo) > 0) && len(g.Claims) <= maxClaimsInToken {
		d.at.Clm = string(g.Claims)
	}
	d.id = map[string]any{
		"iss": t.cfg.Issuer, "sub": sub, "aud": c.ID, "azp": c.ID,
		"exp": now.Add(t.cfg.IDTokenTTL).Unix(), "iat": now.Unix(), "auth_time": g.AuthTime.Unix(),
	}
	if g.Nonce != "" {
		d.id["nonce"] = g.Nonce
	}
	if g.ACR != "" {
		d.id["acr"] = g.ACR
	}
	if len(g.AMR) > 0 {
		d.id["amr"] = g.AMR
	}
	if sid != "" {
		d.id["sid"] = sid
	}
	if len(claims.Select(g.Scopes, c.AllowedScopes, req, claims.IDToken)) > 0 || len(req.VerifiedIDToken) > 0 {
		cit, err := citizen()
		if err != nil {
			return Draft{}, fmt.Errorf("read citizen: %w", err)
		}
		rel, ev := t.releaseInto(c, cit, g.Scopes, req, claims.IDToken, d.id)
		if rel != nil {
			d.Release = rel
			if d.Audit, err = t.cfg.Audit.Records(ev); err != nil {
				return Draft{}, err
			}
		}
	}
	return d, nil
}

// Records is what the draft stores with its grant.
func (d Draft) Records() store.Minted {
	return store.Minted{Subject: d.Subject, Release: d.Release, Audit: d.Audit}
}

// Sign signs a draft's tokens; call it once the draft's records are stored.
func (t *Tokens) Sign(ctx context.Context, d Draft) (Set, error) {
	atJSON, err := json.Marshal(d.at)
	if err != nil {
		return Set{}, err
	}
	// Access tokens are always ES256: only the provider verifies them.
	access, err := t.cfg.Keys.Sign(ctx, "ES256", "at+jwt", atJSON)
	if err != nil {
		return Set{}, fmt.Errorf("sign access token: %w", err)
	}
	atHash, err := keys.LeftHalfHash(d.alg, access)
	if err != nil {
		return Set{}, err
	}
	id := make(map[string]any, len(d.id)+1)
	maps.Copy(id, d.id)
	id["at_hash"] = atHash
	idJSON, err := appendClaims(make([]byte, 0, 512), id)
	if err != nil {
		return Set{}, err
	}
	idToken, err := t.cfg.Keys.Sign(ctx, d.alg, "", idJSON)
	if err != nil {
		return Set{}, fmt.Errorf("sign id token: %w", err)
	}
	if d.Subject != nil {
		t.remember(d.Subject.ClientID, d.Subject.Subject)
	}
	return Set{
		AccessToken: access, TokenType: TokenType(d.jkt), ExpiresIn: int64(t.cfg.AccessTokenTTL.Seconds()),
		IDToken: idToken, Scope: d.at.Scope,
	}, nil
}

// Mint signs the access token and ID token for a grant, after storing the draft's records
// each on its own (the grant has no transaction open). A non-empty jkt binds the access
// token to that DPoP key.
func (t *Tokens) Mint(ctx context.Context, c store.Client, g Source, jkt string) (Set, error) {
	d, err := t.Draft(ctx, c, g, jkt, func() (store.Citizen, error) { return t.cfg.Store.GetCitizen(ctx, g.CitizenID) })
	if err != nil {
		return Set{}, err
	}
	if s := d.Subject; s != nil {
		if err := t.cfg.Store.RecordSubject(ctx, s.ClientID, s.Subject, s.CitizenID, s.At); err != nil {
			return Set{}, fmt.Errorf("record subject: %w", err)
		}
	}
	if d.Release != nil {
		if err := t.record(ctx, *d.Release); err != nil {
			return Set{}, err
		}
	}
	return t.Sign(ctx, d)
}

// Release adds to dst what target releases of citizen cit to client c with the granted
// scopes: the claims of those scopes (userinfo only, OIDC Core 5.4) and of the claims
// request, each as the eID stated it, and the verified_claims the request asks for
// (OpenID Connect for Identity Assurance 1.0). Anything released is recorded, and
// audited by name (never by value); verified claims are named "verified_claims.<name>".
func (t *Tokens) Release(ctx context.Context, c store.Client, cit store.Citizen, scopes []string, req claims.Request, target claims.Target, dst map[string]any) error {
	rel, _ := t.releaseInto(c, cit, scopes, req, target, dst)
	if rel == nil {
		return nil
	}
	return t.record(ctx, *rel)
}

// record stores a release and appends its audit record.
func (t *Tokens) record(ctx context.Context, rel store.Release) error {
	if err := t.cfg.Store.RecordRelease(ctx, rel); err != nil {
		return fmt.Errorf("record release: %w", err)
	}
	t.cfg.Audit.Log(ctx, releaseEvent(rel))
	return nil
}

// releaseInto adds the released claims to dst (see Release) and returns the release and
// its audit event; nil when nothing is released.
func (t *Tokens) releaseInto(c store.Client, cit store.Citizen, scopes []string, req claims.Request, target claims.Target, dst map[string]any) (*store.Release, audit.Event) {
	via, vreq := "userinfo", req.VerifiedUserInfo
	if target == claims.IDToken {
		via, vreq = "id_token", req.VerifiedIDToken
	}
	now := t.cfg.Now()
	released := claims.Values(dst, cit, claims.Select(scopes, c.AllowedScopes, req, target))
	if vc, names := claims.Verified(vreq, scopes, c.AllowedScopes, cit, now); vc != nil {
		dst["verified_claims"] = vc
		for _, n := range names {
			released = append(released, "verified_claims."+n)
		}
	}
	if len(released) == 0 {
		return nil, audit.Event{}
	}
	rel := &store.Release{CitizenID: cit.ID, ClientID: c.ID, Claims: released, Via: via, At: now}
	return rel, releaseEvent(*rel)
}

func releaseEvent(r store.Release) audit.Event {
	return audit.Event{Kind: audit.KindRelease, Actor: audit.Citizen(r.CitizenID), Details: map[string]any{"client": r.ClientID, "claims": r.Claims, "via": r.Via}}
}
