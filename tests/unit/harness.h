// A small hand-driven cluster for unit and transcript tests: nodes persist synchronously,
// messages wait in a mailbox until a test delivers them, and every Ready can be printed.
// The randomized, faulty world lives in tests/sim/; this one does only what a test says.
// Each node's Readys go through the node's own Pipeline (node/pipeline.h), the code the node
// process runs, over an in-memory adapter whose every sync completes as soon as it starts.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "node/core.h"
#include "node/pipeline.h"

namespace raftlab::testing {

class HarnessHost;  // the node's Storage, Outbox, StateMachine and Clients (harness.cc)

/// A node's Tracer (node/trace.h) that keeps what it is told. Like the node process's, it
/// numbers what its node sends (from 1), so a receipt names the send it is.
struct RecordingTracer final : public Tracer {
  void sent(Message& m) override {
    m.trace_seq = ++seq;
    sends.push_back(m);
  }
  void received(const Message& m) override { receipts.push_back(m); }
  void decided(const TraceEvent& e) override { decisions.push_back(e); }
  void applied(Index index) override { applied_to.push_back(index); }

  uint64_t seq = 0;
  std::vector<Message> sends;
  std::vector<Message> receipts;
  std::vector<TraceEvent> decisions;
  std::vector<Index> applied_to;
};

struct HarnessNode {
  std::unique_ptr<Core> core;
  HardState hard_state;              // durable
  std::vector<Entry> entries;        // durable log
  std::optional<Snapshot> snapshot;  // durable newest snapshot
  // The host's copy of every snapshot it saved or installed (a node's files): InstallSnapshot
  // chunks are read from here as they leave (Storage::read_snapshot).
  std::map<Index, Payload> snapshot_copies;
  Index restored_index;          // the state machine was last reset to this snapshot
  std::vector<Entry> applied;    // everything handed to apply since, in order
  std::vector<ReadState> reads;  // reads the node may serve, in order
  std::vector<ReadFailure> reads_failed;
  std::vector<Notice> notices;    // every notice its Readys carried, in order
  std::vector<NodeId> bootstrap;  // Config::voters it starts from
  bool up = true;
  // Config::trace only: what the node's pipeline traced (kept across restarts; the receipts
  // are the harness's, which delivers).
  std::unique_ptr<RecordingTracer> tracer;
  // Volatile like the core: replaced at every restart. The pipeline points into the host, so
  // it is declared after it (and destroyed first).
  std::unique_ptr<HarnessHost> host;
  std::unique_ptr<Pipeline> pipeline;
};

class Harness {
 public:
  /// Adds `count` nodes with ids 1..count sharing `base` (id and voters are filled in).
  explicit Harness(int count, Config base = default_config());
  ~Harness();                        // out of line: HarnessHost is complete only in harness.cc
  Harness(const Harness&) = delete;  // each host points back at its harness
  Harness& operator=(const Harness&) = delete;
  /// Adds a node outside the configuration (a server waiting to be added, thesis §4.2.1).
  void add_spare(int id);

  static Config default_config();
  /// default_config() with PreVote and CheckQuorum off: the paper's bare algorithm.
  static Config plain_config();
  /// Campaigns `id` and delivers until quiet; true if it became leader.
  bool elect(int id);

  Core& core(int id) { return *nodes_.at(id).core; }
  HarnessNode& node(int id) { return nodes_.at(id); }
  std::vector<int> ids() const;

  /// Steps `input` into node `id` and runs the Ready chain through the node's pipeline
  /// (persist at once, queue sends, apply, step Persisted). Prints it when `trace` is on.
  void step(int id, const Input& input);

  void tick(int id, int count = 1);
  /// Ticks `id` until its election timeout has surely passed (election_ticks_max ticks).
  void fire_election_timeout(int id);
  void campaign(int id) { step(id, Campaign{}); }
  Outcome propose(int id, const std::string& command);
  /// SnapshotTaken at the node's applied index, with "state@<index>" as the bytes (or `data`).
  void snapshot(int id, const std::string& data = "");
  void read(int id, uint64_t read_id) { step(id, ReadIndex{read_id}); }
  Outcome transfer(int id, int target);
  Outcome change(int id, MembershipOp op, int node);

  /// Delivers every message now in the mailbox (not those they cause). Returns how many.
  size_t deliver_once(int only_to = 0);
  /// Delivers until the mailbox is empty; bounded. Returns the number delivered.
  size_t stabilize(size_t rounds_max = 1000);

  /// Messages to or from isolated nodes, or across a cut, are dropped on delivery.
  void isolate(int id) { isolated_.insert(id); }
  void cut(int from, int to) { cuts_.insert({from, to}); }
  void heal() {
    isolated_.clear();
    cuts_.clear();
  }

  /// Crash: lose the core (the durable state stays). Restart: rebuild from durable state.
  void crash(int id);
  void restart(int id);
  /// Outside Raft's assumptions, for tests: a crashed node's durable entries >= `from` vanish
  /// (a WAL tail cut by hand); its durable commit drops to what is left.
  void lose_tail(int id, uint64_t from);

  const std::vector<Message>& mailbox() const { return mailbox_; }
  std::vector<Message> take_mailbox();  // removes and returns every queued message
  int leader() const;                   // the id of a node whose role is leader, or 0

  /// Messages for which this returns true are dropped on delivery (a targeted loss).
  std::function<bool(const Message&)> drop_if;
  /// Sees every Ready a core returns (empty or not) before the node's pipeline does.
  std::function<void(int id, const Ready&)> on_ready;
  bool trace = false;        // collect a text trace of every Ready and delivery
  std::string take_trace();  // returns and clears the trace
  uint64_t delivered_count(MessageType type) const;
  uint64_t rejections_delivered() const { return rejections_; }

 private:
  friend class HarnessHost;  // prints, fills the mailbox and steps Persisted
  // Hands a Ready to the node's pipeline and completes the syncs it starts.
  void run_pipeline(int id, Ready&& ready);
  void complete_syncs(int id);
  void print(const std::string& line);

  Config base_;
  std::map<int, HarnessNode> nodes_;
  std::vector<Message> mailbox_;
  std::set<int> isolated_;
  std::set<std::pair<int, int>> cuts_;
  std::string trace_text_;
  std::map<MessageType, uint64_t> delivered_;
  uint64_t rejections_ = 0;  // delivered AppendEntriesResponses that rejected
};

/// "term=3 vote=1 commit=2 ..." for a node, as transcripts print it.
std::string describe_status(const Status& s);

}  // namespace raftlab::testing
