// The Raft core: snapshots (§7, Figure 13): compaction after the host takes one, sending one in
// chunks, and installing one on a follower. The class and its invariants are in core.h.
#include "node/core.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "node/core_internal.h"

namespace raftlab {

using core_internal::fail;
using core_internal::str;

// ---------------------------------------------------------------------------------------------
// Receiving a snapshot, on the follower.

void Core::handle_install_snapshot(const Message& m) {
  Message r;
  r.type = MessageType::kInstallSnapshotResponse;
  r.to = m.from;
  r.term = term_;
  r.snapshot = m.snapshot;
  const SnapshotMeta& meta = m.snapshot;
  if (meta.index <= commit_) {
    // We already hold everything it covers (an old or duplicated transfer).
    incoming_.reset();
    r.done = true;
    r.match_index = commit_;
    send(std::move(r));
    return;
  }
  const bool same = incoming_ && incoming_->meta == meta && incoming_->term == m.term;
  if (m.offset == 0 && !same) incoming_ = IncomingSnapshot{meta, m.term, {}};
  if (!incoming_ || incoming_->meta != meta || m.offset != incoming_->bytes.size()) {
    // A chunk out of order (one before it was lost): say where to resume (Figure 13).
    r.offset = (incoming_ && incoming_->meta == meta) ? incoming_->bytes.size() : 0;
    send(std::move(r));
    return;
  }
  incoming_->bytes += m.chunk.str();
  r.offset = incoming_->bytes.size();
  if (m.done) {
    const uint64_t size = incoming_->bytes.size();
    Snapshot s{incoming_->meta, size, Payload(std::move(incoming_->bytes))};
    incoming_.reset();
    install_snapshot(s);
    r.done = true;
    r.match_index = meta.index;
  }
  send(std::move(r));
}

// Figure 13, steps 6-8, on a follower.
void Core::install_snapshot(const Snapshot& s) {
  const SnapshotMeta& meta = s.meta;
  if (log_.matches(meta.index, meta.term) && meta.index <= log_.last_index()) {
    // Step 6: our log continues the snapshot: keep what follows it.
    log_.compact_through(meta.index);
  } else {
    // Step 7: discard the whole log.
    log_.reset(meta.index, meta.term);
    ready_.truncate_from = meta.index + 1;
    ready_.entries.clear();
  }
  ready_.compacted_through = meta.index;
  for (PendingWrite& w : pending_writes_) w.last_index = std::min(w.last_index, meta.index);
  durable_index_ = std::max(std::min(durable_index_, log_.last_index()), meta.index);
  snapshot_ = without_bytes(s);
  ready_.snapshot = s;
  ready_.restore_snapshot = true;  // step 8: reset the state machine
  ready_.committed.clear();
  if (tracing()) {
    trace({.kind = TraceKind::kSnapshotInstalled,
           .peer = leader_,
           .term = meta.term,
           .last = meta.index});
    if (meta.index > commit_) {
      trace({.kind = TraceKind::kCommit, .first = commit_, .last = meta.index});
    }
  }
  commit_ = std::max(commit_, meta.index);
  applied_ = meta.index;
  membership_ = meta.membership;
  config_index_ = Index(0);
  recompute_membership();  // a kept suffix may hold a newer configuration
}

// ---------------------------------------------------------------------------------------------
// Sending a snapshot, on the leader.

void Core::handle_snapshot_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (m.done) {
    raise_match(pr, m.match_index);
    if (pr.state == ProgressState::kSnapshot) {
      // Installed: replicate the entries after it, probing from there.
      pr.state = ProgressState::kProbe;
      pr.snapshot.reset();
      pr.snapshot_chunks_inflight = 0;
      pr.probe_sent = false;
      pr.next = pr.match + 1;
    } else if (pr.next <= pr.match) {
      // A late "done" (a duplicated or old transfer's answer) while replicating: keep
      // match < next.
      pr.next = pr.match + 1;
    }
    maybe_commit();
    if (role_ == Role::kLeader) send_append(m.from, true);
    return;
  }
  if (pr.state != ProgressState::kSnapshot || !pr.snapshot || pr.snapshot->meta != m.snapshot) {
    return;  // about a transfer that is over
  }
  if (pr.snapshot_chunks_inflight > 0) --pr.snapshot_chunks_inflight;
  if (m.offset > pr.snapshot_acked) {
    pr.snapshot_acked = m.offset;
  } else if (m.offset < pr.snapshot_acked) {
    // The follower holds less than it confirmed before (it restarted and lost the partial
    // snapshot, or this answer is old): resume from what it says it holds.
    pr.snapshot_acked = m.offset;
    pr.snapshot_sent = m.offset;
    pr.snapshot_chunks_inflight = 0;
  }
  // An answer without progress (a reordered or duplicated chunk, or one after a lost chunk)
  // does not rewind: rewinding on each one resends the whole window per reordered chunk, a
  // storm that grows with every resend. A lost chunk is resent after a heartbeat round
  // without progress (handle_heartbeat_response).
  send_snapshot_chunks(m.from, pr);
}

void Core::send_snapshot_chunks(NodeId to, Progress& pr) {
  const uint64_t size = pr.snapshot->size;
  // Figure 13: chunks at increasing offsets, the last one marked done; a few in flight.
  while (pr.snapshot_chunks_inflight < config_.inflight_msgs_max &&
         (pr.snapshot_sent < size || (size == 0 && pr.snapshot_chunks_inflight == 0 &&
                                      pr.snapshot_acked == 0 && pr.snapshot_sent == 0))) {
    const uint64_t length = std::min(config_.snapshot_chunk_bytes_max, size - pr.snapshot_sent);
    Message m;
    m.type = MessageType::kInstallSnapshot;
    m.to = to;
    m.term = term_;
    m.snapshot = pr.snapshot->meta;
    m.offset = pr.snapshot_sent;
    m.chunk_length = length;  // the pipeline reads the bytes from the host's copy (message.h)
    m.done = pr.snapshot_sent + length == size;
    m.commit = commit_;
    pr.snapshot_sent += length;
    ++pr.snapshot_chunks_inflight;
    send(std::move(m));
    if (size == 0) break;
  }
}

// ---------------------------------------------------------------------------------------------
// Compaction after the host took a snapshot.

std::optional<SnapshotMeta> Core::snapshot_meta_at(Index index) const {
  if (index > applied_) return std::nullopt;
  const std::optional<Term> term = log_.term_at(index);
  if (!term) return std::nullopt;
  // The configuration in force at the snapshot's index. Usually no configuration entry follows
  // it, and that is the one in force now (a scan of the 100,000 entries a snapshot covers took
  // the loop a few milliseconds, twice a snapshot).
  if (config_index_ <= index) {
    if (config_.check_invariants && membership_ != membership_at_by_scan(index)) {
      fail("membership at " + str(index.get()) + " differs from the scan's");
    }
    return SnapshotMeta{index, *term, membership_};
  }
  return SnapshotMeta{index, *term, membership_at_by_scan(index)};
}

// The newest config entry at or below `index`, else what the log started from.
Membership Core::membership_at_by_scan(Index index) const {
  Membership m = snapshot_ ? snapshot_->meta.membership : Membership{config_.voters, {}};
  for (Index i = index; i >= log_.first_index() && i > Index(0); i = i - 1) {
    if (log_.at(i).type == EntryType::kConfig) {
      decode_membership(log_.at(i).data.str(), m);
      break;
    }
  }
  return m;
}

std::vector<Index> Core::snapshots_in_use() const {
  std::vector<Index> in_use;
  for (const auto& [peer, pr] : progress_) {
    if (pr.state == ProgressState::kSnapshot && pr.snapshot)
      in_use.push_back(pr.snapshot->meta.index);
  }
  return in_use;
}

void Core::on_snapshot_taken(const SnapshotTaken& s) {
  if (s.index > applied_) fail("snapshot at " + str(s.index.get()) + " beyond applied");
  if (snapshot_ && s.index <= snapshot_->meta.index) return;  // nothing new
  const std::optional<SnapshotMeta> meta = snapshot_meta_at(s.index);
  if (!meta) fail("snapshot at " + str(s.index.get()) + " of a compacted entry");
  snapshot_ = Snapshot{*meta, s.saved ? s.size : s.data.size(), {}};
  ready_.snapshot = Snapshot{*meta, snapshot_->size, s.data};
  ready_.snapshot_saved = s.saved;
  if (tracing()) trace({.kind = TraceKind::kSnapshotTaken, .term = meta->term, .last = s.index});
  // Keep trailing entries so a follower slightly behind needs no snapshot, and keep whatever
  // a snapshot transfer in progress will need after it (a slow transfer must not be
  // overtaken by compaction: hashicorp/raft#704, braft#423).
  Index keep_from = s.index.get() > config_.snapshot_trailing_entries
                        ? s.index - config_.snapshot_trailing_entries
                        : Index(0);
  for (const auto& [peer, pr] : progress_) {
    if (pr.state == ProgressState::kSnapshot && pr.snapshot) {
      keep_from = std::min(keep_from, pr.snapshot->meta.index);
    }
  }
  // The log may only drop what is both durable and covered.
  const Index through = std::min({keep_from, durable_index_, s.index});
  if (through > log_.base_index()) {
    log_.compact_through(through);
    ready_.compacted_through = through;
  }
}

}  // namespace raftlab
