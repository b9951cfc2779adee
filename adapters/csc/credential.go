package csc

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/motlan/motlan/signing"
	wire "github.com/motlan/motlan/signing/csc"
)

// credential is one citizen's credential at the provider.
type credential struct {
	c         *Client
	id        string
	cert      *x509.Certificate
	chain     []*x509.Certificate
	algo      string
	mode      signing.ActivationMode
	authID    string // the auth object's id, sent back in authData
	multisign int
}

func (k *credential) Certificate() *x509.Certificate     { return k.cert }
func (k *credential) Chain() []*x509.Certificate         { return k.chain }
func (k *credential) Activation() signing.ActivationMode { return k.mode }

// SignHashes makes one credentials/authorize for every digest (numSignatures = len, the
// hashes bound to the SAD), then one signatures/signHash with all of them. The service
// calls it only for a request approved without a grant (approved before grants were
// taken at the approval); otherwise Authorize at the approval, then the granted
// credential's SignHashes.
func (k *credential) SignHashes(ctx context.Context, digests [][]byte, act signing.Activation) ([][]byte, error) {
	sad, hashes, err := k.authorize(ctx, digests, act)
	if err != nil {
		return nil, err
	}
	return k.signHash(ctx, sad.SAD, hashes)
}

// Authorize makes the one credentials/authorize of a dossier at the approval and returns
// the SAD with what signing needs later without a lookup (see grant.go).
func (k *credential) Authorize(ctx context.Context, digests [][]byte, act signing.Activation) (signing.Grant, error) {
	sad, hashes, err := k.authorize(ctx, digests, act)
	if err != nil {
		return signing.Grant{}, err
	}
	return k.grant(sad, hashes)
}

func (k *credential) authorize(ctx context.Context, digests [][]byte, act signing.Activation) (wire.AuthorizeResponse, []string, error) {
	var sad wire.AuthorizeResponse
	if k.multisign > 0 && len(digests) > k.multisign {
		return sad, nil, fail(signing.FailureProvider, fmt.Errorf("%d documents, the credential signs at most %d at once", len(digests), k.multisign))
	}
	hashes := make([]string, len(digests))
	for i, d := range digests {
		hashes[i] = base64.StdEncoding.EncodeToString(d)
	}
	authz := wire.AuthorizeRequest{CredentialID: k.id, NumSignatures: len(digests), Hashes: hashes,
		HashAlgorithmOID: wire.OIDSHA256, Description: k.c.desc}
	switch k.mode {
	case signing.ActivationPIN:
		if act.PIN == "" {
			return sad, nil, fail(signing.FailureActivation, errors.New("the credential needs its PIN"))
		}
		authz.AuthData = []wire.AuthData{{ID: k.authID, Value: act.PIN}}
	case signing.ActivationOTP:
		if act.OTP == "" {
			return sad, nil, fail(signing.FailureActivation, errors.New("the credential needs an OTP"))
		}
		authz.AuthData = []wire.AuthData{{ID: k.authID, Value: act.OTP}}
	}
	if err := k.c.call(ctx, wire.MethodAuthz, authz, &sad); err != nil {
		return sad, nil, err
	}
	if sad.SAD == "" {
		return sad, nil, fail(signing.FailureProvider, errors.New("credentials/authorize answered no SAD"))
	}
	return sad, hashes, nil
}

// signHash makes the one signatures/signHash of a dossier with the SAD bound to hashes.
func (k *credential) signHash(ctx context.Context, sad string, hashes []string) ([][]byte, error) {
	var out wire.SignHashResponse
	err := k.c.call(ctx, wire.MethodSignHash, wire.SignHashRequest{CredentialID: k.id, SAD: sad, Hashes: hashes,
		HashAlgorithmOID: wire.OIDSHA256, SignAlgo: k.algo, OperationMode: wire.OperationSync}, &out)
	if err != nil {
		return nil, err
	}
	if len(out.Signatures) != len(hashes) {
		return nil, fail(signing.FailureBadSignature, fmt.Errorf("signHash answered %d signatures for %d hashes", len(out.Signatures), len(hashes)))
	}
	sigs := make([][]byte, len(hashes))
	for i, s := range out.Signatures {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fail(signing.FailureBadSignature, fmt.Errorf("signature %d: %w", i, err))
		}
		sigs[i] = normalizeECDSA(k.cert, raw)
	}
	return sigs, nil // the caller checks each against the certificate before embedding it
}

// Challenge asks the provider to send the citizen an OTP (credentials/getChallenge), for a
// credential in OTP mode; the approval page calls it when it shows the OTP field.
func (k *credential) Challenge(ctx context.Context) error {
	var out struct{}
	return k.c.call(ctx, wire.MethodChall, wire.ChallengeRequest{CredentialID: k.id}, &out)
}

// normalizeECDSA turns an IEEE P1363 ECDSA signature (r||s, which some providers answer)
// into the ASN.1 DER form CMS carries; anything else passes unchanged.
func normalizeECDSA(cert *x509.Certificate, sig []byte) []byte {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return sig
	}
	n := (pub.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*n || sig[0] == 0x30 && len(sig) == int(sig[1])+2 {
		return sig
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
	if err != nil {
		return sig
	}
	return der
}

// signAlgo picks the signAlgo for SHA-256 digests with the certificate's key among those
// the provider lists for it.
func signAlgo(cert *x509.Certificate, listed []string) (string, error) {
	var want []string
	switch cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		want = []string{wire.OIDECDSAWithSHA256, wire.OIDECPublicKey}
	case *rsa.PublicKey:
		want = []string{wire.OIDSHA256WithRSA, wire.OIDRSAEncryption}
	default:
		return "", fmt.Errorf("unsupported key type %T", cert.PublicKey)
	}
	for _, w := range want {
		if len(listed) == 0 || slices.Contains(listed, w) {
			return w, nil
		}
	}
	return "", fmt.Errorf("the key offers none of %v", want)
}

// activation maps credentials/info auth to what the approval page asks for, and the id
// the value goes back under. An explicit mode with both an OTP and a password object is
// taken as OTP only: Motlan's page asks for one value (a limit, documented).
func activation(a wire.AuthInfo) (signing.ActivationMode, string, error) {
	switch a.Mode {
	case wire.AuthImplicit, "":
		return signing.ActivationNone, "", nil
	case wire.AuthExplicit:
		for _, want := range []struct {
			typ  string
			mode signing.ActivationMode
		}{{wire.ObjectOTP, signing.ActivationOTP}, {wire.ObjectPassword, signing.ActivationPIN}} {
			for _, o := range a.Objects {
				if o.Type == want.typ && o.ID != "" {
					return want.mode, o.ID, nil
				}
			}
		}
		return "", "", errors.New("explicit auth without a PIN or OTP object")
	}
	return "", "", fmt.Errorf("auth mode %q is not supported (implicit or explicit only)", a.Mode)
}

var (
	_ signing.Credential = (*credential)(nil)
	_ signing.Authorizer = (*credential)(nil)
)
