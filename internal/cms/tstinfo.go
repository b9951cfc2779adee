package cms

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// TSTInfo is RFC 3161's TSTInfo (2.4.2). MessageImprint stays raw so a TSA echoes the
// query's encoding exactly; Imprint decodes it.
type TSTInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint asn1.RawValue
	SerialNumber   *big.Int
	GenTime        time.Time        `asn1:"generalized"`
	Accuracy       Accuracy         `asn1:"optional"`
	Ordering       bool             `asn1:"optional"`
	Nonce          *big.Int         `asn1:"optional"`
	TSA            asn1.RawValue    `asn1:"optional,explicit,tag:0"`
	Extensions     []pkix.Extension `asn1:"optional,tag:1"`
}

// MessageImprint is the hash of the time-stamped data.
type MessageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

// Accuracy is TSTInfo's accuracy.
type Accuracy struct {
	Seconds int `asn1:"optional"`
	Millis  int `asn1:"optional,tag:0"`
	Micros  int `asn1:"optional,tag:1"`
}

// Duration is the accuracy as a duration (zero: not stated).
func (a Accuracy) Duration() time.Duration {
	return time.Duration(a.Seconds)*time.Second + time.Duration(a.Millis)*time.Millisecond + time.Duration(a.Micros)*time.Microsecond
}

// ParseTSTInfo parses a DER TSTInfo (a time-stamp token's eContent) and its message
// imprint; nothing may follow it. The version is the caller's to check.
func ParseTSTInfo(der []byte) (*TSTInfo, MessageImprint, error) {
	var info TSTInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, MessageImprint{}, formatErr("TSTInfo: %v", err)
	}
	var mi MessageImprint
	if rest, err := asn1.Unmarshal(info.MessageImprint.FullBytes, &mi); err != nil || len(rest) > 0 {
		return nil, MessageImprint{}, formatErr("messageImprint: %v", err)
	}
	return &info, mi, nil
}

// Marshal encodes the TSTInfo.
func (t *TSTInfo) Marshal() ([]byte, error) { return asn1.Marshal(*t) }

// Errors of ParseTimestampToken beyond ErrFormat, for callers that name the failure.
var (
	// ErrNotTimestamp: a SignedData with one signer, but not over an encapsulated TSTInfo.
	ErrNotTimestamp = errors.New("the SignedData does not encapsulate a TSTInfo")
	// ErrTSTInfo: the encapsulated TSTInfo does not parse (it also matches ErrFormat).
	ErrTSTInfo = errors.New("malformed TSTInfo")
)

// TimestampToken is an RFC 3161 TimeStampToken: a SignedData with exactly one signer
// over an encapsulated TSTInfo.
type TimestampToken struct {
	*SignedData
	Signer  *SignerInfo
	Info    *TSTInfo
	Imprint MessageImprint
}

// ParseTimestampToken parses a DER TimeStampToken and returns the bytes after it, for
// the caller to judge (also with ErrNotTimestamp and ErrTSTInfo). Errors match ErrFormat
// (the SignedData, or not one signer), ErrNotTimestamp, or ErrTSTInfo; the signature is
// not checked (VerifyContent does).
func ParseTimestampToken(der []byte) (*TimestampToken, []byte, error) {
	sd, rest, err := ParseSignedData(der)
	if err != nil {
		return nil, nil, err
	}
	if len(sd.Signers) != 1 {
		return nil, nil, formatErr("%d SignerInfos, want exactly 1", len(sd.Signers))
	}
	if !sd.EContentType.Equal(OIDTSTInfo) || sd.EContent == nil {
		return nil, rest, ErrNotTimestamp
	}
	info, imprint, err := ParseTSTInfo(sd.EContent)
	if err != nil {
		return nil, rest, fmt.Errorf("%w: %w", ErrTSTInfo, err)
	}
	return &TimestampToken{SignedData: sd, Signer: &sd.Signers[0], Info: info, Imprint: imprint}, rest, nil
}
