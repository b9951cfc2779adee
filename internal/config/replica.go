package config

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
)

// maxReplicaID bounds replica_id: it is part of every signing lease's owner.
const maxReplicaID = 100

// Replica is the replica's identity as the owner of its signing leases: replica_id, or by
// default the host name and the listen address ("node-1 :8080"). It must differ between
// replicas running at once and stay the same across a replica's restarts, so that a
// restarted replica takes back the signings its crashed process held at once rather than
// after their lease. Two replicas on one host need different listen addresses or an
// explicit replica_id.
func (c *Config) Replica() string {
	if c.ReplicaID != "" {
		return c.ReplicaID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	id := host + " " + c.Listen
	if _, port, err := net.SplitHostPort(c.Listen); err == nil && port == "0" {
		// A port picked at start does not tell replicas on one host apart: the process
		// id does (a restart then waits for its leases, as without an identity).
		id += " pid " + strconv.Itoa(os.Getpid())
	}
	return strings.ReplaceAll(id, "|", "_")
}

func (c *Config) validateReplica() []error {
	var errs []error
	if len(c.ReplicaID) > maxReplicaID || strings.ContainsAny(c.ReplicaID, "|\x00\r\n") {
		errs = append(errs, errors.New("replica_id: at most 100 bytes, without | or control characters"))
	}
	if c.Signing.Parallel < 0 || c.Signing.Parallel > 64 {
		errs = append(errs, errors.New("signing.parallel: between 1 and 64 (0: the default, 4)"))
	}
	return errs
}
