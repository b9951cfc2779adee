package signing

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/motlan/motlan/keys/vault"
)

// Backend makes citizens' signatures. Two implement it: the local vault with the dev CA
// (the default, built by NewService when ServiceConfig.Backend is nil) and a licensed CA's
// remote signing service spoken to over CSC API v2 (adapters/csc).
type Backend interface {
	// Credential finds the citizen's signing key and certificate. A citizen who has none
	// at this backend gets a *BackendError with FailureNoCredential.
	Credential(ctx context.Context, info CitizenInfo) (Credential, error)
}

// Credential is one citizen's key and certificate at a backend.
type Credential interface {
	Certificate() *x509.Certificate
	// Chain holds the issuing CAs, the issuer first.
	Chain() []*x509.Certificate
	// Activation is what the citizen must give on the approval page for SignHashes.
	Activation() ActivationMode
	// SignHashes signs every digest (the SHA-256 of one document's CMS signed attributes)
	// under one authorisation: a remote backend makes one authorisation and one signing
	// call for them all. Signatures come back in the crypto.Signer form (ASN.1 DER for
	// ECDSA, PKCS #1 v1.5 for RSA), in order. On error, entries signed before the fault
	// may be set (the local vault signs one by one); the rest are nil.
	SignHashes(ctx context.Context, digests [][]byte, act Activation) ([][]byte, error)
}

// Challenger is a Credential whose provider sends the citizen a one-time code on request
// (CSC credentials/getChallenge); the approval page asks for one before showing the field.
type Challenger interface {
	Challenge(ctx context.Context) error
}

// Authorizer is a Credential whose provider authorises a dossier's signatures ahead of
// signing (CSC credentials/authorize, SCAL2-bound to the digests). The approval calls
// Authorize with what the citizen typed, so a wrong PIN or OTP is answered on the page at
// once; the signing run then only signs, through GrantBackend.Granted. A Credential
// without it (the local vault) authorises and signs in SignHashes.
type Authorizer interface {
	Authorize(ctx context.Context, digests [][]byte, act Activation) (Grant, error)
}

// Grant is a provider's authorisation to sign exactly the digests given to Authorize.
// Secret (the SAD and what the credential needs to sign without a lookup) is opaque to
// the service, sealed before it is stored and never logged.
type Grant struct {
	Secret    []byte
	ExpiresAt time.Time
}

// GrantBackend is a Backend that rebuilds the credential a Grant was made for without
// calling the provider; the rebuilt credential's SignHashes makes one signing call with
// the grant and refuses digests other than the authorised ones.
type GrantBackend interface {
	Granted(secret []byte) (Credential, error)
}

func isGrantBackend(b Backend) bool { _, ok := b.(GrantBackend); return ok }

// ActivationMode is what a credential needs from the citizen besides Motlan's approval.
type ActivationMode string

const (
	ActivationNone ActivationMode = ""    // implicit: the provider needs nothing more (or asks in its own app)
	ActivationPIN  ActivationMode = "PIN" // the citizen types the credential's PIN
	ActivationOTP  ActivationMode = "OTP" // the citizen types a one-time code the provider sent
)

// Activation carries what the citizen typed on the approval page. It lives in memory for
// the approval (and its signing run) and is never stored or logged.
type Activation struct {
	PIN string
	OTP string
}

// String hides the secrets, so a stray log line cannot leak them.
func (Activation) String() string { return "signing.Activation{…}" }

// Failure codes: Request.Failure when a backend makes signing fail. Stable strings the
// portal can show; the approval page explains each one.
const (
	FailureUnavailable  = "rssp_unavailable"      // the provider did not answer or answered 5xx
	FailureTimeout      = "rssp_timeout"          // the provider was too slow
	FailureSADExpired   = "sad_expired"           // the signature activation data ran out or was used
	FailureAuth         = "authentication_failed" // wrong PIN or OTP
	FailureSuspended    = "credential_suspended"  // key or certificate suspended or disabled
	FailureRevoked      = "credential_revoked"    // certificate revoked or expired
	FailureBadSignature = "bad_signature"         // a returned signature does not verify with the certificate
	FailureNoCredential = "no_credential"         // the citizen has no credential at this provider
	FailureActivation   = "activation_required"   // the PIN or OTP is needed again (a resumed run)
	FailureProvider     = "rssp_error"            // any other refusal by the provider
	// FailureDigestMismatch: a document's signed attributes no longer hash to what the
	// citizen's approval authorised; Motlan never sends other hashes.
	FailureDigestMismatch = "digest_mismatch"
)

// BackendError is a backend's refusal: the request fails with Code.
type BackendError struct {
	Code string
	Err  error
}

func (e *BackendError) Error() string { return "signing backend: " + e.Code + ": " + e.Err.Error() }
func (e *BackendError) Unwrap() error { return e.Err }

// ActivationFor is what the approval page must ask of the citizen for the backend (nothing,
// a PIN or an OTP). A citizen without a credential at the backend gets a *BackendError
// with FailureNoCredential, so the page can say so before they approve.
func (s *Service) ActivationFor(ctx context.Context, citizenID string) (ActivationMode, error) {
	if _, local := s.backend.(localBackend); local {
		return ActivationNone, nil // no need to create the key before the approval
	}
	info, err := s.cfg.Citizens.Citizen(ctx, citizenID)
	if err != nil {
		return "", fmt.Errorf("citizen lookup: %w", err)
	}
	cred, err := s.backend.Credential(ctx, info)
	if err != nil {
		return "", err
	}
	return cred.Activation(), nil
}

// Challenge asks the backend to send the citizen an OTP, for a credential in OTP mode; a
// credential that sends none is left alone.
func (s *Service) Challenge(ctx context.Context, citizenID string) error {
	info, err := s.cfg.Citizens.Citizen(ctx, citizenID)
	if err != nil {
		return fmt.Errorf("citizen lookup: %w", err)
	}
	cred, err := s.backend.Credential(ctx, info)
	if err != nil {
		return err
	}
	if c, ok := cred.(Challenger); ok && cred.Activation() == ActivationOTP {
		return c.Challenge(ctx)
	}
	return nil
}

// LocalCredential is the citizen's key in Motlan's vault with its dev-CA certificate,
// created on first use: what Motlan's own CSC server (signing/csc/cscserver) signs with,
// whatever backend the service's requests use.
func (s *Service) LocalCredential(ctx context.Context, citizenID string) (Credential, error) {
	if s.cfg.Vault == nil || s.cfg.CA == nil {
		return nil, errors.New("signing: no local vault and CA configured")
	}
	info, err := s.cfg.Citizens.Citizen(ctx, citizenID)
	if err != nil {
		return nil, fmt.Errorf("citizen lookup: %w", err)
	}
	return localBackend{s}.Credential(ctx, info)
}

// localBackend is today's signing: the citizen's key in Motlan's vault, created on first
// use, certified by the dev CA.
type localBackend struct{ s *Service }

func (b localBackend) Credential(ctx context.Context, info CitizenInfo) (Credential, error) {
	s := b.s
	label, err := s.citizenKeyLabel(ctx, info.ID)
	if err != nil {
		return nil, err
	}
	key, err := vault.EnsureKey(ctx, s.cfg.Vault, label, vault.KeySpec{Alg: s.cfg.KeyAlg})
	if err != nil {
		if errors.Is(err, vault.ErrInvalidLabel) || errors.Is(err, vault.ErrUnsupportedAlg) || errors.Is(err, vault.ErrCorrupt) {
			return nil, permanent("citizen key unusable", err)
		}
		return nil, fmt.Errorf("citizen key: %w", err)
	}
	cert, chain, err := s.ensureCert(ctx, info, key, true)
	if err != nil {
		return nil, err
	}
	return &localCredential{signer: vault.KeySigner{Vault: s.cfg.Vault, Ref: key}, cert: cert, chain: chain}, nil
}

type localCredential struct {
	signer vault.KeySigner
	cert   *x509.Certificate
	chain  []*x509.Certificate
}

func (c *localCredential) Certificate() *x509.Certificate { return c.cert }
func (c *localCredential) Chain() []*x509.Certificate     { return c.chain }
func (c *localCredential) Activation() ActivationMode     { return ActivationNone }
func (c *localCredential) Sequential() bool               { return true }

// SignHashes signs one digest after another; the service hands it one document at a time
// (Sequential), so a vault fault leaves the earlier documents signed and stored, and
// Resume signs only the rest.
func (c *localCredential) SignHashes(ctx context.Context, digests [][]byte, _ Activation) ([][]byte, error) {
	out := make([][]byte, len(digests))
	for i, d := range digests {
		sig, err := c.signer.Sign(ctx, d, crypto.SHA256)
		if err != nil {
			return out, err
		}
		out[i] = sig
	}
	return out, nil
}

var (
	_ Backend    = localBackend{}
	_ Credential = (*localCredential)(nil)
	_ sequential = (*localCredential)(nil)
)
