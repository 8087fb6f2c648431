#!/usr/bin/env bash
# `raftlab ui` over HTTP with curl on a real 3-node cluster: the page, /api/state (3 nodes, one
# leader), at least 10 state events in 1.5 s and the trace lines of an action, an action that
# kills the leader (another is elected), a cut from the page and its heal (`faults` agrees),
# bad requests refused with 400 and nothing changed, 403/404/405, /api/timeline, a second `ui`
# on the same port (exit 4), no cluster (exit 4), and SIGTERM (exit 0).
. "$(dirname "$0")/lib.sh"
require_node
command -v curl >/dev/null || {
  echo "$NAME: skipped: no curl" >&2
  exit 77
}

# The ui is ours: stopped by its pid, whatever happens, before lib.sh's cleanup.
UI_PIDS=()
ui_cleanup() {
  local rc=$? pid k
  for pid in "${UI_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || continue
    for ((k = 0; k < 50; k++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  (exit "$rc")
  cleanup
}
trap ui_cleanup EXIT

# start_ui OUT [flags]: `raftlab ui` in the background; sets UI_PID.
start_ui() {
  local out=$1
  shift
  "$RAFTLAB" ui --dir "$D" "$@" >"$out" 2>"$out.err" &
  UI_PID=$!
  UI_PIDS+=("$UI_PID")
}

# api PATH [curl args]: the body; the status code goes to $WORK/code.
api() {
  local path=$1
  shift
  curl -s --max-time 15 -o "$WORK/body" -w '%{http_code}' "$@" "$URL${path#/}" >"$WORK/code"
  cat "$WORK/body"
}
code() { cat "$WORK/code"; }
post() {
  local body=$1
  shift
  api /api/action -X POST -H 'Content-Type: application/json' --data-binary "$body" "$@"
}

# wait_state_leader NOT TIMEOUT_TENTHS: the one leader /api/state shows, other than NOT.
wait_state_leader() {
  local k l
  for ((k = 0; k < $2; k++)); do
    l=$(api /api/state | jfield '",".join(str(n["id"]) for n in j["nodes"] if n["role"] == "leader")' 2>/dev/null)
    if [ -n "$l" ] && [ "${l/,/}" = "$l" ] && [ "$l" != "$1" ]; then
      echo "$l"
      return 0
    fi
    sleep 0.1
  done
  return 1
}

expect_rc 4 "$RAFTLAB" ui --dir "$WORK/none"
grep -q "no cluster" "$WORK/err" || fail "ui without a cluster: $(cat "$WORK/err")"

new_cluster c -n 3
start_ui "$WORK/ui.out"
for ((k = 0; k < 100; k++)); do
  grep -qs "^raftlab ui: http://127.0.0.1:[0-9]*/$" "$WORK/ui.out" && break
  kill -0 "$UI_PID" 2>/dev/null || fail "ui exited: $(cat "$WORK/ui.out.err")"
  sleep 0.1
done
URL=$(sed -n 's/^raftlab ui: //p' "$WORK/ui.out")
[ -n "$URL" ] || fail "no URL line in 10 s: $(cat "$WORK/ui.out" "$WORK/ui.out.err")"
PORT=${URL#http://127.0.0.1:}
PORT=${PORT%/}

# The page: HTML with the page's title, nothing else to fetch.
api / -D "$WORK/headers" >"$WORK/page.html"
[ "$(code)" = 200 ] || fail "GET / answered $(code)"
grep -qi "^content-type: text/html; charset=utf-8" "$WORK/headers" || fail "GET / headers: $(cat "$WORK/headers")"
grep -q "<title>raftlab ui" "$WORK/page.html" || fail "GET / is not the ui page: $(head -c 300 "$WORK/page.html")"

# /api/state: 3 nodes, all running, exactly one leader.
leader=$(wait_state_leader 0 50) || fail "no single leader in /api/state: $(api /api/state)"
api /api/state >"$WORK/state.json"
python3 - "$WORK/state.json" <<'PY' || fail "/api/state: $(cat "$WORK/state.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert [n["id"] for n in j["nodes"]] == [1, 2, 3], j["nodes"]
assert all(n["process"] == "running" and n["member"] == "voter" for n in j["nodes"])
lead = [n for n in j["nodes"] if n["role"] == "leader"][0]
assert lead["election"] is None and len(lead["progress"]) == 2, lead
assert all(p["state"] in ("probe", "replicate", "snapshot") for p in lead["progress"].values())
assert lead["log"] and all(len(e) == 2 for e in lead["log"]) and len(lead["log"]) <= 40
assert lead["log"][-1][0] == lead["last_index"], lead
for n in j["nodes"]:
    if n["role"] == "follower":
        e = n["election"]
        assert e is not None and 0 <= e["elapsed_ms"] and e["timeout_ms"] > 0, n
assert j["held"] == [] and isinstance(j["now_us"], int) and j["cluster_id"] and j["dir"]
PY

# Server-sent events: at least 10 state events in 1.5 s, the first at once.
curl -s -N --max-time 1.5 "${URL}api/events" >"$WORK/sse.out"
states=$(grep -c '^event: state$' "$WORK/sse.out")
[ "$states" -ge 10 ] || fail "$states state events in 1.5 s, want >= 10"
echo "$NAME: $states state events in 1.5 s"

# An action from the page kills the leader; while a client listens, the trace batch carries
# the action (actions.jsonl) and another leader shows in /api/state within 3 s.
curl -s -N --max-time 4 "${URL}api/events" >"$WORK/sse2.out" &
SSE_PID=$!
sleep 0.3
post "{\"verb\": \"kill\", \"node\": $leader}" >"$WORK/kill.json"
[ "$(code)" = 200 ] || fail "kill answered $(code): $(cat "$WORK/kill.json")"
[ "$(jfield 'j["ok"], j["exit"]' <"$WORK/kill.json")" = "True 0" ] || fail "kill: $(cat "$WORK/kill.json")"
new_leader=$(wait_state_leader "$leader" 30) || fail "no other leader in 3 s after kill $leader"
wait "$SSE_PID"
grep '^data: {"events"' "$WORK/sse2.out" | grep -q "\"verb\":\"kill\"" ||
  fail "no trace event with the kill action: $(grep -c '^event: trace' "$WORK/sse2.out") trace events"
[ "$(api /api/state | jfield "[n['process'] for n in j['nodes'] if n['id'] == $leader][0]")" = stopped ] ||
  fail "killed node $leader is not shown stopped"

# A cut from the page is what `faults` shows; heal-link removes it; a second heal-link: exit 1.
post '{"verb": "cut", "from": 1, "to": 2, "one_way": false}' >"$WORK/cut.json"
[ "$(code)" = 200 ] && [ "$(jfield 'j["exit"]' <"$WORK/cut.json")" = 0 ] || fail "cut: $(cat "$WORK/cut.json")"
[ "$(rl faults --json | jfield 'sorted(j["cuts"])')" = "[[1, 2], [2, 1]]" ] || fail "faults after cut: $(rl faults --json)"
[ "$(api /api/state | jfield 'sorted(j["faults"]["cuts"])')" = "[[1, 2], [2, 1]]" ] || fail "/api/state faults"
post '{"verb": "heal-link", "from": 2, "to": 1}' >"$WORK/heal.json"
[ "$(jfield 'j["exit"]' <"$WORK/heal.json")" = 0 ] || fail "heal-link: $(cat "$WORK/heal.json")"
[ "$(rl faults --json | jfield 'j["cuts"]')" = "[]" ] || fail "faults after heal-link: $(rl faults --json)"
post '{"verb": "heal-link", "from": 2, "to": 1}' >"$WORK/heal.json"
[ "$(jfield 'j["ok"], j["exit"]' <"$WORK/heal.json")" = "False 1" ] || fail "heal-link twice: $(cat "$WORK/heal.json")"
post '{"verb": "cut", "from": 1, "to": 3, "one_way": true}' >/dev/null
[ "$(rl faults --json | jfield 'j["cuts"]')" = "[[1, 3]]" ] || fail "one-way cut: $(rl faults --json)"

# Bad requests: 400 with a message, and nothing changes (faults, processes, actions.jsonl).
before="$(rl faults --json) $(api /api/state | jfield '[n["process"] for n in j["nodes"]]') $(wc -l <"$D/actions.jsonl")"
big=$(python3 -c 'print("{\"verb\":\"put\",\"key\":\"k\",\"value\":\"" + "x" * 70000 + "\"}")')
for body in 'kill 1' '[1]' '{"verb": "explode"}' '{"verb": "kill"}' '{"verb": "kill", "node": "1"}' \
  '{"verb": "kill", "node": 9}' '{"verb": "heal", "all": true}' '{"verb": "put", "key": "a\nb", "value": "v"}' \
  '{"verb": "partition", "groups": [[1, 2], [2, 3]]}' '{"verb": "cut", "from": 2, "to": 2}' \
  '{"verb": "deliver", "ids": ["--all"]}' "$big"; do
  post "$body" >"$WORK/bad.json"
  [ "$(code)" = 400 ] || fail "'${body:0:60}' answered $(code): $(cat "$WORK/bad.json")"
  [ "$(jfield 'j["ok"] is False and len(j["error"]) > 0' <"$WORK/bad.json")" = True ] || fail "400 body: $(cat "$WORK/bad.json")"
done
after="$(rl faults --json) $(api /api/state | jfield '[n["process"] for n in j["nodes"]]') $(wc -l <"$D/actions.jsonl")"
[ "$before" = "$after" ] || fail "bad requests changed the cluster: $before -> $after"

# Other paths, methods and origins.
api /nothing >/dev/null
[ "$(code)" = 404 ] || fail "GET /nothing answered $(code)"
api /api/action >/dev/null
[ "$(code)" = 405 ] || fail "GET /api/action answered $(code)"
api /api/state -X DELETE >/dev/null
[ "$(code)" = 405 ] || fail "DELETE /api/state answered $(code)"
post '{"verb": "heal"}' -H 'Origin: http://evil.example' >/dev/null
[ "$(code)" = 403 ] || fail "a foreign Origin answered $(code)"
[ "$(rl faults --json | jfield 'j["cuts"]')" = "[[1, 3]]" ] || fail "the refused heal healed"

# The timeline page's data, for the slider.
api /api/timeline | jfield 'sorted(j["nodes"]) == [1, 2, 3] and "lanes" in j and "m" in j' >"$WORK/tl" 2>&1
[ "$(code)" = 200 ] && [ "$(cat "$WORK/tl")" = True ] || fail "/api/timeline: $(head -c 300 "$WORK/body")"

# The same port again: exit 4, and the first ui still serves.
expect_rc 4 timeout 10 "$RAFTLAB" ui --dir "$D" --port "$PORT"
grep -q "in use" "$WORK/err" || fail "second ui: $(cat "$WORK/err")"
api /api/state >/dev/null
[ "$(code)" = 200 ] || fail "the first ui stopped serving"

# SIGTERM: exit 0, promptly.
kill -TERM "$UI_PID"
for ((k = 0; k < 50; k++)); do kill -0 "$UI_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$UI_PID" 2>/dev/null && fail "ui still runs 5 s after SIGTERM"
wait "$UI_PID"
rc=$?
[ "$rc" = 0 ] || fail "ui exited $rc on SIGTERM"
exit 0
