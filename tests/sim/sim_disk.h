// One simulated node's disk: what a crash keeps (durable hard state and log) and what it loses
// (writes handed over but not yet synced).
//
// The model is the one node/ready.h promises the core and persist/wal.h implements for real:
//   - write() queues a hard state and/or entries; an entry at index i discards every stored
//     entry >= i when the write becomes durable. Writes become durable in the order issued.
//   - begin_sync() starts one sync covering every write queued so far (group commit); writes
//     queued while it is in flight wait for the next sync.
//   - complete_sync() makes the covered writes durable, in order.
//   - crash() drops every write not yet durable, including those of a sync in flight.
// A write may also carry the rest of a Ready's persist step, applied in ready.h's order: a
// snapshot (kept as the newest), truncate_from (drops entries >= it) and compacted_through
// (drops entries <= it; a durable snapshot must cover them), then entries, then the hard state.
// After compaction the log no longer starts at 1: entries()[k] has index first_index() + k.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "node/types.h"

namespace raftlab::sim {

class SimDisk {
 public:
  struct Write {
    uint64_t seq = 0;  // 1, 2, ... in the order issued
    std::optional<HardState> hard_state;
    std::vector<Entry> entries;              // consecutive; the first one truncates the durable log
    std::optional<Snapshot> snapshot;        // saved as the newest snapshot (first)
    std::optional<Index> truncate_from;      // then entries >= this are dropped
    std::optional<Index> compacted_through;  // then entries <= this are dropped
  };

  /// Queues a write; returns its sequence number.
  uint64_t write(std::optional<HardState> hard_state, std::vector<Entry> entries);
  /// Queues a write with every part of a Ready's persist step; `w.seq` is assigned here.
  uint64_t write(Write w);
  /// Starts a sync covering every write queued so far. Returns the newest seq it covers.
  uint64_t begin_sync();
  bool sync_in_flight() const { return sync_through_seq_ > durable_seq_; }
  /// Makes the writes covered by the sync in flight durable. Returns a description of the
  /// first write that breaks the host contract (an entry past the durable log end), which is
  /// then skipped; nullopt when every write applied.
  std::optional<std::string> complete_sync();
  /// Loses every write that is not durable.
  void crash();
  /// A fault outside Raft's assumptions, for tests only: durable entries >= `from` vanish, as
  /// when a WAL tail is cut by hand (from 1: the whole log). The hard state keeps its term and
  /// vote; its commit drops to what is left, or the node could not restart. Only on an idle
  /// disk (no write pending) and above the durable snapshot; false otherwise.
  bool lose_tail(Index from);

  const HardState& hard_state() const { return hard_state_; }
  /// The durable log: entries()[k] has index first_index() + k (k - 1 for index k until the
  /// log is first compacted).
  const std::vector<Entry>& entries() const { return entries_; }
  Index first_index() const { return base_ + 1; }
  Index last_index() const { return base_ + entries_.size(); }
  /// The durable entry at `index`, or nullptr if compacted or not (yet) durable.
  const Entry* entry_at(Index index) const;
  /// The newest durable snapshot.
  const std::optional<Snapshot>& snapshot() const { return snapshot_; }
  /// Writes not yet durable (the in-flight sync's first), in issue order.
  const std::deque<Write>& pending() const { return pending_; }
  uint64_t durable_seq() const { return durable_seq_; }
  /// The newest write queued and not lost in a crash (durable_seq() when none waits).
  uint64_t written_seq() const { return pending_.empty() ? durable_seq_ : pending_.back().seq; }

  /// Applies one write to a durable state as the disk does (used by tests to replay a prefix
  /// of the pending writes). Returns an error description instead of applying a gap.
  static std::optional<std::string> apply(HardState& hard_state, std::vector<Entry>& entries,
                                          const std::optional<HardState>& write_hard_state,
                                          const std::vector<Entry>& write_entries);

 private:
  // Applies one whole write to the durable state; an error description if it breaks the
  // host contract (the offending part is skipped).
  std::optional<std::string> apply_write(const Write& w);

  HardState hard_state_;
  std::vector<Entry> entries_;
  Index base_;  // entries_[0] has index base_ + 1
  std::optional<Snapshot> snapshot_;
  std::deque<Write> pending_;
  uint64_t next_seq_ = 1;
  uint64_t durable_seq_ = 0;
  uint64_t sync_through_seq_ = 0;  // > durable_seq_ while a sync is in flight
};

}  // namespace raftlab::sim
