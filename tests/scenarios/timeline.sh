#!/usr/bin/env bash
# `raftlab timeline` on a generated trace (tests/scenarios/make_trace.py: an election, a leader
# kill, a restart with log repair, lost messages, a torn last line) and, when this raftlab
# traces (`up --trace`), on a real 3-node cluster with a leader kill: the text is stable, the
# JSON counts every message the trace holds, filters keep what they say, a malformed line is
# exit 4 naming file and line, the page is one file with no network reference.
. "$(dirname "$0")/lib.sh"
GEN=$(dirname "$0")/make_trace.py

G="$WORK/gen"
mkdir -p "$G"
python3 "$GEN" "$G" --nodes 3 --seconds 3 --rate 20 --kill-at 1.5 --restart-after 0.5 \
  --loss 0.05 --torn >"$WORK/gen.json" || fail "make_trace.py"
want_messages=$(jfield 'j["messages"]' <"$WORK/gen.json")
want_paired=$(jfield 'j["paired"]' <"$WORK/gen.json")

expect_rc 0 "$RAFTLAB" timeline --dir "$G"
cp "$WORK/out" "$WORK/text1"
grep -q "skipped 1 unfinished" "$WORK/err" || fail "the torn line is not reported: $(cat "$WORK/err")"
[ "$(grep -c 'becomes leader' "$WORK/text1")" = 2 ] || fail "not two elections: $(grep leader "$WORK/text1")"
grep -q "cli        kill 1 (SIGKILL)" "$WORK/text1" || fail "the kill action is missing"
grep -q "LOST  \[drop loss" "$WORK/text1" || fail "no dropped message naming its rule"
grep -q "truncates" "$WORK/text1" || fail "the restarted node's truncation is missing"
grep -q "rejected prev=" "$WORK/text1" || fail "the rejected AppendEntries is missing"
expect_rc 0 "$RAFTLAB" timeline --dir "$G" --text
cmp -s "$WORK/out" "$WORK/text1" || fail "two runs on the same trace differ"

expect_rc 0 "$RAFTLAB" timeline --dir "$G" --json
[ "$(jfield 'j["counts"]["messages"]' <"$WORK/out")" = "$want_messages" ] || fail "message count"
[ "$(jfield 'j["counts"]["paired"]' <"$WORK/out")" = "$want_paired" ] || fail "paired count"

# Filters: --from/--to keep only that link's messages; --type only those types.
expect_rc 0 "$RAFTLAB" timeline --dir "$G" --from 2 --to 1
[ -s "$WORK/out" ] || fail "nothing from 2 to 1"
grep -v -- " n2 .* -> n1 " "$WORK/out" && fail "--from 2 --to 1 kept other lines"
expect_rc 0 "$RAFTLAB" timeline --dir "$G" --type RequestVote,role
grep -qv -E "RequestVote|becomes" "$WORK/out" && fail "--type kept other lines"
expect_rc 0 "$RAFTLAB" timeline --dir "$G" --since 1.4 --until 1.6
awk '{ if ($1 < 1.4 || $1 > 1.6) exit 1 }' "$WORK/out" || fail "--since/--until kept outside lines"

expect_rc 0 "$RAFTLAB" timeline --dir "$G" --html "$WORK/page.html"
grep -q -E "https?://|src=" "$WORK/page.html" && fail "the page refers to the network"
[ "$(grep -c '<script' "$WORK/page.html")" = 2 ] || fail "not one data and one code script"

# Errors: a malformed middle line (exit 4, file and line named), usage (2), no trace (4).
sed -i '3s/.*/{"t": oops}/' "$G/n3/trace.jsonl"
expect_rc 4 "$RAFTLAB" timeline --dir "$G"
grep -q "n3/trace.jsonl line 3" "$WORK/err" || fail "the error does not name the line: $(cat "$WORK/err")"
expect_rc 2 "$RAFTLAB" timeline --dir "$G" --json --html "$WORK/x.html"
mkdir -p "$WORK/empty"
expect_rc 4 "$RAFTLAB" timeline --dir "$WORK/empty"

# A real cluster, when this raftlab traces.
if ! "$RAFTLAB" up --help 2>&1 | grep -q -- --trace; then
  echo "$NAME: real part skipped: this raftlab has no up --trace yet" >&2
  exit 0
fi
require_node
new_cluster real -n 3 --trace all
old=$(leader) || fail "no leader"
rl kill "$old" >/dev/null || fail "kill $old"
rest=$(for n in 1 2 3; do [ "$n" = "$old" ] || printf '%s,' "$n"; done)
new=$(rl wait leader --nodes "${rest%,}" --json --timeout 10s | jfield 'j["leader"]') || fail "no new leader"
rl down >/dev/null || fail "down"
expect_rc 0 rl timeline --type role,RequestVote,RequestVoteResponse,action
grep -q "n$old  L .* becomes leader" "$WORK/out" || fail "n$old never leads: $(cat "$WORK/out")"
grep -q "n$new  L .* becomes leader" "$WORK/out" || fail "n$new never leads"
grep -q "kill $old" "$WORK/out" || fail "the kill action is missing"
grep -q -- "-> n[0-9] RequestVote " "$WORK/out" || fail "no RequestVote arrow"
expect_rc 0 rl timeline --json
# Every receipt pairs with a send, except from the killed node (SIGKILL loses its last 10 ms of trace).
python3 - "$WORK/out" "$old" <<'PY' || fail "a receipt without its send in a real trace"
import json, sys
doc = json.load(open(sys.argv[1]))
alone = [e for e in doc["events"]
         if e["ev"] == "message" and e["sent"] is None and e["from"] != int(sys.argv[2])]
sys.exit(1 if alone else 0)
PY
exit 0
