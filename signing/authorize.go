package signing

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/motlan/motlan/signing/pades"
)

// Why the provider's authorisation is taken at the approval: the citizen is on the page
// with the PIN or OTP, so a wrong code is answered there and can be typed again, and the
// signing run is left with one round trip (signHash with every digest). That needs the
// approval to know the digests the run will sign: the run recomputes them from the same
// inputs (the approved original, the certificate and chain, the signing time fixed at the
// approval and stored, the placement and font), for which pades.Sign is deterministic
// (TestDigestsDeterministic), and compares them with the authorised ones before any call.

// grantKID binds a sealed grant to its request, so it cannot be moved to another one.
func grantKID(requestID string) string { return "motlan/signing/grant\x00" + requestID }

// preApproval is what an approval takes from the provider before the request leaves
// pending; the zero value (the local vault) sets nothing.
type preApproval struct {
	signTime time.Time
	digests  []string
	grant    []byte
	expires  time.Time
}

func (p preApproval) apply(r *Request) {
	r.SignTime, r.AuthorizedDigests, r.Grant, r.GrantExpires = p.signTime, p.digests, p.grant, p.expires
}

// authorizeApproval computes each document's signed-attribute digest as the signing run
// will, and has the provider authorise them with what the citizen typed. A backend that
// does not authorise ahead (the local vault), or a request no longer pending, gets the
// zero preApproval.
func (s *Service) authorizeApproval(ctx context.Context, r Request, citizenID string, approved []string, act Activation) (preApproval, error) {
	_, ok := s.backend.(GrantBackend)
	if !ok || s.cfg.Sealer == nil || r.Status != StatusPending || !s.now().Before(r.ExpiresAt) {
		return preApproval{}, nil
	}
	info, err := s.cfg.Citizens.Citizen(ctx, citizenID)
	if err != nil {
		return preApproval{}, fmt.Errorf("citizen lookup: %w", err)
	}
	cred, err := s.backend.Credential(ctx, info)
	if err != nil {
		return preApproval{}, err
	}
	az, ok := cred.(Authorizer)
	if !ok {
		return preApproval{}, nil
	}
	r.CitizenID, r.ApprovedHashes = citizenID, approved
	p := preApproval{signTime: s.now().UTC().Truncate(time.Second)} // /M has whole seconds
	r.SignTime = p.signTime
	digests, err := s.signedAttrDigests(ctx, r, cred)
	if err != nil {
		return preApproval{}, err
	}
	g, err := az.Authorize(ctx, digests, act)
	if err != nil {
		return preApproval{}, err
	}
	if p.grant, err = s.cfg.Sealer.Seal(grantKID(r.ID), g.Secret); err != nil {
		return preApproval{}, fmt.Errorf("sealing the grant: %w", err)
	}
	p.expires = g.ExpiresAt
	for _, d := range digests {
		p.digests = append(p.digests, hex.EncodeToString(d))
	}
	return p, nil
}

// errDigestTaken stops pades.Sign once it has handed over the digest to sign.
var errDigestTaken = errors.New("signing: digest taken")

// digestTaker is a pades.Signer that keeps the digest and signs nothing.
type digestTaker struct {
	pub    crypto.PublicKey
	digest []byte
}

func (d *digestTaker) Public() crypto.PublicKey { return d.pub }

func (d *digestTaker) Sign(_ context.Context, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	d.digest = bytes.Clone(digest)
	return nil, errDigestTaken
}

// signedAttrDigests runs each document's PAdES signing up to the private-key operation
// and returns the SHA-256 of its signed attributes, in document order. No timestamp is
// asked for: B-T stamps the signature value, after the key operation.
func (s *Service) signedAttrDigests(ctx context.Context, r Request, cred Credential) ([][]byte, error) {
	out := make([][]byte, len(r.Documents))
	for i := range r.Documents {
		orig, err := s.approvedOriginal(ctx, r, i)
		if err != nil {
			return nil, err
		}
		taker := &digestTaker{pub: cred.Certificate().PublicKey}
		_, err = s.padesSign(ctx, r, i, orig, taker, cred)
		if !errors.Is(err, errDigestTaken) || taker.digest == nil {
			if err == nil {
				err = errors.New("pades signed without asking for a signature")
			}
			return nil, err
		}
		out[i] = taker.digest
	}
	return out, nil
}

// approvalRefused handles a failed authorisation at the approval. A wrong (or missing)
// PIN or OTP leaves the request pending for another try (counted in Attempts; at MaxAttempts it
// fails); any other refusal fails the request with its code, as a refusal at signing
// would; a passing fault (the store) changes nothing.
func (s *Service) approvalRefused(ctx context.Context, r Request, citizenID string, err error) (Request, error) {
	var perm *permanentError
	if !errors.As(classify(err), &perm) {
		return Request{}, err
	}
	var be *BackendError
	wrongCode := errors.As(err, &be) && (be.Code == FailureAuth || be.Code == FailureActivation) // a blank field too
	out, uerr := s.answer(ctx, r.ID, func(old Request) (Request, error) {
		if wrongCode {
			if old.Attempts++; old.Attempts < MaxAttempts {
				return old, nil
			}
		}
		old.Status, old.CitizenID, old.Failure = StatusFailed, citizenID, perm.reason
		return old, nil
	}, recordAct{}) // no record: the citizen's approval did not go through
	if uerr != nil {
		return out, uerr
	}
	if out.Status == StatusPending {
		s.log.InfoContext(ctx, "signing approval: wrong PIN or OTP", "request", r.ID, "attempts", out.Attempts)
		s.notify(r.ID)
		return out, err
	}
	s.log.WarnContext(ctx, "signing approval refused by the provider", "request", r.ID, "reason", perm.reason)
	s.ended(out)
	return out, nil
}

// grantedCredential rebuilds the credential of the approval's grant, with no call to the
// provider, or fails the request when the grant has run out.
func (s *Service) grantedCredential(r Request) (Credential, error) {
	gb, ok := s.backend.(GrantBackend)
	switch {
	case !ok || s.cfg.Sealer == nil:
		return nil, permanent(FailureProvider, errors.New("a grant, but the backend or sealer cannot use it"))
	case !s.now().Before(r.GrantExpires):
		return nil, permanent(FailureSADExpired, fmt.Errorf("the grant expired at %v", r.GrantExpires))
	}
	secret, err := s.cfg.Sealer.Open(grantKID(r.ID), r.Grant)
	if err != nil {
		return nil, permanent(FailureSADExpired, fmt.Errorf("the grant cannot be opened: %w", err))
	}
	cred, err := gb.Granted(secret)
	if err != nil {
		return nil, classify(err)
	}
	return cred, nil
}

// checkedCredential refuses to sign digests other than those the grant authorised.
type checkedCredential struct {
	Credential
	want []string // hex, one per digest of the call
}

func (c checkedCredential) SignHashes(ctx context.Context, digests [][]byte, act Activation) ([][]byte, error) {
	if len(digests) != len(c.want) {
		return nil, &BackendError{Code: FailureDigestMismatch, Err: fmt.Errorf("%d digests, %d authorised", len(digests), len(c.want))}
	}
	for i, d := range digests {
		if hex.EncodeToString(d) != c.want[i] {
			return nil, &BackendError{Code: FailureDigestMismatch, Err: fmt.Errorf("digest %d differs from the authorised one", i)}
		}
	}
	return c.Credential.SignHashes(ctx, digests, act)
}

// forGrant wraps cred so that the documents todo sign only their authorised digests.
func forGrant(r Request, todo []int, cred Credential) Credential {
	if len(r.AuthorizedDigests) != len(r.Documents) {
		return cred
	}
	want := make([]string, len(todo))
	for k, i := range todo {
		want[k] = r.AuthorizedDigests[i]
	}
	return checkedCredential{Credential: cred, want: want}
}

var _ pades.Signer = (*digestTaker)(nil)
