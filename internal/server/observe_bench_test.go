package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/logredact"
	"github.com/motlan/motlan/internal/metrics"
	"github.com/motlan/motlan/internal/tracing"
)

// BenchmarkPublicHandler measures what the public port's middleware costs per request
// around a trivial route: "metrics" is the chain before access logs and tracing,
// "off" the chain as shipped with tracing off (access log below the log level, as with
// log.level warn), "access-log" with the line written (log.level info, JSON to a discard
// writer, through logredact), "traced" with every request recorded (sample ratio 1) and
// exported to a no-op exporter. Compare ns/op against "metrics" in the same run.
func BenchmarkPublicHandler(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /signing/v1/requests/{id}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"status":"pending"}`)
	})
	m := metrics.New(metrics.Config{})
	logAt := func(l slog.Level) *slog.Logger {
		return logredact.Logger(requestLogger(slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: l}))))
	}
	traced, err := tracing.New(context.Background(), tracing.Config{Exporter: tracetest.NewNoopExporter()})
	if err != nil {
		b.Fatal(err)
	}
	defer traced.Shutdown(context.Background())
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"metrics", m.Middleware(mux)},
		{"off", publicHandler(mux, config.Config{}, m, nil, logAt(slog.LevelWarn))},
		{"access-log", publicHandler(mux, config.Config{}, m, nil, logAt(slog.LevelInfo))},
		{"traced", publicHandler(mux, config.Config{}, m, traced, logAt(slog.LevelWarn))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/signing/v1/requests/abcdef", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				bc.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
