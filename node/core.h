// The Raft core: a deterministic state machine with one entry point, step(). See ready.h for
// the contract with the host. No I/O, no clock, no threads, no global randomness.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/config.h"
#include "node/log.h"
#include "node/message.h"
#include "node/prng.h"
#include "node/progress.h"
#include "node/ready.h"
#include "node/trace.h"
#include "node/types.h"

namespace raftlab {

/// What a core restarts from: its durable hard state, newest snapshot and log.
struct Restored {
  HardState hard_state;
  std::vector<Entry> entries;  // consecutive; may start before the snapshot (trailing entries)
  std::optional<Snapshot> snapshot;
};

/// A read-only view of the core, for hosts, tools and tests.
struct Status {
  NodeId id;
  Role role = Role::kFollower;
  bool voter = false;  // false: a learner, or not (yet) a member
  Term term;
  NodeId vote;
  NodeId leader;
  Index commit;
  Index applied;  // highest index handed out in Ready::committed (or restored from a snapshot)
  Index last_index;
  Term last_term;
  Index first_index;     // first entry still in the log (after compaction)
  Index snapshot_index;  // newest snapshot, or 0
  Index durable_index;   // highest index known durable on this node
  Membership membership;
  NodeId transfer_target;     // leader: a leadership transfer under way, or none
  bool timer_frozen = false;  // the election timer is frozen (FreezeTimer)
};

class Core {
 public:
  /// Throws std::invalid_argument on a config or restored state that cannot be right
  /// (commit beyond the restored log, a log that does not continue the snapshot, ...).
  explicit Core(Config config, Restored restored = {});

  Ready step(const Input& input);

  Status status() const;
  const Config& config() const { return config_; }
  const RaftLog& log() const { return log_; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId leader() const { return leader_; }
  Index commit() const { return commit_; }
  Index applied() const { return applied_; }
  const Membership& membership() const { return membership_; }
  /// The newest snapshot's meta and size (never its bytes: the host keeps them).
  const std::optional<Snapshot>& snapshot() const { return snapshot_; }
  /// The meta a snapshot of the state machine at `index` (<= applied, not compacted) has:
  /// for a host that saves the bytes itself before SnapshotTaken{.saved = true}.
  std::optional<SnapshotMeta> snapshot_meta_at(Index index) const;
  /// The snapshots being sent to followers now (a leader's kSnapshot progress): the host must
  /// keep their bytes readable until they are no longer named here, even after newer ones.
  std::vector<Index> snapshots_in_use() const;
  /// Leader only: the follower's progress, or nullptr.
  const Progress* progress(NodeId peer) const;
  /// The election timer, in ticks: since its last reset, and the (randomized) timeout it fires
  /// at. Read-only, for hosts that draw it (`raftlab ui`).
  uint32_t election_elapsed_ticks() const { return election_elapsed_; }
  uint32_t election_timeout_ticks() const { return election_timeout_; }

  /// Throws std::logic_error if an invariant of this core does not hold. step() calls it
  /// after every input when config.check_invariants is set.
  void check_invariants() const;

 private:
  // Input handlers.
  void on_tick();
  void on_receive(const Message& m);
  void on_propose(const Propose& p);
  void on_persisted(uint64_t persist_id);
  void on_snapshot_taken(const SnapshotTaken& s);
  void on_read_index(uint64_t id);
  void on_transfer(NodeId target);
  void on_change(const ChangeMembership& change);
  void on_campaign(const Campaign& c);
  void on_freeze_timer(bool frozen);

  void answer_stale_term(const Message& m);

  // Per-role message handling, after the term has been dealt with.
  void step_leader(const Message& m);
  void step_candidate(const Message& m);
  void step_follower(const Message& m);

  // Handlers shared by roles.
  void handle_vote_request(const Message& m);
  void handle_append_entries(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_install_snapshot(const Message& m);
  void handle_append_response(const Message& m);
  Index backup_next(const Progress& pr, const Message& m) const;  // fast backup from a reject
  bool answers_after_match(const Progress& pr, const Message& m) const;
  void reset_lost_follower(NodeId peer, Progress& pr, const Message& m);
  void raise_match(Progress& pr, Index match);
  void handle_heartbeat_response(const Message& m);
  void handle_snapshot_response(const Message& m);
  void handle_vote_response(const Message& m);
  void handle_read_index_request(const Message& m);

  // Role changes happen only here.
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate(bool transfer);
  void become_leader();

  void campaign();
  /// leader: the leader whose message this is an answer to (none for other resets).
  void reset_election_timer(NodeId leader = kNoNode);
  void tally_votes();  // wins or loses the (pre-)election once a majority has answered
  size_t quorum() const { return membership_.voters.size() / 2 + 1; }
  bool self_is_voter() const { return is_voter(membership_, config_.id); }
  // A voter whose own removal is in its log but not committed (thesis §4.2.2) still campaigns
  // (counting only the new configuration's voters): its log may be the only one up to date
  // enough to win, and without it the remaining voters could never elect a leader.
  bool removed_by_pending_change() const;
  bool may_campaign() const { return self_is_voter() || removed_by_pending_change(); }
  bool committed_in_term() const;  // §8: the leader has committed an entry of its own term

  // Leader replication.
  void send_append(NodeId to, bool allow_empty);
  void judge_heartbeat_round(NodeId peer, Progress& pr);
  void judge_snapshot_round(NodeId peer, Progress& pr);
  void trace_snapshot_sent(NodeId to);  // a transfer of snapshot_ to `to` starts
  void send_snapshot_chunks(NodeId to, Progress& pr);
  void broadcast_append();
  void broadcast_heartbeat();
  void maybe_commit();
  void check_quorum_round();
  void sync_progress();  // one Progress per member but this node
  void maybe_send_timeout_now();
  void advance_catchup();

  // Reads (thesis §6.4).
  struct PendingRead {
    uint64_t id = 0;     // the host's id, or the follower's request id
    NodeId origin;       // none: this node's host; else the follower that asked
    Index index;         // the read index, once the leader has committed in its term
    uint64_t round = 0;  // the heartbeat round that confirms leadership, once assigned
    uint32_t age_ticks = 0;
  };
  struct WaitingRead {
    uint64_t id = 0;
    Index index;
    uint32_t age_ticks = 0;  // follower: waiting for the leader's answer while index is 0
  };
  void assign_reads();
  void confirm_reads();
  void fail_leader_reads(Refusal why);
  void release_reads();  // moves waiting reads whose index is applied into the Ready

  // Log and membership.
  void append_local(std::vector<Entry> entries);
  void append_config(const Membership& next);
  Membership membership_at_by_scan(Index index) const;
  void advance_commit(Index commit);
  void truncate_local(Index from);
  void on_entry_appended(const Entry& e);
  void recompute_membership();
  void set_membership(const Membership& m);
  void install_snapshot(const Snapshot& snapshot);
  void send(Message m);

  // Trace (node/trace.h): every emission is one line, `if (tracing()) trace({...});`, so a core
  // with Config::trace off builds no event at all.
  bool tracing() const { return config_.trace; }
  void trace(TraceEvent event) { ready_.trace.push_back(std::move(event)); }
  void trace_appended(Index first, Index last);  // one kAppended per run of one term
  void trace_config_applied(Index first, Index last);
  void trace_vote(const Message& request, bool granted, VoteWhy why);
  void note_leader(NodeId leader);  // a follower learns (or confirms) the leader of its term

  // Durability bookkeeping.
  struct PendingWrite {
    uint64_t persist_id;
    Index last_index;  // log end at that write (lowered if a later write truncates below it)
    HardState hard_state;
  };
  void record_write(bool hard_state_changed);

  Config config_;
  Prng prng_;
  // Log Matching (§5.3): if two nodes' logs hold an entry with the same index and term, the
  // logs are identical up to it. Cross-node, so checked by the simulator after every step;
  // locally, indices are consecutive and terms never decrease (RaftLog::append).
  RaftLog log_;
  std::optional<Snapshot> snapshot_;  // newest snapshot; covers every compacted entry

  // Persistent state (Figure 2), mirrored by the host through Ready.
  Term term_;     // never decreases
  NodeId vote_;   // candidate voted for in term_, or none
  Index commit_;  // never decreases; commit_ <= log_.last_index()

  // Membership (thesis chapter 4): the newest configuration in the log, in effect from the
  // moment it is appended, committed or not (§4.1).
  Membership membership_;
  Index config_index_;  // index of the entry that set membership_ (0: bootstrap or snapshot)

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

  uint64_t ticks_ = 0;  // ticks since this core started: the core's only notion of time
  // Ticks since the last reset: heard from the leader, granted a vote, started a campaign; for
  // a leader, ticks into the current CheckQuorum round.
  uint32_t election_elapsed_ = 0;
  uint32_t heartbeat_elapsed_ = 0;
  uint32_t election_timeout_ = 0;  // randomized in [min, max) at every reset (§5.2)
  // Frozen (FreezeTimer): election_elapsed_ still counts (so a dead leader's lease still runs
  // out for votes), but a follower or candidate never fires; survives role changes.
  bool timer_frozen_ = false;

  std::map<NodeId, bool> votes_;         // candidate/pre-candidate: answers received
  std::map<NodeId, Progress> progress_;  // leader: one per other member
  // Leader: the sequence number of the newest AppendEntries sent (carried in Message::context
  // and echoed by the answer), so an answer can be placed after or before a change of match.
  uint64_t append_seq_ = 0;

  // Leadership transfer (thesis §3.10), leader only.
  NodeId transfer_target_;  // none when no transfer is under way
  uint32_t transfer_elapsed_ = 0;
  bool timeout_now_sent_ = false;

  // Learner catch-up (thesis §4.2.1), leader only: the server being added.
  struct Catchup {
    NodeId node;
    uint32_t round = 1;
    Index round_target;  // the round ends when the learner holds this index
    uint64_t round_start_tick = 0;
  };
  std::optional<Catchup> catchup_;

  // Reads. Leader: reads waiting for a leadership round. Everyone: reads waiting to be applied
  // (a follower's have index 0 until the leader answers).
  uint64_t read_round_ = 0;  // leader: the newest heartbeat round that carries reads
  std::deque<PendingRead> pending_reads_;
  std::deque<WaitingRead> waiting_reads_;

  // Follower: a snapshot being received in chunks (Figure 13).
  struct IncomingSnapshot {
    SnapshotMeta meta;
    Term term;  // leader's term when the transfer began
    std::string bytes;
  };
  std::optional<IncomingSnapshot> incoming_;

  Ready ready_;  // being assembled by the current step

  // For check_invariants(): values at the end of the previous step (monotonic fields).
  Term prev_term_;
  Index prev_commit_;
  Index prev_applied_;
};

}  // namespace raftlab
