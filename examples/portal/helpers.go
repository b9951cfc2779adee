package portal

// Small text and token helpers the pages share.

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"
)

// formatDate shows an OIDC birthdate (YYYY-MM-DD) as dd/mm/yyyy; other forms (a year
// alone, "0000-MM-DD") are shown as given.
func formatDate(s string) string {
	if d, err := time.Parse(time.DateOnly, s); err == nil && d.Year() > 0 {
		return d.Format("02/01/2006")
	}
	return s
}

func genderText(t map[string]string, g string) string {
	switch g {
	case "male", "female":
		return t[g]
	}
	return g
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n])
	}
	return s
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
