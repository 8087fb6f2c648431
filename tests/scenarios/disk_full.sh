#!/usr/bin/env bash
# Disk full is an error, not an abort (issue 10, item 5). Each node's WAL lives on a small
# tmpfs that this test mounts (root only; skipped otherwise) and unmounts on exit. Large puts
# fill them: every node that stops must stop with its logged "fatal:" line (exit 4), never with
# "terminate called" (an exception escaping a libuv callback used to abort the process). Then
# the tmpfs grows, the nodes start again and every acknowledged put is read back.
. "$(dirname "$0")/lib.sh"
require_node
if [ "$(id -u)" != 0 ]; then
  echo "$NAME: skipped: mounting a tmpfs needs root" >&2
  exit 77
fi
# Each node's wal/ on its own 2 MB tmpfs; node.log stays on the real disk, so the node can
# still say why it stops.
new_cluster c -n 3
rl down >/dev/null || fail "down"
mounted=()
fs_cleanup() {
  local rc=$? m
  timeout 30 "$RAFTLAB" down --dir "$D" >/dev/null 2>&1
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done
  (exit $rc)
  cleanup
}
trap fs_cleanup EXIT
for n in 1 2 3; do
  mv "$D/n$n/wal" "$D/n$n/wal.orig" && mkdir "$D/n$n/wal" || fail "cannot move n$n/wal"
  if ! mount -t tmpfs -o size=2m tmpfs "$D/n$n/wal"; then
    echo "$NAME: skipped: cannot mount a tmpfs" >&2
    exit 77
  fi
  mounted+=("$D/n$n/wal")
  cp -a "$D/n$n/wal.orig/." "$D/n$n/wal/" || fail "cannot copy n$n/wal"
done
rl up --timeout 10s >/dev/null 2>"$WORK/err" || fail "up on the small disks: $(cat "$WORK/err")"
pad=$(printf '%.0s0123456789' $(seq 1 3000))  # 30,000 bytes
acked=0
for i in $(seq 1 400); do  # 400 x 30 KB is far beyond 2 MB: the disks fill first
  if rl put "k$i" "$i:$pad" --timeout 3s >/dev/null 2>"$WORK/err"; then
    acked=$i
  else
    break
  fi
done
[ "$acked" -lt 400 ] || fail "400 puts of 30 KB fit on a 2 MB disk"
echo "$NAME: $acked puts acknowledged before the disk filled" >&2

# Every node that stopped said why, and none aborted.
stopped=0
for n in 1 2 3; do
  log="$D/n$n/node.log"
  if grep -q "terminate called\|Aborted\|core dumped" "$log"; then
    fail "node $n aborted: $(grep -m1 "terminate called" "$log")"
  fi
  if [ "$(rl status --json 2>/dev/null | jfield "[x['process'] for x in j['nodes'] if x['id'] == $n][0]")" = stopped ]; then
    stopped=$((stopped + 1))
    grep -q "fatal: .*No space left on device\|fatal: .*space" "$log" ||
      fail "node $n stopped without a fatal line naming the full disk: $(tail -n 3 "$log")"
  fi
done
[ "$stopped" -ge 1 ] || fail "no node stopped on a full disk"

# Room again: every acknowledged put is there.
rl down >/dev/null 2>&1
for m in "${mounted[@]}"; do mount -o remount,size=64m "$m" || fail "cannot grow $m"; done
rl up --timeout 10s >/dev/null 2>"$WORK/err" || fail "up after the disk grew: $(cat "$WORK/err")"
for i in $(seq 1 "$acked"); do
  v=$(rl get "k$i" --timeout 5s) || fail "get k$i exited $?"
  [ "$v" = "$i:$pad" ] || fail "acknowledged put k$i lost after the disk filled (${#v} bytes)"
done
exit 0
