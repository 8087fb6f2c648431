// The in-memory Raft log of one core: every entry after the (future) snapshot point.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "node/types.h"

namespace raftlab {

/// Invariants (checked by check()): entries have consecutive indices starting at first_index(),
/// and terms never decrease along the log.
class RaftLog {
 public:
  RaftLog() = default;
  explicit RaftLog(std::vector<Entry> entries);

  Index first_index() const { return Index(1); }
  Index last_index() const { return Index(entries_.size()); }
  Term last_term() const { return entries_.empty() ? Term() : entries_.back().term; }

  /// Term of the entry at `index`; Term() for index 0; nullopt past the end.
  std::optional<Term> term_at(Index index) const;
  /// True if the log holds an entry at `index` with `term` (index 0 always matches term 0).
  bool matches(Index index, Term term) const;
  const Entry& at(Index index) const;  // index in [first_index, last_index]

  /// §5.4.1: is a log ending at (last_index, last_term) at least as up to date as this one?
  bool is_up_to_date(Index last_index, Term last_term) const;

  /// First index this log holds with `term` at or below `index` (fast backup), given that
  /// term_at(index) == term.
  Index first_index_of_term_at(Index index) const;
  /// Last index holding `term` (nullopt if the log has no entry of that term).
  std::optional<Index> last_index_of_term(Term term) const;

  /// Entries [from, to] capped by count and bytes (at least one entry if from <= to).
  std::vector<Entry> slice(Index from, Index to, uint32_t count_max, uint64_t bytes_max) const;

  /// Appends `entry` at last_index()+1.
  void append(Entry entry);
  /// Removes every entry at index >= from.
  void truncate_from(Index from);

  const std::vector<Entry>& entries() const { return entries_; }

  /// Throws std::logic_error if an invariant does not hold.
  void check() const;

 private:
  std::vector<Entry> entries_;  // entries_[i] has index i + 1
};

}  // namespace raftlab
