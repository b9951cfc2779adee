package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/motlan/motlan/internal/cms"
)

// record is how an identity is stored: the certificate and the sealed PKCS #8 key.
type record struct {
	Cert      []byte `json:"cert"`
	SealedKey []byte `json:"sealed_key"`
}

// loadOrCreate loads the identity stored under name, or creates it with mk (signed by
// parent, or self-signed when parent is nil) when the store has none. When another
// replica creates it first, its identity wins.
func (ca *DevCA) loadOrCreate(ctx context.Context, name string, parent *Identity, mk func(pub crypto.PublicKey) (*x509.Certificate, error)) (*Identity, error) {
	b, err := ca.cfg.Storage.Load(ctx, name)
	if errors.Is(err, ErrNotFound) {
		var key *ecdsa.PrivateKey
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		tmpl, err := mk(key.Public())
		if err != nil {
			return nil, err
		}
		signer, issuerCert := crypto.Signer(key), tmpl
		if parent != nil {
			signer, issuerCert = parent.Signer, parent.Certificate
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, issuerCert, key.Public(), signer)
		if err != nil {
			return nil, err
		}
		pk, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		sealed, err := ca.cfg.Sealer.Seal(sealKIDPrefix+name, pk)
		clear(pk)
		if err != nil {
			return nil, err
		}
		b, err = json.Marshal(record{Cert: der, SealedKey: sealed})
		if err != nil {
			return nil, err
		}
		err = ca.cfg.Storage.Save(ctx, name, b)
		if errors.Is(err, ErrExists) {
			b, err = ca.cfg.Storage.Load(ctx, name)
		} else if err == nil {
			ca.log.InfoContext(ctx, "ca: created key pair", "record", name)
		}
	}
	if err != nil {
		return nil, err
	}
	return ca.openRecord(name, b, parent)
}

func (ca *DevCA) openRecord(name string, b []byte, parent *Identity) (*Identity, error) {
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("record %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(rec.Cert)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", name, err)
	}
	pk, err := ca.cfg.Sealer.Open(sealKIDPrefix+name, rec.SealedKey)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", name, err)
	}
	key, err := x509.ParsePKCS8PrivateKey(pk)
	clear(pk)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", name, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok || !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("record %s: key does not match certificate", name)
	}
	id := &Identity{Certificate: cert, Signer: signer}
	if parent != nil {
		id.Chain = append([]*x509.Certificate{parent.Certificate}, parent.Chain...)
	}
	return id, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}

func (ca *DevCA) caName(cn string) pkix.Name {
	return pkix.Name{Country: []string{"VN"}, Organization: []string{ca.cfg.Organization}, CommonName: cn}
}

// caTemplate is what the root and issuing CA certificates share: a fresh serial, the
// backdated start, CA basic constraints and the key's identifier.
func (ca *DevCA) caTemplate(cn string, pub crypto.PublicKey, notAfter time.Time, usage x509.KeyUsage) (*x509.Certificate, error) {
	serial, err := cms.RandomSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               ca.caName(cn),
		NotBefore:             ca.now().Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              usage,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          keyID(pub),
	}, nil
}

func (ca *DevCA) newRoot(pub crypto.PublicKey) (*x509.Certificate, error) {
	c, err := ca.caTemplate(ca.cfg.Organization+" Root", pub, ca.now().Add(rootValidity), x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
	if err != nil {
		return nil, err
	}
	c.MaxPathLen = 1
	return c, nil
}

func (ca *DevCA) newIssuing(pub crypto.PublicKey) (*x509.Certificate, error) {
	c, err := ca.caTemplate(ca.cfg.Organization+" Issuing CA", pub,
		capTime(ca.now().Add(issuingValidity), ca.root.Certificate.NotAfter),
		x509.KeyUsageCertSign|x509.KeyUsageCRLSign|x509.KeyUsageDigitalSignature)
	if err != nil {
		return nil, err
	}
	c.MaxPathLenZero = true
	c.IssuingCertificateURL = []string{ca.RootCertURL()}
	c.CRLDistributionPoints = []string{ca.RootCRLURL()}
	return c, nil
}

// TimestampingIdentity returns the key and certificate of the dev time-stamp authority,
// created on first use: issued by the issuing CA, with only the timeStamping extended key
// usage, marked critical as RFC 3161 requires.
func (ca *DevCA) TimestampingIdentity(ctx context.Context) (*Identity, error) {
	ca.tsaMu.Lock()
	defer ca.tsaMu.Unlock()
	if ca.tsa != nil {
		return ca.tsa, nil
	}
	id, err := ca.loadOrCreate(ctx, recordTimestampingName, ca.issuing, func(pub crypto.PublicKey) (*x509.Certificate, error) {
		now := ca.now()
		serial, err := cms.RandomSerial()
		if err != nil {
			return nil, err
		}
		eku, err := asn1.Marshal([]asn1.ObjectIdentifier{OIDTimeStamping})
		if err != nil {
			return nil, err
		}
		return &x509.Certificate{
			SerialNumber:          serial,
			Subject:               ca.caName(ca.cfg.Organization + " Time-Stamping Authority"),
			NotBefore:             now.Add(-backdate),
			NotAfter:              capTime(now.Add(tsaValidity), ca.issuing.Certificate.NotAfter),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
			BasicConstraintsValid: true,
			SubjectKeyId:          keyID(pub),
			IssuingCertificateURL: []string{ca.IssuingCertURL()},
			OCSPServer:            []string{ca.OCSPURL()},
			CRLDistributionPoints: []string{ca.CRLURL()},
			ExtraExtensions:       []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}},
		}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("ca: time-stamping identity: %w", err)
	}
	// Record it like any issued certificate, so OCSP answers "good" for it.
	err = ca.cfg.Storage.Save(ctx, recordCertPrefix+serialHex(id.Certificate.SerialNumber), id.Certificate.Raw)
	if err != nil && !errors.Is(err, ErrExists) {
		return nil, err
	}
	ca.tsa = id
	return id, nil
}
