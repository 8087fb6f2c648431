// The Raft core. Handlers follow Figure 2 of the extended paper; section numbers say where a
// rule comes from (§ = the paper, "thesis §" = Ongaro's dissertation). This file holds
// construction, the entry point, time, message dispatch, the log and durability, and the
// invariants; core_election.cc, core_replication.cc, core_snapshot.cc, core_read.cc and
// core_membership.cc hold the rest of Core, one section each.
#include "node/core.h"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "node/core_internal.h"

namespace raftlab {

using core_internal::fail;
using core_internal::str;

namespace {

// Mixes the node id into the seed so that nodes of one cluster draw different timeouts.
uint64_t node_seed(const Config& c) { return c.seed * 0x9e3779b97f4a7c15ULL + c.id.get(); }

// A read that no leadership round confirmed within this many election timeouts fails, so a
// lost message never leaves a client waiting forever.
constexpr uint32_t kReadTimeoutElections = 2;

// Throws std::invalid_argument unless the configuration's ids and limits make sense.
void check_config(const Config& config) {
  if (!config.id) throw std::invalid_argument("node id 0 is reserved");
  std::vector<NodeId> sorted = config.voters;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    throw std::invalid_argument("voter list names a node twice");
  }
  if (config.heartbeat_ticks == 0 || config.election_ticks_min <= config.heartbeat_ticks ||
      config.election_ticks_max <= config.election_ticks_min) {
    throw std::invalid_argument("need 0 < heartbeat_ticks < election_ticks_min < max");
  }
  if (config.entries_per_msg_max == 0 || config.inflight_msgs_max == 0 ||
      config.snapshot_chunk_bytes_max == 0) {
    throw std::invalid_argument("message, window and chunk limits must be positive");
  }
}

// The entry a restored log starts after (RaftLog's base).
struct LogBase {
  Index index;
  Term term;
};

// The snapshot's entry, or (when entries were kept below the snapshot) the first restored
// entry, which is then removed from `entries`. Throws std::invalid_argument on a gap or a
// disagreement with the snapshot.
LogBase restored_log_base(const std::optional<Snapshot>& snapshot, std::vector<Entry>& entries) {
  Index base;
  Term base_term;
  if (snapshot) {
    base = snapshot->meta.index;
    base_term = snapshot->meta.term;
  }
  if (!entries.empty()) {
    const Index first = entries.front().index;
    if (first > base + 1) {
      throw std::invalid_argument("restored log starts at " + str(first.get()) +
                                  ", leaving a gap after the snapshot at " + str(base.get()));
    }
    if (first <= base) {
      // Trailing entries kept below the snapshot: they must agree with it.
      const Entry* at_snapshot = nullptr;
      for (const Entry& e : entries) {
        if (e.index == base) at_snapshot = &e;
      }
      if (at_snapshot != nullptr && at_snapshot->term != base_term) {
        throw std::invalid_argument("restored log disagrees with the snapshot at its index");
      }
      // The entry before the first one is unknown: make the first entry the base.
      if (first > Index(1)) {
        base = first;
        base_term = entries.front().term;
        entries.erase(entries.begin());
      } else {
        base = Index(0);
        base_term = Term(0);
      }
    }
  }
  return LogBase{base, base_term};
}

// Throws std::invalid_argument if the hard state contradicts the restored log.
void check_restored_hard_state(const HardState& hs, const RaftLog& log) {
  if (hs.commit > log.last_index()) {
    throw std::invalid_argument("restored commit " + str(hs.commit.get()) +
                                " is beyond the restored log's last index " +
                                str(log.last_index().get()));
  }
  if (log.last_term() > hs.term) {
    throw std::invalid_argument("restored log holds an entry from a term after the hard state's");
  }
}

}  // namespace

Core::Core(Config config, Restored restored)
    : config_(std::move(config)), prng_(node_seed(config_)) {
  check_config(config_);
  const HardState& hs = restored.hard_state;
  membership_.voters = config_.voters;  // bootstrap, until a snapshot or the log says otherwise
  if (restored.snapshot) {
    snapshot_ = without_bytes(*restored.snapshot);  // the host keeps them (types.h)
    membership_ = restored.snapshot->meta.membership;
  }
  const LogBase base = restored_log_base(restored.snapshot, restored.entries);
  try {
    log_ = RaftLog(base.index, base.term, std::move(restored.entries));
  } catch (const std::logic_error& e) {
    throw std::invalid_argument(std::string("restored log: ") + e.what());
  }
  recompute_membership();
  const Index snapshot_index = snapshot_ ? snapshot_->meta.index : Index(0);
  if (snapshot_ && log_.last_index() < snapshot_index) {
    log_.reset(snapshot_index, snapshot_->meta.term);
  }
  check_restored_hard_state(hs, log_);
  term_ = hs.term;
  vote_ = hs.vote;
  commit_ = std::max(hs.commit, snapshot_index);
  applied_ = snapshot_index;           // the host restores its state machine from the snapshot
  durable_index_ = log_.last_index();  // everything restored was read back from disk
  durable_hard_state_ = hs;
  written_hard_state_ = HardState{term_, vote_, commit_};
  become_follower(term_, kNoNode);
  prev_term_ = term_;
  prev_commit_ = commit_;
  prev_applied_ = applied_;
}

const Progress* Core::progress(NodeId peer) const {
  if (role_ != Role::kLeader) return nullptr;
  auto it = progress_.find(peer);
  return it == progress_.end() ? nullptr : &it->second;
}

Status Core::status() const {
  Status s;
  s.id = config_.id;
  s.role = role_;
  s.voter = self_is_voter();
  s.term = term_;
  s.vote = vote_;
  s.leader = leader_;
  s.commit = commit_;
  s.applied = applied_;
  s.last_index = log_.last_index();
  s.last_term = log_.last_term();
  s.first_index = log_.first_index();
  s.snapshot_index = snapshot_ ? snapshot_->meta.index : Index(0);
  s.durable_index = durable_index_;
  s.membership = membership_;
  s.transfer_target = transfer_target_;
  s.timer_frozen = timer_frozen_;
  return s;
}

bool Core::committed_in_term() const {
  const std::optional<Term> t = log_.term_at(commit_);
  return t.has_value() && *t == term_;
}

// ---------------------------------------------------------------------------------------------
// The single entry point.

Ready Core::step(const Input& input) {
  if (tracing()) {
    // The first step also carries what the constructor decided (its role and timeout).
    std::vector<TraceEvent> carried = std::move(ready_.trace);
    ready_ = Ready{};
    ready_.trace = std::move(carried);
  } else {
    ready_ = Ready{};
  }
  std::visit(
      [this](const auto& in) {
        using T = std::decay_t<decltype(in)>;
        if constexpr (std::is_same_v<T, Tick>) {
          on_tick();
        } else if constexpr (std::is_same_v<T, Receive>) {
          on_receive(in.message);
        } else if constexpr (std::is_same_v<T, Propose>) {
          on_propose(in);
        } else if constexpr (std::is_same_v<T, Persisted>) {
          on_persisted(in.persist_id);
        } else if constexpr (std::is_same_v<T, Campaign>) {
          on_campaign(in);
        } else if constexpr (std::is_same_v<T, SnapshotTaken>) {
          on_snapshot_taken(in);
        } else if constexpr (std::is_same_v<T, ReadIndex>) {
          on_read_index(in.id);
        } else if constexpr (std::is_same_v<T, TransferLeader>) {
          on_transfer(in.target);
        } else if constexpr (std::is_same_v<T, ChangeMembership>) {
          on_change(in);
        } else if constexpr (std::is_same_v<T, FreezeTimer>) {
          on_freeze_timer(in.frozen);
        }
      },
      input);

  // A leader removed from the configuration leads until the change commits (thesis §4.2.2),
  // then steps down.
  if (role_ == Role::kLeader && !self_is_voter() && commit_ >= config_index_) {
    if (tracing()) trace({.kind = TraceKind::kStepDown, .text = "removed from the configuration"});
    become_follower(term_, kNoNode);
  }

  // Apply: committed entries, in order, once each, and only once durable here (ready.h, 3).
  const Index apply_to = std::min(commit_, durable_index_);
  if (tracing() && applied_ < apply_to) trace_config_applied(applied_ + 1, apply_to);
  while (applied_ < apply_to) {
    applied_ = applied_ + 1;
    ready_.committed.push_back(log_.at(applied_));
    if (config_.unsafe.apply_twice && applied_.get() % 5 == 0) {
      ready_.committed.push_back(log_.at(applied_));  // the planted bug
    }
  }
  log_.release_payloads(applied_, config_.log_payload_bytes_max);
  release_reads();

  // Persist: the hard state, if it changed since it was last handed out.
  const HardState hs{term_, vote_, commit_};
  const bool hard_state_changed = hs != written_hard_state_;
  if (hard_state_changed) ready_.hard_state = hs;
  if (ready_.has_writes()) record_write(hard_state_changed);
  ready_.persist_id = persist_id_issued_;

  if (config_.check_invariants) check_invariants();
  prev_term_ = term_;
  prev_commit_ = commit_;
  prev_applied_ = applied_;
  return std::move(ready_);
}

// ---------------------------------------------------------------------------------------------
// Time.

void Core::on_tick() {
  ++ticks_;
  ++election_elapsed_;
  for (PendingRead& r : pending_reads_) ++r.age_ticks;
  for (WaitingRead& r : waiting_reads_) ++r.age_ticks;
  // Reads that no answer reached in time fail (a lost ReadIndex message, a stuck round).
  const uint32_t read_timeout = kReadTimeoutElections * config_.election_ticks_max;
  for (auto it = waiting_reads_.begin(); it != waiting_reads_.end();) {
    if (!it->index && it->age_ticks > read_timeout) {
      ready_.reads_failed.push_back(ReadFailure{it->id, Refusal::kTimedOut, leader_});
      it = waiting_reads_.erase(it);
    } else {
      ++it;
    }
  }
  if (role_ == Role::kLeader) {
    for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
      if (it->age_ticks <= read_timeout) {
        ++it;
        continue;
      }
      if (!it->origin) {
        ready_.reads_failed.push_back(ReadFailure{it->id, Refusal::kTimedOut, leader_});
      }
      it = pending_reads_.erase(it);
    }
    ++heartbeat_elapsed_;
    if (transfer_target_ && ++transfer_elapsed_ >= config_.election_ticks_min) {
      // The target did not take over within an election timeout: resume (braft#264 is what
      // happens when this is forgotten: a leader that refuses writes forever).
      if (tracing()) {
        trace({.kind = TraceKind::kTransfer, .peer = transfer_target_, .text = "abort: timed out"});
      }
      transfer_target_ = kNoNode;
    }
    // CheckQuorum: once per election timeout, a leader that has not heard from a majority
    // steps down, so a partitioned leader stops claiming leadership (thesis §6.2).
    if (election_elapsed_ >= config_.election_ticks_min) {
      election_elapsed_ = 0;
      if (config_.check_quorum) {
        check_quorum_round();
        if (role_ != Role::kLeader) return;
      }
    }
    if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
      heartbeat_elapsed_ = 0;
      broadcast_heartbeat();
    }
    advance_catchup();
    return;
  }
  // §5.2: a follower (or candidate) that hears nothing for an election timeout campaigns. A
  // learner or a removed server never does, nor a node whose timer an operator froze.
  if (timer_frozen_) return;
  if (election_elapsed_ >= election_timeout_) {
    if (may_campaign()) {
      if (tracing()) trace({.kind = TraceKind::kTimeoutFired, .value = election_elapsed_});
      campaign();
    } else {
      reset_election_timer();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Messages: the term first, then dispatch by role.

void Core::on_receive(const Message& m) {
  // Messages from servers outside our configuration are accepted: they may be in a newer one
  // (a new leader this node has not heard of yet). PreVote and CheckQuorum keep removed
  // servers from disrupting (thesis §4.2.3).
  if (m.to != config_.id || m.from == config_.id || !m.from) return;

  // The term first, before any role sees the message (Figure 2, "Rules for all servers").
  if (m.term > term_) {
    const bool vote_request =
        m.type == MessageType::kRequestVote || m.type == MessageType::kPreVote;
    const bool in_lease = leader_ && election_elapsed_ < config_.election_ticks_min;
    if (vote_request && in_lease && !m.transfer &&
        (config_.check_quorum || m.type == MessageType::kPreVote)) {
      // §4.2.3 / thesis §9.6: while this node still hears from a leader, a request to vote in a
      // later term comes from a node that cannot see that leader; ignore it so a partitioned or
      // removed node cannot disrupt the cluster. A transfer's campaign is invited: it passes.
      if (tracing()) trace_vote(m, false, VoteWhy::kLease);  // refused, though unanswered
      return;
    }
    if (m.type == MessageType::kPreVote) {
      // A pre-vote names the term its sender would campaign in; it changes nothing here.
    } else if (m.type == MessageType::kPreVoteResponse && !m.reject) {
      // A granted pre-vote carries that future term too; the term is ours only on winning.
    } else {
      const bool from_leader =
          m.type == MessageType::kAppendEntries || m.type == MessageType::kHeartbeat ||
          m.type == MessageType::kInstallSnapshot || m.type == MessageType::kTimeoutNow;
      if (tracing() && role_ == Role::kLeader) {
        trace({.kind = TraceKind::kStepDown,
               .peer = m.from,
               .term = m.term,
               .text = "higher term " + str(m.term.get()) + " from " + str(m.from.get())});
      }
      become_follower(m.term, from_leader ? m.from : kNoNode);
    }
  } else if (m.term < term_) {
    answer_stale_term(m);
    return;  // everything else from an old term is stale
  }

  if (m.type == MessageType::kRequestVote || m.type == MessageType::kPreVote) {
    handle_vote_request(m);
    return;
  }
  switch (role_) {
    case Role::kLeader:
      step_leader(m);
      break;
    case Role::kCandidate:
    case Role::kPreCandidate:
      step_candidate(m);
      break;
    case Role::kFollower:
      step_follower(m);
      break;
  }
}

// A message from an earlier term: only a stale leader and a pre-candidate hear back.
void Core::answer_stale_term(const Message& m) {
  if (m.type == MessageType::kAppendEntries || m.type == MessageType::kHeartbeat ||
      m.type == MessageType::kInstallSnapshot) {
    // Figure 2: answer a stale leader with our term so it steps down. Without this, a leader
    // deposed while partitioned (PreVote keeps the others' terms still, the lease makes them
    // ignore its vote requests) would never learn of the new term.
    Message r;
    r.type = MessageType::kAppendEntriesResponse;
    r.to = m.from;
    r.term = term_;
    r.reject = true;
    send(std::move(r));
  } else if (m.type == MessageType::kPreVote) {
    Message r;
    r.type = MessageType::kPreVoteResponse;
    r.to = m.from;
    r.term = term_;
    r.reject = true;
    r.vote_why = static_cast<uint8_t>(VoteWhy::kStaleTerm);
    send(std::move(r));
    if (tracing()) trace_vote(m, false, VoteWhy::kStaleTerm);
  } else if (m.type == MessageType::kRequestVote && tracing()) {
    trace_vote(m, false, VoteWhy::kStaleTerm);  // refused, though unanswered
  }
}

void Core::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendEntries:
      note_leader(m.from);
      reset_election_timer(m.from);
      handle_append_entries(m);
      break;
    case MessageType::kHeartbeat:
      note_leader(m.from);
      reset_election_timer(m.from);
      handle_heartbeat(m);
      break;
    case MessageType::kInstallSnapshot:
      note_leader(m.from);
      reset_election_timer(m.from);
      handle_install_snapshot(m);
      break;
    case MessageType::kTimeoutNow:
      // Thesis §3.10: the leader hands over; campaign at once, skipping PreVote, with a
      // request that other servers' leases let through.
      leader_ = m.from;
      if (tracing()) {
        trace({.kind = TraceKind::kTransfer, .peer = config_.id, .text = "timeout now received"});
      }
      if (self_is_voter()) {
        become_candidate(true);
        tally_votes();
      }
      break;
    case MessageType::kReadIndex: {
      Message r;  // not the leader: the follower must ask elsewhere
      r.type = MessageType::kReadIndexResponse;
      r.to = m.from;
      r.term = term_;
      r.context = m.context;
      r.reject = true;
      send(std::move(r));
      break;
    }
    case MessageType::kReadIndexResponse:
      for (auto it = waiting_reads_.begin(); it != waiting_reads_.end(); ++it) {
        if (it->id != m.context || it->index) continue;
        if (m.reject) {
          ready_.reads_failed.push_back(ReadFailure{it->id, Refusal::kNotLeader, leader_});
          waiting_reads_.erase(it);
        } else {
          it->index = m.read_index;  // served once applied reaches it (release_reads)
        }
        break;
      }
      break;
    default:
      break;  // answers to requests of an earlier role: stale
  }
}

void Core::step_candidate(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendEntries:
    case MessageType::kHeartbeat:
    case MessageType::kInstallSnapshot:
      // §5.2: a leader of this term exists; return to follower and handle it as one.
      become_follower(term_, m.from);
      step_follower(m);
      break;
    case MessageType::kRequestVoteResponse:
      if (role_ == Role::kCandidate) handle_vote_response(m);
      break;
    case MessageType::kPreVoteResponse:
      // A grant names the term we would campaign in; anything else is an old round's answer.
      if (role_ == Role::kPreCandidate && (m.reject || m.term == term_.next())) {
        handle_vote_response(m);
      }
      break;
    default:
      break;
  }
}

void Core::step_leader(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendEntriesResponse:
      handle_append_response(m);
      break;
    case MessageType::kHeartbeatResponse:
      handle_heartbeat_response(m);
      break;
    case MessageType::kInstallSnapshotResponse:
      handle_snapshot_response(m);
      break;
    case MessageType::kReadIndex:
      handle_read_index_request(m);
      break;
    case MessageType::kAppendEntries:
    case MessageType::kHeartbeat:
    case MessageType::kInstallSnapshot:
      fail("leader " + str(config_.id.get()) + " of term " + str(term_.get()) +
           " received a leader's message from " + str(m.from.get()) + " in the same term");
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Log and durability.

void Core::append_local(std::vector<Entry> entries) {
  for (Entry& e : entries) {
    // An entry at index i replaces whatever this Ready already asked to write at >= i.
    while (!ready_.entries.empty() && ready_.entries.back().index >= e.index) {
      ready_.entries.pop_back();
    }
    ready_.entries.push_back(e);  // shares the payload with the log
    log_.append(std::move(e));
    on_entry_appended(log_.at(log_.last_index()));
  }
  // A moved-from Entry keeps its index: the appended range is front's index to the log's end.
  if (tracing() && !entries.empty()) trace_appended(entries.front().index, log_.last_index());
}

void Core::trace_appended(Index first, Index last) {
  const NodeId from = role_ == Role::kLeader ? kNoNode : leader_;
  Index run_first = first;
  for (Index i = first; i <= last; i = i + 1) {
    const Term term = log_.at(i).term;
    if (i < last && log_.at(i + 1).term == term) continue;
    trace(
        {.kind = TraceKind::kAppended, .peer = from, .term = term, .first = run_first, .last = i});
    run_first = i + 1;
  }
}

void Core::truncate_local(Index from) {
  log_.truncate_from(from);
  // Whatever was durable at or after `from` is being replaced.
  durable_index_ = std::min(durable_index_, from - 1);
  for (PendingWrite& w : pending_writes_) w.last_index = std::min(w.last_index, from - 1);
  if (config_index_ >= from) recompute_membership();  // the config entry is gone: revert
}

void Core::advance_commit(Index commit) {
  if (commit <= commit_) return;
  if (commit > log_.last_index()) fail("commit beyond the last index");
  const Index old = commit_;
  commit_ = commit;
  if (tracing()) trace({.kind = TraceKind::kCommit, .first = old, .last = commit_});
  if (config_.unsafe.config_on_commit) {
    // The planted bug: configurations take effect only once committed.
    for (Index i = old + 1; i <= commit_; i = i + 1) {
      if (i >= log_.first_index() && log_.at(i).type == EntryType::kConfig) {
        recompute_membership();
        break;
      }
    }
  }
  if (role_ == Role::kLeader) assign_reads();  // reads waiting for a commit in this term
}

void Core::record_write(bool hard_state_changed) {
  ++persist_id_issued_;
  pending_writes_.push_back(
      PendingWrite{persist_id_issued_, log_.last_index(), HardState{term_, vote_, commit_}});
  if (hard_state_changed) written_hard_state_ = HardState{term_, vote_, commit_};
}

void Core::on_persisted(uint64_t persist_id) {
  if (persist_id > persist_id_issued_) {
    fail("host reported write " + str(persist_id) + " durable, but only " +
         str(persist_id_issued_) + " were issued");
  }
  if (persist_id <= persist_id_durable_) return;
  persist_id_durable_ = persist_id;
  while (!pending_writes_.empty() && pending_writes_.front().persist_id <= persist_id) {
    durable_index_ = std::max(durable_index_, pending_writes_.front().last_index);
    durable_hard_state_ = pending_writes_.front().hard_state;
    pending_writes_.pop_front();
  }
  durable_index_ = std::min(durable_index_, log_.last_index());
  if (role_ == Role::kLeader) {
    maybe_commit();
  } else if (role_ == Role::kCandidate && durable_hard_state_.term == term_ &&
             durable_hard_state_.vote == config_.id && !votes_.count(config_.id)) {
    votes_[config_.id] = true;  // the self-vote is durable: now it counts
    tally_votes();
  }
}

void Core::send(Message m) {
  m.from = config_.id;
  bool now = false;
  switch (m.type) {
    case MessageType::kAppendEntries:
    case MessageType::kHeartbeat:
    case MessageType::kInstallSnapshot:
    case MessageType::kTimeoutNow:
    case MessageType::kReadIndexResponse:
      // thesis §10.2.1: the leader sends in parallel with its own disk write.
      now = role_ == Role::kLeader;
      break;
    case MessageType::kPreVote:
    case MessageType::kPreVoteResponse:
    case MessageType::kReadIndex:
      now = true;  // binds nothing on either side
      break;
    case MessageType::kRequestVoteResponse:
      now = config_.unsafe.vote_before_persist;
      break;
    default:
      break;
  }
  (now ? ready_.messages : ready_.messages_after_persist).push_back(std::move(m));
}

// ---------------------------------------------------------------------------------------------
// Invariants, checked after every step in debug and simulator builds.

void Core::check_invariants() const {
  // The log's own invariants (consecutive indices, terms never decreasing) are enforced by
  // RaftLog::append on every entry, so a full scan here would only cost O(log) per step.
  const std::string who = "node " + str(config_.id.get()) + ": ";
  if (log_.last_index() >= log_.first_index() &&
      log_.at(log_.last_index()).index != log_.last_index()) {
    fail(who + "log tail index mismatch");
  }
  if (commit_ > log_.last_index()) fail(who + "commit > last index");
  if (applied_ > commit_) fail(who + "applied > commit");
  if (durable_index_ > log_.last_index()) fail(who + "durable index > last index");
  if (term_ < prev_term_) fail(who + "term decreased");
  if (commit_ < prev_commit_) fail(who + "commit decreased");
  if (applied_ < prev_applied_) fail(who + "applied decreased");
  if (log_.last_term() > term_) fail(who + "log holds an entry from a future term");
  if (persist_id_durable_ > persist_id_issued_) fail(who + "durable write id beyond issued");
  if (log_.base_index() > Index(0) && (!snapshot_ || snapshot_->meta.index < log_.base_index())) {
    fail(who + "log compacted beyond the newest snapshot");
  }
  if (snapshot_ && snapshot_->meta.index > commit_) fail(who + "snapshot beyond commit");
  switch (role_) {
    case Role::kLeader:
      if (leader_ != config_.id || vote_ != config_.id) fail(who + "leader without own vote");
      for (const auto& [peer, pr] : progress_) {
        if (pr.match >= pr.next && pr.state != ProgressState::kSnapshot) {
          fail(who + "progress match >= next");
        }
        if (pr.next > log_.last_index() + 1) fail(who + "progress next beyond the log");
        if (pr.inflight.size() > config_.inflight_msgs_max) fail(who + "inflight over limit");
        if (!is_member(membership_, peer)) fail(who + "progress for a non-member");
      }
      break;
    case Role::kCandidate:
      if (vote_ != config_.id) fail(who + "candidate did not vote for itself");
      [[fallthrough]];
    case Role::kPreCandidate:
      if (leader_) fail(who + "candidate with a known leader");
      break;
    case Role::kFollower:
      if (!progress_.empty()) fail(who + "follower with leader progress");
      if (transfer_target_) fail(who + "follower with a transfer under way");
      break;
  }
}

}  // namespace raftlab
