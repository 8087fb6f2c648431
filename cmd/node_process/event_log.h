// events.jsonl of one node process: one JSON object per line, buffered so the loop never
// waits on the disk for long (a write to the page cache every 100 ms). Not fsynced: events
// are for observing, and a crash losing the last 100 ms of them loses nothing the cluster
// depends on. CoreEvents turns what changed in the core after a step into event lines.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "node/core.h"

namespace raftlab::lab {

constexpr uint64_t kEventsFlushIntervalMs = 100;  // buffered events reach the file this often

class EventLog {
 public:
  ~EventLog() { close(); }
  bool open(const std::string& path);
  void emit(const std::string& event, nlohmann::json fields = nlohmann::json::object());
  void flush();
  void close();
  uint64_t dropped() const { return dropped_; }

 private:
  int fd_ = -1;
  std::string buffer_;
  uint64_t dropped_ = 0;
};

/// "learner" for a non-voting member, else the role's name.
const char* role_name(const Core& core);

/// Role, term, election and commit lines: what changed in the core since the last note().
class CoreEvents {
 public:
  CoreEvents(EventLog& events, const Core& core, NodeId id);
  /// After every step; now_ms is the loop's clock. Commit lines are throttled.
  void note(uint64_t now_ms, Index applied);
  /// Writes a commit line now if the commit moved since the last one (the flush timer).
  void flush_commit(uint64_t now_ms, Index applied);
  /// Each vote this node grants or refuses (pre-votes too), as it answers.
  void note_votes(const std::vector<Message>& messages);

 private:
  void emit_commit(uint64_t now_ms, Index applied);

  EventLog& events_;
  const Core& core_;
  NodeId id_;
  Role last_role_ = Role::kFollower;
  Term last_term_;
  Index last_commit_;           // newest commit written as an event
  NodeId commit_event_leader_;  // leader when the last commit event was written
  uint64_t commit_event_ms_ = 0;
};

/// One line on the node's log (stderr, which `up` sends to node.log), stamped with
/// CLOCK_MONOTONIC seconds: the clock of events.jsonl and histories, the same for every node
/// on the machine, so `raftlab logs all` merges them in time order.
void log_line(NodeId id, const std::string& line);

}  // namespace raftlab::lab
