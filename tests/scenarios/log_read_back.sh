#!/usr/bin/env bash
# The log keeps the commands of its newest applied entries only (Config::log_payload_bytes_max,
# 4 MiB by default); a follower far enough behind gets the older ones read back from the
# leader's WAL as its AppendEntries leave. RAFTLAB_TEST_LOG_BYTES=0 makes every node release
# each command as soon as it is applied, so that path carries everything here:
#   1. node 3 is killed while `bench` commits thousands of puts, then started again with
#      snapshots off: it can catch up only through entries node 1 reads back from its WAL. Its
#      log must then hold exactly node 1's commands (`log dump --json`), and node 1's counters
#      show the entries it read back.
#   2. node 2 is killed, more puts commit, and node 1 restarts: its positions now come from
#      WAL recovery. Once node 1 leads again, node 2 catches up from the recovered log.
. "$(dirname "$0")/lib.sh"
require_node
readonly kWaitS=60
export RAFTLAB_TEST_LOG_BYTES=0

read_back() { admin_status "$1" | jfield 'j["counters"]["entries_read_back"]'; }
load() { # load SECONDS: puts from `bench` through the leader
  rl bench --clients 8 --duration "$1s" --warmup 0s --keys 500 --value-size 300 >/dev/null ||
    fail "bench $*"
}
caught_up() { (($(status_field "$1" applied) >= $(status_field 1 commit))); }
# Every entry of node N's WAL equals node 1's at the same index: term, type and command bytes.
same_log() {
  python3 - "$RAFTLAB" "$D" "$1" <<'PY'
import json, subprocess, sys
raftlab, d, n = sys.argv[1:]
def log(node):
    out = subprocess.run([raftlab, "log", "dump", node, "--json", "--dir", d],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    entries = json.loads(out)["nodes"][0]["entries"]
    return {e["index"]: {k: v for k, v in e.items() if k not in ("file", "offset")}
            for e in entries}
ref, got = log("1"), log(n)
common = sorted(set(ref) & set(got))
bad = [i for i in common if ref[i] != got[i]]
print(f"node {n}: {len(common)} entries compared with node 1, {len(bad)} differ", file=sys.stderr)
sys.exit(1 if bad or len(common) < 200 else 0)
PY
}

new_cluster c -n 3 --snapshot-every 0
grep -q "RAFTLAB_TEST_LOG_BYTES: the log keeps 0 bytes" "$D/n1/node.log" ||
  fail "node 1 did not take RAFTLAB_TEST_LOG_BYTES"
rl transfer 1 >/dev/null || fail "transfer to 1"

# 1. A follower behind by thousands of released entries.
rl kill 3 >/dev/null || fail "kill 3"
load 2
behind=$(($(status_field 1 commit) - $(status_field 3 last_index)))
((behind >= 200)) || fail "node 3 is only $behind entries behind"
[ "$(admin_status 1 | jfield 'j["log_bytes_held"]')" = 0 ] ||
  fail "node 1's log holds command bytes with RAFTLAB_TEST_LOG_BYTES=0"
rl start 3 >/dev/null || fail "start 3"
wait_until "$kWaitS" "node 3 catching up" caught_up 3
n1=$(read_back 1)
# All but the newest few (sent before they were applied) and the no-ops (no bytes to release).
((n1 * 10 >= behind * 9)) || fail "node 1 read back $n1 entries for node 3, $behind behind"
same_log 3 || fail "node 3's log differs from node 1's"
echo "$NAME: node 3 caught up $behind entries; node 1 read back $n1 from its WAL" >&2

# 2. The same from a log node 1 recovered at a restart.
rl kill 2 >/dev/null || fail "kill 2"
load 1
rl kill 1 >/dev/null || fail "kill 1"
rl start 1 >/dev/null || fail "start 1"
leads_1() { rl transfer 1 >/dev/null 2>&1 && [ "$(leader)" = 1 ]; }
wait_until "$kWaitS" "node 1 leading again" leads_1
rl start 2 >/dev/null || fail "start 2"
wait_until "$kWaitS" "node 2 catching up" caught_up 2
n1=$(read_back 1)
((n1 > 0)) || fail "node 1 read back nothing after its restart"
same_log 2 || fail "node 2's log differs from node 1's"
echo "$NAME: after node 1's restart node 2 caught up; node 1 read back $n1" >&2
