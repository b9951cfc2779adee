#!/usr/bin/env bash
# Side-by-side load comparison, run alternately back to back so that the machine's other
# load falls on every contender alike: Motlan built from a base git ref, Motlan of the
# working tree, and optionally Dex, all federating to the driver's minimal eID (a new
# citizen per login). Figures are for comparing within one run (ratios), not absolutes.
#
#   scripts/load-compare.sh                          # base = main, 3 rounds, SQLite
#   BASE=HEAD~3 ROUNDS=5 scripts/load-compare.sh
#   DEX_BIN=/tmp/dex/dex scripts/load-compare.sh     # also Dex (see README "Load": build it yourself)
#   STORES="sqlite postgres" scripts/load-compare.sh -new-citizens 0.7   # extra flags go to the driver
#
# Output: one line per run (target, store, round, CPU-s per 1000 logins and refreshes,
# p50/p99), then the medians per contender. Dex runs on SQLite only.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${MOTLAN_TEST_POSTGRES_DSN:=postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
export MOTLAN_TEST_POSTGRES_DSN
BASE=${BASE:-main}
ROUNDS=${ROUNDS:-3}
STORES=${STORES:-sqlite}
LOGINS=${LOGINS:-2000}
REFRESHES=${REFRESHES:-2000}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/base-src"
git archive "$BASE" | tar -x -C "$tmp/base-src"
(cd "$tmp/base-src" && go build -o "$tmp/motlan-base" ./cmd/motlan)
go build -o "$tmp/motlan-new" ./cmd/motlan
go build -o "$tmp/load" ./integration/load

contenders="base new"
if [ -n "${DEX_BIN:-}" ]; then contenders="$contenders dex"; fi

run() { # contender store round extra-flags...
	local who=$1 store=$2 round=$3
	shift 3
	local args=(-store "$store" -eid minimal -concurrency 32 -logins "$LOGINS" -refreshes "$REFRESHES" -warmup 200 -timeout 10m -json)
	case $who in
	dex) args+=(-target dex -dex-bin "$DEX_BIN") ;;
	*) args+=(-motlan-bin "$tmp/motlan-$who") ;;
	esac
	"$tmp/load" "${args[@]}" "$@" >"$tmp/$who-$store-$round.json" 2>"$tmp/$who-$store-$round.err" || {
		echo "$who $store round $round failed:" >&2
		tail -20 "$tmp/$who-$store-$round.err" >&2
		return 1
	}
	python3 - "$who" "$store" "$round" "$tmp/$who-$store-$round.json" <<'PY'
import json, sys
who, store, rnd, path = sys.argv[1:]
r = json.load(open(path))
ph = {p["name"]: p for p in r["phases"]}
l, f = ph["login"], ph["refresh"]
print(f"{who:5} {store:8} round {rnd}: login {l['motlan_cpu_seconds_per_1000']:.2f} (+pg {l['postgres_cpu_seconds_per_1000']:.2f}) CPU-s/1000, "
      f"p50 {l['p50_ms']:.0f} p99 {l['p99_ms']:.0f} ms; refresh {f['motlan_cpu_seconds_per_1000']:.2f} (+pg {f['postgres_cpu_seconds_per_1000']:.2f}), "
      f"p50 {f['p50_ms']:.0f} p99 {f['p99_ms']:.0f} ms; other CPU {l['other_cpu_seconds']:.1f}+{f['other_cpu_seconds']:.1f} s")
PY
}

status=0
for store in $STORES; do
	for round in $(seq 1 "$ROUNDS"); do
		for who in $contenders; do
			if [ "$who" = dex ] && [ "$store" != sqlite ]; then continue; fi
			run "$who" "$store" "$round" "$@" || status=1
		done
	done
done

echo "== medians (CPU-s per 1000, target + its PostgreSQL backends)"
python3 - "$tmp" <<'PY'
import glob, json, os, statistics, sys
runs = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    who, store, _ = os.path.basename(path)[:-5].split("-")
    try:
        r = json.load(open(path))
    except ValueError:
        continue
    ph = {p["name"]: p for p in r["phases"]}
    if "login" not in ph or "refresh" not in ph:
        continue
    cpu = lambda p: p["motlan_cpu_seconds_per_1000"] + p["postgres_cpu_seconds_per_1000"]
    runs.setdefault((store, who), []).append((cpu(ph["login"]), cpu(ph["refresh"]), ph["login"]["p99_ms"], ph["refresh"]["p99_ms"]))
med = {k: [statistics.median(x[i] for x in v) for i in range(4)] for k, v in runs.items()}
for (store, who), (l, f, lp, fp) in sorted(med.items()):
    line = f"{who:5} {store:8} login {l:.2f} refresh {f:.2f} CPU-s/1000, p99 login {lp:.0f} ms refresh {fp:.0f} ms"
    for other in ("base", "dex"):
        o = med.get((store, other))
        if o and other != who:
            line += f"; {other}/{who}: login {o[0]/l:.2f}x refresh {o[1]/f:.2f}x"
    print(line)
PY
exit $status
