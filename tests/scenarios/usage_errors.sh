#!/usr/bin/env bash
# docs/cli.md exit codes without any node: usage errors exit 2 (naming what is wrong), a missing
# cluster exits 4.
. "$(dirname "$0")/lib.sh"
D="$WORK/c"
expect_rc 2 "$RAFTLAB" no-such-command
expect_rc 2 "$RAFTLAB" status --no-such-flag
expect_rc 2 "$RAFTLAB" up --dir "$D" --heartbeat 50parsecs
grep -q -- "--heartbeat" "$WORK/err" || fail "the message does not name --heartbeat"
expect_rc 2 "$RAFTLAB" up --dir "$D" --election-timeout 300ms-100ms
expect_rc 2 "$RAFTLAB" up --dir "$D" -n 0
expect_rc 2 "$RAFTLAB" net --dir "$D" --loss 150%
expect_rc 2 "$RAFTLAB" net --dir "$D" --loss lots
expect_rc 2 "$RAFTLAB" net --dir "$D"
expect_rc 2 "$RAFTLAB" kill --dir "$D" 1,,2
expect_rc 2 "$RAFTLAB" kill --dir "$D" everyone
expect_rc 2 "$RAFTLAB" kill --dir "$D" 1 --signal HUP
expect_rc 2 "$RAFTLAB" wait --dir "$D" commit
expect_rc 2 "$RAFTLAB" wait --dir "$D" leader 5
expect_rc 2 "$RAFTLAB" wait --dir "$D" sunrise
expect_rc 2 "$RAFTLAB" wait --dir "$D" leader --timeout soon
expect_rc 2 "$RAFTLAB" partition --dir "$D" --random spiral
expect_rc 2 "$RAFTLAB" status --dir "$D" --json --watch
# A missing cluster: exit 4, for every command that needs one.
for cmd in status down "kill 1" "start 1" "pause 1" "partition 1 2" "isolate 1" "cut 1 2" \
  heal faults "wait leader --timeout 1s" "logs 1" "log diff" "log dump 1"; do
  # shellcheck disable=SC2086
  expect_rc 4 "$RAFTLAB" $cmd --dir "$D"
  grep -q "no cluster at" "$WORK/err" || fail "$cmd: no 'no cluster at' message"
done
# An unknown node is a usage error naming it; checked before anything is done.
mkdir -p "$D"
cat >"$D/cluster.json" <<'JSON'
{"version": 1, "cluster_id": "lab-test", "seed": 7, "nodes": [{"id": 1, "port": 1},
 {"id": 2, "port": 2}, {"id": 3, "port": 3}], "voters": [1, 2, 3],
 "timing": {"tick_ms": 10, "heartbeat_ms": 50, "election_timeout_min_ms": 150,
 "election_timeout_max_ms": 300}, "fsync": true, "snapshot_every": 0, "faults": {}}
JSON
for cmd in "kill 4" "kill 1,9" "partition 1 2,7" "isolate 5" "cut 1 6" "net --from 8 --loss 1%" \
  "logs 4" "wait leader --nodes 4 --timeout 1s"; do
  # shellcheck disable=SC2086
  expect_rc 2 "$RAFTLAB" $cmd --dir "$D"
  grep -qE "unknown node [0-9]" "$WORK/err" || fail "$cmd: the message does not name the node"
done
# Nodes that must run and do not: exit 4. A wait that cannot hold: exit 3.
expect_rc 4 "$RAFTLAB" pause 1 --dir "$D"
expect_rc 4 "$RAFTLAB" kill leader --dir "$D"
expect_rc 3 "$RAFTLAB" wait leader --timeout 200ms --dir "$D"
# A partition with a node in two groups is a usage error; nothing is written.
expect_rc 2 "$RAFTLAB" partition 1,2 2,3 --dir "$D"
expect_rc 0 "$RAFTLAB" faults --json --dir "$D"
[ "$(jfield 'j["partition"]' <"$WORK/out")" = "[]" ] || fail "a refused partition was written"
# Faults are stored even with no node running (nodes read them when they start).
expect_rc 0 "$RAFTLAB" partition 1 2,3 --dir "$D" --json
[ "$(jfield 'j["groups"]' <"$WORK/out")" = "[[1], [2, 3]]" ] || fail "groups: $(cat "$WORK/out")"
expect_rc 0 "$RAFTLAB" heal --dir "$D"
# A port in use: exit 4, and nothing is left behind.
python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True)
sys.stdout.close(); time.sleep(20)' >"$WORK/port" &
holder=$!
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
expect_rc 4 "$RAFTLAB" up --dir "$WORK/p" --base-port "$(cat "$WORK/port")" -n 1
kill "$holder"
grep -q "in use" "$WORK/err" || fail "port in use: $(cat "$WORK/err")"
[ ! -e "$WORK/p/cluster.json" ] || fail "a refused up wrote cluster.json"
# The KV, check and bench commands: usage errors are exit 2 and name the problem; no cluster is 4.
expect_rc 2 "$RAFTLAB" put onlykey --dir "$D"
expect_rc 2 "$RAFTLAB" cas k old --dir "$D"
expect_rc 2 "$RAFTLAB" get k --timeout soon --dir "$D"
expect_rc 2 "$RAFTLAB" bench --reads 150% --dir "$D"
expect_rc 2 "$RAFTLAB" check --nemesis partition,meteor --dir "$D"
grep -q "meteor" "$WORK/err" || fail "unknown nemesis not named: $(cat "$WORK/err")"
echo '{}' >"$WORK/h.jsonl"
expect_rc 2 "$RAFTLAB" check --history "$WORK/h.jsonl" --clients 3
expect_rc 2 "$RAFTLAB" up --unsafe no_such_switch --dir "$WORK/u"
# A number without a unit is refused (it used to mean milliseconds: a 5 ms check), naming the forms.
expect_rc 2 "$RAFTLAB" check --duration 5 --dir "$D"
grep -q "150ms, 2s or 1m" "$WORK/err" || fail "no accepted forms: $(cat "$WORK/err")"
expect_rc 2 "$RAFTLAB" net --delay 5 --dir "$D"
expect_rc 2 "$RAFTLAB" wait leader --timeout 10 --dir "$D"
expect_rc 4 "$RAFTLAB" get k --dir "$WORK/none"
expect_rc 4 "$RAFTLAB" check --history "$WORK/missing.jsonl"
exit 0
