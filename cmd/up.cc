// `raftlab up`: create a cluster directory and start its nodes, or restart a stopped cluster on
// its data; then wait for a leader and print the status table.
#include <signal.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <thread>

#include "cmd/cluster/contract.h"
#include "cmd/cluster/dir_lock.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/actions.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/command.h"
#include "cmd/lab/output.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/ports.h"
#include "cmd/lab/process.h"
#include "cmd/verbs.h"
#include "node/config.h"

namespace raftlab::lab {
namespace {

constexpr uint32_t kNodesMax = 64;

struct UpOptions {
  std::string dir;
  uint32_t nodes = 3;
  uint16_t base_port = 0;  // 0: free ports
  std::string election_timeout = "150ms-300ms";
  std::string heartbeat = "50ms";
  std::optional<uint64_t> seed;
  bool no_fsync = false;
  uint64_t snapshot_every = 100000;
  std::vector<std::string> unsafe;  // test-only switches (node/config.h UnsafeSwitches)
  bool no_wait = false;
  std::string timeout = "10s";
  bool fresh = false;
  bool json = false;
  std::string trace;     // off|changes|all; empty: changes, or the recorded level on a restart
  bool n_given = false;  // -n or timing flags given: refused on an existing cluster
  // Protocol switches (cluster.json "protocol"): each given one is applied, on a new cluster
  // or a restart; one not given keeps what the cluster has.
  bool no_prevote = false;
  bool no_check_quorum = false;
  bool no_fast_backup = false;
  std::optional<uint32_t> max_inflight;
  std::optional<uint32_t> max_batch;
};

// Applies the protocol flags given; true if that changed anything.
bool apply_protocol_flags(const UpOptions& o, ProtocolSpec& p) {
  const ProtocolSpec before = p;
  if (o.no_prevote) p.pre_vote = false;
  if (o.no_check_quorum) p.check_quorum = false;
  if (o.no_fast_backup) p.fast_backup = false;
  if (o.max_inflight) p.max_inflight = *o.max_inflight;
  if (o.max_batch) p.max_batch = *o.max_batch;
  return !(p == before);
}

std::string random_cluster_id() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "lab-%08x", static_cast<unsigned>(rd()));
  return buf;
}

std::vector<NodeId> live_nodes(const std::string& dir, const ClusterSpec& spec) {
  std::vector<NodeId> live;
  for (const NodeSpec& n : spec.nodes) {
    if (live_node_pid(dir, n.id)) live.push_back(n.id);
  }
  return live;
}

ClusterSpec new_spec(const UpOptions& o) {
  ClusterSpec spec;
  spec.cluster_id = random_cluster_id();
  spec.seed = o.seed ? *o.seed : std::random_device{}() % 1'000'000;
  const auto [lo, hi] = *parse_duration_range(o.election_timeout);
  spec.timing.heartbeat_ms = static_cast<uint32_t>(*parse_duration_ms(o.heartbeat));
  spec.timing.election_timeout_min_ms = static_cast<uint32_t>(lo);
  spec.timing.election_timeout_max_ms = static_cast<uint32_t>(hi);
  // A tick fine enough for the heartbeat (at least 5 ticks per heartbeat, at most 10 ms).
  spec.timing.tick_ms = std::clamp<uint32_t>(spec.timing.heartbeat_ms / 5, 1, 10);
  if (spec.timing.heartbeat_ms >= spec.timing.election_timeout_min_ms) {
    throw LabError(kExitUsage, "--heartbeat must be shorter than the election timeout");
  }
  spec.fsync = !o.no_fsync;
  spec.snapshot_every = o.snapshot_every;
  spec.unsafe = o.unsafe;
  if (!o.trace.empty()) spec.trace = *parse_trace_level(o.trace);
  apply_protocol_flags(o, spec.protocol);
  std::vector<int> held;
  for (uint32_t k = 1; k <= o.nodes; ++k) {
    uint16_t port = 0;
    if (o.base_port != 0) {
      const uint32_t p = o.base_port + k - 1;
      if (p > 65535)
        throw LabError(kExitUsage,
                       "--base-port leaves no room for " + std::to_string(o.nodes) + " nodes");
      port = static_cast<uint16_t>(p);
    } else {
      port = pick_free_port(held);
    }
    spec.nodes.push_back(NodeSpec{NodeId(k), port});
    spec.voters.push_back(NodeId(k));
  }
  close_held(held);
  return spec;
}

// True if DIR holds nothing but the cluster lock (which `up` itself may have just created).
bool empty_but_lock(const std::string& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename() != kClusterLock) return false;
  }
  return true;
}

// --fresh: everything in DIR goes but the lock we hold (removing it would let another command
// lock a new file while we still work).
void wipe_but_lock(const std::string& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename() != kClusterLock) std::filesystem::remove_all(entry.path());
  }
}

// Spawns every node and waits until each answers; on failure kills what did start.
void start_all(const std::string& dir, const ClusterSpec& spec) {
  std::vector<std::pair<NodeId, pid_t>> started;
  try {
    for (const NodeSpec& n : spec.nodes) started.emplace_back(n.id, spawn_node(dir, n.id));
    await_started(dir, started);
  } catch (const LabError&) {
    // Leave nothing half-started behind: stop what did start.
    for (const auto& [id, pid] : started) {
      if (process_state(pid) != ProcessState::kStopped) ::kill(pid, SIGKILL);
    }
    throw;
  }
}

// Waits until a majority agrees on a leader: kExitOk, or kExitTimeout after `timeout`.
int wait_for_leader(const std::string& dir, const ClusterSpec& spec, const std::string& timeout) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(*parse_duration_ms(timeout));
  while (!agreed_leader(spec, collect_views(dir, spec))) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "raftlab: no leader elected within " << timeout << "\n";
      return kExitTimeout;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::cerr << "raftlab: leader elected " << ms << " ms after the nodes answered\n";
  return kExitOk;
}

int run_up(const UpOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const std::string json_path = dir + "/" + std::string(kClusterJson);
  // One `up` at a time per directory, from the first look at it until its nodes run: a second
  // one then finds live nodes and refuses, instead of starting nodes of its own on the same
  // node directories (and writing a cluster.json with another id).
  std::filesystem::create_directories(dir);
  DirLock lock = lock_cluster_dir(dir);
  const bool exists = std::filesystem::exists(json_path);
  if (exists) {
    const ClusterSpec old = load_cluster(dir);
    const std::vector<NodeId> live = live_nodes(dir, old);
    if (!live.empty()) {
      throw LabError(kExitEnvironment, "the cluster at " + dir + " has live nodes (" +
                                           ids_text(live) + "); use `raftlab down` first" +
                                           (o.fresh ? "" : " or `raftlab start SEL`"));
    }
    if (o.fresh) {
      wipe_but_lock(dir);
    } else if (o.n_given) {
      std::cerr << "raftlab: " << dir
                << " holds a stopped cluster: starting it as it was (flags of a new cluster "
                   "ignored; --fresh wipes it)\n";
    }
  } else if (o.fresh && !empty_but_lock(dir)) {
    // --fresh wipes cluster directories only: a mistyped --dir must not erase a home directory.
    throw LabError(kExitEnvironment, dir +
                                         " holds no cluster.json; --fresh wipes only a cluster "
                                         "directory");
  }
  const bool create = !exists || o.fresh;
  ClusterSpec spec = create ? new_spec(o) : load_cluster(dir);
  // Checked before anything is written: a refused `up` leaves no cluster behind.
  for (const NodeSpec& n : spec.nodes) {
    if (!(create ? port_free(n.port) : wait_port_free(n.port))) {
      throw LabError(kExitEnvironment, "port " + std::to_string(n.port) + " of node " +
                                           std::to_string(n.id.get()) + " is in use");
    }
  }
  if (create) {
    for (const NodeSpec& n : spec.nodes) {
      std::filesystem::create_directories(node_dir(dir, n.id));
      // Each node's starting configuration, used once: after its first start a node takes its
      // configuration from its own log (cluster.json's "voters" is never read again).
      write_bootstrap(node_dir(dir, n.id), spec.voters);
    }
    save_cluster(dir, spec);
  } else {
    // Unlike the flags of a new cluster, the trace level and the protocol switches may change
    // on a restart: the nodes behave differently, but every setting is safe with any log.
    const bool trace_changed = !o.trace.empty() && spec.trace != *parse_trace_level(o.trace);
    if (trace_changed) spec.trace = *parse_trace_level(o.trace);
    if (apply_protocol_flags(o, spec.protocol) || trace_changed) save_cluster(dir, spec);
  }
  start_all(dir, spec);
  lock.release();  // the leader is waited for without it
  std::vector<NodeId> ids;
  for (const NodeSpec& n : spec.nodes) ids.push_back(n.id);
  record_action(dir, "up", ids,
                std::string(create ? "up: created " : "up: restarted ") + ids_text(ids) +
                    " (trace " + to_string(spec.trace) + ", protocol " +
                    protocol_text(spec.protocol) + ")");
  std::cerr << "raftlab: " << (create ? "created" : "restarted") << " cluster " << spec.cluster_id
            << " at " << dir << " (" << spec.nodes.size() << " nodes, seed " << spec.seed << ")\n";
  const int code = o.no_wait ? kExitOk : wait_for_leader(dir, spec, o.timeout);
  print_status(spec, collect_views(dir, spec, true), o.json);
  return code;
}

// The protocol switches, for side-by-side comparison (each kept on a restart unless given).
void add_protocol_flags(CLI::App& cmd, UpOptions& o) {
  cmd.add_flag("--no-prevote", o.no_prevote, "Campaign without the PreVote round (thesis §9.6)");
  cmd.add_flag("--no-check-quorum", o.no_check_quorum,
               "A leader that hears from no majority does not step down (thesis §6.2)");
  cmd.add_flag("--no-fast-backup", o.no_fast_backup,
               "Repair a follower's log one entry per round trip (§5.3's basic rule)");
  cmd.add_option("--max-inflight", o.max_inflight,
                 "Unacknowledged AppendEntries per follower (default 16)")
      ->check(CLI::Range(1u, kProtocolLimitMax));
  cmd.add_option("--max-batch", o.max_batch, "Entries per AppendEntries (default 64)")
      ->check(CLI::Range(1u, kProtocolLimitMax));
}

}  // namespace

void setup_up(CLI::App& app) {
  auto o = std::make_shared<UpOptions>();
  CLI::App* cmd = add_verb(
      app, "up", "Create the cluster (or start a stopped one on its data) and wait for a leader",
      o->dir);
  CLI::Option* n = cmd->add_option("-n,--nodes", o->nodes, "Number of nodes (default 3)")
                       ->check(CLI::Range(1u, kNodesMax));
  CLI::Option* bp = cmd->add_option("--base-port", o->base_port,
                                    "Ports P, P+1, ... on 127.0.0.1 (default: free ports)")
                        ->check(CLI::Range(1, 65535));
  CLI::Option* et = cmd->add_option("--election-timeout", o->election_timeout,
                                    "Election timeout range (default 150ms-300ms)")
                        ->check(duration_range_validator());
  CLI::Option* hb =
      cmd->add_option("--heartbeat", o->heartbeat, "Heartbeat interval (default 50ms)")
          ->check(positive_duration_validator());
  CLI::Option* seed = cmd->add_option("--seed", o->seed, "The cluster's seed (default: random)");
  cmd->add_flag("--no-fsync", o->no_fsync, "Do not fsync the WAL (fast, not crash-safe)");
  cmd->add_option("--snapshot-every", o->snapshot_every,
                  "Snapshot every N applied entries (default 100000; 0: never)");
  // Test-only, hidden from --help: breaks the cluster on purpose (a checker must catch it).
  cmd->add_option("--unsafe", o->unsafe, "")
      ->group("")
      ->check(CLI::Validator(
          [](std::string& name) {
            UnsafeSwitches s;
            return set_unsafe_switch(s, name) ? std::string()
                                              : "unknown unsafe switch '" + name + "'";
          },
          "SWITCH"));
  cmd->add_flag("--no-wait", o->no_wait, "Do not wait for a leader");
  cmd->add_option("--timeout", o->timeout, "Bound on the wait for a leader (default 10s)")
      ->check(positive_duration_validator());
  cmd->add_flag("--fresh", o->fresh, "Wipe DIR first (refused while nodes are live)");
  cmd->add_flag("--json", o->json, "Print the status as one JSON document");
  cmd->add_option("--trace", o->trace,
                  "What each node writes to n<ID>/trace.jsonl: off, changes (default: all but "
                  "heartbeats that change nothing) or all; kept on a restart unless given")
      ->check(CLI::IsMember({"off", "changes", "all"}));
  add_protocol_flags(*cmd, *o);
  cmd->callback([o, n, bp, et, hb, seed] {
    o->n_given = n->count() + bp->count() + et->count() + hb->count() + seed->count() > 0;
    run_command([o] { return run_up(*o); });
  });
}

}  // namespace raftlab::lab
