package vneid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// minRefresh is the least time between two fetches of the eID's keys triggered by an
// unknown key or a bad signature, so forged tokens cannot make the broker hammer the eID.
const minRefresh = 10 * time.Second

// keySet verifies the eID's signatures (its ID tokens, signed userinfo) with its JWKS,
// fetched with the configured client, and records fetch failures in the context
// (fetchRecordKey), so that Exchange can tell "the eID's keys could not be fetched"
// (unavailable) from "the signature is wrong" (invalid).
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time
	algs   []jose.SignatureAlgorithm

	mu   sync.RWMutex
	keys []jose.JSONWebKey

	fetchMu   sync.Mutex // one fetch at a time
	fetchedAt time.Time
}

type fetchRecordKey struct{}

// fetchRecord receives the key-fetch error of one verification.
type fetchRecord struct{ err error }

func newKeySet(url string, client *http.Client, now func() time.Time, algs []string) *keySet {
	ks := &keySet{url: url, client: client, now: now}
	for _, a := range algs {
		ks.algs = append(ks.algs, jose.SignatureAlgorithm(a))
	}
	return ks
}

// verify checks a compact JWS's one signature with the eID's keys, fetching them again
// once when none verifies, and returns its payload and algorithm.
func (k *keySet) verify(ctx context.Context, jwt string) ([]byte, string, error) {
	jws, err := jose.ParseSignedCompact(jwt, k.algs) // an ID token is compact: no JSON form, no whitespace to strip
	if err != nil {
		return nil, "", fmt.Errorf("malformed jws: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, "", errors.New("want exactly one signature")
	}
	h := jws.Signatures[0].Header
	k.mu.RLock()
	keys := k.keys
	k.mu.RUnlock()
	if p, ok := verifyWith(jws, h.KeyID, keys); ok {
		return p, h.Algorithm, nil
	}
	keys, err = k.refresh(ctx, keys)
	if err != nil {
		if rec, ok := ctx.Value(fetchRecordKey{}).(*fetchRecord); ok {
			rec.err = err
		}
		return nil, "", err
	}
	if p, ok := verifyWith(jws, h.KeyID, keys); ok {
		return p, h.Algorithm, nil
	}
	return nil, "", errors.New("signature does not verify with the eID's keys")
}

func verifyWith(jws *jose.JSONWebSignature, kid string, keys []jose.JSONWebKey) ([]byte, bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		if p, err := jws.Verify(&keys[i]); err == nil {
			return p, true
		}
	}
	return nil, false
}

// refresh fetches the JWKS unless another caller did so since seen was read or within
// minRefresh; it returns the current keys.
func (k *keySet) refresh(ctx context.Context, seen []jose.JSONWebKey) ([]jose.JSONWebKey, error) {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	k.mu.RLock()
	cur := k.keys
	k.mu.RUnlock()
	now := k.now()
	if len(cur) > 0 && (len(cur) != len(seen) || &cur[0] != &seen[0] || now.Sub(k.fetchedAt) < minRefresh) {
		return cur, nil
	}
	keys, err := k.fetch(ctx)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.keys, k.fetchedAt = keys, now
	k.mu.Unlock()
	return keys, nil
}

func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := readAll(resp.Body, 1<<20)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: HTTP %d", resp.StatusCode)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errors.New("jwks: not a JSON key set")
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		var jk jose.JSONWebKey
		if jk.UnmarshalJSON(raw) != nil || !jk.Valid() || !jk.IsPublic() || (jk.Use != "" && jk.Use != "sig") {
			continue // skip keys of unknown types, as go-oidc does
		}
		keys = append(keys, jk)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no usable signing key")
	}
	return keys, nil
}
