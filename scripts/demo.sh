#!/usr/bin/env bash
# The demo: a real 5-node cluster on this machine (five `raftlab node` processes on 127.0.0.1,
# each with its own write-ahead log), walked through writes to the replicated KV store, a leader
# crash, a partition and a heal, with the status table after each step; then 10 s of
# `raftlab check` (clients under every kind of fault, then a linearizability check); `down`.
# Installs what it needs (root on Debian 12) and builds the raftlab binary first.
#
#   bash scripts/demo.sh          the process lab
#   bash scripts/demo.sh --sim    the same story in the deterministic simulator, narrated
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
# Only what the demo runs is built (the tests are scripts/test.sh's job), with cmake's progress
# shown: a first build of the raftlab binary takes about 2.5 minutes on 2 cores, later ones
# seconds.
target=raftlab
[[ "${1:-}" == "--sim" ]] && target=raftlab_sim_demo
echo "demo: building $target in build/release (first time: about 2.5 minutes on 2 cores)"
cmake -S . -B build/release -DRAFTLAB_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
build_start=$SECONDS
cmake --build build/release -j"${RAFTLAB_JOBS:-$(nproc)}" --target "$target"
echo "demo: built in $((SECONDS - build_start)) s"
if [[ "${1:-}" == "--sim" ]]; then
  shift
  exec build/release/tests/sim/raftlab_sim_demo "$@"
fi

raftlab=build/release/cmd/raftlab
dir=$(mktemp -d "${TMPDIR:-/tmp}/raftlab-demo-XXXXXX")
cleanup() {
  # Stop exactly this demo's nodes (by the pids `down` reads from $dir) and remove its files.
  timeout 30 "$raftlab" down --dir "$dir" --purge >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
rl() { "$raftlab" "$@" --dir "$dir"; }

step "raftlab up -n 5: five node processes elect a leader"
rl up -n 5
step "raftlab put / append / get: the replicated key/value store (ask any node)"
rl put greeting hello --node random
rl append greeting ", raft"
rl get greeting
step "raftlab kill leader: SIGKILL the leader; the others elect a new one, nothing is lost"
rl kill leader
rl wait leader --timeout 10s
rl get greeting
rl status
step "raftlab partition --random isolate-leader: the leader is cut off"
term_of() { grep -o '"term": *[0-9]*' | grep -o '[0-9]*$'; }
old_term=$(rl wait leader --json --timeout 10s | term_of)
rl partition --random isolate-leader
# Poll (bounded: 10 s) until a majority follows a leader of a newer term.
for _ in $(seq 1 100); do
  term=$(rl wait leader --nodes majority --json --timeout 1s 2>/dev/null | term_of || true)
  [[ -n "$term" && "$term" -gt "$old_term" ]] && break
  sleep 0.1
done
echo "(the majority elected a leader in term $term; the isolated old leader steps down once"
echo " CheckQuorum sees that it cannot reach a majority)"
rl status
step "raftlab start: the crashed node comes back on its own log"
rl start all 2>/dev/null || true
step "raftlab heal: every link is back; everyone converges on one leader and one log"
rl heal
rl wait converged --timeout 10s
rl status
rl log diff || echo "(log diff exited $?: a node is still catching up)"
step "raftlab check: 6 clients for 10 s under partitions, crashes, pauses, loss...; then the verdict"
rl check --clients 6 --duration 10s --nemesis all --nemesis-interval 1500ms ||
  echo "(check exited $?)"
step "raftlab down"
rl down
