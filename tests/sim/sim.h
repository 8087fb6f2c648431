// The deterministic cluster simulator: N Raft cores, a simulated network routed through the real
// FaultFilter, simulated disks that lose unsynced writes on a crash, and one seeded scheduler.
//
// Time is simulated milliseconds. Every event (a node's tick, a message delivery, a disk sync
// completing) sits in one queue ordered by (time, sequence number), and every random choice is
// drawn from Prngs derived from the run seed, so a run replays exactly from its seed.
//
// The host side of node/ready.h is implemented here and nowhere else in the simulator:
//   1. PERSIST: a Ready's writes go to the node's pending list; a sync starts when the disk is
//      idle and covers every pending write (group commit); when it completes the writes become
//      durable, the after-persist messages of every covered Ready are sent and Persisted{id} is
//      stepped.
//   2. SEND: `messages` go to the network at once.
//   3. APPLY: `committed` is appended to the node's applied sequence.
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
#include <string>
#include <utility>
#include <vector>

#include "net/fault_filter.h"
#include "node/config.h"
#include "node/core.h"
#include "node/message.h"
#include "node/prng.h"
#include "node/ready.h"
#include "node/types.h"

namespace raftlab::sim {

/// Mixes a run seed with a stream number into an independent seed (splitmix64 finaliser).
uint64_t derive_seed(uint64_t seed, uint64_t stream);

struct SimConfig {
  int nodes_count = 5;  // node ids are 1..nodes_count
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
  bool up(NodeId id) const;

  /// Steps Propose into the node now; {accepted = false} if it is down.
  ProposeOutcome propose(NodeId id, std::vector<std::string> commands);
  void campaign(NodeId id);

  const Core* core(NodeId id) const;  // nullptr when down
  /// Entries applied by the node since its last (re)start; applied(id)[k - 1] has index k.
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
  struct Event;
  enum class EventKind : uint8_t { kTick, kDeliver, kSyncDone };

  void schedule(uint64_t at_ms, EventKind kind, int node, uint64_t incarnation,
                uint32_t message_slot);
  bool run_one_event();  // false when the queue is empty
  void start_node(int i);
  void step(int i, const Input& input, ProposeOutcome* outcome);
  void handle_ready(int i, Ready ready, ProposeOutcome* outcome);
  void send(int i, Message m);
  void maybe_start_sync(int i);
  void complete_sync(int i);
  void apply_write_durably(int i, const std::optional<HardState>& hs,
                           const std::vector<Entry>& entries);
  void refresh_partition();

  // Checkers (sim.cc). Each returns quietly or records a violation.
  void check_entries_written(int i, const Ready& ready, Index last_before, Term last_term_before);
  void check_role(int i, Role role_before, Term term_before);
  void check_commit(int i);
  void check_applied(int i, const std::vector<Entry>& committed);
  void check_before_send(int i, const Message& m);

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

  std::optional<Violation> violation_;
  Stats stats_;
};

}  // namespace raftlab::sim
