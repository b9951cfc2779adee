package keys

import (
	"context"
	"crypto"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

var benchPayload = []byte(`{"iss":"https://id.motlan.example","sub":"3f1c2b7e9d8a4c6b","aud":"portal","exp":1772359200,"iat":1772355600,"auth_time":1772355590,"nonce":"n-0S6_WzA2Mj","acr":"2","amr":["pwd","otp"],"name":"Nguyễn Văn An","sid":"08a5019c-17e1-4977-8f42-65a12843ea02"}`)

func benchManager(b *testing.B) *Manager {
	b.Helper()
	m, err := NewManager(context.Background(), Config{
		Store: &memStore{}, MasterKey: randomKey(b), RefreshInterval: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

func BenchmarkSign(b *testing.B) {
	m := benchManager(b)
	ctx := context.Background()
	for _, alg := range []string{ES256, RS256} {
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Sign(ctx, alg, "at+jwt", benchPayload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignGoJose is the alternative Sign does not take: one cached jose.Signer per
// (key, typ). Kept to re-check the choice when go-jose or Go changes.
func BenchmarkSignGoJose(b *testing.B) {
	m := benchManager(b)
	for _, alg := range []string{ES256, RS256} {
		e := m.snap.Load().active(alg, time.Now())
		s, err := jose.NewSigner(jose.SigningKey{
			Algorithm: jose.SignatureAlgorithm(alg),
			Key:       jose.JSONWebKey{Key: e.signer, KeyID: e.id, Algorithm: alg},
		}, (&jose.SignerOptions{}).WithType("at+jwt"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				jws, err := s.Sign(benchPayload)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.CompactSerialize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	m := benchManager(b)
	ctx := context.Background()
	for _, alg := range []string{ES256, RS256} {
		tok, err := m.Sign(ctx, alg, "at+jwt", benchPayload)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := m.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyGoJose: go-jose parsing and verifying the same tokens, for comparison.
func BenchmarkVerifyGoJose(b *testing.B) {
	m := benchManager(b)
	for _, alg := range []string{ES256, RS256} {
		tok, _ := m.Sign(context.Background(), alg, "at+jwt", benchPayload)
		var pub crypto.PublicKey = m.snap.Load().active(alg, time.Now()).pub
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.Verify(pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
