package csc

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/motlan/motlan/signing"
	wire "github.com/motlan/motlan/signing/csc"
)

// defaultSADLifetime is CSC v2's expiresIn when the provider leaves it out (11.9).
const defaultSADLifetime = time.Hour

// grantSecret is what the service seals on the request at the approval: the SAD and
// everything the signing run needs to make signatures/signHash without looking the
// credential up again (a run resumed on another replica has no cache).
type grantSecret struct {
	CredentialID string   `json:"credentialID"`
	SAD          string   `json:"SAD"`
	Hashes       []string `json:"hashes"` // base64, exactly as authorised
	SignAlgo     string   `json:"signAlgo"`
	Certificates [][]byte `json:"certificates"` // DER, the citizen's first, then the chain
}

// grant packs the SAD for the signing run; it expires when the provider said.
func (k *credential) grant(sad wire.AuthorizeResponse, hashes []string) (signing.Grant, error) {
	g := grantSecret{CredentialID: k.id, SAD: sad.SAD, Hashes: hashes, SignAlgo: k.algo, Certificates: [][]byte{k.cert.Raw}}
	for _, c := range k.chain {
		g.Certificates = append(g.Certificates, c.Raw)
	}
	raw, err := json.Marshal(g)
	if err != nil {
		return signing.Grant{}, fail(signing.FailureProvider, err)
	}
	life := defaultSADLifetime
	if sad.ExpiresIn > 0 {
		life = time.Duration(sad.ExpiresIn) * time.Second
	}
	return signing.Grant{Secret: raw, ExpiresAt: k.c.now().Add(life)}, nil
}

// Granted rebuilds the credential of a grant made by Authorize, making no call.
func (c *Client) Granted(secret []byte) (signing.Credential, error) {
	var g grantSecret
	if err := json.Unmarshal(secret, &g); err != nil || g.SAD == "" || g.CredentialID == "" || len(g.Certificates) == 0 {
		return nil, fail(signing.FailureProvider, errors.New("the stored grant is malformed"))
	}
	certs := make([]*x509.Certificate, len(g.Certificates))
	for i, der := range g.Certificates {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fail(signing.FailureProvider, fmt.Errorf("the stored grant's certificate %d: %w", i, err))
		}
		certs[i] = cert
	}
	k := &credential{c: c, id: g.CredentialID, cert: certs[0], chain: certs[1:], algo: g.SignAlgo}
	return &grantedCredential{k: k, sad: g.SAD, hashes: g.Hashes}, nil
}

// grantedCredential signs with a SAD taken at the approval: one signatures/signHash.
type grantedCredential struct {
	k      *credential
	sad    string
	hashes []string
}

func (g *grantedCredential) Certificate() *x509.Certificate     { return g.k.cert }
func (g *grantedCredential) Chain() []*x509.Certificate         { return g.k.chain }
func (g *grantedCredential) Activation() signing.ActivationMode { return signing.ActivationNone }

// SignHashes sends exactly the authorised hashes, or nothing: SCAL2 binds the SAD to
// them, and a digest that changed since the approval was not what the citizen approved.
func (g *grantedCredential) SignHashes(ctx context.Context, digests [][]byte, _ signing.Activation) ([][]byte, error) {
	hashes := make([]string, len(digests))
	for i, d := range digests {
		hashes[i] = base64.StdEncoding.EncodeToString(d)
	}
	if !slices.Equal(hashes, g.hashes) {
		if len(hashes) < len(g.hashes) && allIn(hashes, g.hashes) {
			// A run resumed after part of the dossier was stored: the SAD was spent on the
			// whole dossier's one signHash and cannot sign a part again.
			return nil, fail(signing.FailureSADExpired, errors.New("the dossier's SAD cannot sign part of it again"))
		}
		return nil, fail(signing.FailureDigestMismatch, errors.New("the digests differ from those the SAD authorises"))
	}
	return g.k.signHash(ctx, g.sad, hashes)
}

func allIn(some, all []string) bool {
	for _, h := range some {
		if !slices.Contains(all, h) {
			return false
		}
	}
	return true
}

// String hides the SAD from any stray log line.
func (g *grantedCredential) String() string { return "csc.grantedCredential{…}" }

var (
	_ signing.GrantBackend = (*Client)(nil)
	_ signing.Credential   = (*grantedCredential)(nil)
)
