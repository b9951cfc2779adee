package ltv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// ErrPrivateAddress: a download was refused because its address is loopback, private,
// link-local or otherwise not public. The URLs come from certificates in PDFs that API
// callers upload, so without this check a caller could make the server fetch from its
// own network (server-side request forgery).
var ErrPrivateAddress = errors.New("ltv: address not public")

// NewTransport returns the transport Extender uses when Config.HTTPClient is nil: no
// proxy, and unless allowPrivate, connections only to public addresses (checked on the
// resolved address, so DNS cannot point a public name at an internal host).
func NewTransport(allowPrivate bool) http.RoundTripper {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip := net.ParseIP(host)
			if ip == nil || !public(ip) {
				return fmt.Errorf("%w: %s", ErrPrivateAddress, host)
			}
			return nil
		}
	}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
	}
}

func public(ip net.IP) bool {
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified())
}
