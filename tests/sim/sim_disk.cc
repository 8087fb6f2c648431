// The simulated disk (see sim_disk.h).
#include "tests/sim/sim_disk.h"

#include <algorithm>
#include <utility>

#include "node/message.h"  // describe(Entry)

namespace raftlab::sim {

uint64_t SimDisk::write(std::optional<HardState> hard_state, std::vector<Entry> entries) {
  Write w;
  w.seq = next_seq_++;
  w.hard_state = std::move(hard_state);
  w.entries = std::move(entries);
  pending_.push_back(std::move(w));
  return pending_.back().seq;
}

uint64_t SimDisk::write(Write w) {
  w.seq = next_seq_++;
  pending_.push_back(std::move(w));
  return pending_.back().seq;
}

const Entry* SimDisk::entry_at(Index index) const {
  if (index < first_index() || index > last_index()) return nullptr;
  return &entries_[index - first_index()];
}

uint64_t SimDisk::begin_sync() {
  sync_through_seq_ = pending_.empty() ? durable_seq_ : pending_.back().seq;
  return sync_through_seq_;
}

std::optional<std::string> SimDisk::complete_sync() {
  std::optional<std::string> error;
  while (!pending_.empty() && pending_.front().seq <= sync_through_seq_) {
    const Write& w = pending_.front();
    std::optional<std::string> e = apply_write(w);
    if (e && !error) error = std::move(e);
    durable_seq_ = w.seq;
    pending_.pop_front();
  }
  sync_through_seq_ = durable_seq_;
  return error;
}

void SimDisk::crash() {
  pending_.clear();
  sync_through_seq_ = durable_seq_;
}

bool SimDisk::lose_tail(Index from) {
  if (!pending_.empty() || from <= base_ || !from) return false;
  if (from <= last_index()) entries_.resize(from - first_index());
  hard_state_.commit = std::min(hard_state_.commit, from - 1);
  return true;
}

std::optional<std::string> SimDisk::apply_write(const Write& w) {
  std::optional<std::string> error;
  // ready.h step 1, in its order: snapshot, truncate_from, compacted_through, entries, hard state.
  if (w.snapshot) {
    if (snapshot_ && w.snapshot->meta.index < snapshot_->meta.index) {
      error = "saves snapshot at " + std::to_string(w.snapshot->meta.index.get()) +
              " older than its durable one at " + std::to_string(snapshot_->meta.index.get());
    } else {
      snapshot_ = w.snapshot;
    }
  }
  if (w.truncate_from && *w.truncate_from <= last_index()) {
    if (*w.truncate_from <= base_) {
      entries_.clear();
    } else {
      entries_.resize(*w.truncate_from - first_index());
    }
  }
  if (w.compacted_through && *w.compacted_through > base_) {
    const Index through = *w.compacted_through;
    if (!snapshot_ || snapshot_->meta.index < through) {
      if (!error) {
        error = "compacts through " + std::to_string(through.get()) +
                " without a durable snapshot covering it";
      }
    } else if (through >= last_index()) {
      entries_.clear();
      base_ = through;
    } else {
      entries_.erase(entries_.begin(), entries_.begin() + static_cast<long>(through - base_));
      base_ = through;
    }
  }
  if (w.hard_state) hard_state_ = *w.hard_state;
  if (w.entries.empty()) return error;
  const Index first = w.entries.front().index;
  // After a snapshot install the log may restart right after the snapshot.
  if (entries_.empty() && snapshot_ && first == snapshot_->meta.index + 1) base_ = first - 1;
  if (first <= base_ || first > last_index() + 1) {
    if (!error) {
      error = "writes entry " + describe(w.entries.front()) + " outside its durable log " +
              std::to_string(first_index().get()) + ".." + std::to_string(last_index().get());
    }
    return error;
  }
  entries_.resize(first - first_index());  // an entry at index i discards every entry >= i
  entries_.insert(entries_.end(), w.entries.begin(), w.entries.end());
  return error;
}

std::optional<std::string> SimDisk::apply(HardState& hard_state, std::vector<Entry>& entries,
                                          const std::optional<HardState>& write_hard_state,
                                          const std::vector<Entry>& write_entries) {
  if (write_hard_state) hard_state = *write_hard_state;
  if (write_entries.empty()) return std::nullopt;
  const uint64_t first = write_entries.front().index.get();
  if (first == 0 || first > entries.size() + 1) {
    return "writes entry " + describe(write_entries.front()) + " past its durable log end " +
           std::to_string(entries.size());
  }
  entries.resize(first - 1);  // an entry at index i discards every entry >= i
  entries.insert(entries.end(), write_entries.begin(), write_entries.end());
  return std::nullopt;
}

}  // namespace raftlab::sim
