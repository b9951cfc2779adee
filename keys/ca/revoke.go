package ca

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"
)

// Revocation reasons (RFC 5280, CRLReason) that Revoke accepts. certificateHold and
// removeFromCRL are not supported: a revocation is final.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonPrivilegeWithdrawn   = 9
	ReasonAACompromise         = 10
)

// Revocation records a revoked certificate.
type Revocation struct {
	Serial    *big.Int
	Reason    int
	RevokedAt time.Time // the revocation date CRLs and OCSP report
}

type revocationRecord struct {
	Serial    string    `json:"serial"` // lower-case hex
	Reason    int       `json:"reason"`
	RevokedAt time.Time `json:"revoked_at"`
	Recorded  time.Time `json:"recorded"`
}

// revocations is this replica's cached view of the revocation records. Records are
// immutable, so a sync only loads names it has not seen.
type revocations struct {
	mu      sync.Mutex
	entries map[string]Revocation // by serial hex
	version int                   // bumped on every change
	synced  time.Time
	crl     []byte
	crlAt   time.Time
	crlVer  int
}

func validReason(r int) bool {
	switch r {
	case ReasonUnspecified, ReasonKeyCompromise, ReasonCACompromise, ReasonAffiliationChanged,
		ReasonSuperseded, ReasonCessationOfOperation, ReasonPrivilegeWithdrawn, ReasonAACompromise:
		return true
	}
	return false
}

// Revoke revokes a certificate this CA issued. at is the revocation date (zero: now); it
// may lie in the past but not in the future. Revoking twice fails with ErrAlreadyRevoked;
// the first revocation stands. The change shows in this replica's CRL and OCSP answers at
// once, and in other replicas' within Config.RefreshInterval.
func (ca *DevCA) Revoke(ctx context.Context, serial *big.Int, reason int, at time.Time) error {
	if !validReason(reason) {
		return fmt.Errorf("%w: %d", ErrInvalidReason, reason)
	}
	if _, err := ca.Certificate(ctx, serial); err != nil {
		return err
	}
	now := ca.now()
	if at.IsZero() {
		at = now
	}
	if at.After(now.Add(time.Minute)) {
		return fmt.Errorf("%w: revocation date in the future", ErrInvalidRequest)
	}
	at = at.UTC().Truncate(time.Second)
	hex := serialHex(serial)
	b, err := json.Marshal(revocationRecord{Serial: hex, Reason: reason, RevokedAt: at, Recorded: now.UTC()})
	if err != nil {
		return err
	}
	err = ca.cfg.Storage.Save(ctx, recordRevocationPrefix+hex, b)
	if errors.Is(err, ErrExists) {
		return fmt.Errorf("%w: %s", ErrAlreadyRevoked, hex)
	}
	if err != nil {
		return err
	}
	ca.log.InfoContext(ctx, "ca: revoked certificate", "serial", hex, "reason", reason, "revoked_at", at)
	ca.rev.mu.Lock()
	ca.rev.entries[hex] = Revocation{Serial: new(big.Int).Set(serial), Reason: reason, RevokedAt: at}
	ca.rev.version++
	ca.rev.mu.Unlock()
	return nil
}

// Revoked reads the store (not the cache) and returns the certificate's revocation, or
// nil when it is not revoked. Check it before every use of a citizen's key.
func (ca *DevCA) Revoked(ctx context.Context, serial *big.Int) (*Revocation, error) {
	if serial == nil || serial.Sign() <= 0 {
		return nil, ErrUnknownCertificate
	}
	b, err := ca.cfg.Storage.Load(ctx, recordRevocationPrefix+serialHex(serial))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := decodeRevocation(b)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func decodeRevocation(b []byte) (Revocation, error) {
	var rec revocationRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return Revocation{}, fmt.Errorf("ca: revocation record: %w", err)
	}
	n, ok := new(big.Int).SetString(rec.Serial, 16)
	if !ok {
		return Revocation{}, fmt.Errorf("ca: revocation record: bad serial %q", rec.Serial)
	}
	return Revocation{Serial: n, Reason: rec.Reason, RevokedAt: rec.RevokedAt}, nil
}

// sync loads revocations other replicas wrote, at most once per RefreshInterval unless
// force. It returns the current view under no lock: callers read only.
func (ca *DevCA) syncRevocations(ctx context.Context, force bool) error {
	ca.rev.mu.Lock()
	fresh := !force && !ca.rev.synced.IsZero() && ca.now().Sub(ca.rev.synced) < ca.cfg.RefreshInterval
	ca.rev.mu.Unlock()
	if fresh {
		return nil
	}
	names, err := ca.cfg.Storage.List(ctx, recordRevocationPrefix)
	if err != nil {
		return err
	}
	var add []Revocation
	ca.rev.mu.Lock()
	var missing []string
	for _, name := range names {
		if _, ok := ca.rev.entries[strings.TrimPrefix(name, recordRevocationPrefix)]; !ok {
			missing = append(missing, name)
		}
	}
	ca.rev.mu.Unlock()
	for _, name := range missing {
		b, err := ca.cfg.Storage.Load(ctx, name)
		if err != nil {
			return err
		}
		r, err := decodeRevocation(b)
		if err != nil {
			return err
		}
		add = append(add, r)
	}
	ca.rev.mu.Lock()
	defer ca.rev.mu.Unlock()
	for _, r := range add {
		hex := serialHex(r.Serial)
		if _, ok := ca.rev.entries[hex]; !ok {
			ca.rev.entries[hex] = r
			ca.rev.version++
		}
	}
	ca.rev.synced = ca.now()
	return nil
}

// lookupRevocation answers from the cached view, synced as RefreshInterval allows.
func (ca *DevCA) lookupRevocation(ctx context.Context, serial *big.Int) (Revocation, bool, error) {
	if err := ca.syncRevocations(ctx, false); err != nil {
		return Revocation{}, false, err
	}
	ca.rev.mu.Lock()
	defer ca.rev.mu.Unlock()
	r, ok := ca.rev.entries[serialHex(serial)]
	return r, ok, nil
}

// CRL returns the issuing CA's current CRL (DER): every revoked certificate, signed by
// the issuing CA, nextUpdate CRLValidity (at most an hour) after thisUpdate. A CRL is
// reused while nothing changed and it is younger than RefreshInterval.
func (ca *DevCA) CRL(ctx context.Context) ([]byte, error) {
	if err := ca.syncRevocations(ctx, false); err != nil {
		return nil, err
	}
	now := ca.now()
	ca.rev.mu.Lock()
	defer ca.rev.mu.Unlock()
	if ca.rev.crl != nil && ca.rev.crlVer == ca.rev.version && now.Sub(ca.rev.crlAt) < ca.cfg.RefreshInterval && !now.Before(ca.rev.crlAt) {
		return ca.rev.crl, nil
	}
	entries := make([]x509.RevocationListEntry, 0, len(ca.rev.entries))
	for _, r := range ca.rev.entries {
		e := x509.RevocationListEntry{SerialNumber: r.Serial, RevocationTime: r.RevokedAt}
		if r.Reason != ReasonUnspecified {
			e.ReasonCode = r.Reason // RFC 5280: omit the extension for unspecified
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b x509.RevocationListEntry) int { return a.SerialNumber.Cmp(b.SerialNumber) })
	der, err := ca.signCRL(ca.issuing, entries, now)
	if err != nil {
		return nil, err
	}
	ca.rev.crl, ca.rev.crlAt, ca.rev.crlVer = der, now, ca.rev.version
	return der, nil
}

// RootCRL returns the root's CRL: it revokes nothing (the issuing CA is never revoked in
// development) but lets validators check the issuing CA's certificate.
func (ca *DevCA) RootCRL(ctx context.Context) ([]byte, error) {
	return ca.signCRL(ca.root, nil, ca.now())
}

func (ca *DevCA) signCRL(by *Identity, entries []x509.RevocationListEntry, now time.Time) ([]byte, error) {
	this := now.UTC().Truncate(time.Second)
	tmpl := &x509.RevocationList{
		RevokedCertificateEntries: entries,
		// Milliseconds since 1970 increase across replicas as far as their clocks agree.
		Number:     big.NewInt(now.UnixMilli()),
		ThisUpdate: this,
		NextUpdate: this.Add(ca.cfg.CRLValidity),
	}
	return x509.CreateRevocationList(rand.Reader, tmpl, by.Certificate, by.Signer)
}
