// The Raft core: a deterministic state machine with one entry point, step(). See ready.h for
// the contract with the host. No I/O, no clock, no threads, no global randomness.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/config.h"
#include "node/log.h"
#include "node/message.h"
#include "node/prng.h"
#include "node/progress.h"
#include "node/ready.h"
#include "node/types.h"

namespace raftlab {

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };

const char* to_string(Role role);

/// What a core restarts from: its durable hard state and log.
struct Restored {
  HardState hard_state;
  std::vector<Entry> entries;
};

/// A read-only view of the core, for hosts, tools and tests.
struct Status {
  NodeId id;
  Role role = Role::kFollower;
  Term term;
  NodeId vote;
  NodeId leader;
  Index commit;
  Index applied;  // highest index handed out in Ready::committed
  Index last_index;
  Term last_term;
  Index durable_index;  // highest index known durable on this node
};

class Core {
 public:
  /// Throws std::invalid_argument on a config or restored state that cannot be right
  /// (this node not a voter, commit beyond the restored log, ...).
  explicit Core(Config config, Restored restored = {});

  Ready step(const Input& input);

  Status status() const;
  const Config& config() const { return config_; }
  const RaftLog& log() const { return log_; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId leader() const { return leader_; }
  Index commit() const { return commit_; }
  /// Leader only: the follower's progress, or nullptr.
  const Progress* progress(NodeId peer) const;

  /// Throws std::logic_error if an invariant of this core does not hold. step() calls it
  /// after every input when config.check_invariants is set.
  void check_invariants() const;

 private:
  // Input handlers.
  void on_tick();
  void on_receive(const Message& m);
  void on_propose(const Propose& p);
  void on_persisted(uint64_t persist_id);

  // Per-role message handling, after the term has been dealt with.
  void step_leader(const Message& m);
  void step_candidate(const Message& m);
  void step_follower(const Message& m);

  // Handlers shared by roles.
  void handle_vote_request(const Message& m);
  void handle_append_entries(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_append_response(const Message& m);
  void handle_vote_response(const Message& m);

  // Role changes happen only here.
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();

  void campaign();
  void reset_election_timer();
  void tally_votes();  // wins or loses the (pre-)election once a majority has answered
  size_t quorum() const { return config_.voters.size() / 2 + 1; }
  bool is_voter(NodeId id) const;

  // Leader replication.
  void send_append(NodeId to, bool allow_empty);
  void broadcast_append();
  void broadcast_heartbeat();
  void maybe_commit();
  void check_quorum_round();

  void append_local(std::vector<Entry> entries);  // append + record the write
  void advance_commit(Index commit);
  void send(Message m);

  // Durability bookkeeping.
  struct PendingWrite {
    uint64_t persist_id;
    Index last_index;  // log end at that write (lowered if a later write truncates below it)
    HardState hard_state;
  };
  void record_write(bool hard_state_changed);
  void on_truncate(Index from);

  Config config_;
  Prng prng_;
  // Log Matching (§5.3): if two nodes' logs hold an entry with the same index and term, the
  // logs are identical up to it. Cross-node, so checked by the simulator after every step;
  // locally, indices are consecutive and terms never decrease (RaftLog::append).
  RaftLog log_;

  // Persistent state (Figure 2), mirrored by the host through Ready.
  Term term_;     // never decreases
  NodeId vote_;   // candidate voted for in term_, or none
  Index commit_;  // never decreases; commit_ <= log_.last_index()

  // Volatile state.
  // Election Safety (§5.2): at most one node is leader in a term, since a leader holds a
  // majority of votes and each node votes once per term (checked by the simulator).
  Role role_ = Role::kFollower;      // changes only in become_*
  NodeId leader_;                    // known leader of term_, or none
  Index applied_;                    // applied_ <= commit_; highest index handed out to apply
  Index durable_index_;              // log prefix known durable; durable_index_ <= last index
  uint64_t persist_id_issued_ = 0;   // newest write id handed to the host
  uint64_t persist_id_durable_ = 0;  // newest write id the host reported durable
  std::deque<PendingWrite> pending_writes_;
  HardState durable_hard_state_;  // the hard state as of persist_id_durable_
  HardState written_hard_state_;  // the hard state as last handed to the host

  // Ticks since the last reset: heard from the leader, granted a vote, started a campaign; for
  // a leader, ticks into the current CheckQuorum round.
  uint32_t election_elapsed_ = 0;
  uint32_t heartbeat_elapsed_ = 0;
  uint32_t election_timeout_ = 0;  // randomized in [min, max) at every reset (§5.2)

  std::map<NodeId, bool> votes_;         // candidate/pre-candidate: answers received
  std::map<NodeId, Progress> progress_;  // leader: one per other voter

  Ready ready_;  // being assembled by the current step

  // For check_invariants(): values at the end of the previous step (monotonic fields).
  Term prev_term_;
  Index prev_commit_;
  Index prev_applied_;
};

}  // namespace raftlab
