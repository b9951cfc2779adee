package tsa

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"

	"github.com/motlan/motlan/internal/cms"
)

// Object identifiers of the TSA certificate's extended key usage (RFC 3161 2.3); the CMS
// ones are internal/cms's.
var (
	oidExtKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidKPTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
)

// PKIStatus values (RFC 3161 section 2.4.2).
const (
	StatusGranted                = 0
	StatusGrantedWithMods        = 1
	StatusRejection              = 2
	StatusWaiting                = 3
	StatusRevocationWarning      = 4
	StatusRevocationNotification = 5
)

// PKIFailureInfo bits (RFC 3161 section 2.4.2).
const (
	FailBadAlg              = 0
	FailBadRequest          = 2
	FailBadDataFormat       = 5
	FailTimeNotAvailable    = 14
	FailUnacceptedPolicy    = 15
	FailUnacceptedExtension = 16
	FailAddInfoNotAvailable = 17
	FailSystemFailure       = 25
	maxFailBit              = 25
)

// timeStampReq is TimeStampReq; MessageImprint stays raw so the token echoes it exactly.
type timeStampReq struct {
	Version        int
	MessageImprint asn1.RawValue
	ReqPolicy      asn1.ObjectIdentifier `asn1:"optional"`
	Nonce          *big.Int              `asn1:"optional"`
	CertReq        bool                  `asn1:"optional"`
	Extensions     []pkix.Extension      `asn1:"optional,tag:0"`
}

type pkiStatusInfo struct {
	Status       int
	StatusString []asn1.RawValue `asn1:"optional"` // PKIFreeText: SEQUENCE OF UTF8String
	FailInfo     asn1.BitString  `asn1:"optional"`
}

type timeStampResp struct {
	Status         pkiStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

// algID is a hash AlgorithmIdentifier with absent parameters (RFC 5754).
func algID(oid asn1.ObjectIdentifier) pkix.AlgorithmIdentifier {
	return pkix.AlgorithmIdentifier{Algorithm: oid}
}

// hashOK reports whether h has a digest algorithm OID and is linked in.
func hashOK(h crypto.Hash) bool {
	_, ok := cms.HashOID(h)
	return ok && h.Available()
}
