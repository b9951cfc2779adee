package testpki

import (
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"sync/atomic"
	"time"

	"github.com/digitorus/timestamp"
)

// Timestamper is an in-test RFC 3161 TSA, independent of keys/tsa: it returns the DER
// TimeStampToken for digest, signed by the CA's TSA certificate (which it includes). It
// counts its calls in calls unless that is nil. The function type is assignable to
// pades.TimestampFunc.
func (ca *CA) Timestamper(calls *atomic.Int32) func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	return ca.timestamper(calls, 0)
}

// PaddedTimestamper is a Timestamper whose tokens carry an extension of pad zero bytes,
// to make them larger than a signer reserved room for.
func (ca *CA) PaddedTimestamper(pad int) func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	return ca.timestamper(nil, pad)
}

func (ca *CA) timestamper(calls *atomic.Int32, pad int) func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	return func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
		if calls != nil {
			calls.Add(1)
		}
		ts := timestamp.Timestamp{
			HashAlgorithm:     h,
			HashedMessage:     digest,
			Time:              time.Now(),
			Policy:            asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1},
			AddTSACertificate: true,
		}
		if pad > 0 {
			ts.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 2}, Value: make([]byte, pad)}}
		}
		resp, err := ts.CreateResponseWithOpts(ca.TSA, ca.TSAKey, crypto.SHA256)
		if err != nil {
			return nil, err
		}
		parsed, err := timestamp.ParseResponse(resp)
		if err != nil {
			return nil, err
		}
		return parsed.RawToken, nil
	}
}
