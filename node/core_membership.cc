// The Raft core: leadership transfer (thesis §3.10) and membership changes, one server at a time
// (thesis §4). The class and its invariants are in core.h.
#include "node/core.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "node/core_internal.h"

namespace raftlab {

using core_internal::fail;
using core_internal::str;

// ---------------------------------------------------------------------------------------------
// Leadership transfer.

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
      if (tracing()) trace({.kind = TraceKind::kTransfer, .peer = target, .text = "start"});
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
  if (tracing()) {
    trace({.kind = TraceKind::kTransfer, .peer = transfer_target_, .text = "timeout now sent"});
  }
}

// ---------------------------------------------------------------------------------------------
// Membership changes.

// A configuration entry for `next`, at the end of the log in this term.
void Core::append_config(const Membership& next) {
  append_local({Entry{.term = term_,
                      .index = log_.last_index() + 1,
                      .type = EntryType::kConfig,
                      .data = Payload(encode_membership(next))}});
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
  append_config(next);
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
    if (tracing()) {
      trace({.kind = TraceKind::kMembership,
             .peer = catchup_->node,
             .last = log_.last_index() + 1,
             .text = "promote learner " + str(catchup_->node.get()) + " (caught up in round " +
                     str(catchup_->round) + ")"});
    }
    catchup_.reset();
    append_config(next);
    broadcast_append();
    return;
  } else if (config_index_ > commit_ || transfer_target_) {
    return;  // caught up, but wait for the add to commit
  }
  // Start another round, or give up and take the learner out again.
  if (++catchup_->round > config_.catchup_rounds_max) {
    Membership next = membership_;
    std::erase(next.learners, catchup_->node);
    if (tracing()) {
      trace({.kind = TraceKind::kMembership,
             .peer = catchup_->node,
             .text = "learner " + str(catchup_->node.get()) + " did not catch up in " +
                     str(config_.catchup_rounds_max) + " rounds: removing it"});
    }
    catchup_.reset();
    if (config_index_ <= commit_) {
      append_config(next);
      broadcast_append();
    }
    return;
  }
  catchup_->round_target = log_.last_index();
  catchup_->round_start_tick = ticks_;
}

void Core::on_entry_appended(const Entry& e) {
  if (e.type != EntryType::kConfig || config_.unsafe.config_on_commit) return;
  // Thesis §4.1: a configuration takes effect as soon as it is in the log.
  Membership m;
  if (!decode_membership(e.data.str(), m))
    fail("undecodable config entry at " + str(e.index.get()));
  config_index_ = e.index;
  set_membership(m);
  if (tracing()) {
    trace({.kind = TraceKind::kMembership, .last = e.index, .text = "appended " + describe(m)});
  }
}

void Core::trace_config_applied(Index first, Index last) {
  for (Index i = std::max(first, log_.first_index()); i <= last; i = i + 1) {
    const Entry& e = log_.at(i);
    if (e.type != EntryType::kConfig) continue;
    Membership m;
    if (!decode_membership(e.data.str(), m)) continue;  // on_entry_appended already failed
    trace({.kind = TraceKind::kMembership, .last = i, .text = "applied " + describe(m)});
  }
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

}  // namespace raftlab
