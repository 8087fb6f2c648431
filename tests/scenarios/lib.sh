# Shared by the scenario scripts (sourced). Each scenario starts its own clusters under a fresh
# mktemp directory, bounds every wait, and on EXIT, pass or fail, stops exactly its processes
# by pid (`raftlab down`, then SIGKILL for any recorded pid that still runs this directory's
# node) and removes the directory.
#
# Usage: scenario.sh RAFTLAB_BINARY. Exit 0 pass, 1 fail, 77 skipped (no `raftlab node`).
set -u
RAFTLAB=${1:?usage: $0 path/to/raftlab}
NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/raftlab-$NAME-XXXXXX")
unset RAFTLAB_DIR
T0=$(date +%s%N)

cleanup() {
  local rc=$? d f pid
  for d in "$WORK"/*/; do
    d=${d%/}
    [ -f "$d/cluster.json" ] || continue
    timeout 30 "$RAFTLAB" down --dir "$d" >/dev/null 2>&1
    for f in "$d"/n*/pid; do
      [ -f "$f" ] || continue
      pid=$(cat "$f" 2>/dev/null) || continue
      # Only a pid that still runs this directory's node: a reused pid is left alone.
      if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--dir $d "; then
        echo "$NAME: cleanup: SIGKILL leftover pid $pid ($f)" >&2
        kill -9 "$pid" 2>/dev/null
      fi
    done
  done
  rm -rf "$WORK"
  echo "$NAME: $([ $rc -eq 0 ] && echo PASS || ([ $rc -eq 77 ] && echo SKIP || echo "FAIL ($rc)")) in $(( ($(date +%s%N) - T0) / 1000000 )) ms" >&2
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# rl ARGS...: raftlab on the current cluster ($D).
rl() { "$RAFTLAB" "$@" --dir "$D"; }

fail() {
  echo "$NAME: FAIL: $*" >&2
  if [ -n "${D:-}" ] && [ -f "$D/cluster.json" ]; then
    "$RAFTLAB" status --dir "$D" >&2
    for f in "$D"/n*/node.log; do echo "--- $f (tail)" >&2; tail -n 15 "$f" >&2; done
  fi
  exit 1
}

# expect_rc CODE CMD...: run CMD, fail unless it exits CODE.
expect_rc() {
  local want=$1 rc
  shift
  "$@" >"$WORK/out" 2>"$WORK/err"
  rc=$?
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want; stderr: $(cat "$WORK/err")"
}

# jfield EXPR < json: a Python expression over `j`, the parsed document.
jfield() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

require_node() {
  # `node` is hidden from --help; its own help names it.
  "$RAFTLAB" node --help 2>/dev/null | grep -q "raftlab node" && return 0
  echo "$NAME: skipped: this raftlab has no node subcommand yet" >&2
  exit 77
}

# new_cluster NAME [up flags...]: sets D and brings a cluster up with a bounded wait.
new_cluster() {
  D="$WORK/$1"
  shift
  "$RAFTLAB" up --dir "$D" --timeout 10s "$@" >"$WORK/up.out" 2>"$WORK/up.err" ||
    fail "up exited $?: $(cat "$WORK/up.err")"
}

leader() { rl wait leader --json --timeout "${1:-10s}" | jfield 'j["leader"]'; }

# wait_until SECONDS WHAT CMD...: runs CMD every 0.2 s until it succeeds; fails naming WHAT
# after SECONDS.
wait_until() {
  local seconds=$1 deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || fail "$what: not within $seconds s"
    sleep 0.2
  done
}
# status_field ID FIELD: FIELD of node ID in `status --json` on the current cluster ($D).
status_field() { rl status --json | jfield "[n['$2'] for n in j['nodes'] if n['id'] == $1][0]"; }

# admin_status ID [FIELD]: node ID's admin status on the current cluster ($D), as JSON, or one
# field of it. Exit 1 if the node does not answer within 2 s.
admin_status() {
  python3 - "$D/n$1" "${2:-}" <<'PY'
import json, os, socket, sys
os.chdir(sys.argv[1])  # the socket is reached by a relative path (sun_path holds 107 bytes)
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
try:
    s.connect("admin.sock")
    s.sendall(b'{"cmd":"status"}\n')
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    j = json.loads(buf)
except (OSError, ValueError):
    sys.exit(1)
print(json.dumps(j[sys.argv[2]]) if sys.argv[2] else json.dumps(j))
PY
}
