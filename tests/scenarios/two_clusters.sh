#!/usr/bin/env bash
# Two clusters in two directories at once, on free ports, each electing its own leader; the
# nodes of one never join the other (cluster id in the hello).
. "$(dirname "$0")/lib.sh"
require_node
"$RAFTLAB" up --dir "$WORK/a" -n 3 --timeout 10s >/dev/null 2>"$WORK/a.err" &
pa=$!
"$RAFTLAB" up --dir "$WORK/b" -n 3 --timeout 10s >/dev/null 2>"$WORK/b.err" &
pb=$!
wait $pa || fail "up a: $(cat "$WORK/a.err")"
wait $pb || fail "up b: $(cat "$WORK/b.err")"
for c in a b; do
  D="$WORK/$c"
  rl wait converged --timeout 10s >/dev/null || fail "cluster $c did not converge"
  [ "$(rl status --json | jfield 'j["cluster_id"]')" = "$(jfield 'j["cluster_id"]' <"$D/cluster.json")" ] ||
    fail "cluster $c: wrong cluster id"
done
D="$WORK/a"
rl down >/dev/null || fail "down a"
D="$WORK/b"
rl wait leader --timeout 5s >/dev/null || fail "b lost its leader when a went down"
exit 0
