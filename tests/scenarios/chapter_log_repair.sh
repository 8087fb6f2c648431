#!/usr/bin/env bash
# The README tutorial's log repair with and without fast backup (§5.3), run as written, every
# claim checked, once with the default and once with `up --no-fast-backup`: node 1 leads and is
# isolated (no CheckQuorum, so it stays leader); fifteen puts to it each end "outcome unknown"
# and leave it holding uncommitted entries of its term; the majority moves on (a leader in a
# newer term, twenty writes, then another leader elected after them, so its log is long past
# the divergence point); after the heal node 1's suffix is truncated, the old writes read back
# as never done, and the AppendEntries round trips of the repair are counted from
# `timeline --json`: with fast backup at most 3 (one rejection for "too short", one per
# conflicting term of node 1's suffix, here one, then the accepted one); without it one per
# entry from the leader's first probe down to the match point. Prints both counts.
. "$(dirname "$0")/lib.sh"
require_node
readonly kOldWrites=15 kOldWritesMax=60 kOldAppendedMin=10 kNewWrites=20 kFastRoundTripsMax=3 kTraceWaitS=5

# repair_counts: from the current cluster's timeline, the repair of node 1 by node 3 after the
# heal, as "REJECTIONS DISTINCT_REJECTED ROUND_TRIPS APPENDS FIRST_PREV MATCH CUT" (CUT: the
# entries node 1 truncated). Duplicates (a probe resent at each heartbeat answer while the
# previous one is unanswered) are counted once: a round trip is a distinct prev index refused,
# plus the accepted one. Exit 1 until node 1 has accepted and truncated.
repair_counts() {
  rl timeline --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
ev = j["events"]
heal = [e["t"] for e in ev if e.get("ev") == "action" and e.get("verb") == "heal"]
if not heal:
    sys.exit(1)
t0 = heal[-1]
rejected, appends, prevs, accepted = [], 0, set(), False
for e in ev:
    if e.get("ev") != "message" or e["t"] < t0 or accepted:
        continue
    f = e["fields"]
    if e["type"] == "AppendEntries" and e["from"] == 3 and e["to"] == 1:
        appends += 1
        prevs.add(f["prev"][0])
    elif e["type"] == "AppendEntriesResponse" and e["from"] == 1 and e["to"] == 3:
        if f["ok"]:
            accepted = True
        else:
            rejected.append(f["rejected"])
cut = [e for e in ev if e.get("ev") == "truncate" and e["n"] == 1 and e["t"] >= t0]
if not accepted or not rejected or not cut:
    sys.exit(1)
first_prev = max(prevs)
match = cut[0]["first"] - 1
print(len(rejected), len(set(rejected)), len(set(rejected)) + 1, appends, first_prev, match,
      cut[0]["last"] - cut[0]["first"] + 1)
'
}

# chapter DIR [up flags]: the chapter's commands on a fresh cluster; sets the counts.
chapter() {
  local name=$1 i rc
  shift
  new_cluster "$name" -n 3 --no-check-quorum "$@"
  rl transfer 1 >/dev/null || fail "transfer to 1"
  rl isolate 1 >/dev/null || fail "isolate 1"
  for i in $(seq "$kOldWrites"); do
    rl put "old$i" x --node 1 --timeout 100ms >/dev/null 2>&1
    rc=$?
    [ "$rc" = 3 ] || fail "put old$i to the isolated leader exited $rc, want 3 (unknown)"
  done
  # A put that does not reach node 1 within its 100 ms (a loaded or sanitized build) appends
  # nothing; top up, bounded, until node 1 holds enough. A put never goes elsewhere: 100 ms is
  # a single try (kv_client_options), so none of these writes can commit.
  while held=$(admin_status 1 | jfield 'j["last_index"] - j["commit"]') &&
    ((held < kOldAppendedMin && i < kOldWritesMax)); do
    i=$((i + 1))
    echo "$name: node 1 holds $held uncommitted entries; one more put" >&2
    rl put "old$i" x --node 1 --timeout 100ms >/dev/null 2>&1
    rc=$?
    [ "$rc" = 3 ] || fail "put old$i to the isolated leader exited $rc, want 3 (unknown)"
  done
  ((held >= kOldAppendedMin)) ||
    fail "node 1 holds $held uncommitted entries after $i puts, want >= $kOldAppendedMin"
  rl transfer 2 >/dev/null || fail "transfer to 2"
  for i in $(seq "$kNewWrites"); do
    rl put "new$i" y --node 2 >/dev/null 2>&1 || fail "put new$i"
  done
  rl transfer 3 >/dev/null || fail "transfer to 3"
  last3=$(admin_status 3 last_index) || fail "node 3 does not answer"
  rl heal >/dev/null && rl wait converged --timeout 10s >/dev/null || fail "heal, converge"
  local deadline=$((SECONDS + kTraceWaitS))
  until counts=$(repair_counts); do
    ((SECONDS < deadline)) || fail "no rejected, then accepted, repair of node 1 in the trace"
    sleep 0.1
  done
  read -r rejections distinct round_trips appends first_prev match cut <<<"$counts"
  echo "$name: $rejections rejections ($distinct distinct prev), $round_trips round trips," \
    "$appends AppendEntries to node 1, first prev $first_prev, match $match, node 1 cut $cut" \
    "(held $held), leader's last $last3" >&2
  ((cut >= held)) || fail "node 1 cut $cut entries, fewer than the $held it held uncommitted"
  ((first_prev > match + cut - 1)) ||
    fail "the leader's first probe ($first_prev) is not past node 1's log"
  expect_rc 1 rl get old1  # the isolated leader's writes never happened
  rl timeline --node 1 --type truncate |
    grep -qE "n1  F t[0-9]+   truncates $((match + 1))\.\.$((match + cut)) t" ||
    fail "the timeline does not show node 1's truncation"
  rl timeline --node 1 --type AppendEntries,AppendEntriesResponse,truncate,action |
    sed -n '/cli  *heal/,$p' | head -n 8 >&2
}

chapter fast
fast=$round_trips
((rejections >= 1)) || fail "fast backup: the first probe was not refused"
((round_trips <= kFastRoundTripsMax)) ||
  fail "fast backup took $round_trips round trips, want <= $kFastRoundTripsMax"
rl down >/dev/null

chapter basic --no-fast-backup
basic=$round_trips
# §5.3's basic rule: one entry back per refusal, from the first probe down to the match point.
((distinct == first_prev - match)) ||
  fail "basic: $distinct distinct refusals, want $((first_prev - match))"
((round_trips >= cut && round_trips >= kNewWrites)) ||
  fail "basic: $round_trips round trips, fewer than node 1's $cut divergent entries" \
    "or the $kNewWrites new writes"
echo "chapter_log_repair: round trips to repair: fast backup $fast, basic $basic"
exit 0
