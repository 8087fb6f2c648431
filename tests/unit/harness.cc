// The hand-driven test cluster (see harness.h).
#include "tests/unit/harness.h"

#include <sstream>
#include <stdexcept>
#include <utility>
#include <variant>

namespace raftlab::testing {

namespace {

std::string describe_outcome(const Outcome& o) {
  if (!o.accepted) {
    return std::string("  refused: ") + to_string(o.refusal) + ", leader hint " +
           std::to_string(o.leader_hint.get());
  }
  if (o.first_index) {
    return "  accepted at " + std::to_string(o.first_index.get()) + ".." +
           std::to_string(o.last_index.get());
  }
  return "  accepted";
}

}  // namespace

// One node's side of node/pipeline.h: a synchronous in-memory disk (the HarnessNode's durable
// fields), an outbox into the harness's mailbox, a state machine that records what it is
// handed, and clients that record the reads. Each prints what it does for the transcripts.
class HarnessHost final : public Storage, public Outbox, public StateMachine, public Clients {
 public:
  HarnessHost(Harness& harness, int id) : harness_(harness), id_(id) {}

  // Storage. Printed in ready.h's order, except the hard state before the entries, as the
  // transcripts always had it (in memory the order of the two cannot matter).
  void write(Ready& ready) override {
    write_snapshot_and_compaction(ready);
    if (ready.hard_state) {
      const HardState& hs = *ready.hard_state;
      node().hard_state = hs;
      print("  hard state: term=" + std::to_string(hs.term.get()) + " vote=" +
            std::to_string(hs.vote.get()) + " commit=" + std::to_string(hs.commit.get()));
    }
    std::vector<Entry>& log = node().entries;
    for (Entry& e : ready.entries) {
      while (!log.empty() && log.back().index >= e.index) log.pop_back();
      print("  persist: " + describe(e));
      log.push_back(std::move(e));
    }
    ++written_seq_;
  }
  uint64_t written_seq() const override { return written_seq_; }
  uint64_t durable_seq() const override { return durable_seq_; }
  void begin_sync() override { sync_requested_ = true; }
  std::optional<Payload> read_snapshot(const SnapshotMeta& meta, uint64_t offset,
                                       uint64_t length) override {
    const auto it = node().snapshot_copies.find(meta.index);
    if (it == node().snapshot_copies.end()) return std::nullopt;
    return slice_snapshot(it->second, offset, length);
  }
  std::optional<Payload> read_entry(Index index, Term term) override {
    for (const Entry& e : node().entries) {
      if (e.index == index && e.term == term) return e.data;
    }
    return std::nullopt;
  }

  /// True once per begin_sync the harness has not completed yet.
  bool take_sync_request() { return std::exchange(sync_requested_, false); }
  void sync_done(Pipeline& pipeline) {
    durable_seq_ = written_seq_;
    const bool outer = std::exchange(releasing_, true);
    pipeline.sync_done(durable_seq_);
    releasing_ = outer;
  }

  /// The transcripts label each message by the list it came in. The pipeline sends
  /// messages_after_persist either when a sync releases them or, if nothing is left to make
  /// durable (no writes here, or the unsafe switch), at once and before `messages`.
  /// Returns whether a sync is releasing (this Ready is its Persisted's) for ..._done.
  bool expect_after_persist_sends(const Ready& ready, bool release_before_persist) {
    const bool at_once = !ready.has_writes() || release_before_persist;
    after_persist_at_once_ = at_once ? ready.messages_after_persist.size() : 0;
    return std::exchange(releasing_, false);  // this Ready's own sends are labelled by list
  }
  void expect_after_persist_sends_done(bool releasing) {
    after_persist_at_once_ = 0;
    releasing_ = releasing;
  }

  // Outbox.
  void send(Message m) override {
    const bool after_persist = releasing_ || after_persist_at_once_ > 0;
    if (after_persist_at_once_ > 0) --after_persist_at_once_;
    print((after_persist ? "  send after persist: " : "  send: ") + describe(m));
    harness_.mailbox_.push_back(std::move(m));
  }
  void persisted(uint64_t persist_id) override { harness_.step(id_, Persisted{persist_id}); }
  void notice(const Notice& notice) override {
    print("  notice: " + notice.text);
    node().notices.push_back(notice);
  }

  // StateMachine: records every committed entry it is handed, as the core hands them.
  Index applied() const override {
    const HarnessNode& n = harness_.nodes_.at(id_);
    return n.applied.empty() ? n.restored_index : n.applied.back().index;
  }
  std::optional<ApplyResult> apply(const Entry& e) override {
    print("  apply: " + describe(e));
    node().applied.push_back(e);
    return ApplyResult{};
  }
  void restore(const Snapshot& snapshot) override {
    node().restored_index = snapshot.meta.index;
    node().applied.clear();
    print("  restore snapshot " + std::to_string(snapshot.meta.index.get()));
  }

  // Clients: only reads are tracked (a read's request_id is its id); writes answer through
  // the Outcome and the applied entries the tests look at.
  void answer_write(const ClientRef&, Index, WriteFate, const ApplyResult&) override {}
  void serve_read(const ClientRef& client, Index index) override {
    print("  read " + std::to_string(client.request_id) + " ready at " +
          std::to_string(index.get()));
    node().reads.push_back(ReadState{client.request_id, index});
  }
  void fail_read(const ClientRef&, const ReadFailure& failure) override {
    print("  read " + std::to_string(failure.id) + " failed: " + to_string(failure.refusal));
    node().reads_failed.push_back(failure);
  }
  void read_timed_out(const ClientRef&) override {}  // the harness never calls expire()

 private:
  HarnessNode& node() { return harness_.nodes_.at(id_); }
  void print(const std::string& line) { harness_.print(line); }

  void write_snapshot_and_compaction(const Ready& ready) {
    std::vector<Entry>& log = node().entries;
    if (ready.snapshot) {
      const Snapshot& s = *ready.snapshot;
      node().snapshot = s;
      node().snapshot_copies[s.meta.index] = s.data;
      print("  persist snapshot: " + std::to_string(s.meta.index.get()) + "/" +
            std::to_string(s.meta.term.get()) + " " + describe(s.meta.membership) + " \"" +
            s.data.str() + "\"");
    }
    if (ready.truncate_from) {
      std::erase_if(log, [&](const Entry& e) { return e.index >= *ready.truncate_from; });
      print("  truncate from " + std::to_string(ready.truncate_from->get()));
    }
    if (ready.compacted_through) {
      std::erase_if(log, [&](const Entry& e) { return e.index <= *ready.compacted_through; });
      print("  compact through " + std::to_string(ready.compacted_through->get()));
    }
  }

  Harness& harness_;
  int id_;
  uint64_t written_seq_ = 0;  // one per Ready with writes
  uint64_t durable_seq_ = 0;  // <= written_seq_; equal once the harness completes the sync
  bool sync_requested_ = false;
  bool releasing_ = false;            // inside sync_done: sends are the held after-persist ones
  size_t after_persist_at_once_ = 0;  // of this Ready's sends, the after-persist ones first
};

Config Harness::default_config() {
  Config c;
  c.heartbeat_ticks = 1;
  c.election_ticks_min = 10;
  c.election_ticks_max = 20;
  c.check_invariants = true;
  c.seed = 1;
  return c;
}

Config Harness::plain_config() {
  Config c = default_config();
  c.pre_vote = false;
  c.check_quorum = false;
  return c;
}

bool Harness::elect(int id) {
  campaign(id);
  stabilize();
  return core(id).role() == Role::kLeader;
}

Harness::~Harness() = default;

Harness::Harness(int count, Config base) : base_(std::move(base)) {
  base_.voters.clear();
  for (int i = 1; i <= count; ++i) base_.voters.push_back(NodeId(i));
  for (int i = 1; i <= count; ++i) {
    nodes_[i].bootstrap = base_.voters;
    restart(i);
  }
}

void Harness::add_spare(int id) {
  nodes_[id].bootstrap = {};
  restart(id);
}

std::vector<int> Harness::ids() const {
  std::vector<int> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

void Harness::print(const std::string& line) {
  if (trace) trace_text_ += line + "\n";
}

std::string Harness::take_trace() { return std::exchange(trace_text_, {}); }

void Harness::step(int id, const Input& input) {
  HarnessNode& n = nodes_.at(id);
  if (!n.up) return;
  // The pipeline answers only the reads it tracks: the request id is the read's own.
  if (const auto* read = std::get_if<ReadIndex>(&input)) {
    n.pipeline->track_read(read->id, ClientRef{0, read->id, 0}, 0);
  }
  run_pipeline(id, n.core->step(input));
}

// Every sync completes at once, so one Ready starts at most one; the bound only guards a loop.
constexpr size_t kSyncsPerReadyMax = 16;

void Harness::run_pipeline(int id, Ready&& ready) {
  HarnessNode& n = nodes_.at(id);
  if (on_ready) on_ready(id, ready);
  if (ready.empty()) return;
  print(std::to_string(id) + " ready:");
  const std::optional<Outcome> outcome = ready.outcome;  // the pipeline does not answer it
  const bool releasing =
      n.host->expect_after_persist_sends(ready, base_.unsafe.release_before_persist);
  n.pipeline->handle(std::move(ready));
  n.host->expect_after_persist_sends_done(releasing);
  if (outcome) print(describe_outcome(*outcome));
  complete_syncs(id);
}

// The harness's disk is memory: a sync is done as soon as the pipeline starts it. Completing
// it sends the held messages and steps Persisted, whose Ready runs through here in turn.
void Harness::complete_syncs(int id) {
  HarnessNode& n = nodes_.at(id);
  for (size_t i = 0; i < kSyncsPerReadyMax && n.host->take_sync_request(); ++i) {
    n.host->sync_done(*n.pipeline);
  }
  if (n.host->take_sync_request()) throw std::logic_error("harness: syncs beyond the bound");
}

void Harness::tick(int id, int count) {
  for (int i = 0; i < count; ++i) step(id, Tick{});
}

void Harness::fire_election_timeout(int id) {
  tick(id, static_cast<int>(base_.election_ticks_max));
}

Outcome Harness::propose(int id, const std::string& command) {
  HarnessNode& n = nodes_.at(id);
  Ready r = n.core->step(Propose(std::vector<Payload>{Payload(command)}));
  const Outcome out = r.outcome.value_or(Outcome{});
  run_pipeline(id, std::move(r));
  return out;
}

void Harness::snapshot(int id, const std::string& data) {
  const Index applied = core(id).applied();
  step(id, SnapshotTaken{applied,
                         Payload(data.empty() ? "state@" + std::to_string(applied.get()) : data)});
}

Outcome Harness::transfer(int id, int target) {
  Ready r = core(id).step(TransferLeader{NodeId(static_cast<uint64_t>(target))});
  const Outcome out = r.outcome.value_or(Outcome{});
  run_pipeline(id, std::move(r));
  return out;
}

Outcome Harness::change(int id, MembershipOp op, int node) {
  Ready r = core(id).step(ChangeMembership{op, NodeId(static_cast<uint64_t>(node))});
  const Outcome out = r.outcome.value_or(Outcome{});
  run_pipeline(id, std::move(r));
  return out;
}

std::vector<Message> Harness::take_mailbox() { return std::exchange(mailbox_, {}); }

size_t Harness::deliver_once(int only_to) {
  std::vector<Message> batch;
  std::vector<Message> keep;
  for (Message& m : mailbox_) {
    (only_to == 0 || static_cast<int>(m.to.get()) == only_to ? batch : keep)
        .push_back(std::move(m));
  }
  mailbox_ = std::move(keep);
  for (Message& m : batch) {
    const int from = static_cast<int>(m.from.get());
    const int to = static_cast<int>(m.to.get());
    if (isolated_.count(from) || isolated_.count(to) || cuts_.count({from, to}) ||
        !nodes_.at(to).up || (drop_if && drop_if(m))) {
      print("dropped: " + describe(m));
      continue;
    }
    ++delivered_[m.type];
    if (m.type == MessageType::kAppendEntriesResponse && m.reject) ++rejections_;
    print("deliver: " + describe(m));
    if (RecordingTracer* t = nodes_.at(to).tracer.get()) t->received(m);
    step(to, Receive{std::move(m)});
  }
  return batch.size();
}

size_t Harness::stabilize(size_t rounds_max) {
  size_t total = 0;
  for (size_t round = 0; round < rounds_max && !mailbox_.empty(); ++round) {
    total += deliver_once();
  }
  if (!mailbox_.empty()) throw std::runtime_error("stabilize: still messages after bound");
  return total;
}

void Harness::crash(int id) {
  HarnessNode& n = nodes_.at(id);
  n.core.reset();
  n.pipeline.reset();  // held messages and tracked reads die with the process
  n.host.reset();
  n.up = false;
  print(std::to_string(id) + " crashed");
}

void Harness::restart(int id) {
  HarnessNode& n = nodes_.at(id);
  Config c = base_;
  c.id = NodeId(id);
  c.voters = n.bootstrap;
  n.core = std::make_unique<Core>(c, Restored{n.hard_state, n.entries, n.snapshot});
  n.pipeline.reset();
  n.host = std::make_unique<HarnessHost>(*this, id);
  if (c.trace && !n.tracer) n.tracer = std::make_unique<RecordingTracer>();
  n.pipeline = std::make_unique<Pipeline>(
      Pipeline::Parts{n.host.get(), n.host.get(), n.host.get(), n.host.get(), n.tracer.get()},
      c.unsafe.release_before_persist);
  n.applied.clear();  // the state machine is rebuilt from the snapshot and the log
  n.restored_index = n.snapshot ? n.snapshot->meta.index : Index(0);
  n.up = true;
}

void Harness::lose_tail(int id, uint64_t from) {
  HarnessNode& n = nodes_.at(id);
  if (n.up) throw std::logic_error("lose_tail: node " + std::to_string(id) + " is up");
  std::erase_if(n.entries, [&](const Entry& e) { return e.index.get() >= from; });
  if (n.hard_state.commit.get() >= from) n.hard_state.commit = Index(from - 1);
  print(std::to_string(id) + " lost its durable entries from " + std::to_string(from));
}

int Harness::leader() const {
  for (const auto& [id, n] : nodes_) {
    if (n.up && n.core->role() == Role::kLeader) return id;
  }
  return 0;
}

uint64_t Harness::delivered_count(MessageType type) const {
  auto it = delivered_.find(type);
  return it == delivered_.end() ? 0 : it->second;
}

std::string describe_status(const Status& s) {
  std::ostringstream out;
  out << s.id.get() << " " << to_string(s.role) << " term=" << s.term.get()
      << " vote=" << s.vote.get() << " leader=" << s.leader.get() << " commit=" << s.commit.get()
      << " applied=" << s.applied.get() << " last=" << s.last_index.get() << "/"
      << s.last_term.get();
  if (s.snapshot_index) out << " snapshot=" << s.snapshot_index.get();
  if (s.first_index > Index(1)) out << " first=" << s.first_index.get();
  if (!s.voter) out << " (not a voter)";
  return out.str();
}

}  // namespace raftlab::testing
