// Package accesslog writes one log line per HTTP request (method, route pattern, status,
// bytes, duration, request id, remote address) and gives every request an id: the
// X-Request-Id a trusted proxy sent, or a new one. The id is echoed in the response
// header, and Handler adds it (and the trace id) to every log record made with the
// request's context, so an error log, a problem+json answer and the access line share it.
//
// The line holds no raw path or query (they carry request ids, codes and tokens): only the
// route pattern the mux matched, or "unmatched".
package accesslog

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/motlan/motlan/internal/httprec"
)

// Header is the request id header, accepted from trusted proxies and always answered.
const Header = "X-Request-Id"

// maxIDLen bounds an accepted request id.
const maxIDLen = 128

// Config configures Middleware.
type Config struct {
	// Logger receives the lines (at Info); wrap its handler with Handler and with
	// logredact as for every application log.
	Logger *slog.Logger
	// TrustedProxies are the peers whose X-Request-Id and X-Forwarded-For are believed.
	TrustedProxies []netip.Prefix
}

// entry is what the middleware learns about a request as it runs.
type entry struct {
	id    string
	route string
}

type ctxKey struct{}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if e, ok := ctx.Value(ctxKey{}).(*entry); ok {
		return e.id
	}
	return ""
}

// Routes records, for the access line, the route pattern that the muxes in h matched.
// Wrap the outermost mux with it (a middleware that replaces the request, as tracing does,
// hides the pattern from the access log's own copy).
func Routes(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if e, ok := r.Context().Value(ctxKey{}).(*entry); ok {
			e.route = r.Pattern
		}
	})
}

// Middleware gives each request its id and logs it once answered.
func Middleware(cfg Config, h http.Handler) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		peer := peerAddr(r.RemoteAddr)
		trusted := trustedPeer(cfg.TrustedProxies, peer)
		e := &entry{}
		if trusted {
			e.id = validID(r.Header.Get(Header))
		}
		if e.id == "" {
			e.id = newID()
		}
		w.Header().Set(Header, e.id)
		ctx := context.WithValue(r.Context(), ctxKey{}, e)
		cw := httprec.New(w)
		h.ServeHTTP(cw, r.WithContext(ctx))
		route := e.route
		if route == "" {
			route = "unmatched"
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", cw.Code),
			slog.Int64("bytes", cw.Bytes), slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("remote", remoteOf(r, peer, trusted, cfg.TrustedProxies)),
		}
		cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "http request", attrs...)
	})
}

// idAlphabet has no digits, so that no generated id is ever taken for a CCCD or a phone
// number by the log redaction.
const idAlphabet = "abcdefghijklmnopqrstuvwxyz"

// newID returns 24 random letters (about 113 bits). An id needs to be unique, not secret:
// math/rand/v2's generator (ChaCha8, seeded by the runtime) costs no system call.
func newID() string {
	var b [24]byte
	for half := range 2 {
		x := rand.Uint64()
		for i := range 12 { // 26^12 < 2^64
			b[half*12+i] = idAlphabet[x%26]
			x /= 26
		}
	}
	return string(b[:])
}

// validID returns id when it is a plausible request id (1 to 128 of A-Z a-z 0-9 and
// -_.:), else "".
func validID(id string) string {
	if id == "" || len(id) > maxIDLen {
		return ""
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return ""
		}
	}
	return id
}

// peerAddr parses the connection's address.
func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func trustedPeer(trusted []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// remoteOf is the client's address: the peer's, or behind trusted proxies the nearest
// X-Forwarded-For hop that is not one of them.
func remoteOf(r *http.Request, peer netip.Addr, trusted bool, proxies []netip.Prefix) string {
	if !peer.IsValid() {
		return r.RemoteAddr
	}
	addr := peer
	if trusted {
		var hops []string
		for _, h := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(h, ",")...)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a malformed hop: believe nothing further left
			}
			addr = a.Unmap()
			if !trustedPeer(proxies, addr) {
				break
			}
		}
	}
	return addr.String()
}
