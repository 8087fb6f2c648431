#!/usr/bin/env bash
# raftlab and etcd side by side, in one run on this machine, fsync on, everything on 127.0.0.1.
# The two systems alternate at every point (raftlab then etcd at the first point, etcd then
# raftlab at the next, and the other way round in the next run), so a noisy neighbour hurts both.
#
# Points, RUNS times each:
#   put      the same put load (keys "bench/%08d" cycling through 100,000, 256-byte values,
#            clients sending to the leader) at each of CONCURRENCIES closed-loop clients, 3 nodes;
#   reads    linearizable reads of the same keys at READ_CLIENTS clients (`raftlab bench --reads
#            100%` against etcd's default, linearizable, range reads);
#   rss      each node's RSS idle, after the points above (10^5 keys) and after BIG_KEYS keys;
#   failover `raftlab bench --failover FAILOVER_ROUNDS` and `load failover -rounds ...`, the same
#            load (FAILOVER_CLIENTS), retry rule and 300 ms per-try timeout, on fresh 3-node
#            clusters: raftlab at the lab's equal timing (heartbeat 100 ms, election 1-2 s)
#            beside etcd (heartbeat 100 ms, election 1000 ms), and raftlab at its default timing;
#   cost     the same put load at COST_CLIENTS clients on COST_NODES (3, 5, 7) nodes.
# Then the medians as Markdown tables, the first being the headline table the README quotes.
#
# raftlab is driven by `raftlab bench`, etcd by scripts/etcd/load (a Go client built here from
# Debian's etcd client sources, printing the same JSON as `raftlab bench --json`); the etcd
# cluster comes from scripts/etcd/cluster.sh. Missing Debian packages are installed with apt-get.
#
# Usage: scripts/bench_vs_etcd.sh            (builds build/release if needed)
# Env: RUNS=3  DURATION=10s  WARMUP=1s  CONCURRENCIES="1 16 64 256"  READ_CLIENTS=64
#      FAILOVER_ROUNDS=5 (0: none)  FAILOVER_CLIENTS=16  COST_NODES="3 5 7" ("": none)
#      COST_CLIENTS=64  BIG_KEYS=1000000 (0: none)  RAFTLAB=build/release/cmd/raftlab
#      OUT=build/bench-vs-etcd  ETCD_HEARTBEAT_MS=100 ETCD_ELECTION_MS=1000 ETCD_PORT_BASE
#      (see scripts/etcd/cluster.sh)
# Writes OUT/results-STAMP.jsonl (every measurement), OUT/summary-STAMP.json and .md.
# Only loopback; only the processes this script starts are stopped (by pid, through
# `raftlab down` and etcd_cluster_stop). Every run and loop is bounded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
CONCURRENCIES=${CONCURRENCIES:-"1 16 64 256"}
READ_CLIENTS=${READ_CLIENTS:-64}
FAILOVER_ROUNDS=${FAILOVER_ROUNDS:-5}
FAILOVER_CLIENTS=${FAILOVER_CLIENTS:-16}
COST_NODES=${COST_NODES-"3 5 7"}
COST_CLIENTS=${COST_CLIENTS:-64}
BIG_KEYS=${BIG_KEYS:-1000000}
RAFTLAB=${RAFTLAB:-build/release/cmd/raftlab}
OUT=${OUT:-build/bench-vs-etcd}
readonly kKeys=100000
readonly kValueSize=256
readonly kNodes=3
readonly kSettleTimeout=10s
readonly kTryTimeout=300ms  # per try, in both failover clients
readonly kEqualElection=1s-2s # raftlab's equal timing: etcd's 1000 ms election, randomised
readonly kEqualHeartbeat=100ms
readonly kBigMaxS=600    # bound on the load that writes BIG_KEYS keys
readonly kBigSlack=1.25 # its duration: BIG_KEYS / (this run's ops/s at COST_CLIENTS) x this

source scripts/etcd/cluster.sh
etcd_ensure_deps || exit 4
[ -x "$RAFTLAB" ] || bash scripts/build.sh
RAFTLAB=$(realpath "$RAFTLAB")
etcd_build_load build/etcd-load || exit 4
mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
RAW="$OUT/results-$STAMP.jsonl"
WORK=$(mktemp -d /tmp/raftlab-vs-etcd-XXXXXX)
RL="$WORK/raftlab" # the current raftlab cluster (one at a time)
cleanup() {
  [ ! -f "$RL/cluster.json" ] || "$RAFTLAB" down --dir "$RL" --purge >/dev/null 2>&1 || true
  etcd_cluster_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# record SYSTEM RUN KIND [KEY=JSON...]: tags the JSON document on stdin and appends it to RAW.
record() {
  python3 -c '
import json, sys
doc = json.load(sys.stdin)
doc.update(system=sys.argv[1], run=int(sys.argv[2]), kind=sys.argv[3])
for kv in sys.argv[4:]:
    k, v = kv.split("=", 1)
    doc[k] = json.loads(v)
print(json.dumps(doc, sort_keys=True))' "$@" | tee -a "$RAW" >&2
}

# A measurement that fails is said and skipped: the other points still run.
warn() { echo "bench_vs_etcd: $* failed; going on" >&2; }

# --- raftlab -------------------------------------------------------------------------------
raftlab_up() { # raftlab_up NODES [up flags...]: a fresh cluster at $RL
  local n=$1
  shift
  "$RAFTLAB" up -n "$n" --dir "$RL" --fresh "$@" >/dev/null
  "$RAFTLAB" wait converged --dir "$RL" --timeout "$kSettleTimeout" >/dev/null
}
raftlab_down() { "$RAFTLAB" down --dir "$RL" --purge >/dev/null; }
raftlab_rss() { # raftlab_rss RUN KIND [KEY=JSON...]
  local out="" f kb
  for f in "$RL"/n*/pid; do
    kb=$(awk '/VmRSS/{print $2}' "/proc/$(cat "$f")/status" 2>/dev/null || true)
    out+="${out:+,}${kb:-null}"
  done
  echo "{\"rss_kb\": [$out]}" | record raftlab "$@"
}
raftlab_load() { # raftlab_load CLIENTS [bench flags...]
  local c=$1
  shift
  "$RAFTLAB" bench --dir "$RL" --clients "$c" --duration "$DURATION" --warmup "$WARMUP" \
    --keys "$kKeys" --value-size "$kValueSize" --json "$@"
}
raftlab_put() { raftlab_load "$2" | record raftlab "$1" put || warn "raftlab put $2"; }
raftlab_reads() {
  raftlab_load "$READ_CLIENTS" --reads 100% | record raftlab "$1" reads || warn "raftlab reads"
}
raftlab_failover() { # raftlab_failover RUN default|equal
  local timing=() rc=0
  [ "$2" = default ] || timing=(--election-timeout "$kEqualElection" --heartbeat "$kEqualHeartbeat")
  raftlab_up "$kNodes" "${timing[@]}"
  "$RAFTLAB" bench --dir "$RL" --failover "$FAILOVER_ROUNDS" --clients "$FAILOVER_CLIENTS" \
    --try-timeout "$kTryTimeout" --value-size "$kValueSize" --keys "$kKeys" --json |
    record raftlab "$1" failover "timing=\"$2\"" || rc=$?
  ((rc == 0)) || warn "raftlab failover ($2 timing)"
  raftlab_down
}
raftlab_cost() { # raftlab_cost RUN NODES
  raftlab_up "$2"
  raftlab_load "$COST_CLIENTS" | record raftlab "$1" cost "nodes=$2" || warn "raftlab cost $2"
  raftlab_down
}
raftlab_big() { # raftlab_big RUN SECONDS: writes BIG_KEYS keys at COST_CLIENTS clients
  "$RAFTLAB" bench --dir "$RL" --clients "$COST_CLIENTS" --duration "${2}s" --warmup 0s \
    --keys "$BIG_KEYS" --value-size "$kValueSize" --json | record raftlab "$1" big_load ||
    warn "raftlab $BIG_KEYS keys"
  raftlab_rss "$1" rss_big "keys=$BIG_KEYS"
}

# --- etcd ----------------------------------------------------------------------------------
etcd_rss() { echo "{\"rss_kb\": $(etcd_rss_json)}" | record etcd "$@"; }
etcd_load() { # etcd_load CLIENTS [load flags...]
  local c=$1
  shift
  "$ETCD_LOAD" put -endpoints "$ETCD_ENDPOINTS" -clients "$c" -duration "$DURATION" \
    -warmup "$WARMUP" -keys "$kKeys" -value-size "$kValueSize" "$@"
}
etcd_put() { etcd_load "$2" | record etcd "$1" put || warn "etcd put $2"; }
etcd_reads() { etcd_load "$READ_CLIENTS" -op get | record etcd "$1" reads || warn "etcd reads"; }
etcd_failover_point() { # etcd_failover_point RUN equal
  local rc=0 report="$WORK/etcd-failover.json"
  etcd_cluster_start "$WORK/etcd-failover"
  # Not in a pipeline: etcd_failover restarts members and must update this shell's ETCD_PIDS.
  etcd_failover -rounds "$FAILOVER_ROUNDS" -clients "$FAILOVER_CLIENTS" \
    -try-timeout "$kTryTimeout" -value-size "$kValueSize" -keys "$kKeys" >"$report" || rc=$?
  record etcd "$1" failover "timing=\"$2\"" <"$report" || rc=1
  ((rc == 0)) || warn "etcd failover"
  etcd_cluster_stop
  rm -rf "$WORK/etcd-failover"
}
etcd_cost() { # etcd_cost RUN NODES
  ETCD_MEMBERS=$2
  etcd_cluster_start "$WORK/etcd-cost"
  etcd_load "$COST_CLIENTS" | record etcd "$1" cost "nodes=$2" || warn "etcd cost $2"
  etcd_cluster_stop
  rm -rf "$WORK/etcd-cost"
  ETCD_MEMBERS=$kNodes
}
etcd_big() {
  "$ETCD_LOAD" put -endpoints "$ETCD_ENDPOINTS" -clients "$COST_CLIENTS" -duration "${2}s" \
    -warmup 0s -keys "$BIG_KEYS" -value-size "$kValueSize" | record etcd "$1" big_load ||
    warn "etcd $BIG_KEYS keys"
  etcd_rss "$1" rss_big "keys=$BIG_KEYS"
}

# --- the alternation -----------------------------------------------------------------------
POINT=0
# point RUN NAME ARGS...: raftlab_NAME and etcd_NAME, in turn; who goes first alternates with
# every point, and starts the other way round in the next run.
point() {
  local run=$1 name=$2 first=raftlab second=etcd
  shift 2
  POINT=$((POINT + 1))
  if (((POINT + run) % 2)); then first=etcd second=raftlab; fi
  "${first}_$name" "$run" "$@"
  "${second}_$name" "$run" "$@"
}

# big_seconds SYSTEM RUN: how long the BIG_KEYS load runs, from this run's cost-point rate.
big_seconds() {
  python3 - "$RAW" "$1" "$2" "$BIG_KEYS" "$kBigSlack" "$kBigMaxS" "$COST_CLIENTS" <<'PY'
import json, math, sys
raw, system, run, keys, slack, cap, clients = sys.argv[1:]
puts = [r for r in map(json.loads, open(raw)) if r.get("system") == system
        and r.get("run") == int(run) and r.get("kind") == "put" and r.get("ops_per_s")]
# The rate at the same client count, else the nearest one measured.
puts.sort(key=lambda r: abs(r["clients"] - int(clients)))
rate = puts[0]["ops_per_s"] if puts else 1000.0
print(min(int(cap), math.ceil(int(keys) * float(slack) / rate) + 1))
PY
}

one_run() {
  local r=$1 c n
  raftlab_up "$kNodes"
  etcd_cluster_start "$WORK/etcd"
  raftlab_rss "$r" rss_idle
  etcd_rss "$r" rss_idle
  for c in $CONCURRENCIES; do point "$r" put "$c"; done
  point "$r" reads
  raftlab_rss "$r" rss_after "keys=$kKeys"
  etcd_rss "$r" rss_after "keys=$kKeys"
  if ((BIG_KEYS > 0)); then
    point "$r" big_by_rate
  fi
  raftlab_down
  etcd_cluster_stop
  rm -rf "$WORK/etcd"
  if ((FAILOVER_ROUNDS > 0)); then
    point "$r" failover_eq
    raftlab_failover "$r" default
  fi
  for n in $COST_NODES; do point "$r" cost "$n"; done
}
raftlab_big_by_rate() { raftlab_big "$1" "$(big_seconds raftlab "$1")"; }
etcd_big_by_rate() { etcd_big "$1" "$(big_seconds etcd "$1")"; }
raftlab_failover_eq() { raftlab_failover "$1" equal; }
etcd_failover_eq() { etcd_failover_point "$1" equal; }

config_json() {
  python3 -c '
import json, sys
keys = ("runs", "duration", "warmup", "etcd_heartbeat_ms", "etcd_election_ms", "etcd",
        "go", "nproc", "try_timeout", "failover_rounds", "failover_clients", "read_clients",
        "cost_clients", "big_keys", "raftlab_equal_timing")
print(json.dumps(dict(zip(keys, sys.argv[1:]))))' "$RUNS" "$DURATION" "$WARMUP" \
    "$ETCD_HEARTBEAT_MS" "$ETCD_ELECTION_MS" "$(etcd --version | awk 'NR == 1 {print $3}')" \
    "$(go version | awk '{print $3}')" "$(nproc)" "$kTryTimeout" "$FAILOVER_ROUNDS" \
    "$FAILOVER_CLIENTS" "$READ_CLIENTS" "$COST_CLIENTS" "$BIG_KEYS" \
    "--election-timeout $kEqualElection --heartbeat $kEqualHeartbeat"
}

echo "raftlab vs etcd: fsync on, 127.0.0.1; raw results in $RAW" >&2
config_json | record both 0 config
for r in $(seq 1 "$RUNS"); do one_run "$r"; done
python3 scripts/etcd/summary.py "$RAW" "$OUT/summary-$STAMP.json" | tee "$OUT/summary-$STAMP.md"
