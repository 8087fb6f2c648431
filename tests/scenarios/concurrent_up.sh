#!/usr/bin/env bash
# One owner per directory (issue 10, item 1). Two `up` at once on one fresh directory used to
# start two sets of nodes on the same node directories: one node's recovery removed the other's
# fresh segment and acknowledged puts were lost. Now `up` holds DIR/cluster.lock until its
# nodes run and each node holds DIR/n<ID>/lock for its life. Each round: two concurrent `up`,
# 50 acknowledged puts, kill -9 of every node, start all: exactly one cluster, one id
# everywhere, every acknowledged put readable. Then a node started by hand on a live node's
# directory is refused naming the holder, `log dump` of the live node still works, and six
# concurrent `cut` commands each keep their change in cluster.json.
#
# RAFTLAB_UP_ROUNDS overrides the number of rounds (default 20).
. "$(dirname "$0")/lib.sh"
require_node
rounds=${RAFTLAB_UP_ROUNDS:-20}
puts=50

# Pids of processes whose command line runs a node of directory $1 (ours alone: a fresh mktemp
# path), found in /proc so a node that no pid file names is found too.
node_pids_of() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- " node --dir $1 " && echo "${p#/proc/}"
  done
}

for r in $(seq 1 "$rounds"); do
  D="$WORK/r$r"
  "$RAFTLAB" up --dir "$D" -n 3 --timeout 10s >"$WORK/a.out" 2>"$WORK/a.err" &
  a=$!
  "$RAFTLAB" up --dir "$D" -n 3 --timeout 10s >"$WORK/b.out" 2>"$WORK/b.err" &
  b=$!
  wait $a; ra=$?
  wait $b; rb=$?
  # One of them made the cluster; the other found its live nodes and refused (exit 4).
  if ! { [ $ra -eq 0 ] && [ $rb -eq 4 ]; } && ! { [ $ra -eq 4 ] && [ $rb -eq 0 ]; }; then
    fail "round $r: up exited $ra and $rb, want one 0 and one 4: $(cat "$WORK/a.err" "$WORK/b.err")"
  fi
  n=$(node_pids_of "$D" | wc -l)
  [ "$n" -eq 3 ] || fail "round $r: $n node processes run on $D, want 3"
  id=$(jfield 'j["cluster_id"]' <"$D/cluster.json")
  rl status --json >"$WORK/st" || fail "round $r: status"
  [ "$(jfield 'j["cluster_id"]' <"$WORK/st")" = "$id" ] || fail "round $r: status names another id"
  for k in $(seq 1 $puts); do
    rl put "k$k" "v$r.$k" --timeout 5s >/dev/null 2>"$WORK/err" ||
      fail "round $r: put k$k exited $?: $(cat "$WORK/err")"
  done
  for p in $(node_pids_of "$D"); do kill -9 "$p"; done
  rl start all >/dev/null 2>"$WORK/err" || fail "round $r: start all: $(cat "$WORK/err")"
  rl wait leader --timeout 10s >/dev/null || fail "round $r: no leader after the restart"
  for k in $(seq 1 $puts); do
    v=$(rl get "k$k" --timeout 5s) || fail "round $r: get k$k exited $?"
    [ "$v" = "v$r.$k" ] || fail "round $r: k$k is '$v' after kill -9 and restart, want v$r.$k"
  done
  # Every node answers with the cluster's one id.
  ids=$(for n in 1 2 3; do admin_status "$n" cluster_id | tr -d '"'; done | sort -u)
  [ "$ids" = "$id" ] || fail "round $r: nodes answer cluster ids '$ids', cluster.json says $id"
  [ "$r" -eq "$rounds" ] || rl down >/dev/null || fail "round $r: down"
done
echo "concurrent_up: $rounds rounds: one cluster each, $puts puts kept each" >&2

# A second node on a live node's directory is refused, naming the holder; it removes nothing.
holder=$(rl status --json | jfield '[n["pid"] for n in j["nodes"] if n["id"] == 1][0]')
before=$(ls "$D/n1/wal")
"$RAFTLAB" node --dir "$D" --id 1 >"$WORK/out" 2>"$WORK/err"
rc=$?
[ $rc -eq 4 ] || fail "a second node 1 exited $rc, want 4"
grep -q "locked by pid $holder" "$WORK/err" || fail "the refusal does not name pid $holder: $(cat "$WORK/err")"
[ "$(ls "$D/n1/wal")" = "$before" ] || fail "the refused node changed n1/wal"
[ "$(rl status --json | jfield '[n["pid"] for n in j["nodes"] if n["id"] == 1][0]')" = "$holder" ] ||
  fail "the refused node replaced node 1's pid file"
rl log dump 1 >/dev/null || fail "log dump of a live node exited $?"

# Commands that change cluster.json serialize: six concurrent cuts all stay.
pids=()
for pair in "1 2" "1 3" "2 1" "2 3" "3 1" "3 2"; do
  set -- $pair
  rl cut "$1" "$2" --one-way >/dev/null 2>>"$WORK/cut.err" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent cut exited $?: $(cat "$WORK/cut.err")"; done
n=$(jfield 'len(j["faults"]["cuts"])' <"$D/cluster.json")
[ "$n" -eq 6 ] || fail "after six concurrent cuts cluster.json holds $n"
exit 0
