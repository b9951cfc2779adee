package verify

import (
	"crypto/x509"
	"encoding/asn1"
	"strconv"
	"strings"
	"time"
)

// oidUID is the LDAP userId attribute that carries "CCCD:<12 digits>" in a Vietnamese
// personal certificate's subject.
var oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

func signerOf(c *x509.Certificate) *Signer {
	s := &Signer{
		Name:      c.Subject.CommonName,
		Issuer:    c.Issuer.String(),
		Serial:    c.SerialNumber.Text(16),
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
	}
	for _, n := range c.Subject.Names {
		if !n.Type.Equal(oidUID) {
			continue
		}
		uid, ok := n.Value.(string)
		if !ok {
			continue
		}
		s.IDType, s.IDMasked = MaskID(uid)
		break
	}
	return s
}

// MaskID splits a subject UID such as "CCCD:038092004567" into its type ("CCCD") and
// the number with all but the first 3 and last 2 characters masked ("038*******67").
// Numbers of 5 characters or fewer are masked entirely.
func MaskID(uid string) (idType, masked string) {
	num := uid
	if i := strings.IndexByte(uid, ':'); i >= 0 {
		idType, num = uid[:i], uid[i+1:]
	}
	r := []rune(num)
	if len(r) <= 5 {
		return idType, strings.Repeat("*", len(r))
	}
	return idType, string(r[:3]) + strings.Repeat("*", len(r)-5) + string(r[len(r)-2:])
}

// parsePDFDate parses a PDF date (D:YYYYMMDDHHmmSSOHH'mm', every part after the year
// optional).
func parsePDFDate(s string) (time.Time, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "D:")
	if len(s) < 4 {
		return time.Time{}, false
	}
	parts := []int{0, 1, 1, 0, 0, 0} // year, month, day, hour, minute, second
	widths := []int{4, 2, 2, 2, 2, 2}
	i := 0
	for k, w := range widths {
		if i+w > len(s) || s[i] < '0' || s[i] > '9' {
			if k == 0 {
				return time.Time{}, false
			}
			break
		}
		n, err := strconv.Atoi(s[i : i+w])
		if err != nil {
			return time.Time{}, false
		}
		parts[k] = n
		i += w
	}
	loc := time.UTC
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		sign := 1
		if s[i] == '-' {
			sign = -1
		}
		rest := strings.ReplaceAll(s[i+1:], "'", "")
		var hh, mm int
		if len(rest) >= 2 {
			hh, _ = strconv.Atoi(rest[:2])
		}
		if len(rest) >= 4 {
			mm, _ = strconv.Atoi(rest[2:4])
		}
		loc = time.FixedZone("", sign*(hh*3600+mm*60))
	}
	if parts[1] < 1 || parts[1] > 12 || parts[2] < 1 || parts[2] > 31 || parts[3] > 23 || parts[4] > 59 || parts[5] > 60 {
		return time.Time{}, false
	}
	return time.Date(parts[0], time.Month(parts[1]), parts[2], parts[3], parts[4], parts[5], 0, loc), true
}
