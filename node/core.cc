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

}  // namespace

Core::Core(Config config, Restored restored)
    : config_(std::move(config)), prng_(node_seed(config_)) {
  if (!config_.id) throw std::invalid_argument("node id 0 is reserved");
  if (!is_voter(config_.id)) throw std::invalid_argument("node is not in its own voter list");
  std::vector<NodeId> sorted = config_.voters;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    throw std::invalid_argument("voter list names a node twice");
  }
  if (config_.heartbeat_ticks == 0 || config_.election_ticks_min <= config_.heartbeat_ticks ||
      config_.election_ticks_max <= config_.election_ticks_min) {
    throw std::invalid_argument("need 0 < heartbeat_ticks < election_ticks_min < max");
  }
  if (config_.entries_per_msg_max == 0 || config_.inflight_msgs_max == 0) {
    throw std::invalid_argument("entries_per_msg_max and inflight_msgs_max must be positive");
  }
  try {
    log_ = RaftLog(std::move(restored.entries));
  } catch (const std::logic_error& e) {
    throw std::invalid_argument(std::string("restored log: ") + e.what());
  }
  const HardState& hs = restored.hard_state;
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
  commit_ = hs.commit;
  durable_index_ = log_.last_index();  // everything restored was read back from disk
  durable_hard_state_ = hs;
  written_hard_state_ = hs;
  become_follower(term_, kNoNode);
  prev_term_ = term_;
  prev_commit_ = commit_;
}

bool Core::is_voter(NodeId id) const {
  return std::find(config_.voters.begin(), config_.voters.end(), id) != config_.voters.end();
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
  s.term = term_;
  s.vote = vote_;
  s.leader = leader_;
  s.commit = commit_;
  s.applied = applied_;
  s.last_index = log_.last_index();
  s.last_term = log_.last_term();
  s.durable_index = durable_index_;
  return s;
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
          if (role_ != Role::kLeader) campaign();
        }
      },
      input);

  // Apply: committed entries, in order, once each, and only once durable here (ready.h, 3).
  const Index apply_to = std::min(commit_, durable_index_);
  while (applied_ < apply_to) {
    applied_ = applied_ + 1;
    ready_.committed.push_back(log_.at(applied_));
    if (config_.unsafe.apply_twice && applied_.get() % 5 == 0) {
      ready_.committed.push_back(log_.at(applied_));  // the planted bug
    }
  }

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
  ++election_elapsed_;
  if (role_ == Role::kLeader) {
    ++heartbeat_elapsed_;
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
    return;
  }
  // §5.2: a follower (or candidate) that hears nothing for an election timeout campaigns.
  if (election_elapsed_ >= election_timeout_) campaign();
}

void Core::reset_election_timer() {
  election_elapsed_ = 0;
  // §5.2: a fresh random timeout at every reset, from the seeded generator only.
  election_timeout_ =
      static_cast<uint32_t>(prng_.uniform(config_.election_ticks_min, config_.election_ticks_max));
}

void Core::check_quorum_round() {
  size_t active = 1;  // the leader itself
  for (auto& [id, pr] : progress_) {
    if (pr.recent_active) ++active;
    pr.recent_active = false;
  }
  if (active < quorum()) become_follower(term_, kNoNode);
}

// ---------------------------------------------------------------------------------------------
// Role changes: the only places role_ is assigned.

void Core::become_follower(Term term, NodeId leader) {
  if (term < term_) fail("become_follower with a term below the current one");
  if (term > term_) {
    term_ = term;
    vote_ = kNoNode;  // a new term: no vote cast in it yet
  }
  role_ = Role::kFollower;
  leader_ = leader;
  votes_.clear();
  progress_.clear();
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
  for (NodeId peer : config_.voters) {
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

void Core::become_candidate() {
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
  for (NodeId peer : config_.voters) {
    if (peer == config_.id) continue;
    Message m;
    m.type = MessageType::kRequestVote;
    m.to = peer;
    m.term = term_;
    m.last_log_index = log_.last_index();
    m.last_log_term = log_.last_term();
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
  progress_.clear();
  for (NodeId peer : config_.voters) {
    if (peer == config_.id) continue;
    Progress pr;
    pr.next = log_.last_index() + 1;  // §5.3: optimistic, repaired by the consistency check
    progress_[peer] = pr;
  }
  // §5.4.2 and §8: a no-op in the new term lets earlier entries commit and tells the leader
  // what is committed.
  append_local({Entry{term_, log_.last_index() + 1, EntryType::kNoop, {}}});
  broadcast_append();
}

void Core::campaign() {
  if (config_.pre_vote) {
    become_pre_candidate();
  } else {
    become_candidate();
  }
  tally_votes();  // a one-node cluster wins its pre-vote at once
}

// Counts the answers so far; wins or loses the (pre-)election when a majority has spoken.
void Core::tally_votes() {
  size_t granted = 0;
  size_t refused = 0;
  for (NodeId v : config_.voters) {
    auto it = votes_.find(v);
    if (it == votes_.end()) continue;
    (it->second ? granted : refused) += 1;
  }
  if (granted >= quorum()) {
    if (role_ == Role::kPreCandidate) {
      become_candidate();  // its self-vote counts once durable (on_persisted)
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
  if (m.to != config_.id || m.from == config_.id || !is_voter(m.from)) return;

  // The term first, before any role sees the message (Figure 2, "Rules for all servers").
  if (m.term > term_) {
    const bool vote_request =
        m.type == MessageType::kRequestVote || m.type == MessageType::kPreVote;
    const bool in_lease = leader_ && election_elapsed_ < config_.election_ticks_min;
    if (vote_request && in_lease && (config_.check_quorum || m.type == MessageType::kPreVote)) {
      // §4.2.3 / thesis §9.6: while this node still hears from a leader, a request to vote in a
      // later term comes from a node that cannot see that leader; ignore it so a partitioned or
      // removed node cannot disrupt the cluster.
      return;
    }
    if (m.type == MessageType::kPreVote) {
      // A pre-vote names the term its sender would campaign in; it changes nothing here.
    } else if (m.type == MessageType::kPreVoteResponse && !m.reject) {
      // A granted pre-vote carries that future term too; the term is ours only on winning.
    } else {
      const bool from_leader =
          m.type == MessageType::kAppendEntries || m.type == MessageType::kHeartbeat;
      become_follower(m.term, from_leader ? m.from : kNoNode);
    }
  } else if (m.term < term_) {
    if (m.type == MessageType::kAppendEntries || m.type == MessageType::kHeartbeat) {
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
    default:
      break;  // answers to requests of an earlier role: stale
  }
}

void Core::step_candidate(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendEntries:
      // §5.2: a leader of this term exists; return to follower.
      become_follower(term_, m.from);
      handle_append_entries(m);
      break;
    case MessageType::kHeartbeat:
      become_follower(term_, m.from);
      handle_heartbeat(m);
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
    case MessageType::kHeartbeatResponse: {
      auto it = progress_.find(m.from);
      if (it == progress_.end()) break;
      Progress& pr = it->second;
      pr.recent_active = true;
      if (pr.state == ProgressState::kProbe) {
        pr.probe_sent = false;  // the probe may have been lost; try again
      } else if (!pr.inflight.empty() && pr.match == pr.match_at_heartbeat) {
        // A whole heartbeat round without progress while messages are in flight: one was
        // lost. Fall back to probing from what the follower is known to hold.
        pr.state = ProgressState::kProbe;
        pr.probe_sent = false;
        pr.inflight.clear();
        pr.next = pr.match + 1;
      }
      pr.match_at_heartbeat = pr.match;
      if (pr.match < log_.last_index()) send_append(m.from, false);
      break;
    }
    case MessageType::kAppendEntries:
    case MessageType::kHeartbeat:
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
      log_.truncate_from(e.index);
      on_truncate(e.index);
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
  send(std::move(r));
}

void Core::handle_append_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;

  if (!m.reject) {
    if (m.match_index > pr.match) pr.match = m.match_index;
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
    if (role_ == Role::kLeader) send_append(m.from, false);
    return;
  }

  if (m.rejected_index <= pr.match) return;  // stale: we already know more than this
  if (pr.state == ProgressState::kProbe && m.rejected_index + 1 != pr.next) return;  // old probe
  // Fast backup: skip to the end of the conflicting term in our log, or past the follower's
  // log when it is too short, but always back at least one entry.
  Index next = m.conflict_index;
  if (m.conflict_term) {
    if (auto last = log_.last_index_of_term(m.conflict_term)) next = *last + 1;
  }
  next = std::min(next, m.rejected_index);
  next = std::max(next, pr.match + 1);
  pr.state = ProgressState::kProbe;
  pr.probe_sent = false;
  pr.inflight.clear();
  pr.next = next;
  send_append(m.from, true);
}

// ---------------------------------------------------------------------------------------------
// Leader replication.

void Core::send_append(NodeId to, bool allow_empty) {
  Progress& pr = progress_.at(to);
  if (pr.state == ProgressState::kProbe && pr.probe_sent) return;
  if (pr.state == ProgressState::kReplicate && pr.inflight.size() >= config_.inflight_msgs_max) {
    return;  // the pipeline is full; acknowledgements will reopen it
  }
  pr.next = std::min(pr.next, log_.last_index() + 1);
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
    send(std::move(m));
  }
}

void Core::maybe_commit() {
  if (role_ != Role::kLeader) return;
  // The leader counts itself only with what is durable on its own disk (thesis §10.2.1).
  std::vector<Index> matches{durable_index_};
  for (const auto& [peer, pr] : progress_) matches.push_back(pr.match);
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

// ---------------------------------------------------------------------------------------------
// Proposals and durability.

void Core::on_propose(const Propose& p) {
  ProposeOutcome out;
  if (role_ != Role::kLeader || p.commands.empty()) {
    out.leader_hint = leader_;
    ready_.propose_outcome = out;
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
  out.leader_hint = config_.id;
  ready_.propose_outcome = out;
  append_local(std::move(entries));
  broadcast_append();
}

void Core::append_local(std::vector<Entry> entries) {
  for (Entry& e : entries) {
    // An entry at index i replaces whatever this Ready already asked to write at >= i.
    while (!ready_.entries.empty() && ready_.entries.back().index >= e.index) {
      ready_.entries.pop_back();
    }
    ready_.entries.push_back(e);  // shares the payload with the log
    log_.append(std::move(e));
  }
}

void Core::advance_commit(Index commit) {
  if (commit <= commit_) return;
  if (commit > log_.last_index()) fail("commit beyond the last index");
  commit_ = commit;
}

void Core::record_write(bool hard_state_changed) {
  ++persist_id_issued_;
  pending_writes_.push_back(
      PendingWrite{persist_id_issued_, log_.last_index(), HardState{term_, vote_, commit_}});
  if (hard_state_changed) written_hard_state_ = HardState{term_, vote_, commit_};
}

void Core::on_truncate(Index from) {
  // Whatever was durable at or after `from` is being replaced.
  durable_index_ = std::min(durable_index_, from - 1);
  for (PendingWrite& w : pending_writes_) w.last_index = std::min(w.last_index, from - 1);
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
      // thesis §10.2.1: the leader sends in parallel with its own disk write.
      now = role_ == Role::kLeader;
      break;
    case MessageType::kPreVote:
    case MessageType::kPreVoteResponse:
      now = true;
      break;  // binds nothing on either side
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
  if (log_.last_index() > Index(0) && log_.at(log_.last_index()).index != log_.last_index()) {
    fail("log tail index mismatch");
  }
  const std::string who = "node " + str(config_.id.get()) + ": ";
  if (commit_ > log_.last_index()) fail(who + "commit > last index");
  if (applied_ > commit_) fail(who + "applied > commit");
  if (durable_index_ > log_.last_index()) fail(who + "durable index > last index");
  if (term_ < prev_term_) fail(who + "term decreased");
  if (commit_ < prev_commit_) fail(who + "commit decreased");
  if (applied_ < prev_applied_) fail(who + "applied decreased");
  if (log_.last_term() > term_) fail(who + "log holds an entry from a future term");
  if (persist_id_durable_ > persist_id_issued_) fail(who + "durable write id beyond issued");
  switch (role_) {
    case Role::kLeader:
      if (leader_ != config_.id || vote_ != config_.id) fail(who + "leader without own vote");
      for (const auto& [peer, pr] : progress_) {
        if (pr.match >= pr.next) fail(who + "progress match >= next");
        if (pr.next > log_.last_index() + 1) fail(who + "progress next beyond the log");
        if (pr.inflight.size() > config_.inflight_msgs_max) fail(who + "inflight over limit");
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
      break;
  }
}

}  // namespace raftlab
