// The contract between the lab CLI (`raftlab up`, `status`, `partition`, ...) and the node
// processes it starts (`raftlab node`): the cluster directory, cluster.json, the node
// directory, and the admin protocol. Both sides include this file; neither guesses.
//
// Cluster directory (docs/design.md §6), found through --dir, else $RAFTLAB_DIR, else
// ./raftlab-data:
//
//   DIR/cluster.json        written by `up`, rewritten (atomically: temp file, fsync, rename)
//                           by every command that changes fault rules or membership
//   DIR/cluster.lock        flock held by a command while it changes cluster.json (dir_lock.h)
//   DIR/n<ID>/lock          flock held by the node process for its whole life (dir_lock.h)
//   DIR/n<ID>/bootstrap     the node's starting voters ("1,2,3\n"), written by `up` when it
//                           creates the cluster and never again: after that the node's
//                           configuration comes from its own log and snapshots only. A node
//                           without it (added by `member add`, or rebuilt after its disk was
//                           lost) starts with no configuration and waits for a leader
//   DIR/n<ID>/pid           the node's pid, written by the node itself once it listens
//   DIR/n<ID>/node.log      the node's own log lines (stdout and stderr)
//   DIR/n<ID>/admin.sock    Unix socket, mode 0600: the admin protocol below
//   DIR/n<ID>/events.jsonl  structured events, one JSON object per line
//   DIR/n<ID>/trace.jsonl   the node's trace (docs/trace.md); trace.1.jsonl: the one before
//   DIR/actions.jsonl       what each CLI command did to the cluster (docs/trace.md), appended
//   DIR/n<ID>/wal/ snap/    persist/: the write-ahead log and snapshots
//
// cluster.json (JSON, snake_case, stable):
//   {"version": 1,
//    "cluster_id": "lab-3f9a61c2",           // refused in hellos from other clusters
//    "seed": 1,                               // the cluster's seed (fault filters, --random)
//    "nodes": [{"id": 1, "port": 41001}, ...],  // every node ever started, members or not
//    "voters": [1, 2, 3],                     // the bootstrap configuration: `up` copies it
//                                             // into each n<ID>/bootstrap; nodes never read it
//    "timing": {"tick_ms": 10, "heartbeat_ms": 50, "election_timeout_min_ms": 150,
//               "election_timeout_max_ms": 300},
//    "fsync": true,
//    "snapshot_every": 100000,                // snapshot every N applied entries; 0: never
//    "unsafe": ["read_without_heartbeat"],   // test-only UnsafeSwitches (absent normally)
//    "trace": "changes",                      // off|changes|all (docs/trace.md); absent: changes
//    "protocol": {"pre_vote": true, "check_quorum": true, "fast_backup": true,
//                 "max_inflight": 16, "max_batch": 64},  // `up --no-prevote ...`; absent: these
//    "faults": {"partition": [[1, 2], [3, 4, 5]],       // groups; unnamed nodes form one more
//               "cuts": [[1, 3]],                        // directed: 1 -> 3 dropped
//               "links": [{"from": [1], "to": [], "loss": 0.1, "delay_ms": 20,
//                          "jitter_ms": 5, "duplicate": 0.0, "reorder": 0.0}],
//               "holds": [{"from": [1], "to": [2], "types": ["AppendEntries"]}]}}
//   The "faults" object maps one to one onto net/fault_filter.h's FaultRules, plus "holds"
//   (`net hold`, absent when none): net/hold.h's HoldRules, [] meaning every node or type.
//
// Admin protocol: a client connects to DIR/n<ID>/admin.sock (through a path relative to the
// node directory: chdir there, or the 107-byte limit of sun_path bites with a deep --dir),
// writes one request as a JSON object on one line, reads one JSON object on one line as the
// answer, and may send more requests on the same connection. Every answer has "ok"; failed
// ones have "error" (a sentence). Requests:
//   {"cmd": "status"} -> {"ok": true, "id": 1, "pid": 4242, "role": "leader|follower|candidate|
//       precandidate|learner", "term": 3, "leader": 1, "commit": 10, "applied": 10,
//       "last_index": 10, "snapshot_index": 0, "voters": [1,2,3], "learners": [],
//       "port": 41001, "cluster_id": "...", "counters": {"frames_bad": 0, ...}}
//   {"cmd": "reload_faults"} -> re-reads "faults" (and "holds") from cluster.json and applies
//       them; held messages no hold rule matches any more are sent on
//   {"cmd": "held"} -> {"ok": true, "held": [{"id": "1.7", "from": 1, "to": 2, "type":
//       "AppendEntries", "term": 3, "text": "..."}], "counters": {...}} (oldest first)
//   {"cmd": "hold_deliver"|"hold_drop", "ids": ["1.7"]} or {..., "from": [1], "to": [2],
//       "types": ["AppendEntries"], "count": N} -> {"ok": true, "count": N, "unknown": [...]}
//   {"cmd": "snapshot"} -> {"ok": true, "snapshot_index": N}
//   {"cmd": "transfer", "target": 2} -> {"ok": true} once accepted (refusal: "ok": false)
//   {"cmd": "member", "op": "add"|"remove", "node": 4} -> {"ok": true, "index": N}
//   {"cmd": "timers", "op": "freeze"|"thaw"} -> {"ok": true, "timers_frozen": B} (status
//       says "timers_frozen" too; a restarted node starts thawed)
//   {"cmd": "campaign"} -> {"ok": true, "role": "precandidate|candidate|leader", "term": N}
//       (refused on a leader or a non-voter)
//   {"cmd": "shutdown"} -> {"ok": true}, then a clean exit (as on SIGTERM)
#pragma once

#include <string_view>

#include "persist/layout.h"

namespace raftlab::lab {

constexpr int kClusterJsonVersion = 1;
constexpr std::string_view kClusterJson = "cluster.json";
constexpr std::string_view kClusterLock = "cluster.lock";
constexpr std::string_view kNodeLock = "lock";
constexpr std::string_view kBootstrapFile = "bootstrap";
constexpr std::string_view kPidFile = "pid";
constexpr std::string_view kNodeLog = "node.log";
constexpr std::string_view kAdminSocket = "admin.sock";
constexpr std::string_view kEventsFile = "events.jsonl";
constexpr std::string_view kTraceFile = "trace.jsonl";
constexpr std::string_view kTraceOldFile = "trace.1.jsonl";  // kTraceFile before its rotation
constexpr std::string_view kActionsFile = "actions.jsonl";
using persist::kSnapDir;  // persist/layout.h names the node's data directories
using persist::kWalDir;
constexpr std::string_view kDefaultDir = "raftlab-data";
constexpr std::string_view kDirEnv = "RAFTLAB_DIR";
constexpr size_t kAdminLineBytesMax = 1 << 20;  // one request or answer line

}  // namespace raftlab::lab
