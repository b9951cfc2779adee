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
