#!/usr/bin/env bash
# Three `raftlab check` runs in a row on one cluster, each linearizable (exit 0): every run uses
# keys and values no earlier run wrote (issue 10, item 7: a second run once read the first
# run's values under the same key names and reported hundreds of keys NOT LINEARIZABLE).
# Short runs without faults: what is tested is that runs do not see each other's data.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3
for run in 1 2 3; do
  timeout 120 "$RAFTLAB" check --dir "$D" --clients 4 --keys 2 --duration 3s --nemesis none \
    --after-heal 1s --seed 5 --record "$WORK/h$run.jsonl" >"$WORK/out$run" 2>"$WORK/err$run"
  rc=$?
  tail -n 2 "$WORK/err$run" >&2
  [ $rc -eq 0 ] || { cat "$WORK/out$run" >&2; fail "run $run exited $rc"; }
  n=$(grep -c '"type":"ok"' "$WORK/h$run.jsonl")
  [ "$n" -ge 50 ] || fail "run $run: only $n ok operations"
done
# The same seed each time, yet no key is shared between runs.
keys() { grep -o '"key":"[^"]*"' "$1" | sort -u; }
shared=$(comm -12 <(keys "$WORK/h1.jsonl") <(keys "$WORK/h2.jsonl") | wc -l)
[ "$shared" -eq 0 ] || fail "runs 1 and 2 share $shared keys"
exit 0
