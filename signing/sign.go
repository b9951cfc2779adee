package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/tracing"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/keys/vault"
	"github.com/motlan/motlan/signing/ltv"
	"github.com/motlan/motlan/signing/pades"
)

// How signing guarantees one signature per document:
//
//   - A request leaves pending once (the approval's compare-and-swap); the approving call
//     then holds a lease (Worker, LeaseUntil), renewed while the run lives (lease.go).
//     Resume takes over only a request whose lease has run out, or that a run of this
//     replica's earlier process held, with a fresh Worker; every write of a run checks it
//     still holds the lease.
//   - The documents of a run are signed side by side, at most SignParallel at once in the
//     service; each document is signed by one goroutine of one run, so still once.
//   - A document whose SignedAt is set is skipped. A document with signed bytes stored
//     but SignedAt unset (a crash between the two writes) is marked from the stored bytes,
//     not signed again. PutSignedPDF is write-once: of two runs that both signed, the
//     first stored copy stands.
//   - pades.Sign calls its signer exactly once per document. A remote backend gets the
//     documents of a run together, in one SignHashes call (batch.go); the local vault one
//     by one.
//
// The one window left is a crash after the vault signed and before PutSignedPDF stored
// the result: that signature was never seen by anyone, and the next run signs again.
//
// Faults that may pass (vault, TSA, store, citizen lookup, CA unreachable) leave the
// request signing with its lease released, for Resume; the run count is bounded by
// MaxAttempts. Faults that will not pass (certificate revoked, the stored original no
// longer matching the approved hash, a PDF pades refuses) fail the request.

// Revocation reasons after which a new certificate is issued for the same key: the
// certificate was replaced or the citizen's details changed, the key is not in doubt.
// Any other reason (key compromise, unspecified, privilege withdrawn, ...) refuses signing
// with ErrCertificateRevoked until an operator acts.
var reissueReasons = map[int]bool{
	ca.ReasonSuperseded:           true,
	ca.ReasonAffiliationChanged:   true,
	ca.ReasonCessationOfOperation: true,
}

// renewBefore: a certificate this close to expiry is replaced before use.
const renewBefore = time.Hour

// permanentError fails the request with Reason (short, no personal data).
type permanentError struct {
	reason string
	err    error
}

func (e *permanentError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(reason string, err error) error { return &permanentError{reason: reason, err: err} }

var errLeaseLost = errors.New("signing: lease lost to another run")

// CitizenKeyLabel is the vault label of a citizen's signing key.
func CitizenKeyLabel(citizenID string) string { return "citizen/" + citizenID }

// sign runs the signing of r, which this run (worker) holds. It returns the request as
// the run left it; an error only when even that could not be recorded.
func (s *Service) sign(ctx context.Context, r Request, worker string, act Activation) (Request, error) {
	// A child of the approval's span when traced: the TSA, OCSP and HSM calls nest in it.
	ctx, span := tracing.Start(ctx, "signing", attribute.String("motlan.level", string(r.Level)), attribute.Int("motlan.documents", len(r.Documents)))
	defer span.End()
	ctx, done := s.runs.start(ctx) // Drain waits for the run, or stops it (drain.go)
	defer done()
	runCtx, stop := s.keepLease(ctx, r.ID, worker)
	out, err := s.signDocuments(runCtx, r, worker, act)
	stop()
	if err == nil {
		return out, nil
	}
	if errors.Is(err, errLeaseLost) {
		s.log.WarnContext(ctx, "signing: another run took the request over", "request", r.ID)
		return s.cfg.Store.GetSigningRequest(ctx, r.ID)
	}
	var perm *permanentError
	if errors.As(err, &perm) && ctx.Err() == nil { // a stopped run hands the request back
		s.log.WarnContext(ctx, "signing failed", "request", r.ID, "reason", perm.reason, "err", err)
		failed, uerr := s.holding(ctx, r.ID, worker, func(old Request) Request {
			old.Status, old.Failure = StatusFailed, perm.reason
			old.Worker, old.LeaseUntil = "", time.Time{}
			return old
		})
		if uerr != nil {
			return Request{}, fmt.Errorf("signing: recording the failure of %s: %w", r.ID, uerr)
		}
		s.ended(failed)
		return failed, nil
	}
	s.log.WarnContext(ctx, "signing interrupted; Resume will finish it", "request", r.ID, "err", err)
	rel, uerr := s.holding(context.WithoutCancel(ctx), r.ID, worker, func(old Request) Request {
		old.Worker, old.LeaseUntil = "", time.Time{}
		return old
	})
	if uerr != nil {
		return s.cfg.Store.GetSigningRequest(context.WithoutCancel(ctx), r.ID)
	}
	s.notify(r.ID)
	return rel, nil
}

// holding updates the request only while this run holds it.
func (s *Service) holding(ctx context.Context, id, worker string, fn func(Request) Request) (Request, error) {
	return s.cfg.Store.UpdateSigningRequest(ctx, id, holdingFn(worker, fn))
}

// holdingRecorded is holding that records act with the update (updateRecorded).
func (s *Service) holdingRecorded(ctx context.Context, id, worker string, fn func(Request) Request, act recordAct) (Request, error) {
	return s.updateRecorded(ctx, id, holdingFn(worker, fn), act)
}

func holdingFn(worker string, fn func(Request) Request) func(Request) (Request, error) {
	return func(old Request) (Request, error) {
		if old.Status != StatusSigning || old.Worker != worker {
			return old, errLeaseLost
		}
		return fn(old), nil
	}
}

func (s *Service) signDocuments(ctx context.Context, r Request, worker string, act Activation) (Request, error) {
	if r.CitizenID == "" || len(r.ApprovedHashes) != len(r.Documents) {
		return r, permanent("approval incomplete", errors.New("no citizen or approved hashes"))
	}
	info, err := s.cfg.Citizens.Citizen(ctx, r.CitizenID)
	if err != nil {
		return r, fmt.Errorf("citizen lookup: %w", err)
	}
	var todo []int
	for i := range r.Documents {
		if !r.Documents[i].SignedAt.IsZero() {
			continue
		}
		signed, err := s.cfg.Store.SignedPDF(ctx, r.ID, i)
		switch {
		case err == nil: // stored by an earlier run that stopped before marking it
			if r, err = s.markSigned(ctx, r, worker, i, signed, nil); err != nil {
				return r, err
			}
		case errors.Is(err, ErrNotFound):
			todo = append(todo, i)
		default:
			return r, err
		}
	}
	if len(todo) > 0 {
		cred, err := s.runCredential(ctx, r, info)
		if err != nil {
			return r, err
		}
		if r, err = s.signBatches(ctx, r, worker, batches(todo, cred), cred, act); err != nil {
			return r, err
		}
	}
	// The signature's audit record is stored with the request's move to signed.
	done, err := s.holdingRecorded(ctx, r.ID, worker, func(old Request) Request {
		for _, d := range old.Documents {
			if d.SignedAt.IsZero() {
				return old
			}
		}
		old.Status, old.Worker, old.LeaseUntil = StatusSigned, "", time.Time{}
		return old
	}, recordAct{audit.KindSigningSigned, audit.Citizen(r.CitizenID), StatusSigned})
	if err != nil {
		return r, err
	}
	if done.Status != StatusSigned {
		return done, errors.New("a document is still unsigned")
	}
	s.log.InfoContext(ctx, "signing request signed", "request", r.ID, "documents", len(done.Documents))
	s.ended(done)
	return done, nil
}

// runCredential is the credential a signing run signs with: the one the approval's grant
// was made for (no call to the provider), or the backend's lookup.
func (s *Service) runCredential(ctx context.Context, r Request, info CitizenInfo) (Credential, error) {
	if r.Grant != nil {
		return s.grantedCredential(r)
	}
	cred, err := s.backend.Credential(ctx, info)
	if err != nil {
		return nil, classify(err)
	}
	return cred, nil
}

// markSigned records document i as signed with the stored bytes signed, renewing the lease.
func (s *Service) markSigned(ctx context.Context, r Request, worker string, i int, signed []byte, gaps []ltv.Gap) (Request, error) {
	sum := sha256.Sum256(signed)
	r, err := s.holding(ctx, r.ID, worker, func(old Request) Request {
		old.Documents[i].SignedAt, old.Documents[i].SignedSHA = s.now(), hex.EncodeToString(sum[:])
		old.Documents[i].EvidenceGaps = gaps
		old.LeaseUntil = s.now().Add(s.cfg.Lease)
		return old
	})
	if err == nil {
		s.notify(r.ID)
	}
	return r, err
}

// sequential is a Credential that gains nothing from signing documents together (the
// local vault signs one digest at a time).
type sequential interface{ Sequential() bool }

// batches splits todo into the SignHashes calls to make: all at once for a remote
// backend (one authorisation, one round trip), one by one for a sequential one, so that
// only one document at a time is held in memory, signed and stored, as before backends.
func batches(todo []int, cred Credential) [][]int {
	if sq, ok := cred.(sequential); !ok || !sq.Sequential() {
		return [][]int{todo}
	}
	out := make([][]int, len(todo))
	for k, i := range todo {
		out[k] = []int{i}
	}
	return out
}

// signBatches runs the batches side by side, each holding one of the service's
// SignParallel slots; after a failure no further batch starts. It returns the newest
// request the batches left and the gravest error (a lost lease, then a permanent one).
func (s *Service) signBatches(ctx context.Context, r Request, worker string, bs [][]int, cred Credential, act Activation) (Request, error) {
	var (
		mu     sync.Mutex
		latest = r
		failed error
		wg     sync.WaitGroup
	)
	for _, b := range bs {
		held := false
		select {
		case s.slots <- struct{}{}:
			held = true
		case <-ctx.Done():
		}
		mu.Lock()
		if !held {
			failed = graver(failed, ctx.Err())
		}
		stop := failed != nil
		mu.Unlock()
		if stop {
			if held {
				<-s.slots
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-s.slots }()
			out, err := s.signBatch(ctx, r, worker, b, cred, act)
			mu.Lock()
			defer mu.Unlock()
			if out.Version > latest.Version {
				latest = out
			}
			failed = graver(failed, err)
		}()
	}
	wg.Wait()
	return latest, failed
}

// graver is the error of the two that decides how the run ends: a lost lease (stop at
// once), a permanent failure (fail the request), any other (resume later).
func graver(a, b error) error {
	rank := func(err error) int {
		var perm *permanentError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, errLeaseLost):
			return 3
		case errors.As(err, &perm):
			return 2
		}
		return 1
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// signBatch signs the documents todo with one SignHashes call, extends them to the level
// asked for, then stores them. A document is stored only once every signed one has been
// extended, so a fault leaves nothing of this batch half-done in the store.
func (s *Service) signBatch(ctx context.Context, r Request, worker string, todo []int, cred Credential, act Activation) (Request, error) {
	origs := make([][]byte, len(todo))
	for k, i := range todo {
		orig, err := s.approvedOriginal(ctx, r, i)
		if err != nil {
			return r, err
		}
		origs[k] = orig
	}
	// Check the run still holds the request before signing, and renew its lease without a
	// new version (no long-poll wakes for it).
	if err := s.renewLease(ctx, r.ID, worker); err != nil {
		return r, err
	}
	signed := make([][]byte, len(todo))
	errs, cause := batchSign(ctx, forGrant(r, todo, cred), act, len(todo), func(ctx context.Context, k int, signer pades.Signer) error {
		out, err := s.padesSign(ctx, r, todo[k], origs[k], signer, cred)
		signed[k] = out
		return err
	})
	gaps := make([][]ltv.Gap, len(todo))
	var err error
	for k := range todo {
		if errs[k] == nil {
			if signed[k], gaps[k], err = s.extend(ctx, r, todo[k], signed[k], cred.Certificate()); err != nil {
				return r, err
			}
		} else if cause == nil {
			cause = errs[k]
		}
	}
	for k, i := range todo {
		if errs[k] != nil {
			continue
		}
		out, err := s.store(ctx, r, i, signed[k])
		if err != nil {
			return r, err
		}
		if r, err = s.markSigned(ctx, r, worker, i, out, gaps[k]); err != nil {
			return r, err
		}
	}
	if cause != nil {
		return r, classify(cause)
	}
	return r, nil
}

// classify turns a backend's refusal into the request's failure; other errors pass.
func classify(err error) error {
	var be *BackendError
	var perm *permanentError
	switch {
	case errors.As(err, &perm):
		return perm
	case errors.As(err, &be):
		return permanent(be.Code, err)
	}
	return err
}

// approvedOriginal reads document i and checks it is still the one the citizen approved.
func (s *Service) approvedOriginal(ctx context.Context, r Request, i int) ([]byte, error) {
	orig, err := s.cfg.Store.OriginalPDF(ctx, r.ID, i)
	if err != nil {
		return nil, fmt.Errorf("reading document %d: %w", i, err)
	}
	sum := sha256.Sum256(orig)
	if h := hex.EncodeToString(sum[:]); h != r.ApprovedHashes[i] || h != r.Documents[i].SHA256 {
		return nil, permanent("document differs from the approved one", fmt.Errorf("document %d", i))
	}
	return orig, nil
}

// padesSign makes document i's PAdES signature (B-B or B-T) with signer.
func (s *Service) padesSign(ctx context.Context, r Request, i int, orig []byte, signer pades.Signer, cred Credential) ([]byte, error) {
	opt := pades.Options{
		Certificate:  cred.Certificate(),
		Chain:        cred.Chain(),
		Reason:       r.Reason,
		Location:     r.Location,
		Time:         r.SignTime, // fixed at an approval that authorised the digests
		Level:        pades.LevelBB,
		MaxInputSize: max(s.cfg.MaxDocumentSize, int64(len(orig))),
		Appearance:   s.appearance(r.Documents[i]),
	}
	if opt.Time.IsZero() {
		opt.Time = s.now()
	}
	if r.Level == LevelBT || r.Level.longTerm() {
		if s.cfg.Timestamp == nil {
			return nil, permanent("no timestamp authority for "+string(r.Level), errors.New("ServiceConfig.Timestamp is nil"))
		}
		opt.Level = pades.LevelBT
		opt.Timestamp = pades.TimestampFunc(s.cfg.Timestamp)
	}
	if r.Level.longTerm() {
		if msg := s.longTermUnsupported(r.Level); msg != "" {
			return nil, permanent("level not available", errors.New(msg))
		}
	}
	var out bytes.Buffer
	out.Grow(len(orig) + 64<<10)
	if err := pades.Sign(ctx, bytes.NewReader(orig), int64(len(orig)), &out, signer, opt); err != nil {
		var overflow *pades.ContentsOverflowError
		switch {
		case errors.Is(err, pades.ErrInvalidPDF), errors.Is(err, pades.ErrEncrypted), errors.Is(err, pades.ErrDocumentLocked),
			errors.Is(err, pades.ErrInputTooLarge), errors.Is(err, pades.ErrBadOptions), errors.As(err, &overflow):
			return nil, permanent("document cannot be signed", err)
		}
		return nil, fmt.Errorf("signing document %d: %w", i, err) // vault, TSA, context: may pass
	}
	return out.Bytes(), nil
}

// extend takes a signed document to B-LT or B-LTA when the request asks for it, with cert's
// evidence mandatory; gaps is the evidence other signatures lack.
func (s *Service) extend(ctx context.Context, r Request, i int, signed []byte, cert *x509.Certificate) (_ []byte, gaps []ltv.Gap, _ error) {
	if !r.Level.longTerm() {
		return signed, nil, nil
	}
	// A fault here (a responder down) leaves the document unsigned for Resume, which
	// signs it again: the signature just made was never seen by anyone.
	// Only the citizen's own evidence is mandatory: earlier signers' CAs may be
	// unreachable, which is reported, not retried.
	res, err := s.cfg.LTV.ExtendWith(ctx, signed, ltv.Level(r.Level), ltv.ExtendOptions{Mandatory: cert})
	if err != nil {
		if ltvInputError(err, signed) != nil {
			return nil, nil, permanent("document cannot be extended to "+string(r.Level), err)
		}
		return nil, nil, fmt.Errorf("extending document %d to %s: %w", i, r.Level, err)
	}
	return res.PDF, res.Gaps, nil
}

// store keeps document i's signed bytes; when another run stored one first, that one is
// returned.
func (s *Service) store(ctx context.Context, r Request, i int, signed []byte) ([]byte, error) {
	err := s.cfg.Store.PutSignedPDF(ctx, r.ID, i, signed)
	if errors.Is(err, ErrConflict) {
		return s.cfg.Store.SignedPDF(ctx, r.ID, i)
	}
	if err != nil {
		return nil, fmt.Errorf("storing document %d: %w", i, err)
	}
	return signed, nil
}

// autoRect is where an automatic visible signature goes: the bottom right of an A4 or
// Letter page (both at least 595 points wide).
var autoRect = [4]float64{315, 36, 559, 106}

// appearance turns a placement into a visible signature, or nil for an invisible one.
func (s *Service) appearance(d Document) *pades.Appearance {
	p := d.Placement
	if p == nil || len(s.cfg.Font) == 0 {
		return nil
	}
	switch {
	case p.Auto:
		page := p.Page
		if page == 0 {
			page = d.Pages
		}
		rect := p.Rect
		if rect == ([4]float64{}) {
			rect = autoRect
		}
		return &pades.Appearance{Page: page, Rect: rect, Font: s.cfg.Font}
	case p.Rect != ([4]float64{}):
		return &pades.Appearance{Page: p.Page, Rect: p.Rect, Font: s.cfg.Font}
	}
	return nil
}

// ensureCert returns the citizen's certificate for key: the stored one while it is valid,
// not revoked and for this key; otherwise a new one from the CA, stored for next time.
func (s *Service) ensureCert(ctx context.Context, info CitizenInfo, key vault.KeyRef, retry bool) (*x509.Certificate, []*x509.Certificate, error) {
	replaces := ""
	stored, err := s.cfg.Store.CitizenCert(ctx, info.ID)
	switch {
	case err == nil:
		replaces = stored.Serial
		cert, chain, perr := parseCitizenCert(stored)
		if perr != nil || !samePublicKey(cert.PublicKey, key.Public) {
			s.log.WarnContext(ctx, "signing: stored citizen certificate unusable; issuing another", "serial", stored.Serial)
			break
		}
		rev, err := s.cfg.CA.Revoked(ctx, cert.SerialNumber)
		if err != nil {
			return nil, nil, fmt.Errorf("revocation check: %w", err)
		}
		if rev != nil {
			if !reissueReasons[rev.Reason] {
				return nil, nil, permanent("certificate revoked", ErrCertificateRevoked)
			}
			s.log.InfoContext(ctx, "signing: citizen certificate revoked as replaceable; issuing another", "serial", stored.Serial, "reason", rev.Reason)
			break
		}
		if s.now().Add(renewBefore).Before(cert.NotAfter) {
			return cert, chain, nil
		}
	case errors.Is(err, ErrNotFound):
	default:
		return nil, nil, fmt.Errorf("reading citizen certificate: %w", err)
	}

	cert, chain, err := s.cfg.CA.IssueCitizenCert(ctx, ca.CitizenCertRequest{
		PublicKey: key.Public, FullName: info.Name, CCCD: info.CCCD, Province: info.Province, Locality: info.Locality,
	})
	if err != nil {
		if errors.Is(err, ca.ErrInvalidRequest) {
			return nil, nil, permanent("citizen data do not make a certificate", err)
		}
		return nil, nil, fmt.Errorf("issuing certificate: %w", err)
	}
	rec := CitizenCert{CitizenID: info.ID, Serial: cert.SerialNumber.Text(16), Certificate: cert.Raw, NotAfter: cert.NotAfter, CreatedAt: s.now()}
	for _, c := range chain {
		rec.Chain = append(rec.Chain, c.Raw)
	}
	err = s.cfg.Store.PutCitizenCert(ctx, rec, replaces)
	if errors.Is(err, ErrConflict) && retry {
		// Another run certified the citizen at the same time: use its certificate.
		return s.ensureCert(ctx, info, key, false)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("storing citizen certificate: %w", err)
	}
	s.log.InfoContext(ctx, "signing: issued citizen certificate", "serial", rec.Serial)
	return cert, chain, nil
}

func parseCitizenCert(c CitizenCert) (*x509.Certificate, []*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(c.Certificate)
	if err != nil {
		return nil, nil, err
	}
	chain := make([]*x509.Certificate, 0, len(c.Chain))
	for _, der := range c.Chain {
		cc, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, err
		}
		chain = append(chain, cc)
	}
	return cert, chain, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
