// The in-memory Raft log.
#include "node/log.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace raftlab {

RaftLog::RaftLog(std::vector<Entry> entries) : entries_(std::move(entries)) { check(); }

std::optional<Term> RaftLog::term_at(Index index) const {
  if (index == Index(0)) return Term();
  if (index > last_index()) return std::nullopt;
  return at(index).term;
}

bool RaftLog::matches(Index index, Term term) const {
  const std::optional<Term> t = term_at(index);
  return t.has_value() && *t == term;
}

const Entry& RaftLog::at(Index index) const { return entries_[index.get() - 1]; }

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
  for (Index i = last_index(); i >= first_index() && i > Index(0); i = i - 1) {
    const Term t = at(i).term;
    if (t == term) return i;
    if (t < term) break;
  }
  return std::nullopt;
}

std::vector<Entry> RaftLog::slice(Index from, Index to, uint32_t count_max,
                                  uint64_t bytes_max) const {
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (Index i = from; i <= to && i <= last_index(); i = i + 1) {
    const Entry& e = at(i);
    // Always send at least one entry, even one larger than bytes_max, or replication stalls.
    if (!out.empty() && (out.size() >= count_max || bytes + e.data.size() > bytes_max)) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

void RaftLog::append(Entry entry) {
  if (entry.index != last_index() + 1) {
    throw std::logic_error("log append at " + std::to_string(entry.index.get()) +
                           " after last index " + std::to_string(last_index().get()));
  }
  if (entry.term < last_term()) {
    throw std::logic_error("log append with term " + std::to_string(entry.term.get()) +
                           " below last term " + std::to_string(last_term().get()));
  }
  entries_.push_back(std::move(entry));
}

void RaftLog::truncate_from(Index from) {
  if (from < first_index()) throw std::logic_error("log truncation below the first index");
  if (from <= last_index()) entries_.resize(from.get() - 1);
}

void RaftLog::check() const {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].index != Index(i + 1)) {
      throw std::logic_error("log indices not consecutive at position " + std::to_string(i));
    }
    if (i > 0 && entries_[i].term < entries_[i - 1].term) {
      throw std::logic_error("log terms decrease at index " + std::to_string(i + 1));
    }
  }
}

}  // namespace raftlab
