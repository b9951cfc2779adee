package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"time"

	"github.com/motlan/motlan/internal/cms"
)

// Media types of RFC 3161 over HTTP (section 3.4).
const (
	ContentTypeQuery = "application/timestamp-query"
	ContentTypeReply = "application/timestamp-reply"
)

// maxQuery bounds a query: a SHA-512 query with a nonce and a policy is under 200 bytes.
const maxQuery = 16 << 10

// maxNonceBytes bounds the nonce a client may send (RFC 3161 suggests 64 bits).
const maxNonceBytes = 32

// DevPolicy is the TSA policy used when Config.Policy is empty: an OID under the
// example arc 2.999 (ITU-T X.660), so it can name no real policy. Production sets its own.
var DevPolicy = asn1.ObjectIdentifier{2, 999, 77, 3161, 1}

// Config configures a Server.
type Config struct {
	// Signer and Certificate are the TSA's key and certificate. The certificate must
	// carry the timeStamping extended key usage, alone and critical (RFC 3161 2.3).
	Signer      crypto.Signer
	Certificate *x509.Certificate
	// Chain is the CA chain above Certificate (issuer first). IncludeChain puts it in
	// tokens beside the TSA certificate when a query sets certReq.
	Chain        []*x509.Certificate
	IncludeChain bool
	// Policy is the TSA policy every token names; default DevPolicy. A query asking for
	// another policy is rejected with unacceptedPolicy.
	Policy asn1.ObjectIdentifier
	// Accuracy is the accuracy tokens state; default one second (genTime is truncated
	// to whole seconds). Negative: no accuracy field.
	Accuracy time.Duration
	// Hashes are the message-imprint algorithms accepted; default SHA-256, SHA-384 and
	// SHA-512. Others are rejected with badAlg.
	Hashes []crypto.Hash
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()
}

// Server is an RFC 3161 time-stamp authority. It is an http.Handler and safe for
// concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	sigAlg   pkix.AlgorithmIdentifier
	essAttr  []byte   // the signing-certificate-v2 attribute, the same in every token
	certsRaw [][]byte // the certificates of tokens that asked for them, in DER order
	tsaName  []byte   // [0] EXPLICIT GeneralName (directoryName) of the TSA
	accuracy cms.Accuracy
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Signer == nil || cfg.Certificate == nil {
		return nil, errors.New("tsa: Config.Signer and Config.Certificate are required")
	}
	if !publicKeysEqual(cfg.Signer.Public(), cfg.Certificate.PublicKey) {
		return nil, errors.New("tsa: Config.Signer does not match Config.Certificate")
	}
	if err := checkTSACert(cfg.Certificate); err != nil {
		return nil, err
	}
	if len(cfg.Policy) == 0 {
		cfg.Policy = DevPolicy
	}
	if cfg.Accuracy == 0 {
		cfg.Accuracy = time.Second
	}
	if len(cfg.Hashes) == 0 {
		cfg.Hashes = []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512}
	}
	for _, h := range cfg.Hashes {
		if !hashOK(h) {
			return nil, fmt.Errorf("tsa: unsupported hash %v", h)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "tsa")}
	var err error
	if s.sigAlg, err = cms.SignatureAlgorithmFor(cfg.Signer.Public()); err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	if s.essAttr, err = cms.SigningCertificateV2(cfg.Certificate); err != nil {
		return nil, err
	}
	certs := []*x509.Certificate{cfg.Certificate}
	if cfg.IncludeChain {
		certs = append(certs, cfg.Chain...)
	}
	s.certsRaw = certificateSet(certs)
	// tsa [0] EXPLICIT GeneralName, the directoryName [4] (EXPLICIT: Name is a CHOICE).
	gn := mustMarshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: cfg.Certificate.RawSubject})
	s.tsaName = mustMarshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: gn})
	if cfg.Accuracy > 0 {
		d := cfg.Accuracy
		s.accuracy = cms.Accuracy{Seconds: int(d / time.Second), Millis: int(d % time.Second / time.Millisecond), Micros: int(d % time.Millisecond / time.Microsecond)}
		if s.accuracy == (cms.Accuracy{}) {
			return nil, errors.New("tsa: Config.Accuracy under one microsecond")
		}
	}
	return s, nil
}

// checkTSACert enforces RFC 3161 2.3: an extended key usage extension, critical, with
// timeStamping only.
func checkTSACert(c *x509.Certificate) error {
	for _, e := range c.Extensions {
		if !e.Id.Equal(oidExtKeyUsage) {
			continue
		}
		var ekus []asn1.ObjectIdentifier
		if rest, err := asn1.Unmarshal(e.Value, &ekus); err != nil || len(rest) > 0 {
			return errors.New("tsa: certificate has a malformed extended key usage")
		}
		if !e.Critical || len(ekus) != 1 || !ekus[0].Equal(oidKPTimeStamping) {
			return errors.New("tsa: certificate's extended key usage must be timeStamping only, critical")
		}
		return nil
	}
	return errors.New("tsa: certificate lacks the timeStamping extended key usage")
}

// Policy returns the policy OID tokens carry.
func (s *Server) Policy() asn1.ObjectIdentifier { return slices.Clone(s.cfg.Policy) }

// RequestError is why a query was rejected: a PKIFailureInfo bit and a short text for
// the client. It carries nothing from the query.
type RequestError struct {
	FailInfo int
	Text     string
}

func (e *RequestError) Error() string { return "tsa: query rejected: " + e.Text }

// request is a parsed, checked TimeStampReq.
type request struct {
	imprintRaw []byte
	hash       crypto.Hash
	digest     []byte
	nonce      *big.Int
	certReq    bool
}

// parseRequest parses and checks a DER TimeStampReq. Any error is a *RequestError.
func (s *Server) parseRequest(der []byte) (*request, error) {
	var q timeStampReq
	rest, err := asn1.Unmarshal(der, &q)
	if err != nil || len(rest) > 0 {
		return nil, &RequestError{FailBadDataFormat, "malformed TimeStampReq"}
	}
	if q.Version != 1 {
		return nil, &RequestError{FailBadDataFormat, "unsupported version"}
	}
	var mi cms.MessageImprint
	if q.MessageImprint.Class != asn1.ClassUniversal || q.MessageImprint.Tag != asn1.TagSequence || !q.MessageImprint.IsCompound {
		return nil, &RequestError{FailBadDataFormat, "malformed messageImprint"}
	}
	if rest, err := asn1.Unmarshal(q.MessageImprint.FullBytes, &mi); err != nil || len(rest) > 0 {
		return nil, &RequestError{FailBadDataFormat, "malformed messageImprint"}
	}
	h := cms.Hash(mi.HashAlgorithm.Algorithm)
	if h == 0 || !slices.Contains(s.cfg.Hashes, h) {
		return nil, &RequestError{FailBadAlg, "unsupported hash algorithm"}
	}
	if p := mi.HashAlgorithm.Parameters; len(p.FullBytes) > 0 && !bytes.Equal(p.FullBytes, []byte{0x05, 0x00}) {
		return nil, &RequestError{FailBadAlg, "unexpected hash parameters"}
	}
	if len(mi.HashedMessage) != h.Size() {
		return nil, &RequestError{FailBadDataFormat, "digest length does not match the algorithm"}
	}
	if len(q.ReqPolicy) > 0 && !q.ReqPolicy.Equal(s.cfg.Policy) {
		return nil, &RequestError{FailUnacceptedPolicy, "unaccepted policy"}
	}
	if q.Nonce != nil && len(q.Nonce.Bytes()) > maxNonceBytes {
		return nil, &RequestError{FailBadRequest, "nonce too long"}
	}
	if len(q.Extensions) > 0 {
		return nil, &RequestError{FailUnacceptedExtension, "extensions not supported"}
	}
	return &request{imprintRaw: q.MessageImprint.FullBytes, hash: h, digest: mi.HashedMessage, nonce: q.Nonce, certReq: q.CertReq}, nil
}

// Respond answers a DER TimeStampReq with a DER TimeStampResp: granted with a token, or
// a rejection with its failure bit. The error, for logging only, says why a query was
// rejected or the TSA failed; the returned bytes are a valid response even then.
func (s *Server) Respond(ctx context.Context, query []byte) ([]byte, error) {
	req, err := s.parseRequest(query)
	if err != nil {
		var re *RequestError
		errors.As(err, &re)
		return rejection(re.FailInfo, re.Text), err
	}
	token, err := s.token(ctx, req)
	if err != nil {
		return rejection(FailSystemFailure, "system failure"), fmt.Errorf("tsa: signing: %w", err)
	}
	resp, err := asn1.Marshal(timeStampResp{Status: pkiStatusInfo{Status: StatusGranted}, TimeStampToken: asn1.RawValue{FullBytes: token}})
	if err != nil {
		return rejection(FailSystemFailure, "system failure"), err
	}
	return resp, nil
}

func rejection(failBit int, text string) []byte {
	if failBit < 0 || failBit > maxFailBit {
		failBit = FailSystemFailure
	}
	// A named bit string in DER has no trailing zero bits: BitLength is failBit+1.
	bits := make([]byte, failBit/8+1)
	bits[failBit/8] = 0x80 >> (failBit % 8)
	info := pkiStatusInfo{
		Status:       StatusRejection,
		StatusString: []asn1.RawValue{{Tag: asn1.TagUTF8String, Bytes: []byte(text)}},
		FailInfo:     asn1.BitString{Bytes: bits, BitLength: failBit + 1},
	}
	b, err := asn1.Marshal(timeStampResp{Status: info})
	if err != nil {
		panic("tsa: encoding a rejection: " + err.Error()) // fixed shapes: cannot happen
	}
	return b
}

// token builds and signs the TimeStampToken (a CMS ContentInfo with SignedData) with
// the signed attributes contentType, messageDigest and ESS signing-certificate-v2.
func (s *Server) token(ctx context.Context, req *request) ([]byte, error) {
	serial, err := cms.RandomSerial()
	if err != nil {
		return nil, err
	}
	info := cms.TSTInfo{
		Version:        1,
		Policy:         s.cfg.Policy,
		MessageImprint: asn1.RawValue{FullBytes: req.imprintRaw},
		SerialNumber:   serial,
		GenTime:        s.cfg.Now().UTC().Truncate(time.Second),
		Accuracy:       s.accuracy,
		Nonce:          req.nonce,
		TSA:            asn1.RawValue{FullBytes: s.tsaName},
	}
	_ = ctx // crypto.Signer takes no context; a keys.Sign(ctx, ...) seam would take it here
	content, err := info.Marshal()
	if err != nil {
		return nil, err
	}
	b := cms.Builder{EContentType: cms.OIDTSTInfo, EContent: content, Signer: s.cfg.Certificate, SignatureAlgorithm: s.sigAlg}
	if req.certReq {
		b.Certificates = s.certsRaw // RFC 3161 2.4.1: present if and only if certReq
	}
	sum := sha256.Sum256(content)
	if b.SignedAttrs, err = cms.SignedAttributes(cms.OIDTSTInfo, sum[:], s.essAttr); err != nil {
		return nil, err
	}
	digest := sha256.Sum256(b.SignedAttrs)
	if b.Signature, err = s.cfg.Signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		return nil, err
	}
	return b.Marshal()
}
