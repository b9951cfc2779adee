package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxParamBytes bounds a request's form so a hostile client cannot make us buffer much.
const MaxParamBytes = 64 << 10

// Storable reports whether every name and value of a request's parameters is text the
// store can hold: valid UTF-8 without NUL. PostgreSQL refuses anything else (SQLSTATE
// 22021), so each endpoint checks its parameters with this right after parsing them and
// answers 400, before any of them reaches the store.
func Storable(form url.Values) bool {
	ok := func(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
	for k, vs := range form {
		if !ok(k) {
			return false
		}
		for _, v := range vs {
			if !ok(v) {
				return false
			}
		}
	}
	return true
}

// HashID is how secrets the browser or client holds become store IDs. The time prefix of
// a NewSecret is kept in front of the hash, so that IDs made one after another sort one
// after another: on SQLite each new row then lands on the index's last page, which a
// batch of logins shares, instead of on a random page of its own (a WAL frame, a page
// split and a checkpoint copy each). Secrets without the prefix hash as before.
func HashID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	if p, ok := sortPrefix(secret); ok {
		return p + hex.EncodeToString(sum[:])
	}
	return hex.EncodeToString(sum[:])
}

// HashIDAt is HashID behind the time prefix of t: for a secret made elsewhere (the eID's
// state round trip) whose record still should sort by time.
func HashIDAt(t time.Time, secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return timePrefix(t) + hex.EncodeToString(sum[:])
}

// NewSecret is a new secret for a browser or client to hold (a session, a code, a refresh
// token, an upstream state): 256 random bits behind a prefix that sorts by creation time,
// the milliseconds since 1970 in lower-case base32hex and a dot. The holder learns when it
// was issued, which it knows anyway.
func NewSecret(now time.Time) string {
	return timePrefix(now) + rand.Text() + rand.Text()
}

// NewCitizenID is the store ID of a citizen logging in for the first time: 130 random bits
// behind the same time prefix, so that a first-time login's rows in every index keyed by
// citizen (sessions, codes, refresh tokens, releases, subjects, the audit log's actor)
// land on the index's last page instead of a random one. The prefix never leaves Motlan:
// a public subject is the ID without it (PublicSubject).
func NewCitizenID(now time.Time) string {
	return timePrefix(now) + rand.Text()
}

// PublicSubject is the "sub" a client of subject type public gets for a citizen: the ID
// without its time prefix, so that it does not tell when the citizen first logged in. An ID
// made before prefixes existed is its own subject, as it always was.
func PublicSubject(citizenID string) string {
	if p, ok := sortPrefix(citizenID); ok {
		return citizenID[len(p):]
	}
	return citizenID
}

const sortDigits = "0123456789abcdefghijklmnopqrstuv" // base32hex: sorts as ASCII does

// sortLen is the prefix's length: 10 digits of 5 bits (milliseconds up to the year 37000)
// and the dot.
const sortLen = 11

func timePrefix(now time.Time) string {
	var b [sortLen]byte
	v := uint64(max(now.UnixMilli(), 0))
	for i := sortLen - 2; i >= 0; i-- {
		b[i] = sortDigits[v&31]
		v >>= 5
	}
	b[sortLen-1] = '.'
	return string(b[:])
}

// sortPrefix is secret's time prefix, if it has one. rand.Text's alphabet is upper-case,
// so a secret made before prefixes existed never has one.
func sortPrefix(secret string) (string, bool) {
	if len(secret) <= sortLen || secret[sortLen-1] != '.' {
		return "", false
	}
	for i := range sortLen - 1 {
		if !strings.ContainsRune(sortDigits, rune(secret[i])) {
			return "", false
		}
	}
	return secret[:sortLen], true
}

// Named echoes a request's word in an error description only when it is a plain
// lower-case name, so descriptions stay in RFC 6749's character set and carry nothing an
// attacker chose beyond such a name.
func Named(s string) string {
	if len(s) == 0 || len(s) > 40 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c == '_') {
			return ""
		}
	}
	return ": " + s
}

// Dedupe drops repeated words, keeping the first of each, in place.
func Dedupe(in []string) []string {
	out := in[:0]
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// ValidPKCEValue checks RFC 7636's unreserved-character syntax and length.
func ValidPKCEValue(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// Cookies makes the provider's cookies: HttpOnly, SameSite=Lax, Secure on an https issuer.
type Cookies struct {
	Secure bool
}

// Cookie is a cookie of the provider; maxAge -1 clears it.
func (c Cookies) Cookie(name, value string, maxAge int, path string) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode,
	}
}

// CookiePath is the path of cookies for the whole provider under its issuer path base.
func CookiePath(base string) string {
	if base == "" {
		return "/"
	}
	return base + "/"
}

// MethodNotAllowed answers a method other than GET and POST on a page endpoint.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodPost {
		return false
	}
	w.Header().Set("Allow", "GET, POST")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return true
}

// WriteTokenJSON writes a token-style endpoint's success body with the headers RFC 6749
// 5.1 asks for: JSON, no-store, no-cache.
func WriteTokenJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(v)
}
