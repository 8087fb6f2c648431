// The Raft core: linearizable reads by ReadIndex (thesis §6.4), on the leader and through a
// follower. The class and its invariants are in core.h.
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
// Reads.

void Core::handle_read_index_request(const Message& m) {
  PendingRead r;
  r.id = m.context;
  r.origin = m.from;
  pending_reads_.push_back(r);
  assign_reads();
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

}  // namespace raftlab
