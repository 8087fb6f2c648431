#!/usr/bin/env bash
# `raftlab check` on a real 5-node cluster: clients under every nemesis for a bounded time,
# then the heal; the history must be linearizable (exit 0), the HTML written, and every fault
# undone. Duration: RAFTLAB_CHECK_DURATION (default 30s).
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 5 --snapshot-every 200
dur=${RAFTLAB_CHECK_DURATION:-30s}
timeout 300 "$RAFTLAB" check --dir "$D" --clients 6 --keys 4 --duration "$dur" --nemesis all \
  --nemesis-interval 2s --seed 7 --record "$WORK/h.jsonl" --html "$WORK/h.html" --json \
  >"$WORK/report.json" 2>"$WORK/check.err"
rc=$?
tail -n 5 "$WORK/check.err" >&2
[ $rc -eq 0 ] || { cat "$WORK/check.err" >&2; cat "$WORK/report.json" >&2; fail "check exited $rc"; }
[ "$(jfield 'j["verdict"]' <"$WORK/report.json")" = "linearizable" ] || fail "verdict"
grep -q '"process":"nemesis"' "$WORK/h.jsonl" || fail "no nemesis events in the history"
n=$(grep -c '"type":"ok"' "$WORK/h.jsonl")
[ "$n" -ge 200 ] || fail "only $n ok operations in the history"
grep -q "<svg\|<div" "$WORK/h.html" || fail "no HTML timeline"
# The history checks the same from the file.
expect_rc 0 "$RAFTLAB" check --history "$WORK/h.jsonl"
# Everything was undone: all running, no faults, all voters.
rl status --json >"$WORK/st.json" || fail "status"
python3 - "$WORK/st.json" <<'PY' || fail "the cluster was not restored"
import json, sys
j = json.load(open(sys.argv[1]))
bad = [n for n in j["nodes"] if n["process"] != "running"]
assert not bad, bad
PY
exit 0
