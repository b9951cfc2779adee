package dpop

import (
	"testing"
	"time"
)

// FuzzDPoPProof feeds arbitrary proofs, and access tokens for ath, to the proof validator
// at a fixed clock. Invariants: no panic; every error is one of the named reasons; an
// accepted proof has a well-formed thumbprint and jti, an iat inside the window, and is
// accepted again identically (the validator is a pure function).
func FuzzDPoPProof(f *testing.F) {
	// RSA seeds are in the committed corpus: generating an RSA key in every instrumented
	// worker would take most of a short fuzzing run.
	for _, alg := range []string{"ES256", "ES384", "EdDSA"} {
		k := newProofKey(f, alg)
		h, c := k.goodProof(f)
		f.Add(k.craft(f, h, c), "")
		c["htm"], c["htu"], c["ath"] = "GET", "https://id.example.vn/userinfo", TokenHash("at")
		f.Add(k.craft(f, h, c), "at")
	}
	f.Add("", "")
	f.Add("e30.e30.", "")
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.", "")
	f.Fuzz(func(t *testing.T, proof, accessToken string) {
		want := expected{Method: "POST", URL: testTokenURL, AccessToken: accessToken, Now: testNow}
		if accessToken != "" {
			want.Method, want.URL = "GET", "https://id.example.vn/userinfo"
		}
		got, err := verifyProof(proof, want)
		if err != nil {
			known := false
			for _, r := range reasons {
				if err == r {
					known = true
				}
			}
			if !known {
				t.Fatalf("error %v is not one of the named reasons", err)
			}
			return
		}
		if !ValidJKT(got.JKT) || got.JTI == "" || len(got.JTI) > maxJTILen {
			t.Fatalf("accepted proof with jkt %q jti %q", got.JKT, got.JTI)
		}
		if d := got.IssuedAt.Sub(testNow); d > window+time.Second || d < -window-time.Second {
			t.Fatalf("accepted iat %v outside the window", got.IssuedAt)
		}
		again, err := verifyProof(proof, want)
		if err != nil || again != got {
			t.Fatalf("second verification differs: %v %v", again, err)
		}
	})
}
