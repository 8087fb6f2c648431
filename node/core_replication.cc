// The Raft core: log replication (§5.3, §5.4), on the follower and on the leader, and client
// writes. The class and its invariants are in core.h.
#include "node/core.h"

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "node/core_internal.h"

namespace raftlab {

using core_internal::fail;
using core_internal::str;

// ---------------------------------------------------------------------------------------------
// Replication, on the follower.

void Core::handle_append_entries(const Message& m) {
  Message r;
  r.type = MessageType::kAppendEntriesResponse;
  r.to = m.from;
  r.term = term_;
  r.context = m.context;  // tells the leader which AppendEntries this answers

  if (m.prev_log_index < log_.base_index()) {
    // The leader probes below what we compacted: those entries are committed and match.
    // Answer with what we hold so the leader moves on.
    r.match_index = std::max(commit_, log_.base_index());
    r.last_index = log_.last_index();
    send(std::move(r));
    return;
  }
  // §5.3: reject unless our log holds an entry at prev_log_index with prev_log_term.
  const bool have_prev = m.prev_log_index <= log_.last_index();
  const bool prev_matches = log_.matches(m.prev_log_index, m.prev_log_term) ||
                            (config_.unsafe.skip_consistency_check && have_prev);
  if (!prev_matches) {
    r.reject = true;
    r.rejected_index = m.prev_log_index;
    if (!have_prev) {
      r.conflict_index = log_.last_index() + 1;  // too short: resume after our last entry
    } else {
      // Fast backup: name the conflicting term and where it starts, so the leader skips the
      // whole term in one round trip instead of one entry at a time.
      r.conflict_term = *log_.term_at(m.prev_log_index);
      r.conflict_index = log_.first_index_of_term_at(m.prev_log_index);
    }
    r.last_index = log_.last_index();
    send(std::move(r));
    return;
  }

  // §5.3 steps 3-4: skip entries we already hold; at the first conflict, drop our suffix.
  std::vector<Entry> fresh;
  for (const Entry& e : m.entries) {
    if (e.index <= log_.last_index()) {
      if (log_.at(e.index).term == e.term) continue;
      if (e.index <= commit_) {
        fail("node " + str(config_.id.get()) + " asked to overwrite committed entry " +
             str(e.index.get()));
      }
      if (tracing()) {
        trace({.kind = TraceKind::kTruncated,
               .term = log_.at(e.index).term,
               .first = e.index,
               .last = log_.last_index(),
               .value = e.term.get()});
      }
      truncate_local(e.index);
    }
    fresh.push_back(e);
  }
  if (!fresh.empty()) append_local(std::move(fresh));

  // Figure 2: commit up to leaderCommit, but only as far as this message proved our log
  // matches the leader's (not to our own last index, which may hold a stale suffix).
  const Index last_new = m.prev_log_index + m.entries.size();
  if (m.commit > commit_) advance_commit(std::min(m.commit, last_new));

  r.match_index = last_new;
  r.last_index = log_.last_index();
  send(std::move(r));
}

void Core::handle_heartbeat(const Message& m) {
  // The leader sends commit = min(its commit, what it knows we hold), so it is safe to take.
  if (m.commit > commit_) advance_commit(std::min(m.commit, log_.last_index()));
  Message r;
  r.type = MessageType::kHeartbeatResponse;
  r.to = m.from;
  r.term = term_;
  r.last_index = log_.last_index();
  r.context = m.context;  // confirms the leader's read round (thesis §6.4)
  send(std::move(r));
}

// ---------------------------------------------------------------------------------------------
// Replication, the leader's answers.

void Core::handle_append_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (pr.state == ProgressState::kSnapshot) {
    // An answer to an AppendEntries from before the snapshot began (or the "we compacted
    // past that" answer): only its match is news.
    if (!m.reject) raise_match(pr, m.match_index);
    return;
  }

  if (!m.reject) {
    raise_match(pr, m.match_index);
    if (pr.next <= pr.match) pr.next = pr.match + 1;
    while (!pr.inflight.empty() && pr.inflight.front() <= m.match_index) pr.inflight.pop_front();
    if (pr.state == ProgressState::kProbe) {
      // The follower's log now matches ours up to match: stream from there (thesis §10.2).
      pr.state = ProgressState::kReplicate;
      pr.probe_sent = false;
      pr.inflight.clear();
      pr.next = pr.match + 1;
    }
    maybe_commit();
    if (role_ != Role::kLeader) return;
    send_append(m.from, false);
    if (m.from == transfer_target_) maybe_send_timeout_now();
    advance_catchup();
    return;
  }

  // A rejection that says the follower holds less than it acknowledged is either stale (a
  // reordered or duplicated answer to an AppendEntries it handled before it acknowledged
  // match) or news that it lost entries. Only an answer to an AppendEntries sent after match
  // was learned is news: see answers_after_match.
  const bool below_match = m.rejected_index <= pr.match || m.last_index < pr.match;
  if (below_match && answers_after_match(pr, m)) {
    reset_lost_follower(m.from, pr, m);
    return;
  }
  if (m.rejected_index <= pr.match) return;  // stale: we already know more than this
  if (pr.state == ProgressState::kProbe && m.rejected_index + 1 != pr.next) return;  // old probe
  pr.state = ProgressState::kProbe;
  pr.probe_sent = false;
  pr.inflight.clear();
  pr.next = backup_next(pr, m);
  send_append(m.from, true);
}

// Fast backup: skip to the end of the conflicting term in our log, or past the follower's log
// when it is too short, but always back at least one entry and never to or below match.
// Without it (Config::fast_backup off), §5.3's basic rule: retry one entry earlier.
Index Core::backup_next(const Progress& pr, const Message& m) const {
  if (!config_.fast_backup) return std::max(m.rejected_index, pr.match + 1);
  Index next = m.conflict_index;
  if (m.conflict_term) {
    if (auto last = log_.last_index_of_term(m.conflict_term)) next = *last + 1;
  }
  next = std::min(next, m.rejected_index);
  return std::max(next, pr.match + 1);
}

// True if `m` answers an AppendEntries sent after the leader learned pr.match. The follower
// handled that request after it sent the acknowledgement of match, and it acknowledges only
// what is durable (messages_after_persist); within a term nothing it acknowledged is ever
// truncated (the leader's entries never conflict with themselves). So if such an answer says
// it holds less than match, it lost durable entries. An answer to an earlier request proves
// nothing: the follower may have handled it before it caught up, the network may have
// reordered or duplicated it (appends are pipelined), and acting on it would move match back
// for a follower that holds everything.
bool Core::answers_after_match(const Progress& pr, const Message& m) const {
  return m.context > pr.match_seq;
}

// Issue 10: a follower lost entries it had acknowledged (its WAL tail cut by hand, its
// directory wiped). Raft assumes this never happens; without this repair every rejection at
// or below match would be dropped as stale and the follower would stay behind until the
// leader changed. The leader says so once, takes the follower's word for what it still holds
// and probes from there. Lowering match is safe: commit_ never decreases, and a lower match
// only makes maybe_commit and the commit index sent in heartbeats more cautious.
void Core::reset_lost_follower(NodeId peer, Progress& pr, const Message& m) {
  // What it still holds that matches ours: a cut tail leaves a prefix of what it
  // acknowledged, so up to its last index; below a conflicting term it names, to be careful.
  Index holds = std::min(pr.match, m.last_index);
  if (m.conflict_index) holds = std::min(holds, m.conflict_index - 1);
  Notice n;
  n.kind = NoticeKind::kFollowerLostEntries;
  n.peer = peer;
  n.acknowledged = pr.match;
  n.holds = holds;
  n.text = "follower " + str(peer.get()) + " lost entries it had acknowledged: it holds " +
           str(holds.get()) + " of " + str(pr.match.get()) + " (log ends at " +
           str(m.last_index.get()) + "); repairing it from " + str(holds.get() + 1);
  ready_.notices.push_back(std::move(n));
  pr.match = holds;
  pr.match_seq = append_seq_;  // answers to earlier requests describe the log it lost
  pr.match_at_heartbeat = holds;
  pr.state = ProgressState::kProbe;
  pr.probe_sent = false;
  pr.inflight.clear();
  pr.next = backup_next(pr, m);
  send_append(peer, true);
}

void Core::raise_match(Progress& pr, Index match) {
  if (match <= pr.match) return;
  pr.match = match;
  pr.match_seq = append_seq_;
}

// A heartbeat round has passed: what was sent and is still unacknowledged was lost.
void Core::judge_heartbeat_round(NodeId peer, Progress& pr) {
  pr.round_judged_tick = ticks_;
  switch (pr.state) {
    case ProgressState::kProbe:
      pr.probe_sent = false;  // the probe may have been lost; try again
      break;
    case ProgressState::kReplicate:
      if (!pr.inflight.empty() && pr.match == pr.match_at_heartbeat) {
        // A whole heartbeat round without progress while messages are in flight: one was
        // lost. Fall back to probing from what the follower is known to hold.
        pr.state = ProgressState::kProbe;
        pr.probe_sent = false;
        pr.inflight.clear();
        pr.next = pr.match + 1;
      }
      break;
    case ProgressState::kSnapshot:
      judge_snapshot_round(peer, pr);
      break;
  }
}

void Core::trace_snapshot_sent(NodeId to) {
  if (!tracing()) return;
  trace({.kind = TraceKind::kSnapshotSent,
         .peer = to,
         .term = snapshot_->meta.term,
         .last = snapshot_->meta.index,
         .value = snapshot_->size});
}

// kSnapshot: no chunk acknowledged for the rounds the backoff asks (progress.h): resume from
// what the follower holds.
void Core::judge_snapshot_round(NodeId peer, Progress& pr) {
  constexpr uint32_t kBackoffShiftMax = 3;         // at most 8 rounds between resends
  constexpr uint32_t kSnapshotRestartResends = 4;  // 1 + 2 + 4 + 8 + 8 rounds
  if (pr.snapshot_acked != pr.snapshot_acked_at_heartbeat) {
    pr.snapshot_stalled_rounds = 0;
    pr.snapshot_resends = 0;
  } else if (++pr.snapshot_stalled_rounds >=
             (1u << std::min(pr.snapshot_resends, kBackoffShiftMax))) {
    pr.snapshot_sent = pr.snapshot_acked;
    pr.snapshot_chunks_inflight = 0;
    pr.snapshot_stalled_rounds = 0;
    ++pr.snapshot_resends;
    // A transfer of an older snapshot that made no progress for kSnapshotRestartResends
    // resends starts over with the newest: its chunks may be unreadable (the host keeps the
    // bytes of the newest snapshot and those being sent, Storage::read_snapshot, and a file
    // can be damaged). A transfer that progresses, however slowly (a link slower than a
    // heartbeat round), keeps its snapshot: restarting at every new one could never finish.
    const bool start_over = pr.snapshot_resends > kSnapshotRestartResends;
    if (start_over && snapshot_ && snapshot_->meta.index > pr.snapshot->meta.index) {
      pr.snapshot = snapshot_;
      pr.snapshot_sent = 0;
      pr.snapshot_acked = 0;
      trace_snapshot_sent(peer);
    }
  }
  pr.snapshot_acked_at_heartbeat = pr.snapshot_acked;
}

void Core::handle_heartbeat_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (m.context > pr.read_round_acked) {
    pr.read_round_acked = m.context;
    confirm_reads();
  }
  // One judgement per heartbeat interval: answers that arrive together (heartbeats queued
  // while the follower was unreachable, delivered at once) are one round, not many; judged
  // once each, they made the leader resend the same probe or snapshot window per answer.
  const bool new_round = ticks_ >= pr.round_judged_tick + config_.heartbeat_ticks;
  if (new_round) judge_heartbeat_round(m.from, pr);
  // A follower that says it holds less than it acknowledged sent this answer before that
  // acknowledgement, or lost entries. Nothing else would make an idle leader send it an
  // AppendEntries, so probe at match to find out: a fresh rejection proves the loss
  // (handle_append_response); an acceptance costs one round trip.
  const bool verify =
      m.last_index < pr.match && pr.inflight.empty() && pr.state != ProgressState::kSnapshot;
  if (verify) {
    pr.state = ProgressState::kProbe;
    pr.probe_sent = false;
    pr.next = pr.match + 1;
  }
  if (new_round) pr.match_at_heartbeat = pr.match;
  if (pr.match < log_.last_index() || pr.state == ProgressState::kSnapshot || verify) {
    send_append(m.from, verify);
  }
}

// ---------------------------------------------------------------------------------------------
// Leader replication.

void Core::send_append(NodeId to, bool allow_empty) {
  Progress& pr = progress_.at(to);
  if (pr.state == ProgressState::kSnapshot) {
    send_snapshot_chunks(to, pr);
    return;
  }
  if (pr.state == ProgressState::kProbe && pr.probe_sent) return;
  if (pr.state == ProgressState::kReplicate && pr.inflight.size() >= config_.inflight_msgs_max) {
    return;  // the pipeline is full; acknowledgements will reopen it
  }
  pr.next = std::min(pr.next, log_.last_index() + 1);
  if (pr.next <= log_.base_index()) {
    // §7: what the follower needs next was compacted away: send the snapshot instead.
    if (!snapshot_) fail("log compacted without a snapshot");
    pr.state = ProgressState::kSnapshot;
    pr.snapshot = snapshot_;
    pr.snapshot_sent = 0;
    pr.snapshot_acked = 0;
    pr.snapshot_acked_at_heartbeat = 0;
    pr.snapshot_chunks_inflight = 0;
    pr.snapshot_stalled_rounds = 0;
    pr.snapshot_resends = 0;
    pr.round_judged_tick = ticks_;  // a whole round passes before the first judgement
    pr.inflight.clear();
    trace_snapshot_sent(to);
    send_snapshot_chunks(to, pr);
    return;
  }
  std::vector<Entry> entries = log_.slice(pr.next, log_.last_index(), config_.entries_per_msg_max,
                                          config_.bytes_per_msg_max);
  if (entries.empty() && !(allow_empty && pr.state == ProgressState::kProbe)) return;

  Message m;
  m.type = MessageType::kAppendEntries;
  m.to = to;
  m.term = term_;
  m.prev_log_index = pr.next - 1;
  m.prev_log_term = *log_.term_at(m.prev_log_index);
  m.commit = commit_;
  m.context = ++append_seq_;  // the answer echoes it (answers_after_match)
  if (pr.state == ProgressState::kReplicate) {
    pr.next = entries.back().index + 1;  // optimistic: the pipeline assumes delivery
    pr.inflight.push_back(entries.back().index);
  } else {
    pr.probe_sent = true;
  }
  m.entries = std::move(entries);
  send(std::move(m));
}

void Core::broadcast_append() {
  for (auto& [peer, pr] : progress_) send_append(peer, pr.state == ProgressState::kProbe);
}

void Core::broadcast_heartbeat() {
  for (auto& [peer, pr] : progress_) {
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = peer;
    m.term = term_;
    m.commit = std::min(commit_, pr.match);  // never beyond what the follower is known to hold
    m.context = read_round_;
    send(std::move(m));
  }
}

void Core::maybe_commit() {
  if (role_ != Role::kLeader) return;
  // The voters of the current configuration decide; the leader counts itself (if it is one)
  // only with what is durable on its own disk (thesis §10.2.1).
  std::vector<Index> matches;
  for (NodeId v : membership_.voters) {
    if (v == config_.id) {
      matches.push_back(durable_index_);
    } else if (auto it = progress_.find(v); it != progress_.end()) {
      matches.push_back(it->second.match);
    } else {
      matches.push_back(Index(0));
    }
  }
  if (matches.empty()) return;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const Index candidate = matches[quorum() - 1];
  if (candidate <= commit_) return;
  // §5.4.2 (Figure 8): only an entry of the current term is committed by counting replicas;
  // earlier entries are committed indirectly, by the Log Matching Property.
  if (*log_.term_at(candidate) != term_ && !config_.unsafe.commit_previous_term_by_counting) {
    return;
  }
  advance_commit(candidate);
}

void Core::sync_progress() {
  // One Progress per member but this node; new members start probing after our log.
  for (auto it = progress_.begin(); it != progress_.end();) {
    it = is_member(membership_, it->first) ? std::next(it) : progress_.erase(it);
  }
  auto add = [&](NodeId peer) {
    if (peer == config_.id || progress_.count(peer)) return;
    Progress pr;
    pr.next = log_.last_index() + 1;  // §5.3: optimistic, repaired by the consistency check
    progress_[peer] = pr;
  };
  for (NodeId v : membership_.voters) add(v);
  for (NodeId l : membership_.learners) add(l);
}

// ---------------------------------------------------------------------------------------------
// Client writes.

void Core::on_propose(const Propose& p) {
  Outcome out;
  out.leader_hint = leader_;
  if (role_ != Role::kLeader) {
    out.refusal = Refusal::kNotLeader;
  } else if (transfer_target_) {
    out.refusal = Refusal::kTransferring;  // thesis §3.10: hold writes while handing over
  } else if (p.commands.empty()) {
    out.refusal = Refusal::kInvalid;
  }
  if (out.refusal != Refusal::kNone) {
    ready_.outcome = out;
    return;
  }
  std::vector<Entry> entries;
  entries.reserve(p.commands.size());
  Index index = log_.last_index();
  for (const Payload& command : p.commands) {
    index = index + 1;
    entries.push_back(
        Entry{.term = term_, .index = index, .type = EntryType::kNormal, .data = command});
  }
  out.accepted = true;
  out.first_index = entries.front().index;
  out.last_index = entries.back().index;
  out.term = term_;
  ready_.outcome = out;
  append_local(std::move(entries));
  broadcast_append();
}

}  // namespace raftlab
