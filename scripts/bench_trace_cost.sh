#!/usr/bin/env bash
# What tracing costs (issue 13: the default level must keep at least 90% of the throughput of
# `--trace off`), side by side in one run on this machine: a fresh 3-node cluster with
# `up --trace off`, then one with the default level (`changes`), `raftlab bench --clients 64`
# on each, RUNS times, alternating which goes first so both see the same machine. Prints the
# medians of ops/s and p50/p99 for each, the ratio, and the trace bytes per node of the traced
# runs (kept under $OUT with each run's results).
#
# Usage: scripts/bench_trace_cost.sh [RAFTLAB_BINARY]   (default build/release/cmd/raftlab)
# Env: RUNS=3  DURATION=10s  WARMUP=1s  CLIENTS=64  LEVEL=changes  OUT=build/bench-trace
# Only loopback; each cluster is stopped by `raftlab down` (by pid) when its run ends.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=$(realpath "${1:-build/release/cmd/raftlab}")
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
CLIENTS=${CLIENTS:-64}
LEVEL=${LEVEL:-changes}
OUT=${OUT:-build/bench-trace}
readonly kNodes=3
readonly kSettleTimeout=10s

mkdir -p "$OUT"
RAW="$OUT/results-$(date +%Y%m%d-%H%M%S).jsonl"
WORK=$(mktemp -d /tmp/raftlab-bench-trace-XXXXXX)
cleanup() {
  for side in off on; do
    [ -d "$WORK/$side" ] && "$BIN" down --dir "$WORK/$side" --purge >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# bench_one SIDE LEVEL RUN: a fresh cluster at LEVEL, one bench, one JSON line in $RAW with the
# trace bytes each node wrote (trace.jsonl and trace.1.jsonl).
bench_one() {
  local side=$1 level=$2 run=$3 d="$WORK/$1"
  "$BIN" up --dir "$d" -n "$kNodes" --trace "$level" >/dev/null
  "$BIN" wait --dir "$d" leader --timeout "$kSettleTimeout" >/dev/null
  local json bytes
  json=$("$BIN" bench --dir "$d" --clients "$CLIENTS" --duration "$DURATION" \
    --warmup "$WARMUP" --json)
  "$BIN" down --dir "$d" >/dev/null
  bytes=$(for n in $(seq 1 "$kNodes"); do
    { cat "$d/n$n"/trace*.jsonl 2>/dev/null || true; } | wc -c  # none at --trace off
  done | paste -sd, -)
  "$BIN" down --dir "$d" --purge >/dev/null
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(side=sys.argv[2], level=sys.argv[3], run=int(sys.argv[4]), trace_bytes=[int(b) for b in sys.argv[5].split(",")]); print(json.dumps(d))' \
    "$json" "$side" "$level" "$run" "$bytes" >>"$RAW"
}

for run in $(seq 1 "$RUNS"); do
  if ((run % 2 == 1)); then
    bench_one off off "$run"
    bench_one on "$LEVEL" "$run"
  else
    bench_one on "$LEVEL" "$run"
    bench_one off off "$run"
  fi
  echo "run $run/$RUNS: done" >&2
done

python3 - "$RAW" "$DURATION" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(side, key):
    vals = [r["ops_per_s"] if key == "ops/s" else r["latency_ms"][key.split()[0]]
            for r in rows if r["side"] == side]
    return statistics.median(vals)
level = next(r["level"] for r in rows if r["side"] == "on")
print(f"| metric | trace off | trace {level} | {level}/off |")
print("|---|---|---|---|")
for k in ["ops/s", "p50 ms", "p99 ms"]:
    off, on = med("off", k), med("on", k)
    print(f"| {k} | {off:.3f} | {on:.3f} | {on / off:.3f} |")
per_node = [b for r in rows if r["side"] == "on" for b in r["trace_bytes"]]
print(f"\ntrace bytes per node ({level}, {sys.argv[2]} runs): median {statistics.median(per_node):.0f}, "
      f"max {max(per_node)}; off wrote {sum(b for r in rows if r['side'] == 'off' for b in r['trace_bytes'])}")
print(f"medians of {len({r['run'] for r in rows})} runs; every measurement in {sys.argv[1]}")
EOF
