package cms

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"time"
)

// TSTInfo is RFC 3161's TSTInfo (2.4.2). MessageImprint stays raw so a TSA echoes the
// query's encoding exactly; ParseTSTInfo decodes it into Imprint.
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

	Imprint MessageImprint `asn1:"-"`
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

// ParseTSTInfo parses a DER TSTInfo (a time-stamp token's eContent); nothing may follow
// it. The version is the caller's to check.
func ParseTSTInfo(der []byte) (*TSTInfo, error) {
	var info TSTInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, formatErr("TSTInfo: %v", err)
	}
	if rest, err := asn1.Unmarshal(info.MessageImprint.FullBytes, &info.Imprint); err != nil || len(rest) > 0 {
		return nil, formatErr("messageImprint: %v", err)
	}
	return &info, nil
}

// Marshal encodes the TSTInfo (MessageImprint as it stands, Imprint ignored).
func (t *TSTInfo) Marshal() ([]byte, error) { return asn1.Marshal(*t) }
