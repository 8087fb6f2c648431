# shellcheck shell=bash
# A local 3-member etcd cluster for scripts/bench_vs_etcd.sh, as functions to source:
#
#   source scripts/etcd/cluster.sh
#   etcd_ensure_deps                 # apt-get install what is missing (Debian 12 packages)
#   etcd_build_load OUTDIR           # builds scripts/etcd/load into OUTDIR/load -> $ETCD_LOAD
#   etcd_cluster_start WORKDIR       # members m1..m3 on 127.0.0.1 -> $ETCD_ENDPOINTS, ETCD_PIDS
#   etcd_member_start I              # start member I on its data directory
#   etcd_member_restart I            # reap member I after a kill -9 and start it again
#   etcd_failover ARGS...            # `load failover` on this cluster, restarting what it kills
#   etcd_wait_healthy [SECONDS]      # every member answers (bounded)
#   etcd_rss_json                    # the members' RSS in KiB as a JSON list
#   etcd_cluster_stop                # SIGTERM, bounded wait, SIGKILL; only our own pids
#
# Env: ETCD_MEMBERS=3, ETCD_HEARTBEAT_MS=100 ETCD_ELECTION_MS=1000 (etcd's defaults),
#      ETCD_PORT_BASE=P (member I uses client port P+2(I-1), peer port +1; default: free ports).
# Everything binds to 127.0.0.1. The caller owns the trap: call etcd_cluster_stop from it.

ETCD_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ETCD_MEMBERS=${ETCD_MEMBERS:-3} # read at etcd_cluster_start: set it before for 5 or 7
ETCD_HEARTBEAT_MS=${ETCD_HEARTBEAT_MS:-100}
ETCD_ELECTION_MS=${ETCD_ELECTION_MS:-1000}
ETCD_PORT_BASE=${ETCD_PORT_BASE:-}
# Free ports are looked for below the kernel's ephemeral range, so no outgoing connection's
# local port (ours or another program's) can take a member's port between runs.
ETCD_PORT_LOW=20000
ETCD_PORT_TRIES=50
ETCD_STOP_WAIT_TICKS=50 # x 0.1 s before SIGKILL
ETCD_FAILOVER_LINE_S=120 # longest wait for a line of `load failover` (a round is bounded by 40 s)
ETCD_GOPATH=/usr/share/gocode
declare -a ETCD_PIDS=()
declare -a ETCD_CLIENT_PORTS=()
declare -a ETCD_PEER_PORTS=()
ETCD_ENDPOINTS=""
ETCD_WORK=""

etcd_ensure_deps() {
  local -A need=([etcd-server]=1 [etcd-client]=1 [golang-go]=1 [golang-etcd-server-dev]=1)
  local missing=() p status
  for p in "${!need[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ "$(id -u)" != 0 ]]; then
    echo "etcd: missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
    return 4
  fi
  echo "etcd: installing ${missing[*]}" >&2
  # Debian's etcd-server may start a system etcd on 2379/2380 where an init system runs; we
  # leave it alone and use other ports.
  DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" </dev/null >&2 ||
    return 4
}

# GOPATH mode against Debian's Go source tree: the client and its dependencies come from
# golang-etcd-server-dev and the packages it pulls in, so the build needs no network.
etcd_build_load() {
  local out
  mkdir -p "$1"
  out=$(cd "$1" && pwd) # go wants an absolute GOCACHE
  ETCD_LOAD="$out/load"
  (cd "$ETCD_HERE/load" && GO111MODULE=off GOPATH="$ETCD_GOPATH" GOFLAGS='' GOPROXY=off \
    GOCACHE="$out/gocache" go build -o "$ETCD_LOAD" .) || {
    echo "etcd: building scripts/etcd/load failed" >&2
    return 4
  }
}

# Prints 2*ETCD_MEMBERS ports, each bound and released on 127.0.0.1 just now.
etcd_free_ports() {
  python3 - "$((2 * ETCD_MEMBERS))" "$ETCD_PORT_LOW" "$ETCD_PORT_TRIES" <<'PY'
import random, socket, sys
want, low, tries = (int(a) for a in sys.argv[1:])
high = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0]) - 1
got = []
for _ in range(tries * want):
    if len(got) == want:
        break
    p = random.randint(low, high)
    if p in got:
        continue
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p))
            got.append(p)
        except OSError:
            pass
if len(got) < want:
    sys.exit("etcd: no free ports below %d" % high)
print(" ".join(map(str, got)))
PY
}

etcd_initial_cluster() {
  local i out=""
  for ((i = 1; i <= ETCD_MEMBERS; i++)); do
    out+="${out:+,}m$i=http://127.0.0.1:${ETCD_PEER_PORTS[$i]}"
  done
  echo "$out"
}

etcd_member_start() {
  local i=$1
  local client="http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}"
  local peer="http://127.0.0.1:${ETCD_PEER_PORTS[$i]}"
  etcd --name "m$i" --data-dir "$ETCD_WORK/m$i" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "$(etcd_initial_cluster)" --initial-cluster-state new \
    --initial-cluster-token "raftlab-bench-$$" \
    --heartbeat-interval "$ETCD_HEARTBEAT_MS" --election-timeout "$ETCD_ELECTION_MS" \
    --logger zap --log-outputs stderr \
    </dev/null >>"$ETCD_WORK/m$i.log" 2>&1 &
  ETCD_PIDS[i]=$!
  # Out of the job table: bash still reaps it, but says nothing when a failover test kills it.
  # Liveness is read from /proc (etcd_running), never from `wait`.
  disown "${ETCD_PIDS[i]}"
}

# After a kill -9: start the member again on its data directory.
etcd_member_restart() {
  local i=$1
  if etcd_running "${ETCD_PIDS[$i]}"; then
    echo "etcd: member $i (pid ${ETCD_PIDS[$i]}) is still running" >&2
    return 4
  fi
  etcd_member_start "$i"
}

etcd_wait_healthy() {
  local limit_s=${1:-30} deadline
  deadline=$((SECONDS + limit_s))
  while ((SECONDS < deadline)); do
    etcdctl --endpoints="$ETCD_ENDPOINTS" --dial-timeout=1s --command-timeout=2s \
      endpoint health >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "etcd: cluster not healthy after ${limit_s}s (logs in $ETCD_WORK)" >&2
  return 3
}

# Refuses a member that listens anywhere but loopback (a flag we did not expect to need).
etcd_check_loopback() {
  local pids
  pids=$(IFS='|'; echo "${ETCD_PIDS[*]}")
  if ss -ltnpH | grep -E "pid=($pids)," | awk '{print $4}' | grep -vq '^127\.0\.0\.1:'; then
    echo "etcd: a member listens on a non-loopback address" >&2
    return 4
  fi
}

etcd_cluster_start() {
  ETCD_WORK=$1
  mkdir -p "$ETCD_WORK"
  local ports i
  if [[ -n "$ETCD_PORT_BASE" ]]; then
    ports=$(seq "$ETCD_PORT_BASE" $((ETCD_PORT_BASE + 2 * ETCD_MEMBERS - 1)) | tr '\n' ' ')
  else
    ports=$(etcd_free_ports) || return 4
  fi
  read -r -a ports <<<"$ports"
  ETCD_ENDPOINTS=""
  for ((i = 1; i <= ETCD_MEMBERS; i++)); do
    ETCD_CLIENT_PORTS[i]=${ports[$((2 * i - 2))]}
    ETCD_PEER_PORTS[i]=${ports[$((2 * i - 1))]}
    ETCD_ENDPOINTS+="${ETCD_ENDPOINTS:+,}127.0.0.1:${ETCD_CLIENT_PORTS[$i]}"
  done
  for ((i = 1; i <= ETCD_MEMBERS; i++)); do etcd_member_start "$i"; done
  etcd_wait_healthy 30 || return
  etcd_check_loopback
}

etcd_rss_json() {
  local out="" i kb
  for ((i = 1; i <= ETCD_MEMBERS; i++)); do
    kb=$(awk '/VmRSS/{print $2}' "/proc/${ETCD_PIDS[$i]}/status" 2>/dev/null || true)
    out+="${out:+,}${kb:-null}"
  done
  echo "[$out]"
}

# Comma-separated member pids in member order (for `load failover -pids`).
etcd_pids_csv() {
  local IFS=,
  echo "${ETCD_PIDS[*]}" # index 0 is never set
}

# Comma-separated member logs in member order (zap JSON: `load failover -logs` reads elections).
etcd_logs_csv() {
  local i out=""
  for ((i = 1; i <= ETCD_MEMBERS; i++)); do out+="${out:+,}$ETCD_WORK/m$i.log"; done
  echo "$out"
}

# True while pid $1 is one of our members, running. Not kill -0: it succeeds on a zombie, which
# a killed member is until bash reaps it; and the command line must name our work directory, so
# a pid reused by another process after a member died is never signalled.
etcd_running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z ]] || return 1
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "--data-dir $ETCD_WORK/m"
}

etcd_cluster_stop() {
  local i p t
  for i in "${!ETCD_PIDS[@]}"; do
    p=${ETCD_PIDS[$i]}
    etcd_running "$p" && kill "$p" 2>/dev/null
  done
  for i in "${!ETCD_PIDS[@]}"; do
    p=${ETCD_PIDS[$i]}
    for ((t = 0; t < ETCD_STOP_WAIT_TICKS; t++)); do
      etcd_running "$p" || break
      sleep 0.1
    done
    etcd_running "$p" && kill -9 "$p" 2>/dev/null
  done
  ETCD_PIDS=()
  return 0
}

# etcd_failover ARGS...: `$ETCD_LOAD failover` on this cluster with ARGS (-rounds, -clients...).
# It SIGKILLs the leader and says "killed I PID" (I from 0, in endpoint order); we restart that
# member here, where its pid is tracked for etcd_cluster_stop, and answer "restarted NEWPID" on
# its stdin (two FIFOs in the work directory). Prints its JSON report on stdout and returns its
# exit code (3 when it falls silent for ETCD_FAILOVER_LINE_S, 4 when a restart fails). Call it
# in this shell, not in a pipeline or $(...): the restarts must update this shell's ETCD_PIDS.
etcd_failover() {
  local line report="" rc=0 st i pid in out lpid
  local fin="$ETCD_WORK/failover.in" fout="$ETCD_WORK/failover.out"
  rm -f "$fin" "$fout"
  mkfifo "$fin" "$fout" || return 4
  "$ETCD_LOAD" failover -endpoints "$ETCD_ENDPOINTS" -pids "$(etcd_pids_csv)" \
    -logs "$(etcd_logs_csv)" "$@" \
    <"$fin" >"$fout" &
  lpid=$!
  exec {in}>"$fin" {out}<"$fout"
  # Bounded: each line comes within ETCD_FAILOVER_LINE_S, and the load's rounds are bounded.
  while true; do
    IFS= read -r -t "$ETCD_FAILOVER_LINE_S" line <&"$out"
    st=$?
    if ((st > 128)); then
      echo "etcd: load failover said nothing for ${ETCD_FAILOVER_LINE_S}s" >&2
      rc=3
      break
    fi
    ((st == 0)) || break # it closed its output: it has exited
    case $line in
    "killed "*)
      read -r _ i pid <<<"$line"
      i=$((i + 1))
      if [[ "${ETCD_PIDS[$i]:-}" != "$pid" ]]; then
        echo "etcd: load failover killed pid $pid, not member $i's" >&2
        rc=4
        break
      fi
      etcd_member_restart "$i" || {
        rc=4
        break
      }
      echo "restarted ${ETCD_PIDS[$i]}" >&"$in"
      ;;
    "{"*) report=$line ;;
    esac
  done
  ((rc == 0)) || kill "$lpid" 2>/dev/null
  exec {in}>&- {out}<&-
  wait "$lpid"
  st=$?
  ((rc != 0)) || rc=$st
  rm -f "$fin" "$fout"
  [[ -z "$report" ]] || echo "$report"
  return "$rc"
}
