// Process supervision: starting a node process detached, finding its pid (never a reused one),
// its state, stopping it with a bound, and the tail of its node.log for error messages.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cmd/cluster/cluster_dir.h"

namespace raftlab::lab {

// Bounds on everything the CLI waits for from a node process.
constexpr uint32_t kStartTimeoutMs = 5000;     // a started node writes its pid and answers
constexpr uint32_t kStopTermTimeoutMs = 3000;  // SIGTERM, then SIGKILL
constexpr uint32_t kStopKillTimeoutMs = 3000;  // SIGKILL, then give up (exit 4)
constexpr uint32_t kPollIntervalMs = 20;

enum class ProcessState { kRunning, kPaused, kStopped };
const char* to_string(ProcessState s);

/// The absolute, normalized cluster directory (as passed to nodes and compared in cmdlines).
std::string absolute_dir(const std::string& dir);

/// The pid of node `id` of the cluster in `dir`, read from its pid file and trusted only if
/// /proc/PID/cmdline is `... node --dir DIR --id ID` for this very DIR and ID (a reused pid is
/// never signalled) and the process is not a zombie. nullopt otherwise.
std::optional<pid_t> live_node_pid(const std::string& dir, NodeId id);
/// Running (R, S, D...), paused (T: SIGSTOP) or stopped (gone or a zombie).
ProcessState process_state(pid_t pid);
ProcessState node_process_state(const std::string& dir, NodeId id);

/// Starts `raftlab node --dir DIR --id ID` (this very binary) detached: its own session,
/// stdin from /dev/null, stdout and stderr appended to n<ID>/node.log. Returns its pid.
pid_t spawn_node(const std::string& dir, NodeId id);
/// spawn_node, then waits until the node's pid file names it and it answers admin status.
/// LabError(4) with the tail of node.log if it exits or does not answer in time.
pid_t start_node(const std::string& dir, NodeId id);
/// Waits for several spawned nodes at once (see start_node).
void await_started(const std::string& dir, const std::vector<std::pair<NodeId, pid_t>>& started);
/// Sends `sig` (and SIGCONT, so a paused node handles SIGTERM) and waits until the pid is gone;
/// escalates to SIGKILL after kStopTermTimeoutMs when sig is SIGTERM. LabError(4) if it lingers.
void stop_pid(pid_t pid, int sig);
/// True once `pid` is gone or a zombie, waiting at most timeout_ms.
bool wait_pid_gone(pid_t pid, uint32_t timeout_ms);
/// The last lines of a node's node.log, for error messages.
std::string node_log_tail(const std::string& dir, NodeId id, size_t lines);

}  // namespace raftlab::lab
