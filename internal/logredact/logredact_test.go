package logredact_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/motlan/motlan/internal/logredact"
)

const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIwMzgwOTUwMTIzNDUifQ.c2lnbmF0dXJlLWJ5dGVz"

func TestString(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"cccd alone", "038095012345", "[CCCD]"},
		{"cccd in text", "citizen 038095012345 logged in", "citizen [CCCD] logged in"},
		{"cccd in a claim", `{"cccd":"038095012345"}`, `{"cccd":"[CCCD]"}`},
		{"longer number kept", "1234567890123456", "1234567890123456"},
		{"mobile", "call 0912345678 now", "call [PHONE] now"},
		{"mobile +84", "tel:+84912345678", "tel:[PHONE]"},
		{"grouped", "0912 345 678", "[PHONE]"},
		{"landline", "(0237) hmm 02373852123", "(0237) hmm [PHONE]"},
		{"jwt", "bearer " + jwt + " rejected", "bearer [JWT] rejected"},
		{"unix ms kept", "at 1772352000000", "at 1772352000000"},
		{"nothing", "login ok for client portal", "login ok for client portal"},
		{"short numbers kept", "took 12ms, 3 rows, port 8080", "took 12ms, 3 rows, port 8080"},
		// Neighbours: each number is judged on its own, whatever separates it from the last.
		{"cccds adjacent", "cccds 079090001234 079090001235,079090001236", "cccds [CCCD] [CCCD],[CCCD]"},
		{"cccds by newline", "079090001234\n079090001235\r\n079090001236\n", "[CCCD]\n[CCCD]\r\n[CCCD]\n"},
		{"cccds by tab and semicolon", "079090001234\t079090001235;079090001236", "[CCCD]\t[CCCD];[CCCD]"},
		{"cccd list in json", `["079090001234","079090001235"]`, `["[CCCD]","[CCCD]"]`},
		{"13 digits not a cccd", "0790900012345 x", "0790900012345 x"},
		{"11 digits not a cccd", "id 17909000123.", "id 17909000123."},
		{"cccd beside 13 digits", "0790900012345 079090001234", "0790900012345 [CCCD]"},
		{"cccd inside a word", "cccd=079090001234&x", "cccd=[CCCD]&x"},
		{"cccd glued to letters", "id079090001234x", "id[CCCD]x"},
		{"cccd in a path", "/citizens/079090001234/keys", "/citizens/[CCCD]/keys"},
		{"cccd with unicode around", "CCCD số079090001234đã", "CCCD số[CCCD]đã"},
		{"phones adjacent", "phones 0912345678 0912345679", "phones [PHONE] [PHONE]"},
		{"phones by comma", "0912345678,0912345679,0912345670", "[PHONE],[PHONE],[PHONE]"},
		{"phones by newline", "0912345678\n0912345679\n", "[PHONE]\n[PHONE]\n"},
		{"phones by semicolon", "0912345678;+84912345679", "[PHONE];[PHONE]"},
		{"phone then cccd", "0912345678 079090001234", "[PHONE] [CCCD]"},
		{"cccd then phone", "079090001234,0912345678", "[CCCD],[PHONE]"},
		{"phone inside a word", "tel0912345678x", "tel[PHONE]x"},
		{"phone in a query", "?phone=0912345678&a=1", "?phone=[PHONE]&a=1"},
		{"+84 grouped", "gọi +84 912 345 678 nhé", "gọi [PHONE] nhé"},
		{"+84 dotted", "+84.912.345.678", "[PHONE]"},
		{"84 without plus", "84912345678", "[PHONE]"},
		{"(+84)", "(+84) 912-345-678", "[PHONE]"},
		{"+84 twice", "+84912345678 +84912345679", "[PHONE] [PHONE]"},
		{"+84 right after a phone", "0912345678+84912345679", "[PHONE][PHONE]"},
		{"+0 not a phone", "+0912345678", "+0912345678"},
		{"phone inside a longer number kept", "10912345678 0912345678123", "10912345678 0912345678123"},
		{"grouped pair", "0912 345 678, 0913 456 789", "[PHONE], [PHONE]"},
		{"jwts adjacent", jwt + " " + jwt + "," + jwt, "[JWT] [JWT],[JWT]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := logredact.String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

type person struct{ Name, Phone string }

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logredact.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log = log.With("name", "Lê Công Hảo", "client_id", "portal")
	log.WithGroup("claims").Info("released 038095012345",
		"address", map[string]string{"street": "12 Lê Lợi"},
		"birthdate", "1995-01-02",
		"err", errors.New("eid rejected token "+jwt),
		slog.Group("req", "code", "Xq3v9TzKpL2m", "error_code", "access_denied", "phone_number", "0912345678", "state", "s1"),
		"who", person{"Nguyễn Văn An", "0987654321"},
		"n", 42,
		"Access_Token", "opaque",
		"raw", []byte("038095012345"),
	)
	out := buf.String()
	for _, leak := range []string{"Lê Công Hảo", "038095012345", "1995-01-02", "12 Lê Lợi", "0912345678", "0987654321", "eyJ", "Xq3v9TzKpL2m", "opaque", `"s1"`} {
		if strings.Contains(out, leak) {
			t.Errorf("log leaks %q:\n%s", leak, out)
		}
	}
	for _, keep := range []string{`"client_id":"portal"`, `"n":42`, `"msg":"released [CCCD]"`, `"err":"eid rejected token [JWT]"`, `"error_code":"access_denied"`} {
		if !strings.Contains(out, keep) {
			t.Errorf("log lost %s:\n%s", keep, out)
		}
	}
	if h := logredact.New(logredact.New(slog.DiscardHandler)); h.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("the discard handler reports enabled")
	}
}

func BenchmarkHandlerPlain(b *testing.B) {
	log := slog.New(logredact.New(slog.NewJSONHandler(io.Discard, nil)))
	for b.Loop() {
		log.Info("token issued", "client_id", "portal", "grant_type", "authorization_code", "took", 1234)
	}
}

func TestOAuthErrorCodeKept(t *testing.T) {
	tests := []struct{ value, want string }{
		{"access_denied", `"code":"access_denied"`},
		{"Xq3v9TzKpL2mN8", `"code":"[REDACTED]"`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		slog.New(logredact.New(slog.NewJSONHandler(&buf, nil))).Warn("login failed", "code", tt.value)
		if !strings.Contains(buf.String(), tt.want) {
			t.Errorf("code %q logged as %s, want %s", tt.value, buf.String(), tt.want)
		}
	}
}

// BenchmarkHandlerBaseline is BenchmarkHandlerPlain without redaction, for comparison.
func BenchmarkHandlerBaseline(b *testing.B) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for b.Loop() {
		log.Info("token issued", "client_id", "portal", "grant_type", "authorization_code", "took", 1234)
	}
}

// BenchmarkString: a line without numbers (the fast path: no allocation), one with
// numbers that are not personal data (scanned, returned as is) and one with a CCCD and a
// phone number.
func BenchmarkString(b *testing.B) {
	for _, bm := range []struct{ name, in string }{
		{"plain", "token issued for client portal in 12ms"},
		{"numbers", "request 2026-03-01T08:00:30Z took 1772352000000 ns from 192.0.2.1:5000"},
		{"personal", "citizen 038095012345 called from 0912345678 about dossier 77"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				logredact.String(bm.in)
			}
		})
	}
}
