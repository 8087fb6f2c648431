// Configuration of one Raft core. Time is counted in ticks: the host decides how long a tick is.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "node/types.h"

namespace raftlab {

/// Test-only switches, each breaking exactly one rule of Raft. They exist so the simulator can
/// show that its checkers catch the bug (a green soak without them proves nothing). All off in
/// any real use; the node host refuses to enable them.
struct UnsafeSwitches {
  bool commit_previous_term_by_counting = false;  // ignore §5.4.2 / Figure 8
  bool vote_without_log_check = false;            // ignore §5.4.1's up-to-date test
  bool vote_before_persist = false;               // answer a vote before it is durable
  bool apply_twice = false;                       // hand one committed entry to apply twice
  bool skip_consistency_check = false;            // accept AppendEntries without §5.3's check
  bool read_without_heartbeat = false;            // ReadIndex without confirming leadership
  bool config_on_commit = false;                  // membership takes effect on commit (§4.1)
  bool concurrent_config_changes = false;         // allow a second change while one is pending
  // The host pipeline's (node/pipeline.h), not the core's: send messages_after_persist at
  // once, before the sync that makes what they report durable.
  bool release_before_persist = false;

  bool any() const {
    return commit_previous_term_by_counting || vote_without_log_check || vote_before_persist ||
           apply_twice || skip_consistency_check || read_without_heartbeat || config_on_commit ||
           concurrent_config_changes || release_before_persist;
  }
};

/// Turns on the switch named like its field ("read_without_heartbeat"); false if unknown.
inline bool set_unsafe_switch(UnsafeSwitches& s, std::string_view name) {
  bool* field = name == "commit_previous_term_by_counting" ? &s.commit_previous_term_by_counting
                : name == "vote_without_log_check"         ? &s.vote_without_log_check
                : name == "vote_before_persist"            ? &s.vote_before_persist
                : name == "apply_twice"                    ? &s.apply_twice
                : name == "skip_consistency_check"         ? &s.skip_consistency_check
                : name == "read_without_heartbeat"         ? &s.read_without_heartbeat
                : name == "config_on_commit"               ? &s.config_on_commit
                : name == "concurrent_config_changes"      ? &s.concurrent_config_changes
                : name == "release_before_persist"         ? &s.release_before_persist
                                                           : nullptr;
  if (field == nullptr) return false;
  *field = true;
  return true;
}

struct Config {
  NodeId id;  // this node
  // The cluster's first configuration (bootstrap), until the log or a snapshot says otherwise.
  // A node joining an existing cluster starts with an empty list: it waits to be contacted.
  std::vector<NodeId> voters;

  // Timing (§5.2, §9.3). The election timeout is drawn anew from [min, max) at every reset.
  uint32_t heartbeat_ticks = 1;
  uint32_t election_ticks_min = 10;
  uint32_t election_ticks_max = 20;

  bool pre_vote = true;      // thesis §9.6
  bool check_quorum = true;  // a leader without a majority for an election timeout steps down

  // Replication limits: batching and pipelining (thesis §10.2).
  uint32_t entries_per_msg_max = 64;         // entries in one AppendEntries
  uint64_t bytes_per_msg_max = 1024 * 1024;  // payload bytes in one AppendEntries (>= 1 entry)
  uint32_t inflight_msgs_max = 16;           // unacknowledged AppendEntries per follower
  // Off: a rejected AppendEntries moves nextIndex back by one entry (§5.3's basic rule, one
  // round trip per divergent entry); on: to the follower's conflict hint (one per term). Both
  // are safe; the switch is there to compare them (`up --no-fast-backup`).
  bool fast_backup = true;

  // Snapshots (§7). After SnapshotTaken at index i the log keeps entries from
  // i - snapshot_trailing_entries on, so a follower a little behind needs no snapshot.
  uint32_t snapshot_trailing_entries = 100;
  uint64_t snapshot_chunk_bytes_max = 64 * 1024;  // bytes of snapshot per InstallSnapshot

  // Memory: the log keeps the commands of its newest entries up to this many bytes, and of
  // every entry not yet applied; older applied entries keep only index, term and type
  // (RaftLog::release_payloads), and a follower far enough behind to need them gets them read
  // back from storage as its AppendEntries leave (Storage::read_entry). 0 keeps nothing
  // applied (the simulator's seeds use small values to exercise the read-back).
  uint64_t log_payload_bytes_max = 4ull << 20;

  // Membership (thesis §4.2.1): a new server catches up as a learner in rounds; a round that
  // ends within an election timeout promotes it; after this many rounds the add is aborted.
  uint32_t catchup_rounds_max = 10;

  uint64_t seed = 0;  // the core's only source of randomness (election jitter)

  bool trace = false;  // report decisions as Ready::trace (node/trace.h)

#ifdef NDEBUG
  bool check_invariants = false;
#else
  bool check_invariants = true;  // check invariants after every step (debug, simulator)
#endif

  UnsafeSwitches unsafe;
};

}  // namespace raftlab
