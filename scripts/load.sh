#!/usr/bin/env bash
# Load test of Motlan with the issue's parameters: complete federated logins and refreshes
# at 32 concurrent, on SQLite and on PostgreSQL, against a spawned Motlan process with the
# dev eID inside the driver (its CPU is not counted as Motlan's). See integration/load.
#
#   scripts/load.sh                     # both stores
#   STORES=sqlite scripts/load.sh       # one store
#   scripts/load.sh -profile /tmp/prof  # extra flags go to the driver (here: CPU profiles)
#   scripts/load.sh -eid-sso=false -new-citizens 1    # every measured login a new citizen
#   scripts/load.sh -eid-sso=false -new-citizens 0.7  # 70% new, 30% returning
#   scripts/load.sh -eid minimal                      # minimal upstream eID: a new citizen per
#                                                     # login, no eID pages (driver CPU stays low)
#   scripts/load.sh -eid minimal -new-citizens 0.7    # the same, 30% of logins by citizens seen before
#
#   WAITERS=10000 scripts/load.sh       # 10,000 waiting phones on PostgreSQL (see below)

# Against Dex, and against Motlan built from another commit, in alternating runs:
# scripts/load-compare.sh (DEX_BIN names a Dex binary you built yourself; nothing of Dex
# is in this repository):
#   git clone https://github.com/dexidp/dex /tmp/dex && git -C /tmp/dex checkout v2.45.1
#   (cd /tmp/dex && go build -o /tmp/dex/dex ./cmd/dex)    # needs cgo (SQLite)
#   DEX_BIN=/tmp/dex/dex BASE=main scripts/load-compare.sh
#
# With WAITERS=N the driver runs the waiting-phones benchmark instead (integration/load/
# waiters.go): N pending signing requests on one Motlan with PostgreSQL, an open long-poll
# on each (N client connections: mind ulimit -n, which must exceed N plus a few hundred in
# both processes; Go raises the soft limit to the hard one); it reports Motlan's idle CPU
# and store queries per second, login p99 with the long-polls held against the mean of
# the unloaded phases before and after, and the approval-to-answer latency.
#
# PostgreSQL comes from MOTLAN_TEST_POSTGRES_DSN (default: the local test server); the run
# uses a fresh schema and drops it. Exit status: non-zero if any run had an error.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${MOTLAN_TEST_POSTGRES_DSN:=postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
export MOTLAN_TEST_POSTGRES_DSN
STORES=${STORES:-"sqlite postgres"}

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/motlan" ./cmd/motlan
go build -o "$bin/load" ./integration/load

if [ -n "${WAITERS:-}" ]; then
	need=$((WAITERS + 500))
	if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need" ]; then
		echo "load.sh: WAITERS=$WAITERS needs ulimit -n of at least $need (hard limit $(ulimit -Hn))" >&2
		exit 2
	fi
	echo "== waiters=$WAITERS postgres (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
	"$bin/load" -motlan-bin "$bin/motlan" -store postgres -waiters "$WAITERS" \
		-concurrency 8 -logins 1000 -warmup 100 -idle-window 20s -approvals 20 -timeout 15m "$@"
	exit $?
fi

status=0
for store in $STORES; do
	echo "== $store (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
	"$bin/load" -motlan-bin "$bin/motlan" -store "$store" \
		-concurrency 32 -logins 2000 -refreshes 2000 -warmup 200 -timeout 5m "$@" || status=1
	echo
done
exit $status
