// The Ready pipeline (see pipeline.h).
#include "node/pipeline.h"

#include <algorithm>
#include <stdexcept>

namespace raftlab {

Pipeline::Pipeline(Parts parts, bool release_before_persist)
    : parts_(parts), release_before_persist_(release_before_persist) {
  if (parts_.storage == nullptr || parts_.outbox == nullptr || parts_.state_machine == nullptr ||
      parts_.clients == nullptr) {
    throw std::invalid_argument("Pipeline: every part is required");
  }
}

// The one place a Ready is consumed (ready.h): persist, send, apply, log.
void Pipeline::handle(Ready ready) {
  // The core's decisions first: they are why this Ready's messages go out (a new leader's
  // AppendEntries read best after "became leader").
  if (parts_.tracer != nullptr) {
    for (const TraceEvent& e : ready.trace) parts_.tracer->decided(e);
  }
  persist(ready);
  for (Message& m : ready.messages) send(std::move(m));
  apply(ready);
  answer_reads(ready);
  for (const Notice& n : ready.notices) parts_.outbox->notice(n);
  // Last, because it may step Persisted (a Ready that left nothing to sync), and the Ready
  // that comes back must not be applied before this one.
  start_sync_if_idle();
}

// Step 1. The writes are issued (buffered); the sync starts only at the end of handle(),
// after the messages went out: starting it writes the buffered records to the file on this
// thread, and a leader's AppendEntries should not wait for that (measured: 64 clients lost
// about 10% of their throughput when the sync started first).
void Pipeline::persist(Ready& ready) {
  if (ready.has_writes()) {
    parts_.storage->write(ready);
    unsynced_.emplace_back(ready.persist_id, parts_.storage->written_seq());
  }
  if (ready.messages_after_persist.empty()) return;
  if (release_before_persist_ || ready.persist_id <= durable_persist_id_) {
    // Unsafe switch: a vote or an acknowledgement may leave before what it reports is durable.
    for (Message& m : ready.messages_after_persist) send(std::move(m));
    return;
  }
  held_.emplace_back(ready.persist_id, std::move(ready.messages_after_persist));
}

void Pipeline::begin_sync_if_idle() {
  if (stopped_ || sync_in_flight_) return;
  if (parts_.storage->written_seq() == parts_.storage->durable_seq()) return;
  sync_in_flight_ = true;
  parts_.storage->begin_sync();
}

void Pipeline::start_sync_if_idle() {
  if (stopped_ || sync_in_flight_) return;
  if (parts_.storage->written_seq() == parts_.storage->durable_seq()) {
    // Writes that added nothing to sync (a compaction only) are durable already.
    if (!unsynced_.empty()) release(parts_.storage->durable_seq());
    return;
  }
  begin_sync_if_idle();
}

void Pipeline::sync_done(uint64_t durable_seq) {
  sync_in_flight_ = false;
  ++syncs_done_;
  release(durable_seq);
  start_sync_if_idle();  // writes issued while this sync ran: the next group
}

void Pipeline::release(uint64_t durable_seq) {
  uint64_t durable_id = durable_persist_id_;
  while (!unsynced_.empty() && unsynced_.front().second <= durable_seq) {
    durable_id = std::max(durable_id, unsynced_.front().first);
    unsynced_.pop_front();
  }
  if (durable_id <= durable_persist_id_) return;
  durable_persist_id_ = durable_id;
  // Only now may what waited for these writes leave the node (ready.h step 2).
  while (!held_.empty() && held_.front().first <= durable_id) {
    for (Message& m : held_.front().second) send(std::move(m));
    held_.pop_front();
  }
  if (!stopped_) parts_.outbox->persisted(durable_id);
}

std::optional<Payload> slice_snapshot(const Payload& bytes, uint64_t offset, uint64_t length) {
  const std::string& b = bytes.str();
  if (offset > b.size() || length > b.size() - offset) return std::nullopt;
  return Payload(b.substr(offset, length));
}

// Every message leaves through here, so the tracer sees each at the moment it goes (a held
// answer when its sync completes, not when the core produced it).
void Pipeline::send(Message m) {
  if (m.type == MessageType::kInstallSnapshot && m.chunk_length > 0 && m.chunk.empty() &&
      !fill_snapshot_chunk(m)) {
    return;
  }
  if (m.type == MessageType::kAppendEntries && !fill_released_entries(m)) return;
  if (parts_.tracer != nullptr) parts_.tracer->sent(m);
  parts_.outbox->send(std::move(m));
}

bool Pipeline::fill_snapshot_chunk(Message& m) {
  std::optional<Payload> chunk =
      parts_.storage->read_snapshot(m.snapshot, m.offset, m.chunk_length);
  if (!chunk || chunk->size() != m.chunk_length) {
    Notice n;
    n.kind = NoticeKind::kSnapshotUnreadable;
    n.peer = m.to;
    n.text = "snapshot at index " + std::to_string(m.snapshot.index.get()) + ": cannot read " +
             std::to_string(m.chunk_length) + " bytes at offset " + std::to_string(m.offset) +
             " for node " + std::to_string(m.to.get()) + "; the chunk is not sent";
    parts_.outbox->notice(n);
    return false;
  }
  m.chunk = std::move(*chunk);
  m.chunk_length = 0;  // not on the wire: leaving, the message is what a receiver decodes
  return true;
}

// Entries whose bytes the core's log released (Entry::data_released) get them back from
// storage; one that cannot be read keeps the whole message back (a gap would be refused).
bool Pipeline::fill_released_entries(Message& m) {
  for (Entry& e : m.entries) {
    if (!e.data_released()) continue;
    std::optional<Payload> bytes = parts_.storage->read_entry(e.index, e.term);
    if (!bytes || bytes->size() != e.released_bytes) {
      Notice n;
      n.kind = NoticeKind::kEntryUnreadable;
      n.peer = m.to;
      n.text = "entry " + std::to_string(e.index.get()) + " (term " + std::to_string(e.term.get()) +
               "): cannot read its " + std::to_string(e.released_bytes) +
               " bytes back from storage for node " + std::to_string(m.to.get()) +
               "; the AppendEntries is not sent";
      parts_.outbox->notice(n);
      return false;
    }
    e.data = std::move(*bytes);
    e.released_bytes = 0;
    ++entries_read_back_;
  }
  return true;
}

// Step 3: the state machine first becomes a restored snapshot, then applies in order.
void Pipeline::apply(const Ready& ready) {
  StateMachine& sm = *parts_.state_machine;
  if (ready.restore_snapshot && ready.snapshot) {
    sm.restore(*ready.snapshot);
    // Writes at or below the snapshot may or may not be in it: their outcome is unknown here.
    while (!writes_.empty() && writes_.begin()->first <= sm.applied()) {
      const TrackedWrite w = writes_.begin()->second;
      const Index index = writes_.begin()->first;
      writes_.erase(writes_.begin());
      parts_.clients->answer_write(w.client, index, WriteFate::kSnapshotted, ApplyResult{});
    }
  }
  for (const Entry& e : ready.committed) {
    const std::optional<ApplyResult> result = sm.apply(e);
    if (!result) continue;  // covered by a restored snapshot
    ++entries_applied_;
    answer_applied(e, *result);
  }
  if (parts_.tracer != nullptr && (ready.restore_snapshot || !ready.committed.empty())) {
    parts_.tracer->applied(sm.applied());
  }
}

void Pipeline::answer_applied(const Entry& entry, const ApplyResult& result) {
  auto it = writes_.find(entry.index);
  if (it == writes_.end()) return;
  const TrackedWrite w = it->second;
  writes_.erase(it);
  // Another leader's entry took the index: ours was overwritten and can never commit.
  const bool ours = entry.term == w.term && entry.type == EntryType::kNormal;
  parts_.clients->answer_write(w.client, entry.index,
                               ours ? WriteFate::kApplied : WriteFate::kOverwritten, result);
}

void Pipeline::answer_reads(const Ready& ready) {
  for (const ReadState& rs : ready.reads) {
    auto it = reads_.find(rs.id);
    if (it == reads_.end()) continue;
    const ClientRef client = it->second.client;
    reads_.erase(it);
    parts_.clients->serve_read(client, rs.index);  // applied() >= rs.index (ready.h step 3)
  }
  for (const ReadFailure& f : ready.reads_failed) {
    auto it = reads_.find(f.id);
    if (it == reads_.end()) continue;
    const ClientRef client = it->second.client;
    reads_.erase(it);
    parts_.clients->fail_read(client, f);
  }
}

void Pipeline::track_writes(Index first_index, Term term, const std::vector<ClientRef>& clients,
                            uint64_t since) {
  for (size_t k = 0; k < clients.size(); ++k) {
    writes_[first_index + k] = TrackedWrite{clients[k], term, since};
  }
}

void Pipeline::track_read(uint64_t read_id, const ClientRef& client, uint64_t since) {
  reads_[read_id] = TrackedRead{client, since};
}

void Pipeline::expire(uint64_t now, uint64_t write_timeout, uint64_t read_timeout) {
  for (auto it = writes_.begin(); it != writes_.end();) {
    if (now - it->second.since < write_timeout) {
      ++it;
      continue;
    }
    const TrackedWrite w = it->second;
    const Index index = it->first;
    it = writes_.erase(it);
    parts_.clients->answer_write(w.client, index, WriteFate::kTimedOut, ApplyResult{});
  }
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (now - it->second.since < read_timeout) {
      ++it;
      continue;
    }
    const ClientRef client = it->second.client;
    it = reads_.erase(it);
    parts_.clients->read_timed_out(client);
  }
}

}  // namespace raftlab
