#!/usr/bin/env bash
# Two raftlab binaries side by side, in one run on this machine: `raftlab bench` (the same put
# load as scripts/bench_vs_etcd.sh: 3 nodes, fsync on, 256-byte values) at each client count,
# RUNS times, the two binaries alternating (A first in odd runs, B first in even ones) so both
# see the same machine. Prints the medians of ops/s and p50/p99/p99.9 for each, and B/A.
# For changes that must not cost performance (a refactor): run it with the binary before as A.
#
# Usage: scripts/bench_ab.sh A_BINARY B_BINARY
# Env: RUNS=3  DURATION=10s  WARMUP=1s  CONCURRENCIES="1 16 64 256"  OUT=build/bench-ab
#      UP_FLAGS_A, UP_FLAGS_B: extra `up` flags for one side (e.g. UP_FLAGS_B="--trace off")
# Only loopback; each cluster is stopped by `raftlab down` (by pid) when its run ends.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
A=$(realpath "${1:?usage: bench_ab.sh A_BINARY B_BINARY}")
B=$(realpath "${2:?usage: bench_ab.sh A_BINARY B_BINARY}")
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
CONCURRENCIES=${CONCURRENCIES:-"1 16 64 256"}
OUT=${OUT:-build/bench-ab}
readonly kNodes=3
readonly kSettleTimeout=10s

mkdir -p "$OUT"
RAW="$OUT/results-$(date +%Y%m%d-%H%M%S).jsonl"
WORK=$(mktemp -d /tmp/raftlab-bench-ab-XXXXXX)
cleanup() {
  for side in a b; do
    [ -d "$WORK/$side" ] && "$A" down --dir "$WORK/$side" --purge >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# bench_one SIDE BINARY CLIENTS RUN: a fresh cluster, one bench, one JSON line in $RAW.
bench_one() {
  local side=$1 bin=$2 clients=$3 run=$4 d="$WORK/$1" flags
  flags=$([[ $side == a ]] && echo "${UP_FLAGS_A:-}" || echo "${UP_FLAGS_B:-}")
  # shellcheck disable=SC2086  # the flags are words
  "$bin" up --dir "$d" -n "$kNodes" $flags >/dev/null
  "$bin" wait --dir "$d" leader --timeout "$kSettleTimeout" >/dev/null
  local json
  json=$("$bin" bench --dir "$d" --clients "$clients" --duration "$DURATION" \
    --warmup "$WARMUP" --json)
  "$bin" down --dir "$d" --purge >/dev/null
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(side=sys.argv[2], clients=int(sys.argv[3]), run=int(sys.argv[4])); print(json.dumps(d))' \
    "$json" "$side" "$clients" "$run" >>"$RAW"
}

for run in $(seq 1 "$RUNS"); do
  for c in $CONCURRENCIES; do
    if ((run % 2 == 1)); then
      bench_one a "$A" "$c" "$run"
      bench_one b "$B" "$c" "$run"
    else
      bench_one b "$B" "$c" "$run"
      bench_one a "$A" "$c" "$run"
    fi
    echo "run $run/$RUNS, $c clients: done" >&2
  done
done

python3 - "$RAW" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def value(r, key):
    return r["ops_per_s"] if key == "ops/s" else r["latency_ms"][key.split()[0]]
def med(side, c, key):
    return statistics.median(value(r, key) for r in rows if r["side"] == side and r["clients"] == c)
keys = ["ops/s", "p50 ms", "p99 ms", "p999 ms"]
print("| clients | " + " | ".join(f"{k} A | {k} B | B/A" for k in keys) + " |")
print("|---" * (1 + 3 * len(keys)) + "|")
for c in sorted({r["clients"] for r in rows}):
    cells = []
    for k in keys:
        a, b = med("a", c, k), med("b", c, k)
        cells += [f"{a:.3f}", f"{b:.3f}", f"{b / a:.3f}" if a else "-"]
    print(f"| {c} | " + " | ".join(cells) + " |")
print(f"\nmedians of {len({r['run'] for r in rows})} runs; every measurement in {sys.argv[1]}")
EOF
