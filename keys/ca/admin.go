package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// ReasonNames are the revocation reasons operators may give (motlan revoke and the
// admin API), by their RFC 5280 names.
var ReasonNames = []struct {
	Name string
	Code int
}{
	{"unspecified", ReasonUnspecified},
	{"keyCompromise", ReasonKeyCompromise},
	{"affiliationChanged", ReasonAffiliationChanged},
	{"superseded", ReasonSuperseded},
	{"cessationOfOperation", ReasonCessationOfOperation},
}

// ParseReason reads a reason name (case-insensitive); ErrInvalidReason names the choices.
func ParseReason(s string) (int, error) {
	var names []string
	for _, r := range ReasonNames {
		if strings.EqualFold(s, r.Name) {
			return r.Code, nil
		}
		names = append(names, r.Name)
	}
	return 0, fmt.Errorf("%w: %q: want one of %s", ErrInvalidReason, s, strings.Join(names, ", "))
}

// ReasonName is the RFC 5280 name of a reason code.
func ReasonName(code int) string {
	for _, r := range ReasonNames {
		if r.Code == code {
			return r.Name
		}
	}
	return fmt.Sprintf("reason %d", code)
}

// ParseSerial reads a certificate serial number in hex: "3a7f…", "0x3a7f…" or "3a:7f:…"
// as openssl prints it. ErrUnknownCertificate for anything else.
func ParseSerial(s string) (*big.Int, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	h = strings.ReplaceAll(h, ":", "")
	n, ok := new(big.Int).SetString(h, 16)
	if h == "" || len(h) > 64 || !ok || n.Sign() <= 0 {
		return nil, fmt.Errorf("%w: %q is not a serial number in hex", ErrUnknownCertificate, s)
	}
	return n, nil
}

// RevokeCertificate is the operator's revocation, shared by motlan revoke and the admin
// API: the certificate must be one this CA issued (ErrUnknownCertificate); a second
// revocation fails with ErrAlreadyRevoked and returns the first one, which stands.
// It returns the certificate and its revocation as stored.
func (ca *DevCA) RevokeCertificate(ctx context.Context, serial *big.Int, reason int, at time.Time) (*x509.Certificate, Revocation, error) {
	cert, err := ca.Certificate(ctx, serial)
	if err != nil {
		return nil, Revocation{}, err
	}
	err = ca.Revoke(ctx, serial, reason, at)
	if errors.Is(err, ErrAlreadyRevoked) {
		if prev, rerr := ca.Revoked(ctx, serial); rerr == nil && prev != nil {
			return cert, *prev, err
		}
		return cert, Revocation{}, err
	}
	if err != nil {
		return nil, Revocation{}, err
	}
	rev, err := ca.Revoked(ctx, serial)
	if err != nil || rev == nil {
		return nil, Revocation{}, fmt.Errorf("ca: revocation of %x recorded but not readable back: %v", serial, err)
	}
	return cert, *rev, nil
}
