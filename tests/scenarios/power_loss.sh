#!/usr/bin/env bash
# Power loss (issue 14 §2): rounds of acknowledged puts in the background, `crash all
# --lose-unsynced --tear` in the middle of them, `start all`, then every acknowledged put must
# read back: the default build never loses one. Then the same with `--unsafe
# release_before_persist` (a follower answers AppendEntries before the entries are durable),
# counting the acknowledged puts it loses.
#
# RAFTLAB_POWER_ROUNDS: rounds on the default build (default 5; the issue's measure is 50).
# RAFTLAB_POWER_UNSAFE_ROUNDS: at most this many rounds on the unsafe build to see a loss
# (default 5): a loss needs the cut to land between an acknowledgement and the fdatasyncs of
# the nodes, so it is possible per round, not certain; RAFTLAB_POWER_REQUIRE_UNSAFE_LOSS=1
# makes seeing none a failure.
# Prints "power_loss: MODE: L losses in R rounds (A acknowledged puts)" for each mode.
. "$(dirname "$0")/lib.sh"
require_node

ROUNDS=${RAFTLAB_POWER_ROUNDS:-5}
UNSAFE_ROUNDS=${RAFTLAB_POWER_UNSAFE_ROUNDS:-5}
WRITERS=6              # concurrent writer loops
PUTS_PER_WRITER=400    # bound on each writer's loop
ACKS_BEFORE_CUT=15     # acknowledged puts (all writers) before the cut
WAIT_ACKS_TRIES=200    # x 50 ms: bound on waiting for them
# Large values make each fdatasync take longer, so that an acknowledgement sent before it (the
# unsafe switch) lands inside a cut more often; at most 128 KiB (one command-line argument).
VALUE_BYTES=${RAFTLAB_POWER_VALUE_BYTES:-65536}
PAD=$(head -c "$VALUE_BYTES" /dev/zero | tr '\0' x)

# writer ROUND W: puts r<ROUND>w<W>k<I> = v<I> (padded) until one fails; each acknowledged key is
# appended to acked.ROUND.
writer() {
  local i
  for i in $(seq 1 "$PUTS_PER_WRITER"); do
    rl put "r$1w$2k$i" "v$i$PAD" --timeout 2s >/dev/null 2>&1 || return 0
    echo "r$1w$2k$i v$i" >>"$WORK/acked.$1"
  done
}

# round R: one cut during writes; prints how many acknowledged puts were lost, and appends
# the number acknowledged to $WORK/acks.
round() {
  local r=$1 k pids=() tries=0 lost=0 key val got
  : >"$WORK/acked.$r"
  for k in $(seq 1 "$WRITERS"); do
    writer "$r" "$k" &
    pids+=($!)
  done
  while [ "$(wc -l <"$WORK/acked.$r")" -lt "$ACKS_BEFORE_CUT" ]; do
    tries=$((tries + 1))
    [ "$tries" -le "$WAIT_ACKS_TRIES" ] || fail "round $r: fewer than $ACKS_BEFORE_CUT puts acknowledged"
    sleep 0.05
  done
  rl crash all --lose-unsynced --tear >"$WORK/crash.$r" 2>&1 || fail "round $r: crash: $(cat "$WORK/crash.$r")"
  wait "${pids[@]}"
  rl start all >/dev/null 2>&1 || fail "round $r: start all"
  rl wait leader --timeout 20s >/dev/null 2>&1 || fail "round $r: no leader after the power cut"
  while read -r key val; do
    got=$(rl get "$key" --timeout 5s 2>/dev/null)
    [ "$got" = "$val$PAD" ] || lost=$((lost + 1))
  done <"$WORK/acked.$r"
  wc -l <"$WORK/acked.$r" >>"$WORK/acks"
  echo "$lost"
}

# run_mode NAME ROUNDS STOP_AT_LOSS [up flags...]: sets LOSSY (rounds that lost a put) and RAN.
run_mode() {
  local name=$1 rounds=$2 stop=$3 r losses=0 n
  shift 3
  LOSSY=0
  RAN=0
  new_cluster "$name" -n 3 "$@"
  : >"$WORK/acks"
  for r in $(seq 1 "$rounds"); do
    n=$(round "$r") || exit 1
    RAN=$r
    losses=$((losses + n))
    [ "$n" -gt 0 ] && LOSSY=$((LOSSY + 1))
    [ "$stop" = 1 ] && [ "$n" -gt 0 ] && break
  done
  rl down >/dev/null 2>&1
  echo "$NAME: $name: $losses acknowledged puts lost, in $LOSSY of $RAN rounds" \
    "($(awk '{s += $1} END {print s}' "$WORK/acks") acknowledged)" >&2
}

run_mode safe "$ROUNDS" 0
[ "$RAN" = "$ROUNDS" ] || fail "the default build ran $RAN of $ROUNDS rounds"
[ "$LOSSY" = 0 ] || fail "the default build lost acknowledged puts in $LOSSY rounds"

run_mode unsafe "$UNSAFE_ROUNDS" "${RAFTLAB_POWER_STOP_AT_LOSS:-1}" --unsafe release_before_persist
# Measured on an ext4 virtio disk: its fdatasync returns within about a millisecond, so the cut
# seldom lands between an early acknowledgement and the sync (0 losses in 50 rounds): the
# unsafe run is a measurement, asserted only on request.
if [ "${RAFTLAB_POWER_REQUIRE_UNSAFE_LOSS:-0}" = 1 ] && [ "$LOSSY" -eq 0 ]; then
  fail "release_before_persist lost nothing in $RAN rounds"
fi
exit 0
