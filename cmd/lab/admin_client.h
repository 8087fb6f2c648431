// The admin client: one request to a node's admin socket (protocol in cmd/cluster/contract.h),
// the views of every node built from their answers, the leader a majority agrees on, and
// pushing the fault rules of cluster.json to the running nodes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cmd/cluster/cluster_dir.h"
#include "cmd/lab/process.h"

namespace raftlab::lab {

constexpr uint32_t kAdminTimeoutMs = 500;  // one admin request and its answer

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
  bool timers_frozen = false;  // `raftlab timers freeze`
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

}  // namespace raftlab::lab
