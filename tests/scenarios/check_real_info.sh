#!/usr/bin/env bash
# A real run the checker must decide (issue 17): 16 clients with a 150 ms operation timeout for
# 20 s under pause, kill and isolate-leader, so that many operations overlap and some end
# unknown (info). The verdict must be LINEARIZABLE (exit 0): UNKNOWN (3) is a failure too.
# In the sanitizer build (ASAN_OPTIONS set by scripts/test.sh) the nodes and the checker are
# several times slower: the run is shorter and the checker gets more time.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3
dur=20s
check_timeout=60s
if [ -n "${ASAN_OPTIONS:-}" ]; then
  dur=10s
  check_timeout=200s
fi
timeout 330 "$RAFTLAB" check --dir "$D" --clients 16 --op-timeout 150ms --duration "$dur" \
  --nemesis pause,kill,isolate-leader --nemesis-interval 2s --seed 17 \
  --check-timeout "$check_timeout" --record "$WORK/h.jsonl" --json >"$WORK/report.json" \
  2>"$WORK/check.err"
rc=$?
tail -n 3 "$WORK/check.err" >&2
[ $rc -eq 0 ] || { cat "$WORK/check.err" >&2; fail "check exited $rc (want 0: decided, linearizable)"; }
[ "$(jfield 'j["verdict"]' <"$WORK/report.json")" = "linearizable" ] || fail "verdict"
info=$(grep -c '"type":"info"' "$WORK/h.jsonl")
ok=$(grep -c '"type":"ok"' "$WORK/h.jsonl")
echo "$NAME: $ok ok, $info info operations" >&2
[ "$ok" -ge 1000 ] || fail "only $ok ok operations"
[ "$info" -ge 1 ] || fail "no info operation: the unknown-outcome path was not exercised"
exit 0
