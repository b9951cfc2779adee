package ltv

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr string
		want bool
	}{
		// Public examples that must pass.
		{"Google DNS v4", "8.8.8.8", true},
		{"Cloudflare DNS v4", "1.1.1.1", true},
		{"VNNIC", "203.119.36.106", true},
		{"just below CGNAT", "100.63.255.255", true},
		{"just above CGNAT", "100.128.0.0", true},
		{"just above benchmarking", "198.20.0.0", true},
		{"next to 192.0.0.0/24", "192.0.1.1", true},
		{"below multicast", "223.255.255.255", true},
		{"Google DNS v6", "2001:4860:4860::8888", true},
		{"Cloudflare DNS v6", "2606:4700:4700::1111", true},
		{"just past 2001::/23", "2001:200::1", true},
		{"NAT64 of a public address", "64:ff9b::8.8.8.8", true},
		{"6to4 of a public address", "2002:808:808::1", true},
		{"IPv4-mapped public", "::ffff:8.8.8.8", true},

		// IPv4 special-purpose and non-unicast ranges.
		{"this network", "0.0.0.0", false},
		{"this network, high", "0.255.255.255", false},
		{"private 10/8", "10.0.0.1", false},
		{"CGNAT low", "100.64.0.0", false},
		{"CGNAT metadata", "100.100.100.200", false},
		{"CGNAT high", "100.127.255.255", false},
		{"loopback", "127.0.0.1", false},
		{"loopback high", "127.255.255.254", false},
		{"link-local metadata", "169.254.169.254", false},
		{"private 172.16/12", "172.31.255.255", false},
		{"IETF protocol assignments", "192.0.0.8", false},
		{"IETF protocol assignments high", "192.0.0.255", false},
		{"TEST-NET-1", "192.0.2.1", false},
		{"6to4 relay anycast", "192.88.99.1", false},
		{"private 192.168/16", "192.168.1.1", false},
		{"benchmarking low", "198.18.0.1", false},
		{"benchmarking high", "198.19.255.255", false},
		{"TEST-NET-2", "198.51.100.7", false},
		{"TEST-NET-3", "203.0.113.9", false},
		{"multicast low", "224.0.0.1", false},
		{"multicast high", "239.255.255.250", false},
		{"reserved", "240.0.0.1", false},
		{"reserved high", "254.255.255.255", false},
		{"broadcast", "255.255.255.255", false},

		// IPv4-mapped IPv6 (::ffff:0:0/96) is the IPv4 address on the wire.
		{"mapped private", "::ffff:10.0.0.1", false},
		{"mapped loopback", "::ffff:127.0.0.1", false},
		{"mapped CGNAT", "::ffff:100.100.100.200", false},
		{"mapped metadata", "::ffff:169.254.169.254", false},

		// NAT64 with the well-known prefix (RFC 6052) embedding a non-public IPv4.
		{"NAT64 private", "64:ff9b::10.0.0.1", false},
		{"NAT64 loopback", "64:ff9b::127.0.0.1", false},
		{"NAT64 metadata", "64:ff9b::a9fe:a9fe", false},
		{"NAT64 CGNAT", "64:ff9b::100.100.100.200", false},
		// Local-use NAT64 (RFC 8215): refused whatever it embeds, at /96 or /48 layout.
		{"local NAT64 /96 private", "64:ff9b:1::10.0.0.1", false},
		{"local NAT64 /48 private", "64:ff9b:1:a00:1::", false},
		{"local NAT64 public", "64:ff9b:1::8.8.8.8", false},

		// 6to4 (2002::/16) embedding a non-public IPv4 in bits 16-47.
		{"6to4 private", "2002:a00:1::1", false},
		{"6to4 loopback", "2002:7f00:1::1", false},
		{"6to4 metadata", "2002:a9fe:a9fe::1", false},
		{"6to4 CGNAT", "2002:6464:64c8::1", false},

		// IPv6 special-purpose and non-unicast ranges.
		{"unspecified", "::", false},
		{"loopback v6", "::1", false},
		{"IPv4-compatible", "::10.0.0.1", false},
		{"IPv4-compatible public", "::8.8.8.8", false},
		{"discard-only", "100::1", false},
		{"dummy prefix", "100:0:0:1::1", false},
		{"Teredo", "2001::1", false},
		{"Teredo with addresses", "2001:0:4136:e378:8000:63bf:3fff:fdd2", false},
		{"benchmarking v6", "2001:2::1", false},
		{"ORCHIDv2", "2001:20::1", false},
		{"documentation", "2001:db8::1", false},
		{"documentation high", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false},
		{"documentation 3fff::/20", "3fff::1", false},
		{"SRv6 SIDs", "5f00::1", false},
		{"ULA fc", "fc00::1", false},
		{"ULA fd", "fd12:3456:789a::1", false},
		{"link-local", "fe80::1", false},
		{"link-local with zone", "fe80::1%eth0", false},
		{"link-local high", "febf::1", false},
		{"site-local", "fec0::1", false},
		{"site-local high", "feff::1", false},
		{"multicast all nodes", "ff02::1", false},
		{"multicast global", "ff0e::1", false},
		{"unallocated outside 2000::/3", "4000::1", false},
		{"public address with a zone", "2001:4860:4860::8888%eth0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			if got := public(a); got != tc.want {
				t.Fatalf("public(%s) = %v, want %v", tc.addr, got, tc.want)
			}
			// The dialer's Control sees the same address as "ip:port".
			err := checkDialAddress(net.JoinHostPort(tc.addr, "80"), public)
			if tc.want != (err == nil) || (err != nil && !errors.Is(err, ErrPrivateAddress)) {
				t.Fatalf("checkDialAddress(%s) = %v, want allowed=%v", tc.addr, err, tc.want)
			}
		})
	}
	if public(netip.Addr{}) {
		t.Fatal("the zero Addr counts as public")
	}
	for _, bad := range []string{"no-port", "example.org:80", "[::1:80"} {
		if err := checkDialAddress(bad, public); !errors.Is(err, ErrPrivateAddress) {
			t.Fatalf("checkDialAddress(%q) = %v, want ErrPrivateAddress", bad, err)
		}
	}
}

// TestTransportChecksResolvedAddress: the check runs on the address the dialer connects
// to, after DNS: a name that resolves to loopback is refused; the same requests pass
// with allowPrivate.
func TestTransportChecksResolvedAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(rw, r, "http://127.0.0.1:"+r.URL.Query().Get("port")+"/ok", http.StatusFound)
			return
		}
		_, _ = io.WriteString(rw, "ok")
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port := u.Port()
	if addrs, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip4", "localhost"); err != nil || len(addrs) == 0 {
		t.Fatalf("localhost does not resolve here (%v): the test needs it", err)
	}

	for _, tc := range []struct {
		name   string
		url    string
		allow  bool
		wantOK bool
	}{
		{"name resolving to loopback", "http://localhost:" + port + "/ok", false, false},
		{"loopback literal", "http://127.0.0.1:" + port + "/ok", false, false},
		{"IPv4-mapped literal", "http://[::ffff:127.0.0.1]:" + port + "/ok", false, false},
		{"name resolving to loopback, private allowed", "http://localhost:" + port + "/ok", true, true},
		{"redirect, private allowed", "http://127.0.0.1:" + port + "/redirect?port=" + port, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{Transport: NewTransport(tc.allow), Timeout: 5 * time.Second}
			t.Cleanup(c.CloseIdleConnections)
			resp, err := c.Get(tc.url)
			if !tc.wantOK {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("GET %s succeeded, want ErrPrivateAddress", tc.url)
				}
				if !errors.Is(err, ErrPrivateAddress) {
					t.Fatalf("GET %s: %v, want ErrPrivateAddress", tc.url, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET %s: %v", tc.url, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
				t.Fatalf("GET %s: %d %q", tc.url, resp.StatusCode, body)
			}
		})
	}
}

// TestTransportChecksRedirects: every redirect is dialed through the same check. Here
// only 127.0.0.1 is "public": a redirect from it to a server on 127.0.0.2 is refused.
func TestTransportChecksRedirects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2 (the loopback /8 must be usable): %v", err)
	}
	hits := make(chan struct{}, 1)
	inner := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hits <- struct{}{}
		_, _ = io.WriteString(rw, "internal")
	})}}
	inner.Start()
	t.Cleanup(inner.Close)
	outer := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, inner.URL+"/secret", http.StatusFound)
	}))
	t.Cleanup(outer.Close)

	only := netip.MustParseAddr("127.0.0.1")
	tr := newTransport(func(a netip.Addr) bool { return a == only })
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get(outer.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET %s followed the redirect to %s", outer.URL, inner.URL)
	}
	if !errors.Is(err, ErrPrivateAddress) || !strings.Contains(err.Error(), "127.0.0.2") {
		t.Fatalf("GET %s: %v, want ErrPrivateAddress for 127.0.0.2", outer.URL, err)
	}
	select {
	case <-hits:
		t.Fatal("the internal server was reached")
	default:
	}
	// The same transport without the redirect reaches the allowed server.
	resp, err = (&http.Client{Transport: tr, Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Get(outer.URL)
	if err != nil {
		t.Fatalf("GET %s without following: %v", outer.URL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET %s: %d, want 302", outer.URL, resp.StatusCode)
	}
}

// FuzzPublic: whatever the address, public never admits what the standard library
// calls loopback, private, link-local, multicast or unspecified (for IPv6 that carries
// IPv4, also judged on the IPv4), and judges an IPv4-mapped address as its IPv4.
func FuzzPublic(f *testing.F) {
	for _, s := range []string{"8.8.8.8", "10.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:a00:1::1", "2001:4860:4860::8888", "fe80::1", "ff02::1"} {
		b := netip.MustParseAddr(s).As16()
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b [16]byte
		copy(b[:], raw)
		a := netip.AddrFrom16(b)
		got := public(a)
		if got != public(a.Unmap()) {
			t.Fatalf("public(%s) = %v but public(%s) = %v", a, got, a.Unmap(), !got)
		}
		if !got {
			return
		}
		check := []netip.Addr{a.Unmap()}
		if nat64.Contains(a) {
			check = append(check, netip.AddrFrom4([4]byte(b[12:16])))
		}
		if sixTo4.Contains(a) {
			check = append(check, netip.AddrFrom4([4]byte(b[2:6])))
		}
		for _, c := range check {
			if c.IsLoopback() || c.IsPrivate() || c.IsLinkLocalUnicast() || c.IsLinkLocalMulticast() || c.IsMulticast() ||
				c.IsInterfaceLocalMulticast() || c.IsUnspecified() || !c.IsGlobalUnicast() {
				t.Fatalf("public(%s) = true, but %s is not a global unicast address", a, c)
			}
		}
	})
}
