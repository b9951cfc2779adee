package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/motlan/motlan/idp/store"
)

type fixture struct {
	store *memStore
	clock *clock
	mk    []byte
}

func newFixture(t testing.TB) *fixture {
	return &fixture{store: &memStore{}, clock: newClock(), mk: randomKey(t)}
}

func (f *fixture) config(algs ...string) Config {
	return Config{
		Store:           f.store,
		MasterKey:       f.mk,
		Algs:            algs,
		Now:             f.clock.Now,
		RefreshInterval: -1,
	}
}

func (f *fixture) manager(t testing.TB, algs ...string) *Manager {
	t.Helper()
	m, err := NewManager(t.Context(), f.config(algs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func activeKID(t testing.TB, m *Manager, alg string) string {
	t.Helper()
	tok, err := m.Sign(context.Background(), alg, "", []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_, h, err := m.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return h.KeyID
}

func TestNewManagerCreatesOnce(t *testing.T) {
	f := newFixture(t)
	m1 := f.manager(t) // default algs: ES256, RS256
	if n := f.store.count(); n != 2 {
		t.Fatalf("first manager stored %d keys, want 2", n)
	}
	m2 := f.manager(t)
	if n := f.store.count(); n != 2 {
		t.Fatalf("second manager stored more keys: %d", n)
	}
	for _, alg := range []string{ES256, RS256} {
		if a, b := activeKID(t, m1, alg), activeKID(t, m2, alg); a != b {
			t.Errorf("%s: managers sign with %s and %s", alg, a, b)
		}
	}
	recs, _ := f.store.ListTokenKeys(t.Context())
	for _, r := range recs {
		if !r.CreatedAt.Equal(f.clock.Now()) || !r.ActiveAt.Equal(f.clock.Now()) || !r.RetireAt.IsZero() {
			t.Errorf("key %s: schedule %v %v %v", r.ID, r.CreatedAt, r.ActiveAt, r.RetireAt)
		}
		if bytes.Contains(r.PublicJWK, []byte(`"d"`)) {
			t.Errorf("key %s: stored public JWK has private parts", r.ID)
		}
	}
}

// barrierStore makes n managers list an empty store together, each create its keys, and
// only then re-list: the worst interleaving for convergence.
type barrierStore struct {
	*memStore
	n, wantCreates int

	mu           sync.Mutex
	cond         *sync.Cond
	listCalls    int
	firstListers int
	creates      int
}

func newBarrierStore(n, wantCreates int) *barrierStore {
	s := &barrierStore{memStore: &memStore{}, n: n, wantCreates: wantCreates}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *barrierStore) ListTokenKeys(ctx context.Context) ([]store.TokenKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.listCalls
	s.listCalls++
	if i < s.n {
		// Read before anyone may create, then wait for the others to read too.
		recs, err := s.memStore.ListTokenKeys(ctx)
		s.firstListers++
		s.cond.Broadcast()
		for s.firstListers < s.n {
			s.cond.Wait()
		}
		return recs, err
	}
	for s.creates < s.wantCreates {
		s.cond.Wait()
	}
	return s.memStore.ListTokenKeys(ctx)
}

func (s *barrierStore) CreateTokenKey(ctx context.Context, k store.TokenKey) error {
	err := s.memStore.CreateTokenKey(ctx, k)
	s.mu.Lock()
	s.creates++
	s.cond.Broadcast()
	s.mu.Unlock()
	return err
}

func TestManagersRaceConverge(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		barrier bool
	}{
		{"two, both list empty", 2, true},
		{"three, both list empty", 3, true},
		{"five, free-running", 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var st Store = f.store
			if tt.barrier {
				bs := newBarrierStore(tt.n, tt.n)
				f.store = bs.memStore
				st = bs
			}
			ms := make([]*Manager, tt.n)
			errs := make([]error, tt.n)
			var wg sync.WaitGroup
			for i := range tt.n {
				cfg := f.config(ES256)
				cfg.Store = st
				wg.Go(func() { ms[i], errs[i] = NewManager(t.Context(), cfg) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("manager %d: %v", i, err)
				}
				defer ms[i].Close()
			}
			if tt.barrier && f.store.count() != tt.n {
				t.Fatalf("store holds %d keys, want %d (one per manager)", f.store.count(), tt.n)
			}
			if !tt.barrier {
				// Free-running managers may have re-listed before a later create; the
				// next refresh (background, or on an unknown kid) converges them.
				for _, m := range ms {
					if err := m.Refresh(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
			}
			want := activeKID(t, ms[0], ES256)
			for i, m := range ms[1:] {
				if got := activeKID(t, m, ES256); got != want {
					t.Errorf("manager %d signs with %s, manager 0 with %s", i+1, got, want)
				}
			}
			// Every key created in the race verifies everywhere: tokens signed before
			// convergence stay good.
			for _, m := range ms {
				if len(m.PublicKeys()) != f.store.count() {
					t.Errorf("published %d keys, store has %d", len(m.PublicKeys()), f.store.count())
				}
			}
		})
	}
}

func TestJWKS(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t)
	doc := m.JWKS()
	for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`} {
		if bytes.Contains(doc, []byte(private)) {
			t.Fatalf("JWKS contains private member %s: %s", private, doc)
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	pubs := m.PublicKeys()
	if len(set.Keys) != 2 || len(pubs) != 2 {
		t.Fatalf("JWKS has %d keys, PublicKeys %d; want 2", len(set.Keys), len(pubs))
	}
	seen := map[string]bool{}
	for i, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			t.Errorf("key %s: public %v valid %v", k.KeyID, k.IsPublic(), k.Valid())
		}
		if k.Use != "sig" || k.KeyID == "" || k.KeyID != pubs[i].ID || k.Algorithm != pubs[i].Alg {
			t.Errorf("key %d: use %q kid %q alg %q, want sig %q %q", i, k.Use, k.KeyID, k.Algorithm, pubs[i].ID, pubs[i].Alg)
		}
		if !pubs[i].Key.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Key) {
			t.Errorf("key %s differs from PublicKeys", k.KeyID)
		}
		seen[k.Algorithm] = true
	}
	if !seen[ES256] || !seen[RS256] {
		t.Errorf("algorithms published: %v", seen)
	}
	if again := m.JWKS(); &again[0] != &doc[0] {
		t.Errorf("JWKS not cached")
	}
}

func claims(iss string, now time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"iss": iss, "sub": "citizen-1", "aud": "portal",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	return b
}

func TestSignVerify(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t)
	payload := claims("https://id.example", f.clock.Now())
	for _, alg := range []string{ES256, RS256} {
		for _, typ := range []string{"", "JWT", "at+jwt", "custom+jwt"} {
			t.Run(alg+"/"+typ, func(t *testing.T) {
				tok, err := m.Sign(t.Context(), alg, typ, payload)
				if err != nil {
					t.Fatal(err)
				}
				got, h, err := m.Verify(t.Context(), tok)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, payload) {
					t.Errorf("payload %s, want %s", got, payload)
				}
				if h.Alg != alg || h.Type != typ || h.KeyID == "" {
					t.Errorf("header %+v", h)
				}
				// The raw header, as a third party reads it.
				parts := strings.Split(tok, ".")
				raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
				var hdr map[string]any
				if err := json.Unmarshal(raw, &hdr); err != nil {
					t.Fatal(err)
				}
				want := map[string]any{"alg": alg, "kid": h.KeyID}
				if typ != "" {
					want["typ"] = typ
				}
				if fmt.Sprint(hdr) != fmt.Sprint(want) {
					t.Errorf("header %v, want %v", hdr, want)
				}
				sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
				if alg == ES256 && len(sig) != 64 {
					t.Errorf("ES256 signature is %d bytes, want 64 (R||S)", len(sig))
				}
				// go-jose agrees.
				jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					t.Fatal(err)
				}
				var pub crypto.PublicKey
				for _, p := range m.PublicKeys() {
					if p.ID == h.KeyID {
						pub = p.Key
					}
				}
				if out, err := jws.Verify(pub); err != nil || !bytes.Equal(out, payload) {
					t.Errorf("go-jose Verify: %v", err)
				}
				// Both algorithms sign the same input the same (RFC 6979 for ES256, as
				// RS256 always does): no per-signature randomness is drawn.
				if again, err := m.Sign(t.Context(), alg, typ, payload); err != nil || again != tok {
					t.Errorf("signing the same payload again gave another token (err %v)", err)
				}
			})
		}
	}
}

func TestSignErrors(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, ES256)
	for _, alg := range []string{RS256, "HS256", "none", ""} {
		if _, err := m.Sign(t.Context(), alg, "", []byte("{}")); !errors.Is(err, ErrUnsupportedAlg) {
			t.Errorf("Sign(%q) error = %v, want ErrUnsupportedAlg", alg, err)
		}
	}
	if _, err := NewManager(t.Context(), Config{Store: f.store, MasterKey: f.mk, Algs: []string{"PS256"}}); !errors.Is(err, ErrUnsupportedAlg) {
		t.Errorf("NewManager(PS256) error = %v", err)
	}
}

func TestGoOIDCInterop(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(m.JWKS())
	}))
	defer srv.Close()
	const iss = "https://id.example"

	var static []crypto.PublicKey
	for _, p := range m.PublicKeys() {
		static = append(static, p.Key)
	}
	keySets := []struct {
		name string
		ks   oidc.KeySet
	}{
		{"static", &oidc.StaticKeySet{PublicKeys: static}},
		{"remote JWKS", oidc.NewRemoteKeySet(t.Context(), srv.URL)},
	}
	for _, ks := range keySets {
		for _, alg := range []string{ES256, RS256} {
			for _, typ := range []string{"", "JWT"} {
				t.Run(ks.name+"/"+alg+"/"+typ, func(t *testing.T) {
					tok, err := m.Sign(t.Context(), alg, typ, claims(iss, f.clock.Now()))
					if err != nil {
						t.Fatal(err)
					}
					v := oidc.NewVerifier(iss, ks.ks, &oidc.Config{
						ClientID: "portal", SupportedSigningAlgs: []string{alg}, Now: f.clock.Now,
					})
					idt, err := v.Verify(t.Context(), tok)
					if err != nil {
						t.Fatal(err)
					}
					if idt.Subject != "citizen-1" {
						t.Errorf("sub %q", idt.Subject)
					}
				})
			}
		}
	}

	// A token from a foreign key fails at go-oidc as well.
	other := newFixture(t).manager(t, ES256)
	tok, _ := other.Sign(t.Context(), ES256, "", claims(iss, f.clock.Now()))
	v := oidc.NewVerifier(iss, keySets[0].ks, &oidc.Config{ClientID: "portal", SupportedSigningAlgs: []string{ES256}, Now: f.clock.Now})
	if _, err := v.Verify(t.Context(), tok); err == nil {
		t.Error("go-oidc accepted a token from a foreign key")
	}
}

// forge builds a compact JWS with any header, signed by fn over the signing input.
func forge(t *testing.T, header map[string]any, payload []byte, fn func(input []byte) []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(payload)
	return input + "." + base64.RawURLEncoding.EncodeToString(fn([]byte(input)))
}

func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t)
	payload := claims("https://id.example", f.clock.Now())
	good, err := m.Sign(t.Context(), ES256, "at+jwt", payload)
	if err != nil {
		t.Fatal(err)
	}
	kid := activeKID(t, m, ES256)
	rsKID := activeKID(t, m, RS256)
	foreign, err := newFixture(t).manager(t, ES256).Sign(t.Context(), ES256, "", payload)
	if err != nil {
		t.Fatal(err)
	}
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signAttacker := func(in []byte) []byte {
		d := sha256.Sum256(in)
		r, s, _ := ecdsa.Sign(rand.Reader, attacker, d[:])
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
	parts := strings.Split(good, ".")
	tamperedPayload := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2]
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[5] ^= 1
	tamperedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	zero := func([]byte) []byte { return make([]byte, 64) }

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"foreign key, unknown kid", foreign, ErrUnknownKey},
		{"our kid, attacker's key", forge(t, map[string]any{"alg": ES256, "kid": kid}, payload, signAttacker), ErrBadSignature},
		{"tampered payload", tamperedPayload, ErrBadSignature},
		{"tampered signature", tamperedSig, ErrBadSignature},
		{"zero signature", forge(t, map[string]any{"alg": ES256, "kid": kid}, payload, zero), ErrBadSignature},
		{"alg none", forge(t, map[string]any{"alg": "none", "kid": kid}, payload, func([]byte) []byte { return nil }), ErrInvalidToken},
		{"alg HS256 with EC kid", forge(t, map[string]any{"alg": "HS256", "kid": kid}, payload, zero), ErrInvalidToken},
		{"alg ES256 with RSA kid", forge(t, map[string]any{"alg": ES256, "kid": rsKID}, payload, signAttacker), ErrInvalidToken},
		{"embedded jwk", forge(t, map[string]any{"alg": ES256, "kid": kid, "jwk": map[string]any{}}, payload, signAttacker), ErrInvalidToken},
		{"crit", forge(t, map[string]any{"alg": ES256, "kid": kid, "crit": []string{"exp"}}, payload, signAttacker), ErrInvalidToken},
		{"no kid", forge(t, map[string]any{"alg": ES256}, payload, signAttacker), ErrInvalidToken},
		{"kid not a string", forge(t, map[string]any{"alg": ES256, "kid": 7}, payload, signAttacker), ErrInvalidToken},
		{"two parts", parts[0] + "." + parts[1], ErrInvalidToken},
		{"four parts", good + ".x", ErrInvalidToken},
		{"padding", good + "=", ErrInvalidToken},
		{"JSON serialization", `{"payload":"e30","signatures":[]}`, ErrInvalidToken},
		{"empty", "", ErrInvalidToken},
		{"huge", strings.Repeat("a", maxTokenSize+1), ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Advance(2 * unknownKIDRefreshGap)
			_, _, err := m.Verify(t.Context(), tt.token)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyUnknownKIDRefreshes(t *testing.T) {
	f := newFixture(t)
	m1 := f.manager(t, ES256)
	m2 := f.manager(t, ES256)
	// Another replica rotates; m1 has not refreshed yet.
	newKID, err := m2.Rotate(t.Context(), ES256, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Millisecond)
	tok, err := m2.Sign(t.Context(), ES256, "", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, h, _ := m2.Verify(t.Context(), tok); h.KeyID != newKID {
		t.Fatalf("m2 signs with %s, want the rotated key %s", h.KeyID, newKID)
	}
	lists := f.store.listCount()
	if _, _, err := m1.Verify(t.Context(), tok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("within the rate limit: error = %v, want ErrUnknownKey", err)
	}
	if f.store.listCount() != lists {
		t.Fatalf("unknown kid read the store within the rate limit")
	}
	f.clock.Advance(unknownKIDRefreshGap)
	if _, _, err := m1.Verify(t.Context(), tok); err != nil {
		t.Fatalf("after the rate limit: %v", err)
	}
	// A burst of unknown kids costs at most one read.
	lists = f.store.listCount()
	for range 50 {
		m1.Verify(t.Context(), forge(t, map[string]any{"alg": ES256, "kid": "nope"}, []byte("{}"), func([]byte) []byte { return make([]byte, 64) }))
	}
	if got := f.store.listCount() - lists; got > 1 {
		t.Errorf("50 unknown kids read the store %d times", got)
	}
}

func TestRotate(t *testing.T) {
	f := newFixture(t)
	cfg := f.config(ES256)
	cfg.MaxTokenLifetime = time.Hour
	cfg.RefreshInterval = -1
	m, err := NewManager(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	oldKID := activeKID(t, m, ES256)
	oldTok, _ := m.Sign(t.Context(), ES256, "", []byte(`{}`))

	activeAt := f.clock.Now().Add(24 * time.Hour)
	newKID, err := m.Rotate(t.Context(), ES256, activeAt)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewManager(t.Context(), cfg) // a replica starting after the rotation
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if f.store.count() != 2 {
		t.Fatalf("store has %d keys, want 2", f.store.count())
	}

	published := func(m *Manager) []string {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(m.JWKS(), &set); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range set.Keys {
			ids = append(ids, k.KeyID)
		}
		slices.Sort(ids)
		return ids
	}
	steps := []struct {
		name      string
		advance   time.Duration
		active    string
		published []string
		oldValid  bool
	}{
		{"pre-published", 0, oldKID, []string{oldKID, newKID}, true},
		{"just before activation", 24*time.Hour - time.Millisecond, oldKID, []string{oldKID, newKID}, true},
		{"activated", time.Millisecond, newKID, []string{oldKID, newKID}, true},
		{"old still published for token lifetime", time.Hour - time.Millisecond, newKID, []string{oldKID, newKID}, true},
		{"old retired", time.Millisecond, newKID, []string{newKID}, false},
	}
	for _, st := range steps {
		f.clock.Advance(st.advance)
		for i, mm := range []*Manager{m, other} {
			if got := activeKID(t, mm, ES256); got != st.active {
				t.Errorf("%s: manager %d signs with %s, want %s", st.name, i, got, st.active)
			}
			slices.Sort(st.published)
			if got := published(mm); fmt.Sprint(got) != fmt.Sprint(st.published) {
				t.Errorf("%s: manager %d publishes %v, want %v", st.name, i, got, st.published)
			}
			if _, _, err := mm.Verify(t.Context(), oldTok); (err == nil) != st.oldValid {
				t.Errorf("%s: manager %d verifying an old token: %v", st.name, i, err)
			}
		}
	}
	// A new replica does not unseal retired keys, and still has an active key.
	third, err := NewManager(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if got := third.PublicKeys(); len(got) != 1 || got[0].ID != newKID {
		t.Errorf("third manager publishes %v", got)
	}
	if f.store.count() != 2 {
		t.Errorf("a retired predecessor made the third manager create a key")
	}
}

func TestRotateBackdatedActivatesNow(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, ES256)
	kid, err := m.Rotate(t.Context(), ES256, f.clock.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Millisecond)
	if got := activeKID(t, m, ES256); got != kid {
		t.Errorf("active %s, want %s", got, kid)
	}
	if _, err := m.Rotate(t.Context(), RS256, f.clock.Now()); !errors.Is(err, ErrUnsupportedAlg) {
		t.Errorf("Rotate of an unconfigured alg: %v", err)
	}
}

func TestStoredKeyProblems(t *testing.T) {
	tests := []struct {
		name           string
		wrongMasterKey bool
		edit           func(i int, k *store.TokenKey, first store.TokenKey)
		want           error
	}{
		{"wrong master key", true, nil, ErrUnseal},
		{"sealed blob moved to another record", false, func(i int, k *store.TokenKey, first store.TokenKey) {
			if i == 1 {
				k.Sealed = first.Sealed
			}
		}, ErrUnseal},
		{"public JWK replaced", false, func(i int, k *store.TokenKey, first store.TokenKey) {
			if i == 0 {
				k.PublicJWK = []byte(`{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","kid":"` + k.ID + `"}`)
			}
		}, nil},
		{"public JWK kid differs", false, func(i int, k *store.TokenKey, first store.TokenKey) {
			if i == 1 {
				k.PublicJWK = bytes.Replace(k.PublicJWK, []byte(k.ID), []byte("other"), 1)
			}
		}, nil},
		{"tampered sealed blob", false, func(i int, k *store.TokenKey, first store.TokenKey) {
			if i == 0 {
				k.Sealed[len(k.Sealed)-3] ^= 1
			}
		}, ErrUnseal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if _, err := f.manager(t, ES256).Rotate(t.Context(), ES256, f.clock.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if tt.edit != nil {
				recs, _ := f.store.ListTokenKeys(t.Context())
				i := 0
				f.store.edit(func(k *store.TokenKey) { tt.edit(i, k, recs[0]); i++ })
			}
			cfg := f.config(ES256)
			if tt.wrongMasterKey {
				cfg.MasterKey = randomKey(t)
			}
			_, err := NewManager(t.Context(), cfg)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("NewManager error = %v, want %v", err, tt.want)
			}
			if f.store.count() != 2 {
				t.Fatalf("a failing manager created keys")
			}
		})
	}
}

func TestUnsupportedStoredAlgSkipped(t *testing.T) {
	f := newFixture(t)
	f.store.CreateTokenKey(t.Context(), store.TokenKey{ID: "future", Alg: "EdDSA", Sealed: []byte("x"), CreatedAt: f.clock.Now(), ActiveAt: f.clock.Now()})
	m := f.manager(t, ES256)
	if got := m.PublicKeys(); len(got) != 1 || got[0].Alg != ES256 {
		t.Fatalf("published %v", got)
	}
}

func TestBackgroundRefreshStops(t *testing.T) {
	f := newFixture(t)
	cfg := f.config(ES256)
	cfg.RefreshInterval = 5 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	m, err := NewManager(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	other := f.manager(t, ES256)
	kid, err := other.Rotate(t.Context(), ES256, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for activeKID(t, m, ES256) != kid {
		if time.Now().After(deadline) {
			t.Fatal("background refresh did not pick up the other replica's key")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-m.done
	n := f.store.listCount()
	time.Sleep(30 * time.Millisecond)
	if f.store.listCount() != n {
		t.Error("refresh continued after ctx was cancelled")
	}
	m.Close()
	m.Close()

	m2, err := NewManager(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m2.Close()
	n = f.store.listCount()
	time.Sleep(30 * time.Millisecond)
	if f.store.listCount() != n {
		t.Error("refresh continued after Close")
	}
}

func TestLeftHalfHash(t *testing.T) {
	sum256 := sha256.Sum256([]byte("access-token"))
	tests := []struct {
		alg, want string
		wantErr   error
	}{
		{ES256, base64.RawURLEncoding.EncodeToString(sum256[:16]), nil},
		{RS256, base64.RawURLEncoding.EncodeToString(sum256[:16]), nil},
		{"ES384", "", nil},
		{"RS512", "", nil},
		{"EdDSA", "", nil},
		{"none", "", ErrUnsupportedAlg},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			got, err := LeftHalfHash(tt.alg, "access-token")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if err == nil && tt.want == "" {
				if raw, _ := base64.RawURLEncoding.DecodeString(got); len(raw) != map[string]int{"ES384": 24, "RS512": 32, "EdDSA": 32}[tt.alg] {
					t.Errorf("%s: %d bytes", tt.alg, len(raw))
				}
			}
		})
	}
	// OpenID Connect Core 1.0, appendix A.3: the example access token and its at_hash.
	got, _ := LeftHalfHash(RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y")
	if got != "77QmUPtjPfzWtF2AnpK9RQ" {
		t.Errorf("OIDC example at_hash = %q", got)
	}
}

func TestDERToRaw(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for range 200 {
		d := sha256.Sum256([]byte(fmt.Sprint(time.Now().UnixNano())))
		der, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
		var raw [64]byte
		if !derToRaw(der, raw[:]) {
			t.Fatalf("derToRaw failed on %x", der)
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			t.Fatal(err)
		}
		var want [64]byte
		rs.R.FillBytes(want[:32])
		rs.S.FillBytes(want[32:])
		if raw != want {
			t.Fatalf("derToRaw(%x) = %x, want %x", der, raw, want)
		}
	}
	for _, bad := range [][]byte{nil, {0x30}, {0x30, 0x00}, {0x30, 0x03, 0x02, 0x01, 0x01}, {0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}} {
		var raw [64]byte
		if derToRaw(bad, raw[:]) {
			t.Errorf("derToRaw accepted %x", bad)
		}
	}
}

func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	m := fx.manager(f, ES256)
	tok, _ := m.Sign(context.Background(), ES256, "at+jwt", []byte(`{"sub":"x"}`))
	f.Add(tok)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ..")
	f.Fuzz(func(t *testing.T, s string) {
		payload, _, err := m.Verify(context.Background(), s)
		if err == nil && s != tok {
			t.Fatalf("accepted %q with payload %q", s, payload)
		}
		if err != nil && !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("error %v does not match ErrInvalidToken", err)
		}
	})
}

func FuzzDERToRaw(f *testing.F) {
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, der []byte) {
		var raw [64]byte
		derToRaw(der, raw[:])
	})
}

func TestConcurrentSignVerifyRefresh(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, ES256)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				tok, err := m.Sign(t.Context(), ES256, "at+jwt", []byte(`{}`))
				if err != nil {
					t.Error(err)
					return
				}
				if _, _, err := m.Verify(t.Context(), tok); err != nil {
					t.Error(err)
					return
				}
				m.JWKS()
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := m.Rotate(t.Context(), ES256, f.clock.Now()); err != nil {
				t.Error(err)
			}
			f.clock.Advance(time.Millisecond)
			if err := m.Refresh(t.Context()); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
}
