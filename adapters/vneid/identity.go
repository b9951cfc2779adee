package vneid

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/eid"
)

// Motlan attribute names a ClaimMap may name besides the attributes themselves: the source
// of an attribute's verified flag ("<attribute>_verified") and of the eID's updated_at.
const (
	verifiedSuffix = "_verified"
	updatedAtAttr  = "updated_at"
)

// statedOnly lists the attributes OpenID Connect gives a *_verified claim (OIDC Core 5.1):
// the eID vouches for them only when that claim says true. Every other attribute comes
// from the eID's identity record, whose assertion is the verification.
var statedOnly = map[string]bool{"phone_number": true, "email": true}

// isMeta reports whether a ClaimMap target names verification metadata, not an attribute.
func isMeta(attr string) bool {
	return attr == updatedAtAttr || strings.HasSuffix(attr, verifiedSuffix)
}

// identity builds what the eID stated from its ID token's and userinfo's claims: the level
// (from LevelClaim, default acr, through ACRMap), amr, auth_time, the mapped attributes,
// whether each is verified, and updated_at.
func (c *Connector) identity(idClaims, uiClaims map[string]json.RawMessage) (eid.Identity, error) {
	var id eid.Identity
	var err error
	if raw, ok := idClaims["acr"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &id.UpstreamACR) != nil {
			return id, invalid("id_token", "acr is not a string")
		}
	}
	if id.ACR, err = c.level(idClaims, uiClaims); err != nil {
		return id, err
	}
	if raw, ok := idClaims["amr"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &id.AMR) != nil {
			return id, invalid("id_token", "amr is not an array of strings")
		}
	}
	if id.AuthTime, err = seconds(idClaims["auth_time"], "auth_time"); err != nil {
		return id, err
	}
	if id.Attributes, err = c.mapClaims(idClaims, uiClaims); err != nil {
		return id, err
	}
	if id.Verified, err = c.verified(id.Attributes, idClaims, uiClaims); err != nil {
		return id, err
	}
	src := c.metaSource[updatedAtAttr]
	if src == "" {
		src = updatedAtAttr
	}
	id.UpdatedAt, err = seconds(claim(idClaims, uiClaims, src), "updated_at")
	return id, err
}

// level reads the eID level from LevelClaim (default "acr", read from the ID token only):
// a string or number is looked up in ACRMap (not there: an error, never a guess); an array
// (such as amr) gives the highest level among its values that ACRMap knows, ignoring the
// others. Absent, or an array with no known value: level "1".
func (c *Connector) level(idClaims, uiClaims map[string]json.RawMessage) (string, error) {
	name := c.cfg.LevelClaim
	raw := idClaims[name]
	if name == "" {
		name, raw = "acr", idClaims["acr"]
	} else if name != "acr" && name != "amr" {
		raw = claim(idClaims, uiClaims, name)
	}
	if raw == nil || isNull(raw) {
		return "1", nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		level := "1"
		for _, v := range list {
			if l, ok := c.cfg.ACRMap[v]; ok && l > level {
				level = l
			}
		}
		return level, nil
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", invalid("id_token", "the level claim is neither a string, a number nor an array of strings")
		}
		v = n.String()
	}
	level, ok := c.cfg.ACRMap[v]
	if !ok {
		return "", invalid("id_token", "the level is not in ACRMap")
	}
	return level, nil
}

// verified says for each attribute whether the eID vouched for it: its *_verified claim
// (named in ClaimMap as "<attribute>_verified", else "<upstream claim>_verified") when
// sent, else true unless the attribute is stated-only (statedOnly).
func (c *Connector) verified(attrs, idClaims, uiClaims map[string]json.RawMessage) (map[string]bool, error) {
	out := make(map[string]bool, len(attrs))
	for up, attr := range c.cfg.ClaimMap {
		if _, ok := attrs[attr]; !ok {
			continue
		}
		out[attr] = !statedOnly[attr]
		src := c.metaSource[attr+verifiedSuffix]
		if src == "" {
			src = up + verifiedSuffix
		}
		raw := claim(idClaims, uiClaims, src)
		if raw == nil || isNull(raw) {
			continue
		}
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return nil, invalid("claims", "a *_verified claim is not a boolean")
		}
		out[attr] = b
	}
	return out, nil
}

// claim is the named claim from the ID token, else from userinfo; nil when neither has it.
func claim(idClaims, uiClaims map[string]json.RawMessage, name string) json.RawMessage {
	if raw, ok := idClaims[name]; ok && !isNull(raw) {
		return raw
	}
	return uiClaims[name]
}

// seconds reads a NumericDate claim; absent or null is the zero time.
func seconds(raw json.RawMessage, name string) (time.Time, error) {
	if raw == nil || isNull(raw) {
		return time.Time{}, nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return time.Time{}, invalid("id_token", name+" is not a number")
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, invalid("id_token", name+" is not a number")
	}
	return time.Unix(int64(f), 0).UTC(), nil
}

func invalid(op, reason string) error {
	return &Error{Kind: eid.ErrInvalidResponse, Op: op, Reason: reason}
}
