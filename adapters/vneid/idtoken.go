package vneid

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/motlan/motlan/idp/eid"
	"github.com/motlan/motlan/keys"
)

// nbfLeeway is how far in the future an ID token's nbf may be, for clock skew (go-oidc's
// and most providers' figure).
const nbfLeeway = 5 * time.Minute

// verifyIDToken checks an ID token the eID's token endpoint returned, as OpenID Connect
// Core 3.1.3.7 asks: signed with one of the eID's keys by an algorithm it announced; iss
// the configured issuer; aud holding the client, and azp the client when there are
// several audiences or azp is present; exp in the future, iat present, nbf not ahead;
// nonce the login's; a sub; at_hash, when present, the access token's. It returns the
// token's claims and its sub.
//
// The token is parsed once and its claims decoded once: go-oidc's verifier parsed each
// twice, 5 % of a first-time login's CPU; go-oidc still discovers the eID.
func (c *Connector) verifyIDToken(ctx context.Context, u *upstream, raw, nonce, accessToken string) (members, string, error) {
	invalid := func(reason string) error { return &Error{Kind: eid.ErrInvalidResponse, Op: "id_token", Reason: reason} }
	rec := new(fetchRecord)
	payload, alg, err := u.keys.verify(context.WithValue(ctx, fetchRecordKey{}, rec), raw)
	if err != nil {
		if rec.err != nil {
			return nil, "", &Error{Kind: eid.ErrUnavailable, Op: "id_token", Reason: "fetching the eID's keys failed", cause: rec.err}
		}
		return nil, "", &Error{Kind: eid.ErrInvalidResponse, Op: "id_token", Reason: "ID token verification failed", cause: err}
	}
	var claims members
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, "", invalid("claims not a JSON object")
	}
	if iss, ok := jsonString(claims["iss"]); !ok || iss != c.cfg.Issuer {
		return nil, "", invalid("issuer is not the eID")
	}
	aud, ok := audience(claims["aud"])
	if !ok || !slices.Contains(aud, c.cfg.ClientID) {
		return nil, "", invalid("audience is not the client")
	}
	if azpRaw, present := claims["azp"]; present || len(aud) > 1 {
		if azp, ok := jsonString(azpRaw); !ok || azp != c.cfg.ClientID {
			return nil, "", invalid("several audiences or an azp, and azp is not the client")
		}
	}
	now := c.cfg.Now()
	exp, ok := numericDate(claims["exp"])
	switch {
	case !ok:
		return nil, "", invalid("no exp")
	case !now.Before(exp):
		return nil, "", invalid("ID token expired")
	}
	if _, ok := numericDate(claims["iat"]); !ok {
		return nil, "", invalid("no iat")
	}
	if nbfRaw, present := claims["nbf"]; present {
		if nbf, ok := numericDate(nbfRaw); !ok || now.Add(nbfLeeway).Before(nbf) {
			return nil, "", invalid("ID token not valid yet")
		}
	}
	if got, ok := jsonString(claims["nonce"]); !ok || subtle.ConstantTimeCompare([]byte(got), []byte(nonce)) != 1 {
		return nil, "", invalid("nonce mismatch")
	}
	sub, ok := jsonString(claims["sub"])
	if !ok || sub == "" {
		return nil, "", invalid("no sub")
	}
	if atRaw, present := claims["at_hash"]; present {
		if at, ok := jsonString(atRaw); !ok || !atHashMatches(alg, at, accessToken) {
			return nil, "", invalid("at_hash mismatch")
		}
	}
	return claims, sub, nil
}

// jsonString decodes a JSON string; false for anything else, absent included.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	plain := true // printable ASCII without escapes: the text between the quotes is the string
	for _, b := range raw[1 : len(raw)-1] {
		if b < 0x20 || b >= 0x7f || b == '\\' || b == '"' {
			plain = false
			break
		}
	}
	if plain && raw[len(raw)-1] == '"' {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// audience decodes aud: one string or an array of strings (OIDC Core 2).
func audience(raw json.RawMessage) ([]string, bool) {
	if s, ok := jsonString(raw); ok {
		return []string{s}, true
	}
	var list []string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return nil, false
	}
	return list, true
}

// numericDate decodes a JSON number of seconds since the epoch (RFC 7519 NumericDate, which
// may have a fraction); false for anything else, absent included.
func numericDate(raw json.RawMessage) (time.Time, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.Abs(f) > 1<<53 { // beyond any date, and past exact float integers
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// atHashMatches reports whether at is the at_hash of accessToken for an ID token signed
// with alg (OIDC Core 3.1.3.6).
func atHashMatches(alg, at, accessToken string) bool {
	want, err := keys.LeftHalfHash(alg, accessToken)
	return err == nil && subtle.ConstantTimeCompare([]byte(at), []byte(want)) == 1
}
