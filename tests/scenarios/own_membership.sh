#!/usr/bin/env bash
# The node keeps its own membership (issue 10, item 2). cluster.json's "voters" are the
# bootstrap configuration, used once (up copies them into each n<ID>/bootstrap): setting
# "voters": [1] by hand used to make node 1 a leader on its own beside the real one, and node 1
# then died at every restart ("asked to overwrite committed entry"). Also: cluster.json is
# validated when read (exit 4, the field named), zero timeouts are usage errors (exit 2), and
# `down` stops the nodes even when cluster.json cannot be read.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3
for k in 1 2 3 4 5; do rl put "a$k" "x$k" >/dev/null || fail "put a$k"; done
rl down >/dev/null || fail "down"

# 1. A hand-edited voter list is logged and ignored.
python3 - "$D/cluster.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); j["voters"] = [1]
json.dump(j, open(sys.argv[1], "w"), indent=2)
PY
rl up --timeout 10s >/dev/null 2>"$WORK/err" || fail "up after the edit: $(cat "$WORK/err")"
for k in $(seq 1 20); do rl put "b$k" "y$k" --timeout 5s >/dev/null || fail "put b$k exited $?"; done
for n in 1 2 3; do
  v=$(admin_status "$n" voters) || fail "node $n does not answer"
  [ "$v" = "[1, 2, 3]" ] || fail "node $n counts voters $v, want [1, 2, 3] from its own log"
done
leaders=$(for n in 1 2 3; do admin_status "$n" role; done | grep -c leader)
[ "$leaders" -eq 1 ] || fail "$leaders nodes claim leadership"
grep -q "only the bootstrap and are ignored" "$D/n1/node.log" ||
  fail "node 1 did not log that it ignores cluster.json's voters"
rl restart all >/dev/null 2>"$WORK/err" || fail "restart all: $(cat "$WORK/err")"
rl wait converged --timeout 10s >/dev/null || fail "not converged after the restart"
for n in 1 2 3; do
  [ "$(rl status --json | jfield "[x['process'] for x in j['nodes'] if x['id'] == $n][0]")" = running ] ||
    fail "node $n is not running after the restart"
done
for k in $(seq 1 20); do [ "$(rl get "b$k")" = "y$k" ] || fail "b$k lost"; done

# 2. `down` with an unreadable cluster.json still stops every node.
pids=$(for n in 1 2 3; do admin_status "$n" pid; done)
cp "$D/cluster.json" "$WORK/cluster.json.good"
echo '{"version": 1, "nodes": [' >"$D/cluster.json"
expect_rc 0 rl down
for p in $pids; do
  if [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
    fail "pid $p still runs after down with a damaged cluster.json"
  fi
done
cp "$WORK/cluster.json.good" "$D/cluster.json"

# 3. cluster.json is validated when read: exit 4 with the field named.
bad() {  # bad PYTHON-EDIT WANTED-TEXT
  python3 - "$WORK/cluster.json.good" "$D/cluster.json" "$1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); exec(sys.argv[3])
json.dump(j, open(sys.argv[2], "w"), indent=2)
PY
  expect_rc 4 rl status
  grep -qF "$2" "$WORK/err" || fail "status on a cluster.json with $1: '$(cat "$WORK/err")' does not say '$2'"
}
bad 'j["nodes"][1]["id"] = 1' 'nodes[1].id'
bad 'j["nodes"][0]["port"] = 70000' 'nodes[0].port'
bad 'j["nodes"][2]["port"] = 0' 'nodes[2].port'
bad 'j["timing"]["heartbeat_ms"] = 0' 'timing.heartbeat_ms'
bad 'j["timing"]["heartbeat_ms"] = -5' 'timing.heartbeat_ms'
bad 'j["timing"]["election_timeout_min_ms"] = j["timing"]["heartbeat_ms"]' 'election_timeout_min_ms'
bad 'j["voters"] = [1, 1, 2]' 'voters'
cp "$WORK/cluster.json.good" "$D/cluster.json"

# 4. Zero timeouts are usage errors.
expect_rc 2 "$RAFTLAB" up --dir "$WORK/other" --heartbeat 0ms
expect_rc 2 rl put k v --timeout 0s
expect_rc 2 rl wait leader --timeout 0ms
[ ! -e "$WORK/other" ] || fail "a refused up left $WORK/other behind"
exit 0
