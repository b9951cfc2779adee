package keys

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/motlan/motlan/idp/store"
)

// Store is the storage the manager needs; store.TokenKeys satisfies it.
type Store interface {
	// CreateTokenKey stores k; an error wrapping store.ErrConflict if its ID is taken.
	CreateTokenKey(ctx context.Context, k store.TokenKey) error
	// ListTokenKeys returns every key, ordered by CreatedAt, then ID.
	ListTokenKeys(ctx context.Context) ([]store.TokenKey, error)
}

// Defaults for Config.
const (
	DefaultRSABits          = 2048
	DefaultRefreshInterval  = time.Minute
	DefaultMaxTokenLifetime = 24 * time.Hour
)

// unknownKIDRefreshGap rate-limits the store reads Verify does for unknown key IDs.
const unknownKIDRefreshGap = time.Second

// Config configures a Manager.
type Config struct {
	Store     Store
	MasterKey []byte   // MasterKeySize bytes; see LoadMasterKey
	Algs      []string // algorithms to keep an active key for; default ES256, RS256
	RSABits   int      // default 2048, at least 2048
	Now       func() time.Time
	Logger    *slog.Logger
	// RefreshInterval is how often the store is re-read for keys other replicas added.
	// Default one minute; negative: no background refresh (call Refresh yourself).
	RefreshInterval time.Duration
	// MaxTokenLifetime is the longest a token signed by these keys stays valid (the
	// longest of the ID token, access token and logout token lifetimes). A key superseded
	// by a newer one stays published this long, plus RefreshInterval, after the newer one
	// became active. Default 24 hours.
	MaxTokenLifetime time.Duration
	// Rotation is the key schedule; the zero value rotates only when Rotate is called.
	Rotation Rotation
}

// PublicKey is a published key.
type PublicKey struct {
	ID        string
	Alg       string
	Key       crypto.PublicKey // *ecdsa.PublicKey or *rsa.PublicKey
	CreatedAt time.Time
	ActiveAt  time.Time
	RetireAt  time.Time // when it leaves JWKS; zero: not scheduled
}

// Manager holds the token-signing keys. It is safe for concurrent use.
type Manager struct {
	cfg    Config
	sealer *Sealer
	log    *slog.Logger
	now    func() time.Time

	snap atomic.Pointer[snapshot]
	jwks atomic.Pointer[jwksCache]

	verified verifiedSet // tokens whose signature Verify checked (verified.go)

	refreshMu   sync.Mutex // serializes Refresh; guards lastRefresh
	lastRefresh time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

// material is the immutable, unsealed part of a stored key.
type material struct {
	id      string
	alg     string
	sealed  []byte // to recognize the same record on refresh
	signer  crypto.Signer
	pub     crypto.PublicKey
	sigLen  int
	headers map[string]string // typ -> encoded header prefix, for common typs
}

func (k *material) header(typ string) string {
	if h, ok := k.headers[typ]; ok {
		return h
	}
	return encodeHeader(k.alg, k.id, typ)
}

// entry is a key with its schedule as of one snapshot.
type entry struct {
	*material
	createdAt, activeAt time.Time
	retireAt            time.Time // effective: stored or derived; zero: never
}

func (e *entry) retiredAt(t time.Time) bool { return !e.retireAt.IsZero() && !t.Before(e.retireAt) }

// snapshot is an immutable view of the keys, replaced as a whole on refresh.
type snapshot struct {
	entries []*entry            // store order
	byID    map[string]*entry   // also the published set, with entry.retiredAt
	byAlg   map[string][]*entry // preferred first: newest ActiveAt, then smallest ID
}

type jwksCache struct {
	snap  *snapshot
	until time.Time // the next retirement, after which the document changes
	doc   []byte
}

// NewManager loads the keys from the store, creates a key for each configured algorithm
// that has none, and starts the background refresh, which runs until ctx is done or
// Close is called (so pass a context that lives as long as the manager).
func NewManager(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("keys: Config.Store is nil")
	}
	if len(cfg.Algs) == 0 {
		cfg.Algs = []string{ES256, RS256}
	}
	cfg.Algs = slices.Clone(cfg.Algs)
	for _, alg := range cfg.Algs {
		if alg != ES256 && alg != RS256 {
			return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
		}
	}
	cfg.Algs = slices.Compact(cfg.Algs)
	if cfg.RSABits == 0 {
		cfg.RSABits = DefaultRSABits
	}
	if cfg.RSABits < 2048 {
		return nil, fmt.Errorf("keys: RSABits %d is below 2048", cfg.RSABits)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.MaxTokenLifetime <= 0 {
		cfg.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if err := cfg.Rotation.validate(cfg.RefreshInterval); err != nil {
		return nil, err
	}
	sealer, err := NewSealer(cfg.MasterKey)
	if err != nil {
		return nil, err
	}
	cfg.MasterKey = nil // the sealer holds what it needs
	m := &Manager{cfg: cfg, sealer: sealer, log: cfg.Logger, now: cfg.Now}

	if err := m.Refresh(ctx); err != nil {
		return nil, err
	}
	if err := m.ensureKeys(ctx); err != nil {
		return nil, err
	}
	if _, err := m.RotateDue(ctx); err != nil {
		return nil, err
	}

	if cfg.RefreshInterval > 0 {
		lctx, cancel := context.WithCancel(ctx)
		m.cancel = cancel
		m.done = make(chan struct{})
		go m.loop(lctx)
	}
	return m, nil
}

// Close stops the background refresh. It is safe to call more than once.
func (m *Manager) Close() error {
	if m.cancel != nil {
		m.cancel()
		<-m.done
	}
	return nil
}

func (m *Manager) loop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, max(m.cfg.RefreshInterval, 10*time.Second))
			if err := m.Refresh(rctx); err != nil && ctx.Err() == nil {
				m.log.WarnContext(ctx, "keys: refresh failed; keeping the keys loaded before", "err", err)
			} else if _, err := m.RotateDue(rctx); err != nil && ctx.Err() == nil {
				m.log.WarnContext(ctx, "keys: scheduled rotation failed; retrying at the next refresh", "err", err)
			}
			cancel()
		}
	}
}

// Refresh re-reads the keys from the store. On error the keys loaded before stay in use.
func (m *Manager) Refresh(ctx context.Context) error {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	return m.refreshLocked(ctx)
}

func (m *Manager) refreshLocked(ctx context.Context) error {
	m.lastRefresh = m.now()
	recs, err := m.cfg.Store.ListTokenKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: listing token keys: %w", err)
	}
	snap, err := m.build(ctx, recs, m.snap.Load())
	if err != nil {
		return err
	}
	m.snap.Store(snap)
	return nil
}

// prefer orders keys of one algorithm: newest ActiveAt first, then smallest ID.
func prefer(a, b *entry) int {
	if c := b.activeAt.Compare(a.activeAt); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// build makes a snapshot from the store's records, reusing unsealed material from prev.
func (m *Manager) build(ctx context.Context, recs []store.TokenKey, prev *snapshot) (*snapshot, error) {
	now := m.now()
	byAlg := map[string][]*entry{}
	var all []*entry
	for _, r := range recs {
		if r.Alg != ES256 && r.Alg != RS256 {
			m.log.WarnContext(ctx, "keys: skipping token key of unsupported algorithm", "kid", r.ID, "alg", r.Alg)
			continue
		}
		e := &entry{material: &material{id: r.ID, alg: r.Alg}, createdAt: r.CreatedAt, activeAt: r.ActiveAt, retireAt: r.RetireAt}
		byAlg[r.Alg] = append(byAlg[r.Alg], e)
		all = append(all, e)
	}
	// A key is superseded when a preferred key of its algorithm becomes active; it
	// retires MaxTokenLifetime+RefreshInterval later (the interval covers replicas that
	// have not refreshed yet), or at its stored RetireAt if that is sooner.
	grace := m.cfg.MaxTokenLifetime + max(m.cfg.RefreshInterval, 0)
	for _, es := range byAlg {
		slices.SortFunc(es, prefer)
		for i, e := range es {
			var supersededAt time.Time
			for _, p := range es[:i] { // preferred keys
				if supersededAt.IsZero() || p.activeAt.Before(supersededAt) {
					supersededAt = p.activeAt
				}
			}
			if !supersededAt.IsZero() {
				derived := supersededAt.Add(grace)
				if e.retireAt.IsZero() || derived.Before(e.retireAt) {
					e.retireAt = derived
				}
			}
		}
	}

	snap := &snapshot{byID: map[string]*entry{}, byAlg: map[string][]*entry{}}
	sealedByID := map[string]*material{}
	if prev != nil {
		for _, e := range prev.entries {
			sealedByID[e.id] = e.material
		}
	}
	recByID := make(map[string]store.TokenKey, len(recs))
	for _, r := range recs {
		recByID[r.ID] = r
	}
	for _, e := range all {
		if e.retiredAt(now) {
			continue // never unseal what no one may use
		}
		r := recByID[e.id]
		if old := sealedByID[e.id]; old != nil && old.alg == r.Alg && string(old.sealed) == string(r.Sealed) {
			e.material = old
		} else {
			mat, err := m.unseal(r)
			if err != nil {
				return nil, err
			}
			e.material = mat
		}
		snap.entries = append(snap.entries, e)
		snap.byID[e.id] = e
		snap.byAlg[e.alg] = append(snap.byAlg[e.alg], e)
	}
	for _, es := range snap.byAlg {
		slices.SortFunc(es, prefer)
	}
	return snap, nil
}

// unseal decrypts and checks one stored key.
func (m *Manager) unseal(r store.TokenKey) (*material, error) {
	fail := func(err error) (*material, error) {
		return nil, fmt.Errorf("keys: token key %q: %w", r.ID, err)
	}
	der, err := m.sealer.Open(r.ID, r.Sealed)
	if err != nil {
		return fail(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return fail(errors.New("sealed key is not PKCS#8"))
	}
	mat := &material{id: r.ID, alg: r.Alg, sealed: r.Sealed}
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		if r.Alg != ES256 || k.Curve != elliptic.P256() {
			return fail(fmt.Errorf("%s record holds a non-P-256 key", r.Alg))
		}
		mat.signer, mat.pub, mat.sigLen = k, &k.PublicKey, 64
	case *rsa.PrivateKey:
		if r.Alg != RS256 || k.N.BitLen() < 2048 {
			return fail(fmt.Errorf("%s record holds an RSA key of %d bits", r.Alg, k.N.BitLen()))
		}
		mat.signer, mat.pub, mat.sigLen = k, &k.PublicKey, k.Size()
	default:
		return fail(fmt.Errorf("%s record holds a %T", r.Alg, priv))
	}
	// The stored public JWK is not under the seal: check it against the private key, and
	// publish what the private key says.
	var stored jose.JSONWebKey
	if err := stored.UnmarshalJSON(r.PublicJWK); err != nil || stored.KeyID != r.ID || !stored.IsPublic() ||
		!mat.pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(stored.Key) {
		return fail(errors.New("stored public JWK does not match the sealed key"))
	}
	mat.headers = map[string]string{}
	for _, typ := range []string{"", "JWT", "at+jwt", "logout+jwt"} {
		mat.headers[typ] = encodeHeader(mat.alg, mat.id, typ)
	}
	return mat, nil
}

// create generates, seals and stores a new key of alg, active from activeAt (zero: now),
// under kid, or under a random ID when kid is empty. A taken kid is an error wrapping
// store.ErrConflict.
func (m *Manager) create(ctx context.Context, alg, kid string, activeAt time.Time) (string, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, m.cfg.RSABits)
	default:
		return "", fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
	}
	if err != nil {
		return "", fmt.Errorf("keys: generating %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("keys: encoding %s key: %w", alg, err)
	}
	defer clear(der)
	now := m.now().UTC().Truncate(time.Millisecond)
	activeAt = activeAt.UTC().Truncate(time.Millisecond)
	if activeAt.Before(now) {
		activeAt = now
	}
	tries := 3
	if kid != "" {
		tries = 1
	}
	for range tries {
		kid := kid
		if kid == "" {
			var rnd [16]byte
			if _, err := rand.Read(rnd[:]); err != nil {
				return "", err
			}
			kid = base64.RawURLEncoding.EncodeToString(rnd[:])
		}
		jwk, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"})
		if err != nil {
			return "", fmt.Errorf("keys: encoding %s public key: %w", alg, err)
		}
		sealed, err := m.sealer.Seal(kid, der)
		if err != nil {
			return "", err
		}
		err = m.cfg.Store.CreateTokenKey(ctx, store.TokenKey{
			ID: kid, Alg: alg, Sealed: sealed, PublicJWK: jwk, CreatedAt: now, ActiveAt: activeAt,
		})
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("keys: storing %s key: %w", alg, err)
		}
		m.log.InfoContext(ctx, "keys: created token key", "kid", kid, "alg", alg, "active_at", activeAt)
		return kid, nil
	}
	return "", fmt.Errorf("keys: storing %s key %s: key ID taken: %w", alg, cmp.Or(kid, "(random, 3 tries)"), store.ErrConflict)
}

// active returns the key that signs for alg at t: the preferred key already active, or,
// when none is yet (clock skew between replicas at first start), the earliest to become
// active.
func (s *snapshot) active(alg string, t time.Time) *entry {
	es := s.byAlg[alg]
	var first *entry
	for _, e := range es {
		if e.retiredAt(t) {
			continue
		}
		if !e.activeAt.After(t) {
			return e
		}
		if first == nil || e.activeAt.Before(first.activeAt) {
			first = e
		}
	}
	return first
}

// Sign returns a compact JWS of payload signed with the active key of alg, with kid and
// alg in its header, and typ when typ is not empty (RFC 9068 access tokens: "at+jwt").
// It does not touch the store.
func (m *Manager) Sign(ctx context.Context, alg, typ string, payload []byte) (string, error) {
	if !slices.Contains(m.cfg.Algs, alg) {
		return "", fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
	}
	e := m.snap.Load().active(alg, m.now())
	if e == nil {
		return "", fmt.Errorf("%w for %s", ErrNoActiveKey, alg)
	}
	return signCompact(e.material, e.header(typ), payload)
}

// Verify checks a compact JWS signed by one of the published keys and returns its payload
// and header. It checks the signature only: claims (exp, iss, aud) are the caller's. On
// an unknown kid it re-reads the store, at most once a second. Errors match
// ErrInvalidToken.
func (m *Manager) Verify(ctx context.Context, token string) ([]byte, Header, error) {
	p, err := parseCompact(token)
	if err != nil {
		return nil, Header{}, err
	}
	now := m.now()
	e := m.snap.Load().byID[p.header.KeyID]
	if e == nil {
		m.refreshForUnknownKID(ctx)
		now = m.now()
		e = m.snap.Load().byID[p.header.KeyID]
	}
	if e == nil || e.retiredAt(now) {
		return nil, Header{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrUnknownKey)
	}
	if p.header.Alg != e.alg {
		return nil, Header{}, invalid("alg %q does not match key", p.header.Alg)
	}
	// The key checks above run for every token; only the signature arithmetic is
	// skipped for a token already verified with this very key.
	if !m.verified.has(token, e.material) {
		if !verifySig(e.alg, e.pub, p.signingInput, p.sig) {
			return nil, Header{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrBadSignature)
		}
		m.verified.add(token, e.material)
	}
	return p.payload, p.header, nil
}

func (m *Manager) refreshForUnknownKID(ctx context.Context) {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	if m.now().Sub(m.lastRefresh) < unknownKIDRefreshGap {
		return
	}
	if err := m.refreshLocked(ctx); err != nil {
		m.log.WarnContext(ctx, "keys: refresh for unknown kid failed", "err", err)
	}
}

// PublicKeys returns the keys published now, in the store's order.
func (m *Manager) PublicKeys() []PublicKey {
	now := m.now()
	var out []PublicKey
	for _, e := range m.snap.Load().entries {
		if e.retiredAt(now) {
			continue
		}
		out = append(out, PublicKey{
			ID: e.id, Alg: e.alg, Key: e.pub, CreatedAt: e.createdAt, ActiveAt: e.activeAt, RetireAt: e.retireAt,
		})
	}
	return out
}

// JWKS returns the JSON Web Key Set of the published keys, with kid, alg and use "sig".
// The document is cached; callers must not modify it.
func (m *Manager) JWKS() []byte {
	snap, now := m.snap.Load(), m.now()
	if c := m.jwks.Load(); c != nil && c.snap == snap && (c.until.IsZero() || now.Before(c.until)) {
		return c.doc
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	var until time.Time
	for _, e := range snap.entries {
		if e.retiredAt(now) {
			continue
		}
		if !e.retireAt.IsZero() && (until.IsZero() || e.retireAt.Before(until)) {
			until = e.retireAt
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: e.pub, KeyID: e.id, Algorithm: e.alg, Use: "sig"})
	}
	doc, err := json.Marshal(set)
	if err != nil { // public ECDSA and RSA keys always marshal
		panic(fmt.Sprintf("keys: encoding JWKS: %v", err))
	}
	m.jwks.Store(&jwksCache{snap: snap, until: until, doc: doc})
	return doc
}
