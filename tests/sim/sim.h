// The deterministic cluster simulator: N Raft cores, a simulated network routed through the real
// FaultFilter, simulated disks that lose unsynced writes on a crash, and one seeded scheduler.
//
// Time is simulated milliseconds. Every event (a node's tick, a message delivery, a disk sync
// completing) sits in one queue ordered by (time, sequence number), and every random choice is
// drawn from Prngs derived from the run seed, so a run replays exactly from its seed.
//
// The host side of node/ready.h is the node's own: each simulated node runs node/pipeline.h's
// Pipeline, the code the node process runs, over adapters (sim.cc's NodeHost):
//   Storage       SimDisk: a Ready's writes go to the disk's pending list; a sync covers every
//                 pending write (group commit) and completes later, as a simulated event, so
//                 held messages_after_persist and Persisted are simulated too.
//   Outbox        the simulated network (checked: votes leave only once durable), Persisted
//                 back into the core, notices (kept in notices(); a leader's "follower lost
//                 entries" about a node whose disk no test cut (lose_tail) is a violation).
//   StateMachine  a KvStore; each applied entry is checked against the committed sequence and
//                 the node's durable log, each restored snapshot against the committed state.
//   Clients       propose() and read() are tracked by the pipeline like the node's clients
//                 (answered by index and term); served reads are checked for linearizability.
// Every snapshot_every applied entries the host snapshots its state machine (SnapshotTaken);
// a restart restores the state machine from the durable snapshot and the core from
// Restored{hard state, log, snapshot}.
//
// Safety is checked after every event, incrementally (O(new data) per event): see checkers in
// sim.cc. The first violation stops the run; violation() says what broke and replay_command()
// how to reproduce it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "net/fault_filter.h"
#include "node/config.h"
#include "node/core.h"
#include "node/message.h"
#include "node/pipeline.h"
#include "node/prng.h"
#include "node/ready.h"
#include "node/types.h"
#include "tests/sim/sim_disk.h"

namespace raftlab::sim {

/// The simulated state machine: a map of registers. A normal entry "key=value" sets `key`; any
/// other command sets the register "" (the MIT tests' plain values). Each value remembers the
/// index that wrote it, which is what the read checker compares. Its bytes (encode) are the
/// snapshot data: deterministic text, optionally padded to make snapshots big.
class KvStore {
 public:
  struct Cell {
    std::string value;
    uint64_t index = 0;  // the entry that wrote it
  };
  /// Applies the entry at applied() + 1 (no-ops and config entries change only applied()).
  void apply(const Entry& e);
  std::string encode(uint64_t padding_bytes) const;
  /// Replaces the content with decoded bytes; false if they are not encode()'s output.
  bool decode(const std::string& bytes);
  uint64_t applied() const { return applied_; }
  /// A hash of the content and applied(), kept up to date in O(1) per write.
  uint64_t hash() const;
  const Cell* get(const std::string& key) const;
  size_t size() const { return cells_.size(); }
  static std::pair<std::string, std::string> parse(const std::string& command);

 private:
  std::map<std::string, Cell> cells_;
  uint64_t applied_ = 0;
  uint64_t cells_hash_ = 0;  // sum of per-cell hashes, so one write updates it in O(1)
};

/// Mixes a run seed with a stream number into an independent seed (splitmix64 finaliser).
uint64_t derive_seed(uint64_t seed, uint64_t stream);

struct SimConfig {
  int nodes_count = 5;  // node ids are 1..nodes_count
  // The first voters_count nodes form the bootstrap configuration; the others are spares that
  // start outside it (Config.voters empty) until a membership change adds them. 0: all vote.
  int voters_count = 0;
  uint64_t seed = 1;
  uint32_t tick_ms = 10;
  uint32_t net_latency_min_ms = 1;   // base one-way latency, before the fault filter's delay
  uint32_t net_latency_max_ms = 3;   // inclusive
  uint32_t disk_latency_min_ms = 1;  // one sync
  uint32_t disk_latency_max_ms = 4;  // inclusive
  // Template for every core: timing, features, unsafe switches. id, voters, seed and
  // check_invariants are filled in per node.
  Config core;
  bool commands_unique = false;  // every client command is proposed once: a repeat is a bug
  // Check at send time that granted votes are durable. Off only to show what the bug does
  // when nothing catches it early (the vote_before_persist mutation test).
  bool check_persist_before_send = true;
  std::string replay_test_name;  // the Catch test that replays this run
  // The host snapshots its state machine every snapshot_every applied entries (0: never).
  uint64_t snapshot_every = 0;
  uint64_t snapshot_padding_bytes = 0;  // extra bytes in every snapshot (big-snapshot tests)
  // MIT 3D's bound on persisted Raft state: no node's durable log may hold more entries than
  // this (0: unchecked). Checked whenever a sync completes.
  uint64_t log_entries_max = 0;
};

/// What broke, where and when.
struct Violation {
  std::string checker;  // e.g. "election safety"
  std::string detail;
  uint64_t time_ms = 0;
};

struct Stats {
  std::array<uint64_t, kMessageTypeCount + 1> sent_by_type{};  // indexed by MessageType
  uint64_t messages_sent = 0;       // handed to the network (before the fault filter)
  uint64_t messages_delivered = 0;  // stepped into a live core
  uint64_t requests_sent = 0;       // messages with is_request(type)
  uint64_t bytes_sent = 0;          // rough wire size: a fixed header plus entry payloads
  uint64_t events = 0;
  uint64_t ticks = 0;  // node ticks
  uint64_t syncs = 0;
  uint64_t crashes = 0;
  uint64_t restarts = 0;
  uint64_t proposals_accepted = 0;
  uint64_t leaders_elected = 0;  // distinct (term, leader) pairs
  uint64_t snapshots_taken = 0;
  uint64_t snapshots_installed = 0;  // restore_snapshot from a leader's InstallSnapshot
  uint64_t entries_read_back = 0;    // released commands read from the disk (Storage::read_entry)
  uint64_t reads_served = 0;
  uint64_t reads_failed = 0;
  uint64_t transfers_accepted = 0;
  uint64_t config_changes_accepted = 0;
  // Answers to propose()'s commands through the pipeline's client path.
  uint64_t writes_applied = 0;      // their entry was applied at this node
  uint64_t writes_overwritten = 0;  // another leader's entry took their index
  uint64_t writes_snapshotted = 0;  // a restored snapshot covered them first
};

/// The fate of one read issued through Cluster::read.
struct ReadResult {
  bool done = false;    // served or failed
  bool served = false;  // answered with `value` (checked linearizable)
  std::string value;
  uint64_t value_index = 0;  // the entry that wrote the value (0: the key was never written)
  Refusal refusal = Refusal::kNone;
};

class Cluster {
 public:
  explicit Cluster(SimConfig config);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int size() const { return static_cast<int>(nodes_.size()); }
  static NodeId node_id(int i) { return NodeId(static_cast<uint64_t>(i) + 1); }
  uint64_t now_ms() const { return now_ms_; }
  uint64_t seed() const { return config_.seed; }
  const SimConfig& config() const { return config_; }

  /// Processes every event up to now + ms (stops early on a violation).
  void run_for(uint64_t ms);
  /// Processes events until pred() holds (checked after every event) or timeout_ms passes.
  bool run_until(const std::function<bool()>& pred, uint64_t timeout_ms);

  // Faults. The filter's rules may be edited freely; connect/disconnect keep an MIT-style
  // "disconnected" set and express it as partition groups of one node each.
  FaultFilter& faults() { return filter_; }
  void disconnect(NodeId id);
  void connect(NodeId id);
  bool connected(NodeId id) const;
  /// The MIT labrpc "long reordering": two thirds of the replies (never the requests) are held
  /// 200 ms + rand(1 + rand(2000)) ms. Per message type, so outside the FaultFilter's rules.
  void set_long_reordering(bool on) { long_reordering_ = on; }

  void crash(NodeId id);    // loses the core, unsynced writes and unsent after-persist messages
  void restart(NodeId id);  // a new core from the durable state
  /// Outside Raft's assumptions, deliberately: a crashed node's durable entries >= `from`
  /// vanish (SimDisk::lose_tail). Only tests that model a hand-cut WAL call it; it is what
  /// makes a leader's "follower lost entries" notice legitimate (checked in note).
  /// False if the node is up or its disk refuses. Checks that every committed entry is still
  /// durable on a majority.
  bool lose_tail(NodeId id, Index from);
  /// Every notice a node's Ready carried, in order: (reporting node, notice).
  const std::vector<std::pair<NodeId, Notice>>& notices() const { return notices_; }
  bool up(NodeId id) const;

  /// Steps Propose into the node now; {accepted = false} if it is down.
  Outcome propose(NodeId id, std::vector<std::string> commands);
  void campaign(NodeId id);
  /// Steps ReadIndex into the node for register `key`; returns the read's id (0 if the node
  /// is down). The answer is checked for linearizability when it comes.
  uint64_t read(NodeId id, const std::string& key);
  /// nullptr for an unknown id; a read of a node that crashes is dropped (never done).
  const ReadResult* read_result(uint64_t read_id) const;
  Outcome transfer_leader(NodeId id, NodeId target);
  Outcome change_membership(NodeId id, MembershipOp op, NodeId node);
  const KvStore& kv(NodeId id) const;
  const SimDisk& disk(NodeId id) const;

  const Core* core(NodeId id) const;  // nullptr when down
  /// Entries applied by the node's state machine; applied(id)[k - 1] has index k. A snapshot
  /// restore fills the prefix it covers from the committed sequence (after checking that the
  /// snapshot's state is the global state at its index).
  const std::vector<Entry>& applied(NodeId id) const;
  /// Every entry known committed, in index order (from the cores' commit indices).
  const std::vector<Entry>& committed() const { return committed_; }
  const HardState& durable_hard_state(NodeId id) const;
  const std::vector<Entry>& durable_entries(NodeId id) const;

  /// Exactly one live node believes it is leader: its index, else -1.
  int single_leader() const;

  bool ok() const { return !violation_.has_value(); }
  const std::optional<Violation>& violation() const { return violation_; }
  /// Records a violation found by a test (liveness, tester bounds); the first one wins.
  void fail(std::string checker, std::string detail);
  /// The command line that replays this run.
  std::string replay_command() const;
  /// Multi-line: what broke, the seed and the replay command.
  std::string report() const;

  /// Every committed entry must be durable on a majority. Checked after every crash and
  /// restart (cheap form) and by tests at the end (full form).
  void check_committed_durable(bool full);

  /// Hash of every node's durable log and hard state, in-memory log end and applied sequence.
  uint64_t state_hash() const;
  const Stats& stats() const { return stats_; }

  /// Optional narration of notable events (leader elected, crash, ...), for the demo.
  std::function<void(const std::string&)> narrate;

 private:
  struct Node;
  struct NodeHost;
  struct Event;
  enum class EventKind : uint8_t { kTick, kDeliver, kSyncDone };

  void schedule(uint64_t at_ms, EventKind kind, int node, uint64_t incarnation,
                uint32_t message_slot);
  bool run_one_event();  // false when the queue is empty
  void start_node(int i);
  void step(int i, const Input& input, Outcome* outcome);
  void step_request(NodeId id, const Input& input, Outcome* outcome);
  void check_ready(int i, const Ready& ready);
  void send(int i, Message m);
  void begin_sync(int i);
  void complete_sync(int i);
  void note(int i, const Notice& notice);
  void answer_write(int i, Index index, WriteFate fate);
  void refresh_partition();

  // Checkers (sim.cc). Each returns quietly or records a violation.
  void check_entries_written(int i, const Ready& ready, Index last_before, Term last_term_before);
  void check_role(int i, Role role_before, Term term_before);
  void check_commit(int i);
  bool check_applied(int i, const Entry& e);
  void check_before_send(int i, const Message& m);
  void restore_state_machine(int i, const Snapshot& snapshot);
  void serve_read(int i, uint64_t read_id, Index index);
  void fail_read(int i, uint64_t read_id, Refusal refusal);
  void record_committed(const Entry& e, Term term);
  bool durable_on_majority(size_t k) const;

  SimConfig config_;
  Prng prng_;  // the scheduler's randomness: latencies, tick phases
  FaultFilter filter_;
  uint64_t now_ms_ = 0;
  uint64_t next_seq_ = 0;
  std::vector<Event> queue_;            // a binary heap ordered by (time, seq)
  std::vector<Message> message_slots_;  // messages in flight, referenced by events
  std::vector<uint32_t> free_slots_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<bool> disconnected_;
  bool long_reordering_ = false;

  // Global knowledge for the checkers.
  struct RegisteredEntry {
    EntryType type;
    std::string data;
    Term prev_term;
  };
  std::map<std::pair<uint64_t, uint64_t>, RegisteredEntry> registry_;  // (index, term)
  std::map<uint64_t, NodeId> leader_of_term_;
  std::vector<Entry> committed_;
  // committed_term_[k - 1]: the term of the node that first reported index k committed. It is
  // at least the term the entry was really committed in, so checking leader completeness only
  // for entries with a smaller recorded term never raises a false alarm.
  std::vector<uint64_t> committed_term_;
  std::map<std::string, uint64_t> committed_commands_;  // commands_unique: command -> index
  // The state machine applying committed_ (the reference every node's state is compared
  // with), and its hash after each index: global_hash_[k - 1] is the state after index k.
  KvStore global_kv_;
  std::vector<uint64_t> global_hash_;
  // Configurations: committed ones by index (0: bootstrap), and every one ever written (a
  // leader may commit with a newer, uncommitted one; single-server changes, thesis §4.1).
  std::map<uint64_t, Membership> committed_configs_;
  std::map<uint64_t, std::vector<Membership>> written_configs_;
  // Reads in progress: id -> (node, key, the index of the newest committed write of key when
  // the read was invoked: linearizability requires the answer to be at least that new).
  struct OpenRead {
    int node = 0;
    std::string key;
    uint64_t index_min = 0;
  };
  std::map<uint64_t, OpenRead> open_reads_;
  std::map<uint64_t, ReadResult> read_results_;
  uint64_t next_read_id_ = 1;

  // Notices, and the nodes whose disks lose_tail cut: a leader may say a follower lost
  // entries only if one of these really did (anything else misreads a stale rejection).
  std::vector<std::pair<NodeId, Notice>> notices_;
  std::set<NodeId> tails_lost_;

  std::optional<Violation> violation_;
  Stats stats_;
};

}  // namespace raftlab::sim
