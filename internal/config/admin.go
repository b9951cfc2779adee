package config

import (
	"fmt"
	"net"
)

// Admin configures the admin listener: /healthz, /readyz, Prometheus /metrics and
// /debug/pprof/, on an address of its own so that none of it is reachable through the
// public port. It has no authentication: bind it to loopback or a private network that
// only the operators' scrapers and load balancers reach.
type Admin struct {
	// Listen is the admin listener's address (e.g. 127.0.0.1:9090 or 10.0.0.5:9090);
	// empty: no admin listener.
	Listen string `yaml:"listen"`
}

func (a Admin) validate(publicListen string) []error {
	if a.Listen == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(a.Listen); err != nil {
		return []error{fmt.Errorf("admin.listen: %q is not host:port", a.Listen)}
	} else if _, pub, err := net.SplitHostPort(publicListen); err == nil && pub == port && port != "0" {
		return []error{fmt.Errorf("admin.listen: %q uses the public listen port; the admin listener must be off the public port", a.Listen)}
	}
	return nil
}
