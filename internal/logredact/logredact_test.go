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
