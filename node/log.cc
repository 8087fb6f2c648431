// The in-memory Raft log.
#include "node/log.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace raftlab {
namespace {
std::string str(Index i) { return std::to_string(i.get()); }
}  // namespace

RaftLog::RaftLog(Index base_index, Term base_term, std::vector<Entry> entries)
    : base_index_(base_index),
      base_term_(base_term),
      entries_(std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end())),
      released_through_(base_index) {
  check();
  for (const Entry& e : entries_) held_bytes_ += e.data.size();
}

std::optional<Term> RaftLog::term_at(Index index) const {
  if (index == base_index_) return base_term_;
  if (index < base_index_ || index > last_index()) return std::nullopt;
  return at(index).term;
}

bool RaftLog::matches(Index index, Term term) const {
  const std::optional<Term> t = term_at(index);
  return t.has_value() && *t == term;
}

const Entry& RaftLog::at(Index index) const { return entries_[index - first_index()]; }

bool RaftLog::is_up_to_date(Index index, Term term) const {
  // §5.4.1: compare the terms of the last entries; if equal, the longer log wins.
  return term > last_term() || (term == last_term() && index >= last_index());
}

Index RaftLog::first_index_of_term_at(Index index) const {
  const Term term = at(index).term;
  Index i = index;
  while (i > first_index() && at(i - 1).term == term) i = i - 1;
  return i;
}

std::optional<Index> RaftLog::last_index_of_term(Term term) const {
  // Terms never decrease along the log, so scan back from the end and stop early.
  for (Index i = last_index(); i >= first_index(); i = i - 1) {
    const Term t = at(i).term;
    if (t == term) return i;
    if (t < term) return std::nullopt;
  }
  if (base_term_ == term && base_index_ > Index(0)) return base_index_;
  return std::nullopt;
}

std::vector<Entry> RaftLog::slice(Index from, Index to, uint32_t count_max,
                                  uint64_t bytes_max) const {
  std::vector<Entry> out;
  if (from < first_index()) throw std::logic_error("log slice from compacted index " + str(from));
  uint64_t bytes = 0;
  for (Index i = from; i <= to && i <= last_index(); i = i + 1) {
    const Entry& e = at(i);
    // Always send at least one entry, even one larger than bytes_max, or replication stalls.
    if (!out.empty() && (out.size() >= count_max || bytes + e.data_size() > bytes_max)) break;
    bytes += e.data_size();
    out.push_back(e);
  }
  return out;
}

void RaftLog::append(Entry entry) {
  if (entry.index != last_index() + 1) {
    throw std::logic_error("log append at " + str(entry.index) + " after last index " +
                           str(last_index()));
  }
  if (entry.term < last_term()) {
    throw std::logic_error("log append with term " + std::to_string(entry.term.get()) +
                           " below last term " + std::to_string(last_term().get()));
  }
  held_bytes_ += entry.data.size();
  entries_.push_back(std::move(entry));
}

void RaftLog::truncate_from(Index from) {
  if (from <= base_index_) throw std::logic_error("log truncation at or below the base");
  if (from > last_index()) return;
  for (Index i = from; i <= last_index(); i = i + 1) held_bytes_ -= at(i).data.size();
  entries_.resize(from - first_index());
  released_through_ = std::min(released_through_, from - 1);
}

void RaftLog::compact_through(Index index) {
  if (index < base_index_ || index > last_index()) {
    throw std::logic_error("log compaction through " + str(index) + " outside [" +
                           str(base_index_) + ", " + str(last_index()) + "]");
  }
  if (index == base_index_) return;
  for (Index i = first_index(); i <= index; i = i + 1) held_bytes_ -= at(i).data.size();
  base_term_ = at(index).term;
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<long>(index - base_index_));
  base_index_ = index;
  released_through_ = std::max(released_through_, index);
}

void RaftLog::reset(Index index, Term term) {
  entries_.clear();
  base_index_ = index;
  base_term_ = term;
  released_through_ = index;
  held_bytes_ = 0;
}

void RaftLog::release_payloads(Index applied, uint64_t keep_bytes) {
  const Index through = std::min(applied, last_index());
  while (held_bytes_ > keep_bytes && released_through_ < through) {
    released_through_ = std::max(released_through_, base_index_) + 1;
    Entry& e = entries_[released_through_ - first_index()];
    if (e.type == EntryType::kConfig || e.data.empty()) continue;
    held_bytes_ -= e.data.size();
    e.released_bytes = static_cast<uint32_t>(e.data.size());
    e.data = Payload();
  }
}

void RaftLog::check() const {
  Term prev = base_term_;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].index != base_index_ + (i + 1)) {
      throw std::logic_error("log indices not consecutive at position " + std::to_string(i));
    }
    if (entries_[i].term < prev) {
      throw std::logic_error("log terms decrease at index " + str(entries_[i].index));
    }
    prev = entries_[i].term;
  }
}

}  // namespace raftlab
