// `raftlab bench --failover N` (docs/cli.md): under the bench's steady put load, N times, kill -9
// the leader and time the gap from the kill to the first put acknowledged by a survivor, then
// restart the killed node and wait until the cluster has caught up before the next round.
//
// Two threads. The load runs on the bench's libuv loop and reports every acknowledged put to a
// FailoverProbe; the rounds run on a thread of their own (they block: admin polls, the kill,
// starting the node), so the load's clients never wait for them.
//
// The clients' retry rule (the same in scripts/etcd/load failover): one try is bounded by
// kFailoverTryTimeoutMs; after a timeout or a lost connection the next node is tried at once;
// a "not leader" with a hint goes to the hinted node at once, without one to the next node
// after net::kRetryBackoffMs. The client checks its deadlines every net::kSweepIntervalMs.
//
// Where the gap goes, from the survivors' traces (docs/trace.md), for the node that won:
//   detection  kill -> the first `fired` on any survivor
//   prevote    its last `precandidate` role -> its `candidate` role (0 without PreVote)
//   election   `candidate` -> `leader`
//   client     `leader` -> the first acknowledged put
// and `other`: the gap minus the four (a failed round, fired -> precandidate).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cmd/cluster/cluster_dir.h"

namespace raftlab::lab {

constexpr uint64_t kFailoverTryTimeoutMs = 300;  // one try on one node (the etcd load's too)

/// What the load tells the rounds. on_ack is called on the loop thread, the rest on the rounds'.
class FailoverProbe {
 public:
  /// A put acknowledged by `node` at t_ns (CLOCK_MONOTONIC).
  void on_ack(NodeId node, uint64_t t_ns);
  /// Arms a round: from now on the first ack from another node than `killed` is the answer.
  void arm(NodeId killed, uint64_t kill_ns);
  /// The first such ack since arm(), if any.
  std::optional<uint64_t> first_ack_ns() const;
  /// The last ack seen (any node), for "the load is flowing".
  uint64_t last_ack_ns() const;
  NodeId last_ack_node() const;

  std::atomic<bool> stop{false};  // set by the rounds when they are done: the load stops

 private:
  mutable std::mutex mu_;
  NodeId killed_;
  uint64_t kill_ns_ = 0;  // 0: not armed
  uint64_t first_ack_ns_ = 0;
  uint64_t last_ack_ns_ = 0;
  NodeId last_ack_node_;
};

/// Where one round's gap went (ms; nullopt when the trace does not say).
struct GapParts {
  std::optional<double> detection_ms;
  std::optional<double> prevote_ms;
  std::optional<double> election_ms;
  std::optional<double> client_ms;
  NodeId new_leader;
};

struct FailoverRound {
  uint32_t round = 0;
  NodeId killed;
  pid_t killed_pid = 0;
  std::optional<double> gap_ms;  // nullopt: no put acknowledged within the limit
  GapParts parts;
  double recovered_ms = 0;  // kill -> the restarted node caught up
};

struct FailoverConfig {
  uint32_t rounds = 0;
  uint64_t steady_ms = 1000;  // the load flows this long on a healthy cluster before a kill
  uint64_t limit_ms = 20000;  // a round's bound on the first ack, and on catching up
};

/// Runs the rounds on the calling thread (blocking), then sets probe.stop. LabError(4) when a
/// node cannot be started; a round without an ack has no gap (the caller exits 3).
std::vector<FailoverRound> run_failover_rounds(const std::string& dir, const ClusterSpec& spec,
                                               const FailoverConfig& config, FailoverProbe& probe);

/// {"rounds": [...], "median": {...}} (docs/cli.md, `bench --failover --json`).
nlohmann::json failover_json(const std::vector<FailoverRound>& rounds);
/// One line per round and one for the medians.
void print_failover_text(const std::vector<FailoverRound>& rounds);

}  // namespace raftlab::lab
