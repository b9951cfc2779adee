package authflow

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// The sealed login transaction's plaintext is binary: a version byte, then the fields of
// store.AuthRequest in a fixed order, strings and lists length-prefixed. Every login seals
// it once and opens it once, and as JSON (field names, reflection) that was 3 % of a
// first-time login's CPU. A plaintext starting with '{' is the JSON form earlier builds
// sealed: a login started before an upgrade still finishes after it.

const txV1 = 1

var errTxCodec = errors.New("sealed login transaction: malformed")

func encodeTx(ar store.AuthRequest) []byte {
	b := make([]byte, 0, 512+len(ar.Claims)+len(ar.RedirectURI))
	b = append(b, txV1)
	for _, s := range []string{ar.ID, ar.ClientID, ar.RedirectURI, ar.ResponseMode, ar.State, ar.Nonce,
		ar.CodeChallenge, ar.CodeChallengeMethod, string(ar.Claims), ar.LoginHint,
		ar.UpstreamState, ar.UpstreamNonce, ar.UpstreamVerifier, ar.SessionID, ar.CSRFToken, ar.DPoPJKT} {
		b = appendString(b, s)
	}
	for _, l := range [][]string{ar.Scopes, ar.Prompt, ar.ACRValues, ar.UILocales} {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, s := range l {
			b = appendString(b, s)
		}
	}
	b = binary.AppendVarint(b, int64(ar.MaxAge))
	for _, t := range []time.Time{ar.CreatedAt, ar.ExpiresAt} {
		b = binary.AppendVarint(b, t.Unix())
		b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decodeTx reverses encodeTx, and reads the JSON form earlier builds sealed.
func decodeTx(b []byte) (store.AuthRequest, error) {
	if len(b) > 0 && b[0] == '{' {
		var rec sealedTx
		if err := json.Unmarshal(b, &rec); err != nil {
			return store.AuthRequest{}, errTxCodec
		}
		ar := rec.AuthRequest
		ar.Claims = nil
		if rec.RawClaims != "" {
			ar.Claims = json.RawMessage(rec.RawClaims)
		}
		return ar, nil
	}
	if len(b) == 0 || b[0] != txV1 {
		return store.AuthRequest{}, errTxCodec
	}
	d := txDecoder{b: b[1:]}
	var ar store.AuthRequest
	var claims string
	for _, p := range []*string{&ar.ID, &ar.ClientID, &ar.RedirectURI, &ar.ResponseMode, &ar.State, &ar.Nonce,
		&ar.CodeChallenge, &ar.CodeChallengeMethod, &claims, &ar.LoginHint,
		&ar.UpstreamState, &ar.UpstreamNonce, &ar.UpstreamVerifier, &ar.SessionID, &ar.CSRFToken, &ar.DPoPJKT} {
		*p = d.string()
	}
	if claims != "" {
		ar.Claims = json.RawMessage(claims)
	}
	for _, p := range []*[]string{&ar.Scopes, &ar.Prompt, &ar.ACRValues, &ar.UILocales} {
		*p = d.list()
	}
	ar.MaxAge = int(d.varint())
	for _, p := range []*time.Time{&ar.CreatedAt, &ar.ExpiresAt} {
		sec, nsec := d.varint(), d.uvarint()
		if nsec >= uint64(time.Second) {
			d.bad = true
		}
		*p = time.Unix(sec, int64(nsec)).UTC()
	}
	if d.bad || len(d.b) != 0 {
		return store.AuthRequest{}, errTxCodec
	}
	return ar, nil
}

// txDecoder reads encodeTx's fields; after the first malformed one, bad is set and every
// read returns a zero value.
type txDecoder struct {
	b   []byte
	bad bool
}

func (d *txDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || d.bad {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint reads what binary.AppendVarint wrote: the zig-zag form as an uvarint.
func (d *txDecoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (d *txDecoder) string() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *txDecoder) list() []string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) { // each element takes at least a byte
		d.bad = true
		return nil
	}
	if n == 0 {
		return nil
	}
	l := make([]string, n)
	for i := range l {
		l[i] = d.string()
	}
	return l
}
