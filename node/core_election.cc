// The Raft core: elections (§5.2, thesis §9.6 PreVote, thesis §6.2 CheckQuorum) and the role
// changes. The class and its invariants are in core.h.
#include "node/core.h"

#include <utility>

#include "node/core_internal.h"

namespace raftlab {

using core_internal::fail;
using core_internal::str;

// ---------------------------------------------------------------------------------------------
// Election timer and CheckQuorum.

void Core::reset_election_timer(NodeId leader) {
  election_elapsed_ = 0;
  // §5.2: a fresh random timeout at every reset, from the seeded generator only.
  election_timeout_ =
      static_cast<uint32_t>(prng_.uniform(config_.election_ticks_min, config_.election_ticks_max));
  if (tracing()) {
    trace({.kind = TraceKind::kTimeoutDrawn, .peer = leader, .value = election_timeout_});
  }
}

void Core::check_quorum_round() {
  size_t active = self_is_voter() ? 1 : 0;
  for (auto& [id, pr] : progress_) {
    if (pr.recent_active && is_voter(membership_, id)) ++active;
    pr.recent_active = false;
  }
  if (active >= quorum()) return;
  if (tracing()) {
    trace({.kind = TraceKind::kStepDown,
           .text = "check quorum: heard from " + str(active) + " of " +
                   str(membership_.voters.size()) + " voters"});
  }
  become_follower(term_, kNoNode);
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
  if (tracing()) {
    trace({.kind = TraceKind::kRole, .peer = leader, .term = term_, .role = Role::kFollower});
  }
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
  if (tracing()) trace({.kind = TraceKind::kRole, .term = term_, .role = role_});
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
  if (tracing()) trace({.kind = TraceKind::kRole, .term = term_, .role = role_});
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
  if (tracing()) trace({.kind = TraceKind::kRole, .peer = leader_, .term = term_, .role = role_});
  votes_.clear();
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  transfer_target_ = kNoNode;
  progress_.clear();
  sync_progress();
  // §5.4.2 and §8: a no-op in the new term lets earlier entries commit and tells the leader
  // what is committed (needed before serving reads or changing membership).
  append_local(
      {Entry{.term = term_, .index = log_.last_index() + 1, .type = EntryType::kNoop, .data = {}}});
  broadcast_append();
}

// A campaign asked for from outside (tests, `raftlab campaign`): the timer firing now, frozen
// or not. A leader, a learner and a removed server ignore it, as their timers would.
void Core::on_campaign(const Campaign& c) {
  if (role_ == Role::kLeader || !may_campaign()) return;
  if (c.by_operator && tracing()) {
    trace({.kind = TraceKind::kTimer, .value = election_elapsed_, .text = "campaign"});
  }
  campaign();
}

// The operator's freeze (ready.h, FreezeTimer). A thaw draws a fresh timeout so the node does
// not fire at once on the ticks it counted while frozen: it waits a whole timeout from here.
void Core::on_freeze_timer(bool frozen) {
  if (frozen == timer_frozen_) return;  // idempotent: nothing to trace
  timer_frozen_ = frozen;
  if (tracing()) {
    trace({.kind = TraceKind::kTimer,
           .value = election_elapsed_,
           .text = frozen ? "freeze" : "thaw"});
  }
  if (!frozen && role_ != Role::kLeader) reset_election_timer();
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
// Votes.

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
  VoteWhy why = VoteWhy::kNone;
  if (can_vote && up_to_date) {
    r.term = pre ? m.term : term_;
    if (!pre) {
      vote_ = m.from;  // persisted before the answer leaves (messages_after_persist)
      reset_election_timer();
    }
  } else {
    // Figure 2 asks about the vote first, then the log: a node that cannot vote says so.
    why = can_vote ? VoteWhy::kLogBehind : VoteWhy::kAlreadyVoted;
    r.term = term_;
    r.reject = true;
    r.vote_why = static_cast<uint8_t>(why);
  }
  send(std::move(r));
  if (tracing()) trace_vote(m, why == VoteWhy::kNone, why);
}

void Core::trace_vote(const Message& request, bool granted, VoteWhy why) {
  trace({.kind = TraceKind::kVote,
         .peer = request.from,
         .term = request.term,
         .granted = granted,
         .prevote = request.type == MessageType::kPreVote,
         .why = why});
}

void Core::note_leader(NodeId leader) {
  if (tracing() && leader != leader_) {
    trace({.kind = TraceKind::kRole, .peer = leader, .term = term_, .role = Role::kFollower});
  }
  leader_ = leader;
}

void Core::handle_vote_response(const Message& m) {
  votes_.emplace(m.from, !m.reject);  // the first answer from each voter counts
  tally_votes();
}

}  // namespace raftlab
