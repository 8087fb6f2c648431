// Shared helpers of the lab CLI (`up`, `down`, `status`, `kill`, `partition`, `wait`, `logs`,
// `log diff`): process supervision, the admin client, node selectors, duration and ratio
// validators, free ports and output. The contract with the node process is cmd/cluster/contract.h;
// the command-line contract (flags, JSON fields, exit codes) is docs/cli.md.
//
// Every subcommand file (cmd/up.cc, down.cc, status.cc, kill.cc, partition.cc, wait.cc,
// logs.cc) has an options struct, a `setup_<name>(CLI::App&)` declared below and a
// `run_<name>(options)` that returns an exit code. Errors are thrown as LabError(exit code) and
// turned into a message on stderr and that exit code by run_command().
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cmd/cluster/cluster_dir.h"

namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace raftlab::lab {

// docs/cli.md exit codes.
constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitTimeout = 3;
constexpr int kExitEnvironment = 4;

// Bounds on everything the CLI waits for.
constexpr uint32_t kAdminTimeoutMs = 500;      // one admin request and its answer
constexpr uint32_t kStartTimeoutMs = 5000;     // a started node writes its pid and answers
constexpr uint32_t kStopTermTimeoutMs = 3000;  // SIGTERM, then SIGKILL
constexpr uint32_t kStopKillTimeoutMs = 3000;  // SIGKILL, then give up (exit 4)
constexpr uint32_t kPollIntervalMs = 20;
constexpr uint64_t kNodeIdMax = 4'294'967'295;  // ids are 32-bit on the command line
constexpr uint32_t kPortWaitMs = 2000;          // between status polls of `wait` and `up`

// ---------------------------------------------------------------------------------------------
// Parsing: durations (`150ms`, `2s`, `1m`), ratios (`10%`, `0.1`), node selectors.

/// CLOCK_MONOTONIC in nanoseconds: the clock of histories, events and latencies (never a wall
/// clock that a fault or an NTP step could move).
uint64_t monotonic_ns();

/// Milliseconds in "150ms", "2s", "1m"; nullopt if malformed or without a unit ("5" is
/// refused: is it 5 ms or 5 s?).
std::optional<uint64_t> parse_duration_ms(const std::string& text);
/// "10%" -> 0.1, "0.1" -> 0.1; nullopt if malformed or outside [0, 1].
std::optional<double> parse_ratio(const std::string& text);
/// "150ms-300ms" -> {150, 300}; nullopt if malformed or min > max.
std::optional<std::pair<uint64_t, uint64_t>> parse_duration_range(const std::string& text);

/// CLI11 validators, so a bad value is a usage error (exit 2) naming the flag.
const CLI::Validator& duration_validator();
/// As duration_validator, and more than zero (timeouts, intervals).
const CLI::Validator& positive_duration_validator();
const CLI::Validator& duration_range_validator();
/// A node id: 1 to kNodeIdMax.
const CLI::Validator& node_id_validator();
const CLI::Validator& ratio_validator();
/// Syntax of a selector: an id, a list `1,3`, `leader`, `followers`, `all`, `random`.
const CLI::Validator& selector_validator();

// ---------------------------------------------------------------------------------------------
// Processes.

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

// ---------------------------------------------------------------------------------------------
// The admin client (protocol in cmd/cluster/contract.h).

/// Sends one request to DIR/n<ID>/admin.sock and returns the answer; nullopt if the node does
/// not answer within timeout_ms (not listening, paused, gone, malformed answer).
std::optional<nlohmann::json> admin_request(const std::string& dir, NodeId id,
                                            const nlohmann::json& request,
                                            uint32_t timeout_ms = kAdminTimeoutMs);

/// What the CLI knows about one node: the process, and the admin status when it answered.
struct NodeView {
  NodeId id;
  std::optional<pid_t> pid;
  ProcessState process = ProcessState::kStopped;
  bool answered = false;    // admin status answered: the fields below are live
  bool from_files = false;  // not answered; term, commit, last and snapshot index from its WAL
  std::string role = "unknown";
  uint64_t term = 0;
  uint64_t leader = 0;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  uint64_t snapshot_index = 0;
  nlohmann::json counters = nlohmann::json::object();
  std::vector<uint64_t> voters;    // its configuration, as it answered (sorted)
  std::vector<uint64_t> learners;  // sorted
};

/// For each view: "voter", "learner" or "removed" in the leader's configuration (else the
/// newest answering node's), or "unknown" when no node answered.
std::vector<std::string> membership_of(const std::vector<NodeView>& views);

/// The view of every node of the cluster, in cluster.json order. Stopped nodes show what their
/// files tell (term, commit and last index read from the WAL) when `read_files` is set.
std::vector<NodeView> collect_views(const std::string& dir, const ClusterSpec& spec,
                                    bool read_files = false, uint32_t timeout_ms = kAdminTimeoutMs);
/// The leader a majority of the voters agree on (same leader, same term), or kNoNode.
NodeId agreed_leader(const ClusterSpec& spec, const std::vector<NodeView>& views,
                     uint64_t* term = nullptr);
/// The ids in the array `field` of an admin answer (its "voters", "learners"), sorted.
std::vector<uint64_t> id_list(const nlohmann::json& answer, const char* field);
/// Sends {"cmd":"reload_faults"} to every running node; warns on stderr about the others.
void push_faults(const std::string& dir, const ClusterSpec& spec);

// ---------------------------------------------------------------------------------------------
// Selectors, resolved when the command runs.

/// `2`, `1,3`, `leader`, `followers`, `all`, `random` -> node ids, sorted. LabError(2) naming
/// an unknown node; LabError(4) for `leader` when no leader is known.
std::vector<NodeId> resolve_selector(const std::string& selector, const std::string& dir,
                                     const ClusterSpec& spec);

// ---------------------------------------------------------------------------------------------
// Ports, output, running commands.

/// A port on 127.0.0.1 that is free now (bind to port 0). `held` keeps the sockets open so
/// several calls never return the same port; close them with close_held().
uint16_t pick_free_port(std::vector<int>& held);
void close_held(std::vector<int>& held);
/// True if 127.0.0.1:port can be bound now.
bool port_free(uint16_t port);
/// port_free, retried for up to kPortWaitMs (a just-killed node's port may linger briefly).
bool wait_port_free(uint16_t port);

nlohmann::json ids_json(const std::vector<NodeId>& ids);
std::string ids_text(const std::vector<NodeId>& ids);
/// Exactly one JSON document on stdout.
void print_json(const nlohmann::json& doc);
/// The status table (docs/cli.md: one row per node) or its JSON document.
void print_status(const ClusterSpec& spec, const std::vector<NodeView>& views, bool json);
nlohmann::json status_json(const ClusterSpec& spec, const std::vector<NodeView>& views);
/// The status table's rows, the header first; and any such table printed in aligned columns.
std::vector<std::vector<std::string>> status_rows(const ClusterSpec& spec,
                                                  const std::vector<NodeView>& views);
void print_table(const std::vector<std::vector<std::string>>& rows);

/// Adds --dir (and $RAFTLAB_DIR) to a subcommand.
void add_dir_option(CLI::App* app, std::string& dir);
/// Runs a subcommand body from a CLI11 callback: LabError and other exceptions become a message
/// on stderr and their exit code, reported to main through CLI::RuntimeError.
void run_command(const std::function<int()>& body);

// The lab subcommands (one file each; see the top of this file).
void setup_up(CLI::App& app);
void setup_down(CLI::App& app);
void setup_status(CLI::App& app);
void setup_process_commands(CLI::App& app);  // kill, start, restart, pause, resume: kill.cc
void setup_fault_commands(CLI::App& app);    // partition, isolate, cut, net, heal, faults
void setup_admin_commands(CLI::App& app);    // transfer, member, snapshot
void setup_wait(CLI::App& app);
void setup_logs(CLI::App& app);
void setup_log_diff(CLI::App& log);  // `log diff`, under `log` (added by cmd/log_dump.cc)

}  // namespace raftlab::lab
