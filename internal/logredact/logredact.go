// Package logredact keeps personal data and secrets out of application logs: a slog
// handler wrapper that masks, before any record reaches the real handler,
//
//   - the values of attributes whose key names personal data or a secret (name, address,
//     birthdate, phone_number, cccd, token, code, secret, cookie, ...), in any group;
//   - in every string (messages, attribute values, errors): 12-digit personal ID numbers
//     (CCCD), Vietnamese phone numbers and JWTs, wherever they appear.
//
// Dex's cmd/dex/excluding_handler.go does the first for emails; Motlan's logs carry
// eID attributes, so both are needed.
package logredact

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Masks written in place of what is removed.
const (
	Redacted  = "[REDACTED]"
	MaskCCCD  = "[CCCD]"
	MaskPhone = "[PHONE]"
	MaskJWT   = "[JWT]"
)

// sensitiveKeys are attribute keys (lower case, the last component) whose values are
// dropped whole.
var sensitiveKeys = map[string]bool{
	// eID attributes and what the citizen types
	"name": true, "full_name": true, "given_name": true, "family_name": true, "middle_name": true,
	"address": true, "street_address": true, "birthdate": true, "birth_date": true, "dob": true,
	"phone": true, "phone_number": true, "cccd": true, "cmnd": true, "personal_id": true,
	"email": true, "place_of_origin": true, "portrait": true, "login_hint": true, "gender": true,
	// secrets and bearer values
	"token": true, "access_token": true, "refresh_token": true, "id_token": true, "id_token_hint": true,
	"logout_token": true, "upstream_id_token": true, "code": true, "code_verifier": true,
	"client_secret": true, "secret": true, "password": true, "pin": true, "assertion": true,
	"client_assertion": true, "authorization": true, "cookie": true, "set-cookie": true,
	"csrf": true, "dpop": true, "state": true, "nonce": true, "master_key": true, "dsn": true,
}

var (
	// phoneRE is a Vietnamese mobile or landline number at the start of the string: 0,
	// 84, +84 or (+84), then 9-10 digits, optionally grouped by spaces, dots or dashes, and
	// then no further digit. maskPhones checks the character before it.
	phoneRE     = regexp.MustCompile(`^(?:\+84|84|0|\(\+84\))[ .-]?[1-9][0-9]{1,2}(?:[ .-]?[0-9]){6,7}(?:[^0-9]|$)`)
	errorCodeRE = regexp.MustCompile(`^[a-z_]{1,40}$`)
	jwtRE       = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
)

// String masks CCCD numbers, phone numbers and JWTs in s. A string with nothing to mask
// is returned as is, without allocating.
func String(s string) string {
	if !hasDigitsOrJWT(s) {
		return s
	}
	if strings.Contains(s, "eyJ") {
		s = jwtRE.ReplaceAllString(s, MaskJWT)
	}
	return maskPhones(maskCCCDs(s))
}

// maskCCCDs replaces every run of exactly 12 digits (a longer run is some other number).
// Each run is judged whole, by scanning rather than by a regexp that would have to match
// the characters around a run: those would be consumed, and a CCCD one separator after
// another would go unmasked.
func maskCCCDs(s string) string {
	var b strings.Builder
	last := 0 // s[:last] is in b
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j-i == 12 {
			if last == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[last:i])
			b.WriteString(MaskCCCD)
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// maskPhones replaces phone numbers: phoneRE tried at each place a number can start, that
// is not right after a digit or a '+' (nor right after a masked number, which a '+' may
// follow directly). Trying each start, rather than one regexp over s, leaves the
// separator after a number to the next one.
func maskPhones(s string) string {
	var b strings.Builder
	last := 0 // s[:last] is in b
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '0' && c != '8' && c != '+' && c != '(' {
			continue
		}
		if i > 0 && i != last && (isDigit(s[i-1]) || s[i-1] == '+') {
			continue
		}
		m := phoneRE.FindStringIndex(s[i:])
		if m == nil {
			continue
		}
		// The match ends with the character after the number, if any: not a digit.
		end := i + strings.LastIndexAny(s[i:i+m[1]], "0123456789") + 1
		if last == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:i])
		b.WriteString(MaskPhone)
		last = end
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// hasDigitsOrJWT is the cheap test that lets most strings skip the regexps.
func hasDigitsOrJWT(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits++
			if digits >= 9 {
				return true
			}
		}
	}
	return strings.Contains(s, "eyJ")
}

// Handler redacts records before passing them to the next handler.
type Handler struct {
	next slog.Handler
}

// New wraps next; a handler that already redacts is returned as is.
func New(next slog.Handler) slog.Handler {
	if h, ok := next.(*Handler); ok {
		return h
	}
	return &Handler{next: next}
}

// Logger returns l with a redacting handler.
func Logger(l *slog.Logger) *slog.Logger { return slog.New(New(l.Handler())) }

func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(Attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = Attr(a)
	}
	return &Handler{next: h.next.WithAttrs(red)}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name)}
}

// Attr returns a with its value redacted: dropped whole for a sensitive key, masked
// otherwise; groups are walked.
func Attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if key := strings.ToLower(a.Key); sensitiveKeys[key] && v.Kind() != slog.KindGroup {
		// "code" is also an OAuth error code (access_denied), which logs must keep; an
		// authorization code is random and never matches.
		if key == "code" && errorCodeRE.MatchString(v.String()) {
			return slog.String(a.Key, v.String())
		}
		return slog.String(a.Key, Redacted)
	}
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, ga := range g {
			red[i] = Attr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, String(x.Error()))
		case []byte:
			return slog.String(a.Key, String(string(x)))
		default:
			// Render other values the way a handler would, and replace them only when the
			// rendering holds something to mask, so plain values keep their type.
			s := fmt.Sprintf("%+v", x)
			if m := String(s); m != s {
				return slog.String(a.Key, m)
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

var _ slog.Handler = (*Handler)(nil)
