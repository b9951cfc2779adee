package keys

import (
	"crypto/sha256"
	"sync"
)

// A long-polling client sends the same access token again and again (a portal polling
// thousands of phones' requests sends one token for all of them), and each ES256
// signature check costs about 0.1 ms of CPU, a third of what a re-poll costs. So Verify
// remembers the tokens whose signature it has checked, by the SHA-256 of the exact
// token, with the key that verified them. A remembered token skips only the signature
// arithmetic: its key is looked up and checked (known, not retired, its alg) every time
// first, exactly as for a new token, and a token that differs in any byte (another
// signature of the same claims included) is a new token. Only good signatures are kept;
// claims (exp, aud, ...) are the caller's to check on every use, as before.

// maxVerified bounds the remembered tokens; at the bound the set starts over (cheaper
// than an LRU, and a few thousand tokens in use at once are one signature each again).
const maxVerified = 4096

type verifiedSet struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*material
}

// has reports whether token's signature was verified with key k.
func (v *verifiedSet) has(token string, k *material) bool {
	h := sha256.Sum256([]byte(token))
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.m[h] == k
}

// add remembers that token's signature verified with k.
func (v *verifiedSet) add(token string, k *material) {
	h := sha256.Sum256([]byte(token))
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerified {
		v.m = make(map[[sha256.Size]byte]*material)
	}
	v.m[h] = k
}

func (v *verifiedSet) len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.m)
}
