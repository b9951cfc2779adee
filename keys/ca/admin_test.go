package ca_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/keys/ca"
)

// TestRevokeCertificate is the operator's revocation both motlan revoke and the admin
// API run: unknown serials and reasons are refused, the first revocation stands.
func TestRevokeCertificate(t *testing.T) {
	ctx := context.Background()
	c := newCA(t, &ca.MemStorage{}, newSealer(t), nil)
	cert, _, err := c.IssueCitizenCert(ctx, ca.CitizenCertRequest{PublicKey: ecKey(t).Public(), FullName: "Lê Công Hảo", CCCD: "038092004567", Province: "Thanh Hóa"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.RevokeCertificate(ctx, big.NewInt(12345), ca.ReasonKeyCompromise, time.Time{}); !errors.Is(err, ca.ErrUnknownCertificate) {
		t.Fatalf("unknown serial: %v", err)
	}
	if _, _, err := c.RevokeCertificate(ctx, cert.SerialNumber, 42, time.Time{}); !errors.Is(err, ca.ErrInvalidReason) {
		t.Fatalf("bad reason: %v", err)
	}
	got, rev, err := c.RevokeCertificate(ctx, cert.SerialNumber, ca.ReasonKeyCompromise, time.Time{})
	if err != nil || got.SerialNumber.Cmp(cert.SerialNumber) != 0 || rev.Reason != ca.ReasonKeyCompromise || rev.RevokedAt.IsZero() {
		t.Fatalf("revoke: %v %+v", err, rev)
	}
	_, again, err := c.RevokeCertificate(ctx, cert.SerialNumber, ca.ReasonSuperseded, time.Time{})
	if !errors.Is(err, ca.ErrAlreadyRevoked) || again.Reason != ca.ReasonKeyCompromise || !again.RevokedAt.Equal(rev.RevokedAt) {
		t.Fatalf("second revocation: %v %+v, want the first to stand", err, again)
	}
}

func TestParseReason(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code int
		ok   bool
	}{
		{"keyCompromise", ca.ReasonKeyCompromise, true},
		{"KEYCOMPROMISE", ca.ReasonKeyCompromise, true},
		{"superseded", ca.ReasonSuperseded, true},
		{"unspecified", ca.ReasonUnspecified, true},
		{"boredom", 0, false},
		{"", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			code, err := ca.ParseReason(tc.in)
			if (err == nil) != tc.ok || code != tc.code || (!tc.ok && !errors.Is(err, ca.ErrInvalidReason)) {
				t.Fatalf("ParseReason(%q) = %d, %v", tc.in, code, err)
			}
			if tc.ok && !strings.EqualFold(ca.ReasonName(code), tc.in) {
				t.Fatalf("ReasonName(%d) = %q", code, ca.ReasonName(code))
			}
		})
	}
}
