package config

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestReplica(t *testing.T) {
	host, _ := os.Hostname()
	for _, tc := range []struct {
		name, id, listen string
		parallel         int
		want, errHas     string
	}{
		{name: "default: host and listen", listen: ":8080", want: host + " :8080"},
		{name: "explicit", id: "node-1", listen: ":8080", want: "node-1"},
		{name: "port picked at start", listen: "127.0.0.1:0", want: host + " 127.0.0.1:0 pid " + strconv.Itoa(os.Getpid())},
		{name: "bar refused", id: "a|b", errHas: "replica_id"},
		{name: "control character refused", id: "a\nb", errHas: "replica_id"},
		{name: "too long", id: strings.Repeat("x", 101), errHas: "replica_id"},
		{name: "parallel too large", id: "n", parallel: 65, errHas: "signing.parallel"},
		{name: "parallel negative", id: "n", parallel: -1, errHas: "signing.parallel"},
		{name: "parallel set", id: "n", parallel: 8, want: "n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{ReplicaID: tc.id, Listen: tc.listen, Signing: Signing{Parallel: tc.parallel}}
			errs := c.validateReplica()
			if tc.errHas != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.errHas) {
					t.Fatalf("errors %v, want one about %s", errs, tc.errHas)
				}
				return
			}
			if len(errs) != 0 {
				t.Fatalf("errors %v", errs)
			}
			if got := c.Replica(); got != tc.want {
				t.Fatalf("Replica() = %q, want %q", got, tc.want)
			}
		})
	}
}
