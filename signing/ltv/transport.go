package ltv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress: a download was refused because its address is loopback, private,
// link-local or otherwise not public. The URLs come from certificates in PDFs that API
// callers upload, so without this check a caller could make the server fetch from its
// own network (server-side request forgery).
var ErrPrivateAddress = errors.New("ltv: address not public")

// NewTransport returns the transport Extender uses when Config.HTTPClient is nil: no
// proxy, and unless allowPrivate, connections only to public addresses. The check runs
// in the dialer's Control, on the address about to be connected after DNS resolution
// (for every address tried and every redirect), so a name that resolves, or later
// rebinds, to an internal host is refused too.
func NewTransport(allowPrivate bool) http.RoundTripper {
	if allowPrivate {
		return newTransport(nil)
	}
	return newTransport(public)
}

// newTransport dials only addresses allowed reports true for (all when nil).
func newTransport(allowed func(netip.Addr) bool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if allowed != nil {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			return checkDialAddress(address, allowed)
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

// checkDialAddress runs in the dialer's Control: address is the resolved "ip:port".
func checkDialAddress(address string, allowed func(netip.Addr) bool) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrPrivateAddress, address)
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !allowed(a) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, host)
	}
	return nil
}

// Not globally reachable, or not unicast, per the IANA IPv4 and IPv6 Special-Purpose
// Address Registries (RFC 6890 and its updates), plus multicast and the reserved
// 240.0.0.0/4. A CA publishes its OCSP responder and CRLs on none of these.
var (
	denied4 = prefixes(
		"0.0.0.0/8",          // "this network" (RFC 791); 0.0.0.0 reaches the local host
		"10.0.0.0/8",         // private (RFC 1918)
		"100.64.0.0/10",      // shared address space, CGNAT (RFC 6598); cloud metadata 100.100.100.200
		"127.0.0.0/8",        // loopback
		"169.254.0.0/16",     // link-local (RFC 3927); cloud metadata 169.254.169.254
		"172.16.0.0/12",      // private
		"192.0.0.0/24",       // IETF protocol assignments (RFC 6890)
		"192.0.2.0/24",       // TEST-NET-1 (RFC 5737)
		"192.88.99.0/24",     // deprecated 6to4 relay anycast (RFC 7526)
		"192.168.0.0/16",     // private
		"198.18.0.0/15",      // benchmarking (RFC 2544)
		"198.51.100.0/24",    // TEST-NET-2
		"203.0.113.0/24",     // TEST-NET-3
		"224.0.0.0/4",        // multicast
		"240.0.0.0/4",        // reserved (RFC 1112), includes 255.255.255.255 broadcast
		"255.255.255.255/32", // limited broadcast (already in 240/4; listed for the reader)
	)
	// IPv6 outside 2000::/3 (global unicast) is refused as a whole, apart from the NAT64
	// well-known prefix: that covers ::/128, ::1, IPv4-compatible ::/96, discard 100::/64,
	// 100:0:0:1::/64, SRv6 5f00::/16, ULA fc00::/7, link-local fe80::/10, site-local
	// fec0::/10 and multicast ff00::/8. Inside 2000::/3 these blocks are refused whole
	// (2001::/23 holds a few anycast services, none a CA would publish on):
	denied6 = prefixes(
		"2001::/23",     // IETF protocol assignments: Teredo 2001::/32, benchmarking 2001:2::/48, ORCHID
		"2001:db8::/32", // documentation (RFC 3849)
		"3fff::/20",     // documentation (RFC 9637)
	)
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	// Prefixes whose addresses carry an IPv4 address, which decides: NAT64 with the
	// well-known prefix (RFC 6052; a DNS64 network gives every IPv4-only host such an
	// address, so public ones must pass) and 6to4 (RFC 3056, the IPv4 in bits 16-47).
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
	// The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) is the operator's own
	// translator, with embeddings at any RFC 6052 length: refused whatever it carries,
	// by the rule for addresses outside 2000::/3.
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// public reports whether a may be dialed: a globally reachable unicast address, looking
// through the IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64, 6to4) to it.
func public(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		// A zone only qualifies link-local and other scoped addresses.
		return false
	}
	a = a.Unmap() // ::ffff:10.0.0.1 is 10.0.0.1 on the wire
	if a.Is4() {
		return !inAny(a, denied4)
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return public(netip.AddrFrom4([4]byte(b[12:16])))
	case sixTo4.Contains(a):
		return public(netip.AddrFrom4([4]byte(b[2:6])))
	case !globalUnicast6.Contains(a):
		return false
	}
	return !inAny(a, denied6)
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
