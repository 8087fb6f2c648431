#!/usr/bin/env bash
# A follower that lost entries is repaired at once (issue 10, item 3). The tail of a stopped
# follower's WAL is cut off by hand; started again it is behind its leader's idea of its match
# index. The leader used to drop its rejections as stale and leave it behind until leadership
# changed (40 s and more); now it resets that follower's progress from the rejection's hint.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3 --snapshot-every 0
for k in $(seq 1 60); do rl put "k$k" "v$k" >/dev/null || fail "put k$k"; done
lead=$(leader) || fail "no leader"
term=$(admin_status "$lead" term)
f=$(for n in 1 2 3; do [ "$n" = "$lead" ] || echo "$n"; done | head -n 1)
rl wait converged --timeout 10s >/dev/null || fail "not converged"
rl kill "$f" >/dev/null || fail "kill $f"
seg=$(ls -t "$D/n$f/wal/" | grep -v -i manifest | head -n 1)
size=$(stat -c %s "$D/n$f/wal/$seg")
truncate -s $((size / 2)) "$D/n$f/wal/$seg" || fail "truncate $seg"
rl start "$f" >/dev/null 2>"$WORK/err" || fail "start $f: $(cat "$WORK/err")"
# What it recovered, from its own start line (it may be repaired before we could ask it).
behind=$(grep "started: port" "$D/n$f/node.log" | tail -n 1 | sed -n 's/.*last index \([0-9]*\).*/\1/p')
want=$(admin_status "$lead" last_index)
[ -n "$behind" ] || fail "no start line in node $f's log"
[ "$behind" -lt "$want" ] || fail "node $f lost nothing (last index $behind of $want)"
# Repaired within 3 s, well under the 40 s it took, and by the same leader.
t0=$(date +%s%N)
while :; do
  [ "$(admin_status "$f" last_index)" -ge "$want" ] && break
  [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3000 ] ||
    fail "node $f still behind after 3 s: last index $(admin_status "$f" last_index) of $want"
  sleep 0.05
done
[ "$(admin_status "$lead" role)" = '"leader"' ] && [ "$(admin_status "$lead" term)" = "$term" ] ||
  fail "leadership changed: the repair must not need it"
echo "$NAME: node $f went from index $behind to $want in $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2
exit 0
