package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/motlan/motlan/internal/cms"
)

// Issuer issues citizens' signing certificates. DevCA implements it; a production CA
// plugs in behind the same interface.
type Issuer interface {
	// IssueCitizenCert certifies req.PublicKey for the citizen. It returns the certificate
	// and its chain: the issuing CA first, the self-signed root last.
	IssueCitizenCert(ctx context.Context, req CitizenCertRequest) (*x509.Certificate, []*x509.Certificate, error)
}

// CitizenCertRequest asks for a citizen's signing certificate.
type CitizenCertRequest struct {
	PublicKey crypto.PublicKey // *ecdsa.PublicKey (P-256, P-384, P-521) or *rsa.PublicKey (≥ 2048 bits)
	FullName  string           // UTF-8 as the eID gives it, e.g. "Lê Công Hảo"; kept byte for byte
	CCCD      string           // the 12-digit personal ID number
	Province  string           // e.g. "Thanh Hóa"; in the subject (ST) only with Config.SubjectAddress
	Locality  string           // in the subject (L) only with Config.SubjectAddress
	NotAfter  time.Time        // optional; default now + Config.CitizenValidity, capped by the issuing CA
}

// Sealer encrypts private keys at rest; *keys.Sealer satisfies it.
type Sealer interface {
	Seal(kid string, plaintext []byte) ([]byte, error)
	Open(kid string, sealed []byte) ([]byte, error)
}

// Errors returned by the CA; test them with errors.Is.
var (
	// ErrInvalidRequest: a CitizenCertRequest field is missing or malformed.
	ErrInvalidRequest = errors.New("ca: invalid certificate request")
	// ErrUnknownCertificate: the serial number was not issued by this CA.
	ErrUnknownCertificate = errors.New("ca: unknown certificate")
	// ErrAlreadyRevoked: the certificate is revoked already.
	ErrAlreadyRevoked = errors.New("ca: certificate already revoked")
	// ErrInvalidReason: the revocation reason is not one this CA accepts.
	ErrInvalidReason = errors.New("ca: invalid revocation reason")
)

// Object identifiers the CA writes.
var (
	OIDUserID            = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1} // UID
	OIDDocumentSigningMS = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 10, 3, 12}
	OIDDocumentSigning   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36} // RFC 9336
	OIDTimeStamping      = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	OIDOCSPNoCheck       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
	OIDEmailProtection   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}

	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidCountry     = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidProvince    = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidLocality    = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidCommonName  = asn1.ObjectIdentifier{2, 5, 4, 3}
)

// DefaultCitizenEKUs is the default Config.CitizenEKUs.
var DefaultCitizenEKUs = []asn1.ObjectIdentifier{OIDDocumentSigning, OIDDocumentSigningMS, OIDEmailProtection}

// Defaults and fixed lifetimes.
const (
	DefaultCitizenValidity = 2 * 365 * 24 * time.Hour
	DefaultCRLValidity     = time.Hour
	DefaultRefreshInterval = 15 * time.Second

	rootValidity      = 20 * 365 * 24 * time.Hour
	issuingValidity   = 10 * 365 * 24 * time.Hour
	responderPeriod   = 30 * 24 * time.Hour // a new OCSP responder key each period
	responderValidity = 60 * 24 * time.Hour
	tsaValidity       = 10 * 365 * 24 * time.Hour
	backdate          = 5 * time.Minute // notBefore margin for clock skew

	maxCitizenNameBytes     = 256
	maxCitizenLocationBytes = 128
)

// Record names in Storage, and the paths Handler serves.
const (
	sealKIDPrefix          = "motlan-ca/"
	recordRootName         = "identity/root"
	recordIssuingName      = "identity/issuing"
	recordTimestampingName = "identity/tsa"
	recordResponderPrefix  = "identity/ocsp-"
	recordCertPrefix       = "certs/"
	recordRevocationPrefix = "revoked/"

	pathRootCert    = "/ca/root.crt"
	pathIssuingCert = "/ca/issuing.crt"
	pathIssuingCRL  = "/ca/issuing.crl"
	pathRootCRL     = "/ca/root.crl"
	pathOCSP        = "/ca/ocsp"
)

// Config configures a DevCA.
type Config struct {
	Storage Storage // required: MemStorage, DirStorage, or the SQL store
	Sealer  Sealer  // required: seals the CA's private keys at rest
	// BaseURL is where Motlan serves Handler, e.g. "https://motlan.example.vn": the
	// certificates carry BaseURL+"/ca/issuing.crt", "/ca/ocsp" and "/ca/issuing.crl".
	BaseURL string
	// Organization names the CA in its certificates' subjects; default "Motlan Dev CA".
	Organization string
	Now          func() time.Time // default time.Now
	Logger       *slog.Logger     // default slog.Default()
	// CitizenValidity is a citizen certificate's default lifetime; default two years.
	CitizenValidity time.Duration
	// CRLValidity is the span from a CRL's or an OCSP response's thisUpdate to its
	// nextUpdate; default and maximum one hour.
	CRLValidity time.Duration
	// RefreshInterval bounds how stale this replica's view of revocations written by
	// other replicas may be; default 15 seconds.
	RefreshInterval time.Duration
	// CitizenEKUs are the extended key usages of citizen certificates. Default
	// DefaultCitizenEKUs: both document-signing EKUs and id-kp-emailProtection, which NSS
	// (and so poppler's pdfsig) requires of a PDF signer's certificate, as Vietnamese
	// personal signing certificates carry it.
	CitizenEKUs []asn1.ObjectIdentifier
	// SubjectAddress puts the citizen's province (ST) and locality (L) into certificate
	// subjects. Off by default: a verifier needs the name and the ID number
	// (UID=CCCD:<n>), and data minimisation (Decree 13/2023) says to certify no more.
	SubjectAddress bool
}

// Validate reports a missing or malformed field.
func (c Config) Validate() error {
	if c.Storage == nil {
		return errors.New("ca: Config.Storage is required")
	}
	if c.Sealer == nil {
		return errors.New("ca: Config.Sealer is required")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("ca: Config.BaseURL %q is not an absolute http(s) URL", c.BaseURL)
	}
	if c.CitizenValidity < 0 || c.RefreshInterval < 0 {
		return errors.New("ca: negative duration in Config")
	}
	if c.CRLValidity < 0 || c.CRLValidity > DefaultCRLValidity {
		return fmt.Errorf("ca: Config.CRLValidity must be at most %v", DefaultCRLValidity)
	}
	return nil
}

// Identity is a key pair with its certificate and the chain above it.
type Identity struct {
	Certificate *x509.Certificate
	Chain       []*x509.Certificate // the issuer first, the root last; empty for the root
	Signer      crypto.Signer
}

// DevCA is a two-level development CA (root, issuing CA) with a delegated OCSP
// responder and CRLs. Its state lives in Config.Storage, so replicas sharing a store act
// as one CA. It is safe for concurrent use.
type DevCA struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	base    string
	root    *Identity
	issuing *Identity

	responder atomic.Pointer[responderSlot]
	respMu    sync.Mutex // serialises responder rotation

	tsaMu sync.Mutex
	tsa   *Identity

	rev    revocations
	issued sync.Map // serial hex -> struct{}: serials known to be issued, for OCSP
}

type responderSlot struct {
	period int64
	id     *Identity
}

// New opens the CA in cfg.Storage, creating the root and issuing CA on first start.
func New(ctx context.Context, cfg Config) (*DevCA, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Organization == "" {
		cfg.Organization = "Motlan Dev CA"
	}
	if cfg.CitizenValidity == 0 {
		cfg.CitizenValidity = DefaultCitizenValidity
	}
	if len(cfg.CitizenEKUs) == 0 {
		cfg.CitizenEKUs = DefaultCitizenEKUs
	}
	if cfg.CRLValidity == 0 {
		cfg.CRLValidity = DefaultCRLValidity
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	ca := &DevCA{
		cfg:  cfg,
		log:  cfg.Logger.With("component", "ca"),
		now:  cfg.Now,
		base: strings.TrimRight(cfg.BaseURL, "/"),
	}
	ca.rev.entries = make(map[string]Revocation)
	var err error
	ca.root, err = ca.loadOrCreate(ctx, recordRootName, nil, ca.newRoot)
	if err != nil {
		return nil, fmt.Errorf("ca: root: %w", err)
	}
	ca.issuing, err = ca.loadOrCreate(ctx, recordIssuingName, ca.root, ca.newIssuing)
	if err != nil {
		return nil, fmt.Errorf("ca: issuing CA: %w", err)
	}
	if err := ca.issuing.Certificate.CheckSignatureFrom(ca.root.Certificate); err != nil {
		return nil, fmt.Errorf("ca: stored issuing CA is not signed by the stored root: %w", err)
	}
	return ca, nil
}

// Root returns the self-signed root certificate: the trust anchor to configure.
func (ca *DevCA) Root() *x509.Certificate { return ca.root.Certificate }

// IssuingCA returns the certificate of the CA that signs citizens' certificates.
func (ca *DevCA) IssuingCA() *x509.Certificate { return ca.issuing.Certificate }

// URLs the CA's certificates carry.
func (ca *DevCA) RootCertURL() string    { return ca.base + pathRootCert }
func (ca *DevCA) IssuingCertURL() string { return ca.base + pathIssuingCert }
func (ca *DevCA) CRLURL() string         { return ca.base + pathIssuingCRL }
func (ca *DevCA) RootCRLURL() string     { return ca.base + pathRootCRL }
func (ca *DevCA) OCSPURL() string        { return ca.base + pathOCSP }

// IssueCitizenCert implements Issuer.
func (ca *DevCA) IssueCitizenCert(ctx context.Context, req CitizenCertRequest) (*x509.Certificate, []*x509.Certificate, error) {
	if err := checkPublicKey(req.PublicKey); err != nil {
		return nil, nil, err
	}
	if !ca.cfg.SubjectAddress {
		req.Province, req.Locality = "", ""
	}
	subject, err := citizenSubject(req)
	if err != nil {
		return nil, nil, err
	}
	now := ca.now()
	notAfter := req.NotAfter
	if notAfter.IsZero() {
		notAfter = now.Add(ca.cfg.CitizenValidity)
	}
	notAfter = capTime(notAfter, ca.issuing.Certificate.NotAfter)
	if !notAfter.After(now) {
		return nil, nil, fmt.Errorf("%w: NotAfter is not in the future", ErrInvalidRequest)
	}
	ekuDER, err := asn1.Marshal(ca.cfg.CitizenEKUs)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		RawSubject:            subject,
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID(req.PublicKey),
		IssuingCertificateURL: []string{ca.IssuingCertURL()},
		OCSPServer:            []string{ca.OCSPURL()},
		CRLDistributionPoints: []string{ca.CRLURL()},
		ExtraExtensions:       []pkix.Extension{{Id: oidExtKeyUsage, Value: ekuDER}},
	}
	cert, err := ca.issue(ctx, tmpl, req.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	// The serial is no personal data; the name and CCCD stay out of the log.
	ca.log.InfoContext(ctx, "ca: issued citizen certificate", "serial", serialHex(cert.SerialNumber), "not_after", cert.NotAfter)
	return cert, ca.Chain(), nil
}

// Chain returns the issuing CA and the root, in that order.
func (ca *DevCA) Chain() []*x509.Certificate {
	return []*x509.Certificate{ca.issuing.Certificate, ca.root.Certificate}
}

// issue signs tmpl with the issuing CA under a fresh serial and records the certificate,
// so OCSP can tell issued from unknown serials and Revoke can check it.
func (ca *DevCA) issue(ctx context.Context, tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	for range 3 {
		serial, err := cms.RandomSerial()
		if err != nil {
			return nil, err
		}
		tmpl.SerialNumber = serial
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.issuing.Certificate, pub, ca.issuing.Signer)
		if err != nil {
			return nil, err
		}
		err = ca.cfg.Storage.Save(ctx, recordCertPrefix+serialHex(serial), der)
		if errors.Is(err, ErrExists) {
			continue // a 128-bit collision: practically never
		}
		if err != nil {
			return nil, err
		}
		return x509.ParseCertificate(der)
	}
	return nil, errors.New("ca: could not allocate a serial number")
}

// Certificate returns a certificate this CA issued, by serial number, or an error
// wrapping ErrUnknownCertificate.
func (ca *DevCA) Certificate(ctx context.Context, serial *big.Int) (*x509.Certificate, error) {
	if serial == nil || serial.Sign() <= 0 {
		return nil, ErrUnknownCertificate
	}
	der, err := ca.cfg.Storage.Load(ctx, recordCertPrefix+serialHex(serial))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownCertificate, serialHex(serial))
	}
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// citizenSubject encodes C=VN, ST, L (when given), CN, UID=CCCD:<n> with every string but the country
// as UTF8String, byte for byte as given. Go's pkix.Name would pick PrintableString for
// ASCII values; RFC 5280 asks for UTF8String.
func citizenSubject(req CitizenCertRequest) ([]byte, error) {
	name := req.FullName
	if strings.TrimSpace(name) == "" || len(name) > maxCitizenNameBytes || !utf8.ValidString(name) || hasControl(name) {
		return nil, fmt.Errorf("%w: FullName must be 1..%d bytes of printable UTF-8", ErrInvalidRequest, maxCitizenNameBytes)
	}
	if len(req.CCCD) != 12 || strings.Trim(req.CCCD, "0123456789") != "" {
		return nil, fmt.Errorf("%w: CCCD must be 12 digits", ErrInvalidRequest)
	}
	for _, s := range []string{req.Province, req.Locality} {
		if len(s) > maxCitizenLocationBytes || !utf8.ValidString(s) || hasControl(s) {
			return nil, fmt.Errorf("%w: Province and Locality must be at most %d bytes of printable UTF-8", ErrInvalidRequest, maxCitizenLocationBytes)
		}
	}
	var seq rdnSequence
	add := func(oid asn1.ObjectIdentifier, tag int, v string) {
		if v != "" {
			seq = append(seq, rdnSET{{Type: oid, Value: asn1.RawValue{Tag: tag, Bytes: []byte(v)}}})
		}
	}
	add(oidCountry, asn1.TagPrintableString, "VN")
	add(oidProvince, asn1.TagUTF8String, req.Province)
	add(oidLocality, asn1.TagUTF8String, req.Locality)
	add(oidCommonName, asn1.TagUTF8String, name)
	add(OIDUserID, asn1.TagUTF8String, "CCCD:"+req.CCCD)
	return asn1.Marshal(seq)
}

type attributeTypeAndValue struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rdnSET is one RelativeDistinguishedName; encoding/asn1 encodes a slice type whose name
// ends in SET as a SET OF.
type rdnSET []attributeTypeAndValue

type rdnSequence []rdnSET

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("%w: unsupported elliptic curve", ErrInvalidRequest)
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("%w: RSA key shorter than 2048 bits", ErrInvalidRequest)
		}
		return nil
	case nil:
		return fmt.Errorf("%w: PublicKey is required", ErrInvalidRequest)
	}
	return fmt.Errorf("%w: unsupported public key type %T", ErrInvalidRequest, pub)
}

func serialHex(n *big.Int) string { return fmt.Sprintf("%x", n) }

// keyID is the subject key identifier: SHA-256 of the subjectPublicKey bits, truncated
// to 160 bits (RFC 7093, method 1).
func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil
	}
	sum := sha256.Sum256(spki.PublicKey.RightAlign())
	return sum[:20]
}

func capTime(t, limit time.Time) time.Time {
	if t.After(limit) {
		return limit
	}
	return t
}

var _ Issuer = (*DevCA)(nil)
