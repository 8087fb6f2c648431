#!/usr/bin/env bash
# `bench --stamps` and scripts/request_stages.py (functional, not timed): a 2 s one-client put
# bench writes one stamp per measured put, each with its log index and answering node; the
# script follows at least kFollowedMin of them through the nodes' traces, every stage is
# non-negative, and each followed request's stages add up to its latency (within 5%).
. "$(dirname "$0")/lib.sh"
require_node
readonly kFollowedMin=50
readonly kSumGapMax=0.05
readonly STAGES="$(dirname "$0")/../../scripts/request_stages.py"
new_cluster c -n 3
expect_rc 0 rl bench --clients 1 --duration 2s --warmup 500ms --stamps "$WORK/stamps.jsonl" --json
ops=$(jfield 'j["ops"]' <"$WORK/out")
lines=$(wc -l <"$WORK/stamps.jsonl")
[ "$lines" -eq "$ops" ] || fail "$lines stamps for $ops measured operations"
expect_rc 0 python3 "$STAGES" "$D" "$WORK/stamps.jsonl" --json
python3 - "$WORK/out" "$WORK/stamps.jsonl" "$kFollowedMin" "$kSumGapMax" <<'PY' || fail "stages: $(cat "$WORK/out")"
import json, sys
doc = json.load(open(sys.argv[1]))
followed_min, gap_max = int(sys.argv[3]), float(sys.argv[4])
for line in open(sys.argv[2]):
    s = json.loads(line)
    assert s["t1"] > s["t0"] > 0 and s["index"] > 0 and s["node"] > 0, s
assert doc["followed"] >= followed_min, "followed %d requests" % doc["followed"]
stages = ("client", "propose", "wire_ae", "f_append", "f_sync", "wire_ack", "commit", "apply",
          "answer")
for name in stages:
    assert doc["stages"][name]["min_us"] >= 0, "%s: %r" % (name, doc["stages"][name])
assert doc["sum_gap_max"] <= gap_max, "stages miss %.3f of a latency" % doc["sum_gap_max"]
PY
exit 0
