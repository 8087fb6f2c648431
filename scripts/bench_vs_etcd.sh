#!/usr/bin/env bash
# raftlab and etcd side by side, in one run on this machine: the same put load (8-byte keys
# cycling through 100,000, 256-byte values, fsync on, 3 nodes, clients sending to the leader)
# at 1, 16, 64 and 256 closed-loop clients, RUNS times each, alternating the two systems so
# both see the same machine; then the medians of each as two tables and their ratios, and the
# RSS of the nodes idle and after the load.
#
# Usage: scripts/bench_vs_etcd.sh            (builds build/release if needed)
# Env: RUNS=3  DURATION=10s  CONCURRENCIES="1 16 64 256"  RAFTLAB=path/to/raftlab
#      SHARED=../shared (holds bench/etcd_baseline.sh)  OUT=/tmp/raftlab-bench-results
# Only loopback; only the processes this script starts are stopped (by pid, through
# `raftlab down` and etcd_baseline.sh's own cleanup). Every run is bounded by DURATION.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONCURRENCIES=${CONCURRENCIES:-"1 16 64 256"}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
OUT=${OUT:-/tmp/raftlab-bench-results}
RAFTLAB=${RAFTLAB:-build/release/cmd/raftlab}
[ -x "$RAFTLAB" ] || bash scripts/build.sh
[ -f "$SHARED/bench/etcd_baseline.sh" ] || { echo "no $SHARED/bench/etcd_baseline.sh" >&2; exit 4; }
mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
RAW="$OUT/raftlab-$STAMP.jsonl"
DIR=$(mktemp -d /tmp/raftlab-bench-XXXXXX)
cleanup() {
  "$RAFTLAB" down --dir "$DIR/c" --purge >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

rss_json() {  # the nodes' RSS in KiB as a JSON list
  local out="" p
  for f in "$DIR"/c/n*/pid; do
    p=$(cat "$f")
    out+="${out:+,}$(awk '/VmRSS/{print $2}' "/proc/$p/status")"
  done
  echo "[$out]"
}

echo "raftlab: 3 nodes, fsync on; raw results in $RAW" >&2
for r in $(seq 1 "$RUNS"); do
  "$RAFTLAB" up -n 3 --dir "$DIR/c" --fresh >/dev/null
  sleep 2
  echo "{\"rss_idle_kb\": $(rss_json), \"run\": $r}" >>"$RAW"
  for c in $CONCURRENCIES; do
    "$RAFTLAB" bench --dir "$DIR/c" --clients "$c" --duration "$DURATION" --keys 100000 \
      --value-size 256 --json | python3 -c "import json,sys; j=json.load(sys.stdin); j['run']=$r; print(json.dumps(j))" >>"$RAW"
    tail -n 1 "$RAW" >&2
  done
  echo "{\"rss_after_kb\": $(rss_json), \"run\": $r}" >>"$RAW"
  "$RAFTLAB" down --dir "$DIR/c" --purge >/dev/null
done

echo "etcd: ../shared/bench/etcd_baseline.sh (put load only)" >&2
ETCD_OUT="$OUT/etcd-summary-$STAMP.txt"
RUNS=$RUNS CHECK_PERF_LEVELS="" CONCURRENCIES="$CONCURRENCIES" ALL_MEMBERS_CONC="" \
  FAILOVER_RUNS=0 RESULTS_DIR="$OUT" bash "$SHARED/bench/etcd_baseline.sh" | tee "$ETCD_OUT" >&2
ETCD_RAW=$(ls -t "$OUT"/etcd-2*.txt | head -1)

python3 - "$RAW" "$ETCD_RAW" <<'PY'
import json, re, statistics, sys
rl = [json.loads(l) for l in open(sys.argv[1])]
et = [dict(re.findall(r"(\w+)=(\S+)", l)) for l in open(sys.argv[2]) if l.startswith("put ")]
med = statistics.median
print("## raftlab vs etcd, put load, 3 nodes on 127.0.0.1, fsync on (medians of %d runs)\n" % max(r.get("run", 0) for r in rl))
print("| clients | raftlab ops/s | etcd ops/s | ratio | raftlab p50 ms | etcd p50 ms | raftlab p99 ms | etcd p99 ms | raftlab p99.9 ms | etcd p99.9 ms |")
print("|---|---|---|---|---|---|---|---|---|---|")
for c in sorted({r["clients"] for r in rl if "clients" in r}):
    R = [r for r in rl if r.get("clients") == c]
    E = [e for e in et if e.get("clients") == str(c) and e.get("target", "leader") == "leader"]
    ro = med([r["ops_per_s"] for r in R]); eo = med([float(e["ops_s"]) for e in E]) if E else float("nan")
    row = [c, "%.0f" % ro, "%.0f" % eo, "%.2fx" % (ro / eo) if E else "n/a"]
    for k, ek in (("p50", "p50_ms"), ("p99", "p99_ms"), ("p999", "p999_ms")):
        row += ["%.3f" % med([r["latency_ms"][k] for r in R]),
                "%.3f" % med([float(e[ek]) for e in E]) if E else "n/a"]
    print("| " + " | ".join(str(x) for x in row) + " |")
idle = [kb for r in rl if "rss_idle_kb" in r for kb in r["rss_idle_kb"]]
after = [kb for r in rl if "rss_after_kb" in r for kb in r["rss_after_kb"]]
print("\nraftlab node RSS: idle median %.1f MiB (max %.1f); after the load median %.1f MiB (max %.1f)"
      % (med(idle) / 1024, max(idle) / 1024, med(after) / 1024, max(after) / 1024))
PY
