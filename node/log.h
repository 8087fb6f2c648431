// The in-memory Raft log of one core: the entries after its base (the last compacted index).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "node/types.h"

namespace raftlab {

/// Invariants (enforced by append, checked by check()): entries have consecutive indices
/// starting at first_index() = base + 1, and terms never decrease along the log, starting from
/// the base's term.
class RaftLog {
 public:
  RaftLog() = default;
  /// A log whose entries before `entries` were compacted away; (base_index, base_term) is the
  /// last compacted entry (0/0 for none). Throws std::logic_error on a malformed log.
  RaftLog(Index base_index, Term base_term, std::vector<Entry> entries);

  Index base_index() const { return base_index_; }
  Term base_term() const { return base_term_; }
  Index first_index() const { return base_index_ + 1; }
  Index last_index() const { return base_index_ + entries_.size(); }
  Term last_term() const { return entries_.empty() ? base_term_ : entries_.back().term; }

  /// Term of the entry at `index`: base_term() at the base; nullopt below it (compacted) or
  /// past the end.
  std::optional<Term> term_at(Index index) const;
  /// True if the log holds (or compacted) an entry at `index` with `term`.
  bool matches(Index index, Term term) const;
  const Entry& at(Index index) const;  // index in [first_index, last_index]

  /// §5.4.1: is a log ending at (last_index, last_term) at least as up to date as this one?
  bool is_up_to_date(Index last_index, Term last_term) const;

  /// First index this log holds with the term of the entry at `index` (fast backup); stops at
  /// first_index().
  Index first_index_of_term_at(Index index) const;
  /// Last index holding `term` (the base counts), or nullopt.
  std::optional<Index> last_index_of_term(Term term) const;

  /// Entries [from, to] capped by count and bytes (at least one entry if from <= to).
  std::vector<Entry> slice(Index from, Index to, uint32_t count_max, uint64_t bytes_max) const;

  /// Appends `entry` at last_index()+1.
  void append(Entry entry);
  /// Removes every entry at index >= from (from > base).
  void truncate_from(Index from);
  /// Drops entries <= index (base <= index <= last); the entry at index becomes the base.
  void compact_through(Index index);
  /// Drops every entry; (index, term) becomes the base (installing a snapshot, Figure 13).
  void reset(Index index, Term term);

  /// Lets go of the bytes of the oldest entries at or below `applied` until the entries that
  /// still hold theirs hold at most `keep_bytes` (Entry::data_released). A log holds every
  /// entry since the last snapshot, up to snapshot_every of them: without this their commands
  /// would be most of a node's memory. Configuration entries keep their bytes (the core reads
  /// them); applied entries are durable, so the host can always read the rest back.
  void release_payloads(Index applied, uint64_t keep_bytes);
  /// Bytes of entry data the log holds (entries whose bytes were released not counted).
  uint64_t payload_bytes_held() const { return held_bytes_; }

  const std::deque<Entry>& entries() const { return entries_; }

  /// Throws std::logic_error if an invariant does not hold (O(n); for construction).
  void check() const;

 private:
  Index base_index_;
  Term base_term_;
  std::deque<Entry> entries_;  // entries_[i] has index base_index_ + 1 + i
  // release_payloads: every entry in (base, released_through_] was considered (its bytes
  // released, or kept as a configuration), and held_bytes_ sums data.size() over the rest.
  Index released_through_;
  uint64_t held_bytes_ = 0;
};

}  // namespace raftlab
