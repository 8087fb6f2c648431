// The cluster's lanes on the `check --html` page: for each node, its role over the run as
// bands (leader, candidate, precandidate, follower, learner, dead) with the term of each, so
// that a violation reads against what the cluster did at that moment.
//
// Read from each node's DIR/n<ID>/events.jsonl (cmd/node_process/event_log.h), on the clock of
// the history (CLOCK_MONOTONIC ns): "started" (alive, a follower, its term), "role" (role and
// term), "term", "shutdown" and "crash" (dead). A kill -9 leaves nothing in the node's file, so
// the history's nemesis kills ("kill -9 node 2 (leader)", or a bare "2") mark a node dead too.
// A dead node comes back only with "started": a late line written before the kill landed
// cannot revive it. A node is drawn from its first event on; before that nothing is known.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cmd/checker/history.h"

namespace raftlab::check {

constexpr const char* kRoleDead = "dead";

struct LaneBand {
  int64_t from_ns = 0;  // the history's clock
  int64_t to_ns = 0;
  std::string role;  // "leader", "candidate", "precandidate", "follower", "learner", kRoleDead
  uint64_t term = 0;

  friend bool operator==(const LaneBand&, const LaneBand&) = default;
};

struct Lane {
  uint64_t node = 0;
  std::vector<LaneBand> bands;  // in time order, not overlapping, inside [from_ns, to_ns]
};

/// One node's lane over [from_ns, to_ns] from the text of its events.jsonl and the times it
/// was killed. Lines that do not parse are skipped.
Lane lane_from_events(uint64_t node, std::string_view events_jsonl,
                      const std::vector<int64_t>& kills_ns, int64_t from_ns, int64_t to_ns);

/// The lanes of every node directory in `dir` (n<ID>/ with an events.jsonl), in id order, over
/// the history's span. Throws HistoryFileError when `dir` cannot be listed.
std::vector<Lane> load_lanes(const std::string& dir, const History& history);

/// The nodes a nemesis kill event names (its value), or none.
std::vector<uint64_t> killed_nodes(std::string_view value);

}  // namespace raftlab::check
