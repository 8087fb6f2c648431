// The Raft core. Handlers follow Figure 2 of the extended paper; section numbers say where a
// rule comes from (§ = the paper, "thesis §" = Ongaro's dissertation).
#include "node/core.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace raftlab {
namespace {

std::string str(uint64_t v) { return std::to_string(v); }

// Mixes the node id into the seed so that nodes of one cluster draw different timeouts.
uint64_t node_seed(const Config& c) { return c.seed * 0x9e3779b97f4a7c15ULL + c.id.get(); }

[[noreturn]] void fail(const std::string& what) { throw std::logic_error("invariant: " + what); }

// A read that no leadership round confirmed within this many election timeouts fails, so a
// lost message never leaves a client waiting forever.
constexpr uint32_t kReadTimeoutElections = 2;

}  // namespace

Core::Core(Config config, Restored restored)
    : config_(std::move(config)), prng_(node_seed(config_)) {
  if (!config_.id) throw std::invalid_argument("node id 0 is reserved");
  std::vector<NodeId> sorted = config_.voters;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    throw std::invalid_argument("voter list names a node twice");
  }
  if (config_.heartbeat_ticks == 0 || config_.election_ticks_min <= config_.heartbeat_ticks ||
      config_.election_ticks_max <= config_.election_ticks_min) {
    throw std::invalid_argument("need 0 < heartbeat_ticks < election_ticks_min < max");
  }
  if (config_.entries_per_msg_max == 0 || config_.inflight_msgs_max == 0 ||
      config_.snapshot_chunk_bytes_max == 0) {
    throw std::invalid_argument("message, window and chunk limits must be positive");
  }
  const HardState& hs = restored.hard_state;
  membership_.voters = config_.voters;  // bootstrap, until a snapshot or the log says otherwise
  Index base;
  Term base_term;
  if (restored.snapshot) {
    const SnapshotMeta& meta = restored.snapshot->meta;
    snapshot_ = restored.snapshot;
    membership_ = meta.membership;
    base = meta.index;
    base_term = meta.term;
  }
  std::vector<Entry>& entries = restored.entries;
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
  try {
    log_ = RaftLog(base, base_term, std::move(entries));
  } catch (const std::logic_error& e) {
    throw std::invalid_argument(std::string("restored log: ") + e.what());
  }
  recompute_membership();
  const Index snapshot_index = snapshot_ ? snapshot_->meta.index : Index(0);
  if (snapshot_ && log_.last_index() < snapshot_index) {
    log_.reset(snapshot_index, snapshot_->meta.term);
  }
  if (hs.commit > log_.last_index()) {
    throw std::invalid_argument("restored commit " + str(hs.commit.get()) +
                                " is beyond the restored log's last index " +
                                str(log_.last_index().get()));
  }
  if (log_.last_term() > hs.term) {
    throw std::invalid_argument("restored log holds an entry from a term after the hard state's");
  }
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
  return s;
}

bool Core::committed_in_term() const {
  const std::optional<Term> t = log_.term_at(commit_);
  return t.has_value() && *t == term_;
}

// ---------------------------------------------------------------------------------------------
// The single entry point.

Ready Core::step(const Input& input) {
  ready_ = Ready{};
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
          if (role_ != Role::kLeader && may_campaign()) campaign();
        } else if constexpr (std::is_same_v<T, SnapshotTaken>) {
          on_snapshot_taken(in);
        } else if constexpr (std::is_same_v<T, ReadIndex>) {
          on_read_index(in.id);
        } else if constexpr (std::is_same_v<T, TransferLeader>) {
          on_transfer(in.target);
        } else if constexpr (std::is_same_v<T, ChangeMembership>) {
          on_change(in);
        }
      },
      input);

  // A leader removed from the configuration leads until the change commits (thesis §4.2.2),
  // then steps down.
  if (role_ == Role::kLeader && !self_is_voter() && commit_ >= config_index_) {
    become_follower(term_, kNoNode);
  }

  // Apply: committed entries, in order, once each, and only once durable here (ready.h, 3).
  const Index apply_to = std::min(commit_, durable_index_);
  while (applied_ < apply_to) {
    applied_ = applied_ + 1;
    ready_.committed.push_back(log_.at(applied_));
    if (config_.unsafe.apply_twice && applied_.get() % 5 == 0) {
      ready_.committed.push_back(log_.at(applied_));  // the planted bug
    }
  }
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
  // learner or a removed server never does.
  if (election_elapsed_ >= election_timeout_) {
    if (may_campaign()) {
      campaign();
    } else {
      reset_election_timer();
    }
  }
}

void Core::reset_election_timer() {
  election_elapsed_ = 0;
  // §5.2: a fresh random timeout at every reset, from the seeded generator only.
  election_timeout_ =
      static_cast<uint32_t>(prng_.uniform(config_.election_ticks_min, config_.election_ticks_max));
}

void Core::check_quorum_round() {
  size_t active = self_is_voter() ? 1 : 0;
  for (auto& [id, pr] : progress_) {
    if (pr.recent_active && is_voter(membership_, id)) ++active;
    pr.recent_active = false;
  }
  if (active < quorum()) become_follower(term_, kNoNode);
}

// ---------------------------------------------------------------------------------------------
// Role changes: the only places role_ is assigned.

void Core::become_follower(Term term, NodeId leader) {
  if (term < term_) fail("become_follower with a term below the current one");
  if (role_ == Role::kLeader) fail_leader_reads(Refusal::kLeadershipLost);
  if (term > term_) {
    term_ = term;
    vote_ = kNoNode;  // a new term: no vote cast in it yet
  }
  role_ = Role::kFollower;
  leader_ = leader;
  votes_.clear();
  progress_.clear();
  transfer_target_ = kNoNode;
  catchup_.reset();
  reset_election_timer();
}

void Core::become_pre_candidate() {
  if (role_ == Role::kLeader) fail("a leader cannot become a pre-candidate");
  // Thesis §9.6: ask whether an election could be won before disturbing anyone's term.
  role_ = Role::kPreCandidate;
  leader_ = kNoNode;
  votes_.clear();
  reset_election_timer();
  votes_[config_.id] = true;  // a pre-vote binds nothing, so no need to persist it
  for (NodeId peer : membership_.voters) {
    if (peer == config_.id) continue;
    Message m;
    m.type = MessageType::kPreVote;
    m.to = peer;
    m.term = term_.next();
    m.last_log_index = log_.last_index();
    m.last_log_term = log_.last_term();
    send(std::move(m));
  }
}

void Core::become_candidate(bool transfer) {
  if (role_ == Role::kLeader) fail("a leader cannot become a candidate");
  // §5.2: increment the term, vote for self, ask everyone else.
  term_ = term_.next();
  vote_ = config_.id;
  role_ = Role::kCandidate;
  leader_ = kNoNode;
  votes_.clear();
  reset_election_timer();
  // The self-vote counts only once it is durable (on_persisted), so a crash cannot leave this
  // node having voted twice in one term (thesis §10.2.1). The requests themselves go out only
  // after the vote is durable (messages_after_persist).
  for (NodeId peer : membership_.voters) {
    if (peer == config_.id) continue;
    Message m;
    m.type = MessageType::kRequestVote;
    m.to = peer;
    m.term = term_;
    m.last_log_index = log_.last_index();
    m.last_log_term = log_.last_term();
    m.transfer = transfer;
    send(std::move(m));
  }
}

void Core::become_leader() {
  if (role_ != Role::kCandidate) fail("only a candidate can become leader");
  role_ = Role::kLeader;
  leader_ = config_.id;
  votes_.clear();
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  transfer_target_ = kNoNode;
  progress_.clear();
  sync_progress();
  // §5.4.2 and §8: a no-op in the new term lets earlier entries commit and tells the leader
  // what is committed (needed before serving reads or changing membership).
  append_local({Entry{term_, log_.last_index() + 1, EntryType::kNoop, {}}});
  broadcast_append();
}

void Core::campaign() {
  if (config_.pre_vote) {
    become_pre_candidate();
  } else {
    become_candidate(false);
  }
  tally_votes();  // a one-node cluster wins its pre-vote at once
}

// Counts the answers so far (voters of the current configuration only).
void Core::tally_votes() {
  size_t granted = 0;
  size_t refused = 0;
  for (NodeId v : membership_.voters) {
    auto it = votes_.find(v);
    if (it == votes_.end()) continue;
    (it->second ? granted : refused) += 1;
  }
  if (granted >= quorum()) {
    if (role_ == Role::kPreCandidate) {
      become_candidate(false);  // its self-vote counts once durable (on_persisted)
    } else if (role_ == Role::kCandidate) {
      become_leader();
    }
  } else if (refused >= quorum()) {
    become_follower(term_, kNoNode);
  }
}

// ---------------------------------------------------------------------------------------------
// Messages.

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
      become_follower(m.term, from_leader ? m.from : kNoNode);
    }
  } else if (m.term < term_) {
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
      send(std::move(r));
    }
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

void Core::handle_vote_request(const Message& m) {
  const bool pre = m.type == MessageType::kPreVote;
  // Figure 2, RequestVote: grant if this node has not voted for someone else in this term...
  const bool can_vote = vote_ == m.from              // a repeat of a vote we gave
                        || (!vote_ && !leader_)      // no vote yet, no leader known
                        || (pre && m.term > term_);  // a pre-vote binds nothing
  // ...and the candidate's log is at least as up to date as ours (§5.4.1).
  const bool up_to_date = config_.unsafe.vote_without_log_check ||
                          log_.is_up_to_date(m.last_log_index, m.last_log_term);
  Message r;
  r.type = pre ? MessageType::kPreVoteResponse : MessageType::kRequestVoteResponse;
  r.to = m.from;
  if (can_vote && up_to_date) {
    r.term = pre ? m.term : term_;
    if (!pre) {
      vote_ = m.from;  // persisted before the answer leaves (messages_after_persist)
      reset_election_timer();
    }
  } else {
    r.term = term_;
    r.reject = true;
  }
  send(std::move(r));
}

void Core::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendEntries:
      leader_ = m.from;
      reset_election_timer();
      handle_append_entries(m);
      break;
    case MessageType::kHeartbeat:
      leader_ = m.from;
      reset_election_timer();
      handle_heartbeat(m);
      break;
    case MessageType::kInstallSnapshot:
      leader_ = m.from;
      reset_election_timer();
      handle_install_snapshot(m);
      break;
    case MessageType::kTimeoutNow:
      // Thesis §3.10: the leader hands over; campaign at once, skipping PreVote, with a
      // request that other servers' leases let through.
      leader_ = m.from;
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

void Core::handle_vote_response(const Message& m) {
  votes_.emplace(m.from, !m.reject);  // the first answer from each voter counts
  tally_votes();
}

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
    Snapshot s{incoming_->meta, Payload(std::move(incoming_->bytes))};
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
  snapshot_ = s;
  ready_.snapshot = s;
  ready_.restore_snapshot = true;  // step 8: reset the state machine
  ready_.committed.clear();
  commit_ = std::max(commit_, meta.index);
  applied_ = meta.index;
  membership_ = meta.membership;
  config_index_ = Index(0);
  recompute_membership();  // a kept suffix may hold a newer configuration
}

void Core::handle_read_index_request(const Message& m) {
  PendingRead r;
  r.id = m.context;
  r.origin = m.from;
  pending_reads_.push_back(r);
  assign_reads();
}

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
Index Core::backup_next(const Progress& pr, const Message& m) const {
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

void Core::handle_heartbeat_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (m.context > pr.read_round_acked) {
    pr.read_round_acked = m.context;
    confirm_reads();
  }
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
      if (pr.snapshot_acked == pr.snapshot_acked_at_heartbeat) {
        // No chunk acknowledged for a heartbeat round: resume from what the follower holds.
        pr.snapshot_sent = pr.snapshot_acked;
        pr.snapshot_chunks_inflight = 0;
      }
      pr.snapshot_acked_at_heartbeat = pr.snapshot_acked;
      break;
  }
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
  pr.match_at_heartbeat = pr.match;
  if (pr.match < log_.last_index() || pr.state == ProgressState::kSnapshot || verify) {
    send_append(m.from, verify);
  }
}

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
    pr.inflight.clear();
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

void Core::send_snapshot_chunks(NodeId to, Progress& pr) {
  const std::string& bytes = pr.snapshot->data.str();
  const uint64_t size = bytes.size();
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
    m.chunk = Payload(bytes.substr(pr.snapshot_sent, length));
    m.done = pr.snapshot_sent + length == size;
    m.commit = commit_;
    pr.snapshot_sent += length;
    ++pr.snapshot_chunks_inflight;
    send(std::move(m));
    if (size == 0) break;
  }
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
// Client requests.

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
    entries.push_back(Entry{term_, index, EntryType::kNormal, command});
  }
  out.accepted = true;
  out.first_index = entries.front().index;
  out.last_index = entries.back().index;
  out.term = term_;
  ready_.outcome = out;
  append_local(std::move(entries));
  broadcast_append();
}

void Core::on_snapshot_taken(const SnapshotTaken& s) {
  if (s.index > applied_) fail("snapshot at " + str(s.index.get()) + " beyond applied");
  if (snapshot_ && s.index <= snapshot_->meta.index) return;  // nothing new
  const std::optional<Term> term = log_.term_at(s.index);
  if (!term) fail("snapshot at " + str(s.index.get()) + " of a compacted entry");
  // The configuration in force at the snapshot's index: the newest config entry at or below
  // it, else what the log started from.
  Membership m = snapshot_ ? snapshot_->meta.membership : Membership{config_.voters, {}};
  for (Index i = s.index; i >= log_.first_index() && i > Index(0); i = i - 1) {
    if (log_.at(i).type == EntryType::kConfig) {
      decode_membership(log_.at(i).data.str(), m);
      break;
    }
  }
  snapshot_ = Snapshot{SnapshotMeta{s.index, *term, m}, s.data};
  ready_.snapshot = snapshot_;
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

void Core::on_read_index(uint64_t id) {
  if (role_ == Role::kLeader) {
    PendingRead r;
    r.id = id;
    pending_reads_.push_back(r);
    assign_reads();
    return;
  }
  if (role_ == Role::kFollower && leader_) {
    // Thesis §6.4.1: a follower asks the leader for a read index, then serves the read itself
    // once it has applied that far.
    waiting_reads_.push_back(WaitingRead{id, Index(0), 0});
    Message m;
    m.type = MessageType::kReadIndex;
    m.to = leader_;
    m.term = term_;
    m.context = id;
    send(std::move(m));
    return;
  }
  ready_.reads_failed.push_back(ReadFailure{id, Refusal::kNotLeader, leader_});
}

// Thesis §6.4 steps 1-2: the read index is the commit index, once the leader has committed an
// entry of its own term (before that it does not know the true commit index).
void Core::assign_reads() {
  if (role_ != Role::kLeader || !committed_in_term()) return;
  bool assigned = false;
  for (PendingRead& r : pending_reads_) {
    if (r.round != 0) continue;
    if (!assigned) ++read_round_;
    assigned = true;
    r.index = commit_;
    r.round = read_round_;
  }
  if (!assigned) return;
  if (!config_.unsafe.read_without_heartbeat) {
    // Step 3: one heartbeat round confirms that no newer leader exists.
    broadcast_heartbeat();
  }
  confirm_reads();  // a one-voter cluster needs no answers
}

void Core::confirm_reads() {
  if (role_ != Role::kLeader) return;
  uint64_t confirmed = read_round_;
  if (!config_.unsafe.read_without_heartbeat) {
    std::vector<uint64_t> rounds;
    for (NodeId v : membership_.voters) {
      if (v == config_.id) {
        rounds.push_back(read_round_);
      } else if (auto it = progress_.find(v); it != progress_.end()) {
        rounds.push_back(it->second.read_round_acked);
      } else {
        rounds.push_back(0);
      }
    }
    if (rounds.empty()) return;
    std::sort(rounds.begin(), rounds.end(), std::greater<>());
    confirmed = rounds[quorum() - 1];
  }
  while (!pending_reads_.empty() && pending_reads_.front().round != 0 &&
         pending_reads_.front().round <= confirmed) {
    const PendingRead r = pending_reads_.front();
    pending_reads_.pop_front();
    if (r.origin) {
      Message m;
      m.type = MessageType::kReadIndexResponse;
      m.to = r.origin;
      m.term = term_;
      m.context = r.id;
      m.read_index = r.index;
      send(std::move(m));
    } else {
      waiting_reads_.push_back(WaitingRead{r.id, r.index, 0});  // step 4: wait for apply
    }
  }
}

void Core::fail_leader_reads(Refusal why) {
  for (const PendingRead& r : pending_reads_) {
    if (!r.origin) ready_.reads_failed.push_back(ReadFailure{r.id, why, kNoNode});
  }
  pending_reads_.clear();
}

void Core::release_reads() {
  for (auto it = waiting_reads_.begin(); it != waiting_reads_.end();) {
    if (it->index && it->index <= applied_) {
      ready_.reads.push_back(ReadState{it->id, it->index});
      it = waiting_reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void Core::on_transfer(NodeId target) {
  Outcome out;
  out.leader_hint = leader_;
  if (role_ != Role::kLeader) {
    out.refusal = Refusal::kNotLeader;
  } else if (target != config_.id && !is_voter(membership_, target)) {
    out.refusal = Refusal::kInvalid;
  } else if (transfer_target_ && transfer_target_ != target) {
    out.refusal = Refusal::kTransferring;
  }
  if (out.refusal == Refusal::kNone) {
    out.accepted = true;
    out.term = term_;
    if (target != config_.id && !transfer_target_) {
      // Thesis §3.10: stop taking writes, bring the target up to date, then TimeoutNow.
      transfer_target_ = target;
      transfer_elapsed_ = 0;
      timeout_now_sent_ = false;
      Progress& pr = progress_.at(target);
      if (pr.state == ProgressState::kProbe) pr.probe_sent = false;
      send_append(target, true);
      maybe_send_timeout_now();
    }
  }
  ready_.outcome = out;
}

void Core::maybe_send_timeout_now() {
  if (!transfer_target_ || timeout_now_sent_) return;
  auto it = progress_.find(transfer_target_);
  if (it == progress_.end() || it->second.match != log_.last_index()) return;
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = transfer_target_;
  m.term = term_;
  send(std::move(m));
  timeout_now_sent_ = true;
}

void Core::on_change(const ChangeMembership& change) {
  Outcome out;
  out.leader_hint = leader_;
  const bool pending = config_index_ > commit_ || catchup_.has_value();
  if (role_ != Role::kLeader) {
    out.refusal = Refusal::kNotLeader;
  } else if (transfer_target_) {
    out.refusal = Refusal::kTransferring;
  } else if (!committed_in_term()) {
    // A leader must commit an entry of its term before changing membership, or a change of
    // an earlier term it does not know is committed could be undone (the single-server
    // change bug found after the thesis; LogCabin and etcd wait likewise).
    out.refusal = Refusal::kNoCommitInTerm;
  } else if (pending && !config_.unsafe.concurrent_config_changes) {
    out.refusal = Refusal::kChangeInProgress;  // §4.1: one change at a time
  }
  Membership next = membership_;
  if (out.refusal == Refusal::kNone) {
    if (change.op == MembershipOp::kAddServer) {
      if (!change.node || is_member(membership_, change.node)) {
        out.refusal = Refusal::kInvalid;
      } else {
        next.learners.push_back(change.node);  // catches up first (§4.2.1)
      }
    } else {
      if (!is_member(membership_, change.node) ||
          (is_voter(membership_, change.node) && membership_.voters.size() == 1)) {
        out.refusal = Refusal::kInvalid;
      } else {
        std::erase(next.voters, change.node);
        std::erase(next.learners, change.node);
      }
    }
  }
  if (out.refusal != Refusal::kNone) {
    ready_.outcome = out;
    return;
  }
  const Index index = log_.last_index() + 1;
  append_local({Entry{term_, index, EntryType::kConfig, Payload(encode_membership(next))}});
  if (change.op == MembershipOp::kAddServer) {
    catchup_ = Catchup{change.node, 1, log_.last_index(), ticks_};
  } else if (catchup_ && catchup_->node == change.node) {
    catchup_.reset();
  }
  broadcast_append();
  out.accepted = true;
  out.first_index = index;
  out.last_index = index;
  out.term = term_;
  ready_.outcome = out;
}

// Thesis §4.2.1: the learner catches up in rounds; each round replicates up to the leader's
// last index at its start. A round that ends within an election timeout means the learner is
// close enough to promote without hurting availability.
void Core::advance_catchup() {
  if (role_ != Role::kLeader || !catchup_) return;
  auto it = progress_.find(catchup_->node);
  if (it == progress_.end()) {
    catchup_.reset();
    return;
  }
  if (it->second.match < catchup_->round_target) {
    if (ticks_ - catchup_->round_start_tick <= config_.election_ticks_max * 4) return;
  } else if (ticks_ - catchup_->round_start_tick <= config_.election_ticks_min &&
             config_index_ <= commit_ && !transfer_target_) {
    // Promote: one more single-server change, now that the learner's add has committed.
    Membership next = membership_;
    std::erase(next.learners, catchup_->node);
    next.voters.push_back(catchup_->node);
    catchup_.reset();
    append_local({Entry{term_, log_.last_index() + 1, EntryType::kConfig,
                        Payload(encode_membership(next))}});
    broadcast_append();
    return;
  } else if (config_index_ > commit_ || transfer_target_) {
    return;  // caught up, but wait for the add to commit
  }
  // Start another round, or give up and take the learner out again.
  if (++catchup_->round > config_.catchup_rounds_max) {
    Membership next = membership_;
    std::erase(next.learners, catchup_->node);
    catchup_.reset();
    if (config_index_ <= commit_) {
      append_local({Entry{term_, log_.last_index() + 1, EntryType::kConfig,
                          Payload(encode_membership(next))}});
      broadcast_append();
    }
    return;
  }
  catchup_->round_target = log_.last_index();
  catchup_->round_start_tick = ticks_;
}

// ---------------------------------------------------------------------------------------------
// Log, membership and durability.

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
}

void Core::on_entry_appended(const Entry& e) {
  if (e.type != EntryType::kConfig || config_.unsafe.config_on_commit) return;
  // Thesis §4.1: a configuration takes effect as soon as it is in the log.
  Membership m;
  if (!decode_membership(e.data.str(), m))
    fail("undecodable config entry at " + str(e.index.get()));
  config_index_ = e.index;
  set_membership(m);
}

void Core::truncate_local(Index from) {
  log_.truncate_from(from);
  // Whatever was durable at or after `from` is being replaced.
  durable_index_ = std::min(durable_index_, from - 1);
  for (PendingWrite& w : pending_writes_) w.last_index = std::min(w.last_index, from - 1);
  if (config_index_ >= from) recompute_membership();  // the config entry is gone: revert
}

void Core::recompute_membership() {
  // The newest configuration: the last config entry in the log (committed or not, §4.1),
  // else the snapshot's, else the bootstrap list.
  Membership m = snapshot_ ? snapshot_->meta.membership : Membership{config_.voters, {}};
  Index at;
  const Index limit = config_.unsafe.config_on_commit ? commit_ : log_.last_index();
  for (Index i = std::min(limit, log_.last_index()); i >= log_.first_index() && i > Index(0);
       i = i - 1) {
    if (log_.at(i).type == EntryType::kConfig) {
      decode_membership(log_.at(i).data.str(), m);
      at = i;
      break;
    }
  }
  config_index_ = at;
  set_membership(m);
}

bool Core::removed_by_pending_change() const {
  if (self_is_voter() || !config_index_ || config_index_ <= commit_) return false;
  // The configuration the pending one replaces: the config entry before it, else the
  // snapshot's, else the bootstrap list.
  Membership prev = snapshot_ ? snapshot_->meta.membership : Membership{config_.voters, {}};
  for (Index i = config_index_ - 1; i >= log_.first_index() && i > Index(0); i = i - 1) {
    if (log_.at(i).type == EntryType::kConfig) {
      decode_membership(log_.at(i).data.str(), prev);
      break;
    }
  }
  return is_voter(prev, config_.id);
}

void Core::set_membership(const Membership& m) {
  membership_ = m;
  if (role_ == Role::kLeader) {
    sync_progress();
    if (catchup_ && !is_member(membership_, catchup_->node)) catchup_.reset();
  }
}

void Core::advance_commit(Index commit) {
  if (commit <= commit_) return;
  if (commit > log_.last_index()) fail("commit beyond the last index");
  const Index old = commit_;
  commit_ = commit;
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
