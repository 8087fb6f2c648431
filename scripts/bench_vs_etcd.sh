#!/usr/bin/env bash
# raftlab and etcd side by side, in one run on this machine: the same put load (keys
# "bench/%08d" cycling through 100,000, 256-byte values, fsync on, 3 nodes on 127.0.0.1, clients
# sending to the leader) at 1, 16, 64 and 256 closed-loop clients, RUNS times each; the two
# systems alternate (raftlab first in odd runs, etcd first in even ones) so both see the same
# machine. Then the medians as one table with the ratios, leader failover times and the nodes'
# RSS idle and after the load.
#
# raftlab is driven by `raftlab bench`, etcd by scripts/etcd/load (a Go client built here from
# Debian's etcd client sources, printing the same JSON as `raftlab bench --json`); the etcd
# cluster comes from scripts/etcd/cluster.sh. Missing Debian packages are installed with apt-get.
#
# Failover (FAILOVER=1), once per run and system: the script SIGKILLs the leader and runs the
# system's own command-line put (`raftlab put`, `etcdctl put`, each bounded by PROBE_TIMEOUT_MS)
# in a loop until one is acknowledged; the time from the kill is "first put ok". The same
# method for both; the healthy cost of one such command is shown beside it. For etcd the Go
# client's in-process view (connected to the survivors before the kill) is measured too.
#
# Usage: scripts/bench_vs_etcd.sh            (builds build/release if needed)
# Env: RUNS=3  DURATION=10s  WARMUP=1s  CONCURRENCIES="1 16 64 256"  FAILOVER=1
#      PROBE_TIMEOUT_MS=300  RAFTLAB=build/release/cmd/raftlab  OUT=build/bench-vs-etcd
#      ETCD_HEARTBEAT_MS=100 ETCD_ELECTION_MS=1000 ETCD_PORT_BASE (see scripts/etcd/cluster.sh)
# Writes OUT/results-STAMP.jsonl (every measurement), OUT/summary-STAMP.json and .md.
# Only loopback; only the processes this script starts are stopped (by pid, through
# `raftlab down` and etcd_cluster_stop). Every run and loop is bounded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LC_ALL=C # EPOCHREALTIME's decimal point
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
CONCURRENCIES=${CONCURRENCIES:-"1 16 64 256"}
FAILOVER=${FAILOVER:-1}
PROBE_TIMEOUT_MS=${PROBE_TIMEOUT_MS:-300}
RAFTLAB=${RAFTLAB:-build/release/cmd/raftlab}
OUT=${OUT:-build/bench-vs-etcd}
readonly kKeys=100000
readonly kValueSize=256
readonly kNodes=3
readonly kSettleTimeout=10s
readonly kEtcdHealthyS=30
readonly kFailoverLimitS=20
readonly kFailoverMaxTries=2000
readonly kProbeBaselineTries=3
readonly kClientProbeTimeout=150ms

source scripts/etcd/cluster.sh
etcd_ensure_deps || exit 4
[ -x "$RAFTLAB" ] || bash scripts/build.sh
RAFTLAB=$(realpath "$RAFTLAB")
etcd_build_load build/etcd-load || exit 4
mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
RAW="$OUT/results-$STAMP.jsonl"
WORK=$(mktemp -d /tmp/raftlab-vs-etcd-XXXXXX)
cleanup() {
  "$RAFTLAB" down --dir "$WORK/raftlab" --purge >/dev/null 2>&1 || true
  etcd_cluster_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# record SYSTEM RUN KIND: tags the JSON document on stdin and appends it to RAW.
record() {
  python3 -c '
import json, sys
doc = json.load(sys.stdin)
doc.update(system=sys.argv[1], run=int(sys.argv[2]), kind=sys.argv[3])
print(json.dumps(doc, sort_keys=True))' "$@" | tee -a "$RAW" >&2
}

now_us() { echo "${EPOCHREALTIME/./}"; }

# cli_failover SYSTEM RUN PID PROBE...: the healthy cost of PROBE, then kill -9 PID and run
# PROBE until it succeeds; records the time from the kill to that success.
cli_failover() {
  local system=$1 run=$2 pid=$3 t0 tries=0 ok=null base=()
  shift 3
  local i
  for ((i = 0; i < kProbeBaselineTries; i++)); do
    t0=$(now_us)
    "$@" >/dev/null 2>&1 || true
    base+=($(($(now_us) - t0)))
  done
  kill -9 "$pid"
  t0=$(now_us)
  while ((tries < kFailoverMaxTries && $(now_us) - t0 < kFailoverLimitS * 1000000)); do
    tries=$((tries + 1))
    if "$@" >/dev/null 2>&1; then
      ok=$(($(now_us) - t0))
      break
    fi
  done
  python3 -c '
import json, statistics, sys
ok = None if sys.argv[1] == "null" else int(sys.argv[1]) / 1000
print(json.dumps({"method": "cli", "killed_pid": int(sys.argv[2]), "first_put_ok_ms": ok,
                  "tries": int(sys.argv[3]),
                  "probe_ms": statistics.median(int(b) / 1000 for b in sys.argv[4:])}))' \
    "$ok" "$pid" "$tries" "${base[@]}" | record "$system" "$run" failover
}

raftlab_rss_json() {
  local out="" f kb
  for f in "$WORK"/raftlab/n*/pid; do
    kb=$(awk '/VmRSS/{print $2}' "/proc/$(cat "$f")/status" 2>/dev/null || true)
    out+="${out:+,}${kb:-null}"
  done
  echo "{\"rss_kb\": [$out]}"
}

raftlab_round() {
  local run=$1 d="$WORK/raftlab" c leader
  "$RAFTLAB" up -n "$kNodes" --dir "$d" --fresh >/dev/null
  "$RAFTLAB" wait converged --dir "$d" --timeout "$kSettleTimeout" >/dev/null
  raftlab_rss_json | record raftlab "$run" rss_idle
  for c in $CONCURRENCIES; do
    "$RAFTLAB" bench --dir "$d" --clients "$c" --duration "$DURATION" --warmup "$WARMUP" \
      --keys "$kKeys" --value-size "$kValueSize" --json | record raftlab "$run" put
  done
  raftlab_rss_json | record raftlab "$run" rss_after
  if [ "$FAILOVER" = 1 ]; then
    leader=$("$RAFTLAB" wait leader --dir "$d" --timeout "$kSettleTimeout" --json |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["leader"])')
    cli_failover raftlab "$run" "$(cat "$d/n$leader/pid")" \
      "$RAFTLAB" put --dir "$d" --timeout "${PROBE_TIMEOUT_MS}ms" bench/failover x
  fi
  "$RAFTLAB" down --dir "$d" --purge >/dev/null
}

etcd_round() {
  local run=$1 c member
  etcd_cluster_start "$WORK/etcd"
  echo "{\"rss_kb\": $(etcd_rss_json)}" | record etcd "$run" rss_idle
  for c in $CONCURRENCIES; do
    "$ETCD_LOAD" put -endpoints "$ETCD_ENDPOINTS" -clients "$c" -duration "$DURATION" \
      -warmup "$WARMUP" -keys "$kKeys" -value-size "$kValueSize" | record etcd "$run" put
  done
  echo "{\"rss_kb\": $(etcd_rss_json)}" | record etcd "$run" rss_after
  if [ "$FAILOVER" = 1 ]; then
    member=$(($("$ETCD_LOAD" leader -endpoints "$ETCD_ENDPOINTS") + 1))
    cli_failover etcd "$run" "${ETCD_PIDS[$member]}" \
      etcdctl --endpoints="$ETCD_ENDPOINTS" --dial-timeout="${PROBE_TIMEOUT_MS}ms" \
      --command-timeout="${PROBE_TIMEOUT_MS}ms" put bench/failover x
    etcd_member_restart "$member"
    etcd_wait_healthy "$kEtcdHealthyS"
    "$ETCD_LOAD" failover -endpoints "$ETCD_ENDPOINTS" -pids "$(etcd_pids_csv)" \
      -probe-timeout "$kClientProbeTimeout" -limit "${kFailoverLimitS}s" |
      record etcd "$run" failover
  fi
  etcd_cluster_stop
  rm -rf "$WORK/etcd"
}

config_json() {
  python3 -c '
import json, sys
keys = ("runs", "duration", "warmup", "etcd_heartbeat_ms", "etcd_election_ms", "etcd",
        "go", "nproc", "probe_timeout_ms")
print(json.dumps(dict(zip(keys, sys.argv[1:]))))' "$RUNS" "$DURATION" "$WARMUP" \
    "$ETCD_HEARTBEAT_MS" "$ETCD_ELECTION_MS" "$(etcd --version | awk 'NR == 1 {print $3}')" \
    "$(go version | awk '{print $3}')" "$(nproc)" "$PROBE_TIMEOUT_MS"
}

echo "raftlab vs etcd: $kNodes nodes each, fsync on; raw results in $RAW" >&2
config_json | record both 0 config
for r in $(seq 1 "$RUNS"); do
  if ((r % 2)); then
    raftlab_round "$r"
    etcd_round "$r"
  else
    etcd_round "$r"
    raftlab_round "$r"
  fi
done
python3 scripts/etcd/summary.py "$RAW" "$OUT/summary-$STAMP.json" | tee "$OUT/summary-$STAMP.md"
