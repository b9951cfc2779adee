package authflow

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/motlan/motlan/idp/store"
)

func fullTx() store.AuthRequest {
	return store.AuthRequest{
		ID: "req-1", ClientID: "cổng-dịch-vụ", RedirectURI: "https://dichvucong.example.vn/cb?a=1&b=ắ",
		ResponseMode: "form_post", Scopes: []string{"openid", "profile", "vn_cccd"}, State: "st\x00ate",
		Nonce: "n-0", CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
		Prompt: []string{"login", "consent"}, MaxAge: -1, ACRValues: []string{"urn:vneid:level2"},
		// Bytes that JSON would compact or escape come back as they were.
		Claims:    json.RawMessage(`{"id_token": {"name": {"values": ["Lê Công Hảo", "<&>"]}}}`),
		UILocales: []string{"vi", "en"}, LoginHint: "Lê Công Hảo",
		UpstreamState: "us", UpstreamNonce: "un", UpstreamVerifier: "uv", SessionID: "s", CSRFToken: "c", DPoPJKT: "j",
		CreatedAt: time.Date(2026, 12, 7, 21, 0, 0, 123456789, time.UTC),
		ExpiresAt: time.Date(2026, 12, 7, 21, 10, 0, 123456789, time.UTC),
	}
}

// TestTxCodec checks the sealed login transaction's plaintext: every field comes back, the
// JSON form earlier builds sealed is still read, and anything else is refused.
func TestTxCodec(t *testing.T) {
	full := fullTx()
	for _, tt := range []struct {
		name string
		ar   store.AuthRequest
	}{
		{"every field", full},
		{"zero", store.AuthRequest{}},
		{"max_age 0, times before 1970", store.AuthRequest{ClientID: "web", MaxAge: 0,
			CreatedAt: time.Date(1960, 1, 1, 0, 0, 0, 1, time.UTC), ExpiresAt: time.Date(9999, 1, 1, 0, 0, 0, 999999999, time.UTC)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeTx(encodeTx(tt.ar))
			if err != nil || !reflect.DeepEqual(got, tt.ar) {
				t.Fatalf("round trip: %v\n got %#v\nwant %#v", err, got, tt.ar)
			}
		})
	}

	t.Run("JSON sealed by an earlier build", func(t *testing.T) {
		rec := sealedTx{AuthRequest: full, RawClaims: string(full.Claims)}
		rec.Claims = nil
		old, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeTx(old)
		if err != nil || !reflect.DeepEqual(got, full) {
			t.Fatalf("%v\n got %#v\nwant %#v", err, got, full)
		}
	})

	enc := encodeTx(full)
	if v, n := binary.Uvarint(enc[len(enc)-4:]); n != 4 || v != 123456789 {
		t.Fatalf("the encoding ends with %x, not the expiry's nanoseconds", enc[len(enc)-4:])
	}
	bad := map[string][]byte{
		"empty":         nil,
		"other version": append([]byte{2}, enc[1:]...),
		"trailing byte": append(append([]byte(nil), enc...), 0),
		"broken JSON":   []byte(`{"ClientID":`),
		// The expiry's nanoseconds (123456789: four bytes, the last field) made a second.
		"nanoseconds ≥ 1s": binary.AppendUvarint(append([]byte(nil), enc[:len(enc)-4]...), uint64(time.Second)),
		"list too long":    {txV1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x01},
	}
	for i := 1; i < len(enc); i++ {
		bad[fmt.Sprintf("cut at %d of %d", i, len(enc))] = enc[:i]
	}
	for name, b := range bad {
		if ar, err := decodeTx(b); err == nil {
			t.Errorf("%s: decoded %#v, want an error", name, ar)
		}
	}
}

// FuzzTxCodec: any plaintext decodes or is refused without panicking, and what decodes
// encodes to a plaintext that decodes to the same request.
func FuzzTxCodec(f *testing.F) {
	f.Add(encodeTx(fullTx()))
	f.Add(encodeTx(store.AuthRequest{}))
	f.Add([]byte(`{"ClientID":"web","Scopes":["openid"],"raw_claims":"{}"}`))
	f.Add([]byte{txV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		ar, err := decodeTx(b)
		if err != nil {
			return
		}
		again, err := decodeTx(encodeTx(ar))
		if err != nil {
			t.Fatalf("re-encoded request refused: %v", err)
		}
		// Lists: an empty one comes back nil.
		for _, p := range []*[]string{&ar.Scopes, &ar.Prompt, &ar.ACRValues, &ar.UILocales} {
			if len(*p) == 0 {
				*p = nil
			}
		}
		if len(ar.Claims) == 0 {
			ar.Claims = nil
		}
		if !ar.CreatedAt.Equal(again.CreatedAt) || !ar.ExpiresAt.Equal(again.ExpiresAt) {
			t.Fatalf("times changed: %v %v, then %v %v", ar.CreatedAt, ar.ExpiresAt, again.CreatedAt, again.ExpiresAt)
		}
		ar.CreatedAt, ar.ExpiresAt, again.CreatedAt, again.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(ar, again) {
			t.Fatalf("changed in a round trip:\n%#v\n%#v", ar, again)
		}
	})
}
