package grants

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/internal/web"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/tokens"
)

// AuthorizationCode redeems an authorization code (RFC 6749 4.1.3, RFC 7636 4.6). A code
// bound with dpop_jkt needs a proof by that key (RFC 9449 10).
type AuthorizationCode struct{ redeemer }

// Type is authorization_code.
func (*AuthorizationCode) Type() string { return "authorization_code" }

// Handle redeems the code.
func (g *AuthorizationCode) Handle(ctx context.Context, req Request) (tokens.Set, error) {
	f, client, jkt := g.families, req.Client, req.JKT
	code, verifier := req.Form.Get("code"), req.Form.Get("code_verifier")
	if code == "" || len(code) > 256 {
		return tokens.Set{}, oe.New(oe.InvalidRequest, "code is required")
	}
	// The code is consumed and checked, and its refresh token, the client's subject and
	// the claims the ID token releases (with the release's audit record) are stored, in
	// one transaction: one durable write per exchange. The family is named after the code,
	// so a replayed code can revoke it. The tokens are signed after the commit.
	var (
		draft   tokens.Draft
		refresh string
	)
	ac, err := f.cfg.Store.RedeemAuthCode(ctx, web.HashID(code), func(ac store.AuthCode, citizen func() (store.Citizen, error)) (store.Redemption, error) {
		if e := checkCode(ac, client.ID, req.Form.Get("redirect_uri"), verifier, jkt); e != nil {
			return store.Redemption{}, e
		}
		src := tokens.Source{
			ClientID: client.ID, CitizenID: ac.CitizenID, SessionID: ac.SessionID, Scopes: ac.Scopes,
			Nonce: ac.Nonce, Claims: ac.Claims, AuthTime: ac.AuthTime, ACR: ac.ACR, AMR: ac.AMR,
			Family: ac.ID,
		}
		var err error
		if draft, err = f.cfg.Tokens.Draft(ctx, client, src, jkt, citizen); err != nil {
			return store.Redemption{}, err
		}
		refresh = f.value(client, jkt)
		t := f.record(src, ac.ID, web.HashID(refresh))
		return store.Redemption{Refresh: &t, Minted: draft.Records()}, nil
	})
	switch {
	case errors.Is(err, store.ErrAlreadyUsed):
		// A replayed code means it leaked: revoke what its first use issued (RFC 6749 4.1.2).
		if ac.ClientID == client.ID {
			f.revoke(ctx, client.ID, ac.ID, "code_replayed")
		}
		return tokens.Set{}, oe.New(oe.InvalidGrant, "the code was already used")
	case errors.Is(err, store.ErrNotFound):
		return tokens.Set{}, oe.New(oe.InvalidGrant, "the code is unknown or expired")
	case err != nil:
		return tokens.Set{}, err
	}
	set, err := f.cfg.Tokens.Sign(ctx, draft)
	if err != nil {
		return tokens.Set{}, err
	}
	set.RefreshToken = refresh
	return set, nil
}

// checkCode checks a consumed code against the request redeeming it: the client, the
// redirect URI, PKCE and the DPoP key the code is bound to.
func checkCode(ac store.AuthCode, clientID, redirectURI, verifier, jkt string) error {
	if ac.ClientID != clientID {
		return oe.New(oe.InvalidGrant, "the code was issued to another client")
	}
	if redirectURI != ac.RedirectURI {
		return oe.New(oe.InvalidGrant, "redirect_uri does not match the authorization request")
	}
	if e := checkPKCE(ac.CodeChallenge, verifier); e != nil {
		return e
	}
	if bound := ac.DPoPJKT; bound != "" && jkt == "" {
		return dpop.OAuthError(dpop.ErrMissing, http.StatusBadRequest)
	} else if bound != "" && bound != jkt {
		return oe.New(oe.InvalidGrant, "the code is bound to another DPoP key (dpop_jkt)")
	}
	return nil
}

// checkPKCE verifies RFC 7636 S256, and refuses a verifier for a code issued without a
// challenge (PKCE downgrade, RFC 9700 4.8.2).
func checkPKCE(challenge, verifier string) *oe.Error {
	if challenge == "" {
		if verifier != "" {
			return oe.New(oe.InvalidGrant, "code_verifier sent for a code issued without code_challenge")
		}
		return nil
	}
	if !web.ValidPKCEValue(verifier, 43, 128) {
		return oe.New(oe.InvalidGrant, "code_verifier is missing or malformed")
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) != 1 {
		return oe.New(oe.InvalidGrant, "code_verifier does not match code_challenge")
	}
	return nil
}
