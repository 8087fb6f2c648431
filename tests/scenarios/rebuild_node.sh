#!/usr/bin/env bash
# A node whose disk is gone (issue 10, item 3). Restarting it empty is unsafe (it forgot the
# votes it granted and the entries it acknowledged); `raftlab rebuild ID` removes it from the
# configuration, wipes it and adds it back, so it catches up as a learner before it votes.
# Checked: the rebuilt node holds every acknowledged put, and with another node down the
# cluster still commits and reads through it.
. "$(dirname "$0")/lib.sh"
require_node
new_cluster c -n 3
for k in $(seq 1 30); do rl put "k$k" "v$k" >/dev/null || fail "put k$k"; done
lead=$(leader) || fail "no leader"
f=$(for n in 1 2 3; do [ "$n" = "$lead" ] || echo "$n"; done | head -n 1)
other=$(for n in 1 2 3; do [ "$n" = "$lead" ] || [ "$n" = "$f" ] || echo "$n"; done)

# The disk of node $f is lost.
rl kill "$f" >/dev/null || fail "kill $f"
rm -rf "${D:?}/n$f/"*
expect_rc 4 rl rebuild "$lead"  # the leader is refused: its disk is evidently fine
grep -q "leads" "$WORK/err" || fail "rebuild of the leader: $(cat "$WORK/err")"
expect_rc 2 rl rebuild 9
rl rebuild "$f" --timeout 30s >"$WORK/out" 2>"$WORK/err" ||
  fail "rebuild $f exited $?: $(cat "$WORK/err")"
grep -q "rebuilt" "$WORK/out" || fail "rebuild printed: $(cat "$WORK/out")"
[ ! -e "$D/n$f/bootstrap" ] || fail "the rebuilt node has a bootstrap file"
v=$(admin_status "$f" voters | tr -d "[] " | tr , "\n" | sort -n | paste -sd,)
[ "$v" = "1,2,3" ] || fail "node $f: voters $v"
grep -q "starting with no configuration" "$D/n$f/node.log" ||
  fail "the rebuilt node did not start without a configuration"

# With $other down, every write and read needs node $f.
rl kill "$other" >/dev/null || fail "kill $other"
rl wait leader --nodes "$lead,$f" --timeout 10s >/dev/null || fail "no leader of $lead and $f"
rl put after rebuilt --timeout 5s >/dev/null || fail "put with $f as the majority's second"
for k in $(seq 1 30); do
  [ "$(rl get "k$k" --timeout 5s)" = "v$k" ] || fail "k$k not readable"
done
c=$(admin_status "$f" commit)
[ "$c" -ge 31 ] || fail "node $f commit $c: it did not take part"
exit 0
