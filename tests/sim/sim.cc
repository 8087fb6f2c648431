// The deterministic cluster simulator: scheduler, network, disks and safety checkers.
#include "tests/sim/sim.h"

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <exception>
#include <set>
#include <sstream>
#include <string_view>

namespace raftlab::sim {
namespace {

// Bounds on the loops of the simulator: a run that exceeds them is itself a bug.
constexpr uint64_t kEventsPerRunMax = 4'000'000'000ULL;
constexpr uint64_t kMessageHeaderBytes = 64;  // rough fixed wire cost of one message

uint64_t fnv(uint64_t h, uint64_t v) {
  for (int b = 0; b < 8; ++b) {
    h ^= (v >> (8 * b)) & 0xff;
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t fnv(uint64_t h, const std::string& s) {
  h = fnv(h, s.size());
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t hash_entry(uint64_t h, const Entry& e) {
  h = fnv(h, e.index.get());
  h = fnv(h, e.term.get());
  h = fnv(h, static_cast<uint64_t>(e.type));
  return fnv(h, e.data);
}

std::string entry_text(const Entry& e) { return describe(e); }

#ifndef RAFTLAB_SIM_TESTS_PATH
#define RAFTLAB_SIM_TESTS_PATH "raftlab_sim_tests"
#endif

constexpr std::string_view kKvMagic = "raftlab-kv 1\n";

uint64_t cell_hash(const std::string& key, const KvStore::Cell& cell) {
  uint64_t h = fnv(0xcbf29ce484222325ULL, key);
  h = fnv(h, cell.value);
  return fnv(h, cell.index);
}

}  // namespace

std::pair<std::string, std::string> KvStore::parse(const std::string& command) {
  const size_t eq = command.find('=');
  if (eq == std::string::npos) return {std::string(), command};
  return {command.substr(0, eq), command.substr(eq + 1)};
}

void KvStore::apply(const Entry& e) {
  applied_ = e.index.get();
  if (e.type != EntryType::kNormal) return;
  auto [key, value] = parse(e.data);
  Cell& cell = cells_[key];
  if (cell.index != 0) cells_hash_ -= cell_hash(key, cell);
  cell = Cell{std::move(value), e.index.get()};
  cells_hash_ += cell_hash(key, cell);
}

uint64_t KvStore::hash() const { return fnv(cells_hash_, applied_); }

const KvStore::Cell* KvStore::get(const std::string& key) const {
  auto it = cells_.find(key);
  return it == cells_.end() ? nullptr : &it->second;
}

// "raftlab-kv 1\napplied N\n" then one "index\tkey\tvalue\n" per register (keys and values hold
// no tabs or newlines), then the padding as one "#...\n" line.
std::string KvStore::encode(uint64_t padding_bytes) const {
  std::string out(kKvMagic);
  out += "applied " + std::to_string(applied_) + "\n";
  for (const auto& [key, cell] : cells_) {
    out += std::to_string(cell.index);
    out += '\t';
    out += key;
    out += '\t';
    out += cell.value;
    out += '\n';
  }
  if (padding_bytes > 0) {
    out += '#';
    out.append(padding_bytes, 'p');
    out += '\n';
  }
  return out;
}

bool KvStore::decode(const std::string& bytes) {
  std::string_view in(bytes);
  if (in.substr(0, kKvMagic.size()) != kKvMagic) return false;
  in.remove_prefix(kKvMagic.size());
  KvStore out;
  bool first = true;
  while (!in.empty()) {
    const size_t nl = in.find('\n');
    if (nl == std::string_view::npos) return false;
    const std::string_view line = in.substr(0, nl);
    in.remove_prefix(nl + 1);
    if (first) {
      if (line.substr(0, 8) != "applied ") return false;
      out.applied_ = std::strtoull(std::string(line.substr(8)).c_str(), nullptr, 10);
      first = false;
      continue;
    }
    if (!line.empty() && line[0] == '#') continue;  // padding
    const size_t t1 = line.find('\t');
    const size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string_view::npos) return false;
    Cell cell{std::string(line.substr(t2 + 1)),
              std::strtoull(std::string(line.substr(0, t1)).c_str(), nullptr, 10)};
    const std::string key(line.substr(t1 + 1, t2 - t1 - 1));
    out.cells_hash_ += cell_hash(key, cell);
    out.cells_[key] = std::move(cell);
  }
  if (first) return false;
  *this = std::move(out);
  return true;
}

uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// One scheduled event. Small on purpose: a delivery refers to its message by slot.
struct Cluster::Event {
  uint64_t time_ms;
  uint64_t seq;  // ties broken by scheduling order, so runs are deterministic
  EventKind kind;
  int node;
  uint64_t incarnation;  // the node's incarnation when scheduled; stale after a crash
  uint32_t message_slot;
};

namespace {
// Heap order: the event that runs last is "greater", so the heap's front runs first.
struct RunsLater {
  template <typename E>
  bool operator()(const E& a, const E& b) const {
    return a.time_ms != b.time_ms ? a.time_ms > b.time_ms : a.seq > b.seq;
  }
};
}  // namespace

/// One simulated machine: its core (when up), its disk and the node's Ready pipeline.
struct Cluster::Node {
  NodeId id;
  std::unique_ptr<Core> core;  // nullptr while crashed
  uint64_t incarnation = 0;    // bumped by crash and restart; stale events are ignored

  // The disk: what survives a crash (durable state) and the writes not yet synced.
  SimDisk disk;
  // The node's pipeline over this node's adapters; both are replaced at every start, so a
  // crash loses the held after-persist messages and the tracked client requests.
  std::unique_ptr<NodeHost> host;
  std::unique_ptr<Pipeline> pipeline;
  uint64_t newest_persist_id = 0;  // newest persist id issued (this incarnation)

  std::vector<Entry> applied;      // state machine input; a restore fills the covered prefix
  Index seen_commit;               // commit index already checked against the global sequence
  KvStore kv;                      // the state machine
  uint64_t snapshot_taken_at = 0;  // applied index of the newest snapshot (taken or restored)
  // The host's copies of the snapshots it saved or installed, as a node keeps files:
  // InstallSnapshot chunks are read from here (Storage::read_snapshot). Like the real host,
  // it keeps only the newest and those the core is sending (Core::snapshots_in_use).
  std::map<Index, Payload> snapshot_copies;
  void keep_snapshot_copy(const Snapshot& s) { snapshot_copies[s.meta.index] = s.data; }
  void retain_snapshot_copies(const std::vector<Index>& in_use) {
    if (snapshot_copies.size() <= 1) return;
    const Index newest = snapshot_copies.rbegin()->first;
    std::erase_if(snapshot_copies, [&](const auto& copy) {
      return copy.first != newest &&
             std::find(in_use.begin(), in_use.end(), copy.first) == in_use.end();
    });
  }
};

// The simulator's side of node/pipeline.h's interfaces for one node: each forwards to the
// Cluster, which owns the disk, the network and the checkers.
struct Cluster::NodeHost final : Storage, Outbox, StateMachine, Clients {
  NodeHost(Cluster& c, int i) : cluster(c), index(i) {}
  Node& node() const { return *cluster.nodes_[static_cast<size_t>(index)]; }

  // Storage. The pipeline does not read `entries` after the write: they move to the disk.
  void write(Ready& ready) override {
    SimDisk::Write w;
    w.hard_state = ready.hard_state;
    w.entries = std::move(ready.entries);
    w.snapshot = ready.snapshot;  // shares the bytes
    if (ready.snapshot) node().keep_snapshot_copy(*ready.snapshot);
    w.truncate_from = ready.truncate_from;
    w.compacted_through = ready.compacted_through;
    node().disk.write(std::move(w));
  }
  uint64_t written_seq() const override { return node().disk.written_seq(); }
  uint64_t durable_seq() const override { return node().disk.durable_seq(); }
  void begin_sync() override { cluster.begin_sync(index); }
  std::optional<Payload> read_snapshot(const SnapshotMeta& meta, uint64_t offset,
                                       uint64_t length) override {
    const auto it = node().snapshot_copies.find(meta.index);
    if (it == node().snapshot_copies.end()) return std::nullopt;
    return slice_snapshot(it->second, offset, length);
  }
  std::optional<Payload> read_entry(Index at, Term term) override {
    ++cluster.stats_.entries_read_back;
    const Entry* e = node().disk.entry_at(at);
    if (e == nullptr || e->term != term) return std::nullopt;
    return e->data;
  }

  // Outbox.
  void send(Message m) override { cluster.send(index, std::move(m)); }
  void persisted(uint64_t persist_id) override {
    cluster.step(index, Persisted{persist_id}, nullptr);
  }
  void notice(const Notice& n) override { cluster.note(index, n); }

  // StateMachine.
  Index applied() const override { return Index(node().kv.applied()); }
  std::optional<ApplyResult> apply(const Entry& e) override {
    if (!cluster.check_applied(index, e)) return std::nullopt;
    return ApplyResult{};
  }
  void restore(const Snapshot& snapshot) override {
    ++cluster.stats_.snapshots_installed;
    cluster.restore_state_machine(index, snapshot);
    if (cluster.ok() && cluster.narrate) {
      cluster.narrate("node " + std::to_string(node().id.get()) + " installs a snapshot at index " +
                      std::to_string(snapshot.meta.index.get()) + " (" +
                      std::to_string(snapshot.data.size()) + " bytes)");
    }
  }

  // Clients: a write's request_id is unused (the index says which); a read's is its id.
  void answer_write(const ClientRef&, Index at, WriteFate fate, const ApplyResult&) override {
    cluster.answer_write(index, at, fate);
  }
  void serve_read(const ClientRef& client, Index at) override {
    cluster.serve_read(index, client.request_id, at);
  }
  void fail_read(const ClientRef& client, const ReadFailure& f) override {
    cluster.fail_read(index, client.request_id, f.refusal);
  }
  void read_timed_out(const ClientRef& client) override {
    cluster.fail_read(index, client.request_id, Refusal::kTimedOut);
  }

  Cluster& cluster;
  int index;
};

Cluster::Cluster(SimConfig config)
    : config_(std::move(config)),
      prng_(derive_seed(config_.seed, 1)),
      filter_(derive_seed(config_.seed, 2)) {
  if (config_.nodes_count < 1) config_.nodes_count = 1;
  disconnected_.assign(static_cast<size_t>(config_.nodes_count), false);
  if (config_.voters_count <= 0 || config_.voters_count > config_.nodes_count) {
    config_.voters_count = config_.nodes_count;
  }
  committed_configs_[0] = Membership{};
  for (int j = 0; j < config_.voters_count; ++j) {
    committed_configs_[0].voters.push_back(node_id(j));
  }
  for (int i = 0; i < config_.nodes_count; ++i) {
    auto node = std::make_unique<Node>();
    node->id = node_id(i);
    nodes_.push_back(std::move(node));
  }
  for (int i = 0; i < config_.nodes_count && ok(); ++i) start_node(i);
}

Cluster::~Cluster() = default;

void Cluster::schedule(uint64_t at_ms, EventKind kind, int node, uint64_t incarnation,
                       uint32_t message_slot) {
  queue_.push_back(Event{at_ms, next_seq_++, kind, node, incarnation, message_slot});
  std::push_heap(queue_.begin(), queue_.end(), RunsLater{});
}

void Cluster::start_node(int i) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  Config c = config_.core;
  c.id = n.id;
  c.voters.clear();
  if (i < config_.voters_count) c.voters = committed_configs_.at(0).voters;  // else a spare
  c.seed = derive_seed(config_.seed, 1000 + n.id.get() * 1000 + n.incarnation);
  c.check_invariants = true;
  try {
    n.core = std::make_unique<Core>(
        c, Restored{n.disk.hard_state(), n.disk.entries(), n.disk.snapshot()});
  } catch (const std::exception& e) {
    fail("restart", "node " + std::to_string(n.id.get()) +
                        " cannot restart from its durable state: " + e.what());
    return;
  }
  n.host = std::make_unique<NodeHost>(*this, i);
  n.pipeline = std::make_unique<Pipeline>(
      Pipeline::Parts{n.host.get(), n.host.get(), n.host.get(), n.host.get()},
      c.unsafe.release_before_persist);
  n.newest_persist_id = 0;
  n.applied.clear();
  n.kv = KvStore{};
  n.snapshot_taken_at = 0;
  n.snapshot_copies.clear();  // what was not durable is gone; the durable one is kept below
  if (n.disk.snapshot()) n.keep_snapshot_copy(*n.disk.snapshot());
  n.seen_commit = Index();
  check_commit(i);
  if (!ok()) return;
  // The state machine restarts from the durable snapshot; the core re-applies what follows.
  if (n.disk.snapshot()) restore_state_machine(i, *n.disk.snapshot());
  if (!ok()) return;
  if (n.core->applied().get() != n.kv.applied()) {
    fail("restart", "node " + std::to_string(n.id.get()) + " core restarts with applied " +
                        std::to_string(n.core->applied().get()) + " but its state machine at " +
                        std::to_string(n.kv.applied()));
    return;
  }
  // A random phase, so the nodes' ticks are not in lockstep.
  schedule(now_ms_ + prng_.uniform(1, config_.tick_ms + 1), EventKind::kTick, i, n.incarnation, 0);
}

bool Cluster::run_one_event() {
  if (queue_.empty()) return false;
  std::pop_heap(queue_.begin(), queue_.end(), RunsLater{});
  const Event ev = queue_.back();
  queue_.pop_back();
  now_ms_ = std::max(now_ms_, ev.time_ms);
  ++stats_.events;
  Node& n = *nodes_[static_cast<size_t>(ev.node)];
  const bool live = n.core != nullptr && ev.incarnation == n.incarnation;
  switch (ev.kind) {
    case EventKind::kTick:
      if (!live) break;
      ++stats_.ticks;
      schedule(now_ms_ + config_.tick_ms, EventKind::kTick, ev.node, n.incarnation, 0);
      step(ev.node, Tick{}, nullptr);
      break;
    case EventKind::kDeliver: {
      Message m = std::move(message_slots_[ev.message_slot]);
      free_slots_.push_back(ev.message_slot);
      if (!live) break;  // a message to a crashed node (or a previous incarnation) is lost
      ++stats_.messages_delivered;
      step(ev.node, Receive{std::move(m)}, nullptr);
      break;
    }
    case EventKind::kSyncDone:
      if (!live) break;
      complete_sync(ev.node);
      break;
  }
  return true;
}

void Cluster::run_for(uint64_t ms) {
  const uint64_t end_ms = now_ms_ + ms;
  for (uint64_t events = 0; events < kEventsPerRunMax && ok(); ++events) {
    if (queue_.empty() || queue_.front().time_ms > end_ms) break;
    run_one_event();
  }
  if (ok()) now_ms_ = std::max(now_ms_, end_ms);
}

bool Cluster::run_until(const std::function<bool()>& pred, uint64_t timeout_ms) {
  const uint64_t end_ms = now_ms_ + timeout_ms;
  if (pred()) return true;
  for (uint64_t events = 0; events < kEventsPerRunMax && ok(); ++events) {
    if (queue_.empty() || queue_.front().time_ms > end_ms) break;
    run_one_event();
    if (ok() && pred()) return true;
  }
  if (ok()) now_ms_ = std::max(now_ms_, end_ms);
  return ok() && pred();
}

void Cluster::refresh_partition() {
  std::vector<std::set<NodeId>> groups;
  for (int i = 0; i < size(); ++i) {
    if (disconnected_[static_cast<size_t>(i)]) groups.push_back({node_id(i)});
  }
  if (groups.empty()) {
    filter_.heal();
  } else {
    filter_.partition(std::move(groups));
  }
}

void Cluster::disconnect(NodeId id) {
  disconnected_[id.get() - 1] = true;
  refresh_partition();
}

void Cluster::connect(NodeId id) {
  disconnected_[id.get() - 1] = false;
  refresh_partition();
}

bool Cluster::connected(NodeId id) const { return !disconnected_[id.get() - 1]; }

void Cluster::crash(NodeId id) {
  Node& n = *nodes_[id.get() - 1];
  if (n.core == nullptr) return;
  n.core.reset();
  ++n.incarnation;
  n.pipeline.reset();  // unsent after-persist messages and tracked requests are lost
  n.host.reset();
  n.disk.crash();  // and unsynced writes
  const int i = static_cast<int>(id.get() - 1);
  std::erase_if(open_reads_, [i](const auto& r) { return r.second.node == i; });
  ++stats_.crashes;
  if (narrate) narrate("node " + std::to_string(id.get()) + " crashes");
  check_committed_durable(false);
}

void Cluster::restart(NodeId id) {
  Node& n = *nodes_[id.get() - 1];
  if (n.core != nullptr) return;
  ++n.incarnation;
  ++stats_.restarts;
  start_node(static_cast<int>(id.get() - 1));
  if (narrate) narrate("node " + std::to_string(id.get()) + " restarts");
  check_committed_durable(false);
}

bool Cluster::lose_tail(NodeId id, Index from) {
  Node& n = *nodes_[id.get() - 1];
  if (n.core != nullptr || !n.disk.lose_tail(from)) return false;
  tails_lost_.insert(id);
  if (narrate) {
    narrate("node " + std::to_string(id.get()) + " loses its durable entries from " +
            std::to_string(from.get()));
  }
  check_committed_durable(true);
  return true;
}

bool Cluster::up(NodeId id) const { return nodes_[id.get() - 1]->core != nullptr; }

const Core* Cluster::core(NodeId id) const { return nodes_[id.get() - 1]->core.get(); }

const std::vector<Entry>& Cluster::applied(NodeId id) const {
  return nodes_[id.get() - 1]->applied;
}

const HardState& Cluster::durable_hard_state(NodeId id) const {
  return nodes_[id.get() - 1]->disk.hard_state();
}

const std::vector<Entry>& Cluster::durable_entries(NodeId id) const {
  return nodes_[id.get() - 1]->disk.entries();
}

int Cluster::single_leader() const {
  int leader = -1;
  for (int i = 0; i < size(); ++i) {
    const Core* c = nodes_[static_cast<size_t>(i)]->core.get();
    if (c == nullptr || c->role() != Role::kLeader) continue;
    if (leader != -1) return -1;
    leader = i;
  }
  return leader;
}

Outcome Cluster::propose(NodeId id, std::vector<std::string> commands) {
  Outcome outcome;
  const int i = static_cast<int>(id.get() - 1);
  if (!ok() || nodes_[static_cast<size_t>(i)]->core == nullptr) return outcome;
  const size_t count = commands.size();
  step(i, Propose{std::move(commands)}, &outcome);
  if (!outcome.accepted) return outcome;
  ++stats_.proposals_accepted;
  // The node's client path: each command is answered when its index is applied here.
  Node& n = *nodes_[static_cast<size_t>(i)];
  if (n.pipeline != nullptr) {
    n.pipeline->track_writes(outcome.first_index, outcome.term, std::vector<ClientRef>(count),
                             now_ms_);
  }
  return outcome;
}

void Cluster::step_request(NodeId id, const Input& input, Outcome* outcome) {
  const int i = static_cast<int>(id.get() - 1);
  if (!ok() || nodes_[static_cast<size_t>(i)]->core == nullptr) return;
  step(i, input, outcome);
}

uint64_t Cluster::read(NodeId id, const std::string& key) {
  const int i = static_cast<int>(id.get() - 1);
  if (!ok() || nodes_[static_cast<size_t>(i)]->core == nullptr) return 0;
  const uint64_t read_id = next_read_id_++;
  // Linearizability: every write known committed now must be visible to this read.
  const KvStore::Cell* newest = global_kv_.get(key);
  open_reads_[read_id] = OpenRead{i, key, newest ? newest->index : 0};
  read_results_[read_id] = ReadResult{};
  nodes_[static_cast<size_t>(i)]->pipeline->track_read(read_id, ClientRef{0, read_id}, now_ms_);
  step(i, ReadIndex{read_id}, nullptr);
  return read_id;
}

const ReadResult* Cluster::read_result(uint64_t read_id) const {
  auto it = read_results_.find(read_id);
  return it == read_results_.end() ? nullptr : &it->second;
}

Outcome Cluster::transfer_leader(NodeId id, NodeId target) {
  Outcome outcome;
  step_request(id, TransferLeader{target}, &outcome);
  if (outcome.accepted) ++stats_.transfers_accepted;
  if (outcome.accepted && narrate) {
    narrate("node " + std::to_string(id.get()) + " starts a leadership transfer to node " +
            std::to_string(target.get()));
  }
  return outcome;
}

Outcome Cluster::change_membership(NodeId id, MembershipOp op, NodeId node) {
  Outcome outcome;
  step_request(id, ChangeMembership{op, node}, &outcome);
  if (outcome.accepted) ++stats_.config_changes_accepted;
  if (outcome.accepted && narrate) {
    narrate("node " + std::to_string(id.get()) +
            (op == MembershipOp::kAddServer ? " adds node " : " removes node ") +
            std::to_string(node.get()) + " at index " + std::to_string(outcome.first_index.get()));
  }
  return outcome;
}

const KvStore& Cluster::kv(NodeId id) const { return nodes_[id.get() - 1]->kv; }

const SimDisk& Cluster::disk(NodeId id) const { return nodes_[id.get() - 1]->disk; }

void Cluster::campaign(NodeId id) {
  const int i = static_cast<int>(id.get() - 1);
  if (!ok() || nodes_[static_cast<size_t>(i)]->core == nullptr) return;
  step(i, Campaign{}, nullptr);
}

void Cluster::fail(std::string checker, std::string detail) {
  if (violation_) return;
  violation_ = Violation{std::move(checker), std::move(detail), now_ms_};
}

std::string Cluster::replay_command() const {
  return "RAFTLAB_SEED=" + std::to_string(config_.seed) + " " RAFTLAB_SIM_TESTS_PATH " \"" +
         config_.replay_test_name + "\"";
}

std::string Cluster::report() const {
  std::ostringstream out;
  if (violation_) {
    out << "VIOLATION (" << violation_->checker << "): " << violation_->detail << "\n"
        << "  at t=" << violation_->time_ms << "ms, " << size() << " nodes, seed " << config_.seed
        << "\n";
  } else {
    out << "no violation, seed " << config_.seed << "\n";
  }
  out << "  replay: " << replay_command();
  return out.str();
}

// ---------------------------------------------------------------------------------------------
// The host: Ready handling, network and disk.

void Cluster::step(int i, const Input& input, Outcome* outcome) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  if (!ok() || n.core == nullptr) return;
  const Role role_before = n.core->role();
  const Term term_before = n.core->term();
  const Index last_before = n.core->log().last_index();
  const Term last_term_before = n.core->log().last_term();
  Ready ready;
  try {
    ready = n.core->step(input);
  } catch (const std::exception& e) {
    fail("core invariant", "node " + std::to_string(n.id.get()) + ": " + e.what());
    return;
  }
  check_entries_written(i, ready, last_before, last_term_before);
  if (!ok()) return;
  check_ready(i, ready);
  if (!ok()) return;
  // Before the apply, so the global committed sequence is current.
  check_commit(i);
  if (!ok()) return;
  if (outcome != nullptr && ready.outcome) *outcome = *ready.outcome;
  n.pipeline->handle(std::move(ready));
  if (!ok() || n.core == nullptr) return;
  n.retain_snapshot_copies(n.core->snapshots_in_use());
  check_role(i, role_before, term_before);
  if (!ok()) return;
  // The host's snapshot policy: every snapshot_every applied entries.
  if (config_.snapshot_every > 0 &&
      n.kv.applied() >= n.snapshot_taken_at + config_.snapshot_every) {
    n.snapshot_taken_at = n.kv.applied();
    ++stats_.snapshots_taken;
    step(i,
         SnapshotTaken{Index(n.kv.applied()), Payload(n.kv.encode(config_.snapshot_padding_bytes))},
         nullptr);
  }
}

// The host contract on a Ready's persist ids (ready.h): a Ready that writes gets a new, larger
// id; one that does not repeats the newest. A restore comes with its snapshot.
void Cluster::check_ready(int i, const Ready& ready) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  const std::string who = "node " + std::to_string(n.id.get());
  if (ready.has_writes()) {
    if (ready.persist_id <= n.newest_persist_id) {
      fail("host contract", who + " wrote with persist_id " + std::to_string(ready.persist_id) +
                                " after " + std::to_string(n.newest_persist_id));
      return;
    }
    n.newest_persist_id = ready.persist_id;
  } else if (ready.persist_id != n.newest_persist_id) {
    fail("host contract", who + " returned persist_id " + std::to_string(ready.persist_id) +
                              " without writes; newest is " + std::to_string(n.newest_persist_id));
    return;
  }
  if (ready.restore_snapshot && !ready.snapshot) {
    fail("host contract", who + " asks to restore a snapshot but gives none");
  }
}

// Step 4 of ready.h. Honest disks never lose what they acknowledged, so a "lost entries"
// notice about a node whose tail no test cut means the leader took a stale rejection for news.
void Cluster::note(int i, const Notice& notice) {
  const Node& n = *nodes_[static_cast<size_t>(i)];
  const std::string who = "node " + std::to_string(n.id.get());
  if (!ok()) return;
  if (notice.kind == NoticeKind::kFollowerLostEntries && !tails_lost_.count(notice.peer)) {
    fail("false alarm", who + ": " + notice.text);
    return;
  }
  // Released entries are applied, so durable: only a tail cut by hand can take one away.
  if (notice.kind == NoticeKind::kEntryUnreadable && !tails_lost_.count(n.id)) {
    fail("host contract", who + ": " + notice.text);
    return;
  }
  if (narrate) narrate(who + ": " + notice.text);
  notices_.emplace_back(n.id, notice);
}

// A write proposed through propose() is answered by the pipeline when its index is applied
// here: "applied" only if the entry there is the one proposed (same term), which must then be
// the committed entry at that index.
void Cluster::answer_write(int i, Index index, WriteFate fate) {
  const Node& n = *nodes_[static_cast<size_t>(i)];
  if (!ok()) return;
  switch (fate) {
    case WriteFate::kApplied:
      ++stats_.writes_applied;
      if (index.get() > n.applied.size()) {
        fail("host contract", "node " + std::to_string(n.id.get()) + " answers the write at " +
                                  std::to_string(index.get()) + " before applying it");
      }
      break;
    case WriteFate::kOverwritten:
      ++stats_.writes_overwritten;
      break;
    case WriteFate::kSnapshotted:
    case WriteFate::kTimedOut:
      ++stats_.writes_snapshotted;
      break;
  }
}

void Cluster::send(int i, Message m) {
  const Node& n = *nodes_[static_cast<size_t>(i)];
  if (!ok()) return;
  if (m.from != n.id || m.to.get() == 0 || m.to.get() > nodes_.size() || m.to == n.id) {
    fail("host contract",
         "node " + std::to_string(n.id.get()) + " sends a misaddressed " + describe(m));
    return;
  }
  if (config_.check_persist_before_send) check_before_send(i, m);
  if (!ok()) return;
  const auto type_index = static_cast<size_t>(m.type);
  if (type_index < stats_.sent_by_type.size()) ++stats_.sent_by_type[type_index];
  ++stats_.messages_sent;
  if (is_request(m.type)) ++stats_.requests_sent;
  stats_.bytes_sent += kMessageHeaderBytes;
  for (const Entry& e : m.entries) stats_.bytes_sent += e.data.size() + 24;

  const Verdict verdict = filter_.decide(m.from, m.to);
  const int to = static_cast<int>(m.to.get() - 1);
  const uint64_t incarnation = nodes_[static_cast<size_t>(to)]->incarnation;
  for (size_t copy = 0; copy < verdict.delays_ms.size(); ++copy) {
    uint64_t latency_ms = prng_.uniform(config_.net_latency_min_ms, config_.net_latency_max_ms + 1);
    if (long_reordering_ && !is_request(m.type) && prng_.uniform(0, 900) < 600) {
      latency_ms += 200 + prng_.uniform(0, 1 + prng_.uniform(0, 2000));
    }
    uint32_t slot;
    if (free_slots_.empty()) {
      slot = static_cast<uint32_t>(message_slots_.size());
      message_slots_.emplace_back();
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
    }
    // The last copy takes the message itself; earlier ones (duplicates) copy it.
    message_slots_[slot] = copy + 1 == verdict.delays_ms.size() ? std::move(m) : m;
    schedule(now_ms_ + latency_ms + verdict.delays_ms[copy], EventKind::kDeliver, to, incarnation,
             slot);
  }
}

// The pipeline's Storage::begin_sync: one sync covers every write handed over so far (group
// commit) and completes as a later event.
void Cluster::begin_sync(int i) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  n.disk.begin_sync();
  ++stats_.syncs;
  const uint64_t latency_ms =
      prng_.uniform(config_.disk_latency_min_ms, config_.disk_latency_max_ms + 1);
  schedule(now_ms_ + latency_ms, EventKind::kSyncDone, i, n.incarnation, 0);
}

void Cluster::complete_sync(int i) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  if (std::optional<std::string> error = n.disk.complete_sync()) {
    fail("host contract", "node " + std::to_string(n.id.get()) + " " + *error);
  }
  if (!ok()) return;
  if (config_.log_entries_max > 0 && n.disk.entries().size() > config_.log_entries_max) {
    fail("bounded log", "node " + std::to_string(n.id.get()) + " keeps " +
                            std::to_string(n.disk.entries().size()) + " durable entries (" +
                            std::to_string(n.disk.first_index().get()) + ".." +
                            std::to_string(n.disk.last_index().get()) + "), more than " +
                            std::to_string(config_.log_entries_max));
    return;
  }
  n.pipeline->sync_done(n.disk.durable_seq());
}

// ---------------------------------------------------------------------------------------------
// Checkers. Each is incremental: it looks only at what the last step changed.

// Log matching (§5.3): an (index, term) pair names one entry with one predecessor term, in
// every log, forever. Checked for every entry a Ready asks to persist, and the in-memory log
// must change only through such writes.
void Cluster::check_entries_written(int i, const Ready& ready, Index last_before,
                                    Term last_term_before) {
  const Node& n = *nodes_[static_cast<size_t>(i)];
  const std::string who = "node " + std::to_string(n.id.get());
  const RaftLog& log = n.core->log();
  // Installing a snapshot may reset the log to the snapshot's position (Figure 13 step 7).
  const bool restored = ready.restore_snapshot && ready.snapshot.has_value();
  if (ready.entries.empty()) {
    const bool reset_to_snapshot = restored && log.last_index() == ready.snapshot->meta.index &&
                                   log.last_term() == ready.snapshot->meta.term;
    if ((log.last_index() != last_before || log.last_term() != last_term_before) &&
        !reset_to_snapshot) {
      fail("log matching", who + " changed its in-memory log without a write (last " +
                               std::to_string(last_before.get()) + "/" +
                               std::to_string(last_term_before.get()) + " -> " +
                               std::to_string(log.last_index().get()) + "/" +
                               std::to_string(log.last_term().get()) + ")");
    }
    return;
  }
  const Index first = ready.entries.front().index;
  if (first.get() == 0 || (first > last_before + 1 && !restored)) {
    fail("host contract", who + " writes " + entry_text(ready.entries.front()) +
                              " leaving a gap after its log end " +
                              std::to_string(last_before.get()));
    return;
  }
  if (log.last_index() != ready.entries.back().index) {
    fail("log matching", who + " in-memory log ends at " + std::to_string(log.last_index().get()) +
                             " but it wrote up to " + entry_text(ready.entries.back()));
    return;
  }
  for (size_t k = 0; k < ready.entries.size(); ++k) {
    const Entry& e = ready.entries[k];
    if (e.index != first + k) {
      fail("host contract", who + " writes non-consecutive entries at " + entry_text(e));
      return;
    }
    if (!(log.at(e.index) == e)) {
      fail("log matching", who + " wrote " + entry_text(e) + " but its in-memory log holds " +
                               entry_text(log.at(e.index)));
      return;
    }
    const Term prev_term = e.index.get() == 1 ? Term()
                           : k > 0            ? ready.entries[k - 1].term
                                              : log.term_at(e.index - 1).value_or(Term());
    const auto key = std::make_pair(e.index.get(), e.term.get());
    const auto it = registry_.find(key);
    if (it == registry_.end()) {
      registry_.emplace(key, RegisteredEntry{e.type, e.data, prev_term});
      Membership m;
      if (e.type == EntryType::kConfig && decode_membership(e.data.str(), m)) {
        written_configs_[e.index.get()].push_back(m);
      }
    } else if (it->second.type != e.type || it->second.data != e.data ||
               it->second.prev_term != prev_term) {
      fail("log matching", who + " writes " + entry_text(e) + " after term " +
                               std::to_string(prev_term.get()) + ", but that index/term is " +
                               std::string(to_string(it->second.type)) + " \"" + it->second.data +
                               "\" after term " + std::to_string(it->second.prev_term.get()) +
                               " elsewhere");
      return;
    }
    // A node must never replace an entry it knows committed. (A stale leader may append past
    // its own log end where others committed something else: that is divergence, not loss.)
    if (e.index <= n.seen_commit && !(committed_[e.index.get() - 1] == e)) {
      fail("committed entry overwritten", who + " writes " + entry_text(e) + " over " +
                                              entry_text(committed_[e.index.get() - 1]) +
                                              ", which it knows committed");
      return;
    }
  }
}

// Election safety (§5.2): at most one leader per term, ever. Leader completeness (§5.4): a new
// leader of term T holds every entry committed in a term before T (a late leader of an old
// term need not hold what later terms committed). By log matching, checking the last such
// entry suffices.
void Cluster::check_role(int i, Role role_before, Term term_before) {
  const Node& n = *nodes_[static_cast<size_t>(i)];
  const Core& c = *n.core;
  if (c.role() != Role::kLeader || (role_before == Role::kLeader && term_before == c.term())) {
    return;
  }
  const auto [it, inserted] = leader_of_term_.emplace(c.term().get(), n.id);
  if (inserted) ++stats_.leaders_elected;
  if (!inserted && it->second != n.id) {
    fail("election safety", "nodes " + std::to_string(it->second.get()) + " and " +
                                std::to_string(n.id.get()) + " both lead term " +
                                std::to_string(c.term().get()));
    return;
  }
  size_t k = committed_.size();
  for (size_t steps = 0; steps < committed_term_.size() && k > 0; ++steps) {
    if (committed_term_[k - 1] < c.term().get()) break;
    --k;
  }
  if (k > 0) {
    const Entry& last = committed_[k - 1];
    const std::optional<Term> t = c.log().term_at(last.index);
    // Compacted entries are in the leader's snapshot, whose state was checked when installed.
    const bool compacted = last.index < c.log().base_index();
    if (!compacted && (!t || *t != last.term)) {
      fail("leader completeness", "node " + std::to_string(n.id.get()) + " leads term " +
                                      std::to_string(c.term().get()) + " without committed entry " +
                                      entry_text(last) + " (its log ends at " +
                                      std::to_string(c.log().last_index().get()) + "/" +
                                      std::to_string(c.log().last_term().get()) + ")");
      return;
    }
  }
  if (narrate) {
    narrate("node " + std::to_string(n.id.get()) + " is leader of term " +
            std::to_string(c.term().get()));
  }
}

// State machine safety (§5.4.3): every commit index names a prefix of one global sequence.
void Cluster::check_commit(int i) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  const Core& c = *n.core;
  const std::string who = "node " + std::to_string(n.id.get());
  const Index commit = c.commit();
  if (commit < n.seen_commit) {
    fail("state machine safety", who + " commit index went back from " +
                                     std::to_string(n.seen_commit.get()) + " to " +
                                     std::to_string(commit.get()));
    return;
  }
  if (commit > c.log().last_index()) {
    fail("state machine safety", who + " commit index " + std::to_string(commit.get()) +
                                     " beyond its log end " +
                                     std::to_string(c.log().last_index().get()));
    return;
  }
  for (uint64_t k = n.seen_commit.get() + 1; k <= commit.get(); ++k) {
    if (Index(k) < c.log().first_index()) {
      // Covered by a snapshot: its state is checked against the global one when restored.
      if (k > committed_.size()) {
        fail("state machine safety", who + " commits " + std::to_string(k) +
                                         " through a snapshot, beyond every known commit " +
                                         std::to_string(committed_.size()));
        return;
      }
      continue;
    }
    // Where the log released the command (Entry::data_released), the node's durable copy,
    // which must then exist with the same term.
    Entry e = c.log().at(Index(k));
    if (e.data_released()) {
      const Entry* durable = n.disk.entry_at(e.index);
      if (durable != nullptr && durable->term == e.term) e = *durable;
    }
    if (k <= committed_.size()) {
      if (!(committed_[k - 1] == e)) {
        fail("state machine safety", who + " commits " + entry_text(e) + " where " +
                                         entry_text(committed_[k - 1]) + " was committed");
        return;
      }
      continue;
    }
    record_committed(e, c.term());
    if (config_.commands_unique && e.type == EntryType::kNormal) {
      const auto [it, inserted] = committed_commands_.emplace(e.data, k);
      if (!inserted) {
        fail("duplicate command", who + " commits command \"" + e.data + "\" at " +
                                      std::to_string(k) + ", already committed at " +
                                      std::to_string(it->second));
        return;
      }
    }
  }
  n.seen_commit = commit;
}

// The apply order: index k only right after k - 1, only committed entries, only once they are
// durable on this node (ready.h step 3). Applying twice shows up as an index out of order.
// Applies `e` to the node's KvStore if every check passes.
bool Cluster::check_applied(int i, const Entry& e) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  if (!ok()) return false;
  const std::string who = "node " + std::to_string(n.id.get());
  const uint64_t expected = n.applied.size() + 1;
  if (e.index.get() != expected) {
    fail("state machine safety", who + " applies " + entry_text(e) + " but expected index " +
                                     std::to_string(expected) +
                                     (e.index.get() < expected ? " (applied twice)" : ""));
    return false;
  }
  if (e.index.get() > committed_.size() || !(committed_[e.index.get() - 1] == e)) {
    fail("state machine safety",
         who + " applies " + entry_text(e) + " which is not the committed entry at that index");
    return false;
  }
  const Entry* durable = n.disk.entry_at(e.index);
  if (durable == nullptr || !(*durable == e)) {
    fail("host contract", who + " applies " + entry_text(e) + " before it is durable there");
    return false;
  }
  n.applied.push_back(e);
  n.kv.apply(e);
  if (n.kv.hash() != global_hash_[e.index.get() - 1]) {
    fail("state machine safety", who + " state after applying " + entry_text(e) +
                                     " differs from the committed state at that index");
    return false;
  }
  return true;
}

void Cluster::record_committed(const Entry& e, Term term) {
  committed_.push_back(e);
  committed_term_.push_back(term.get());
  global_kv_.apply(e);
  global_hash_.push_back(global_kv_.hash());
  Membership m;
  if (e.type == EntryType::kConfig && decode_membership(e.data.str(), m)) {
    committed_configs_[e.index.get()] = m;
    if (narrate) {
      narrate("configuration committed at index " + std::to_string(e.index.get()) + ": " +
              describe(m));
    }
  }
}

// Figure 13 step 8 on the host: the state machine becomes the snapshot's. The snapshot must be
// exactly the committed state at its index, and the applied index may only move forward.
void Cluster::restore_state_machine(int i, const Snapshot& snapshot) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  const std::string who = "node " + std::to_string(n.id.get());
  const uint64_t k = snapshot.meta.index.get();
  KvStore kv;
  if (!kv.decode(snapshot.data)) {
    fail("state machine safety",
         who + " restores undecodable snapshot bytes at " + std::to_string(k));
    return;
  }
  if (kv.applied() != k || k == 0) {
    fail("state machine safety", who + " restores a snapshot labelled " + std::to_string(k) +
                                     " holding the state at " + std::to_string(kv.applied()));
    return;
  }
  if (k < n.kv.applied()) {
    fail("state machine safety", who + " restores a snapshot at " + std::to_string(k) +
                                     ", moving applied back from " +
                                     std::to_string(n.kv.applied()));
    return;
  }
  if (k > committed_.size() || committed_[k - 1].term != snapshot.meta.term ||
      global_hash_[k - 1] != kv.hash()) {
    fail("state machine safety", who + " restores a snapshot at " + std::to_string(k) + "/" +
                                     std::to_string(snapshot.meta.term.get()) +
                                     " whose state is not the committed state at that index (" +
                                     std::to_string(committed_.size()) + " entries committed)");
    return;
  }
  n.kv = std::move(kv);
  n.snapshot_taken_at = std::max(n.snapshot_taken_at, k);
  for (size_t j = n.applied.size(); j < k; ++j) n.applied.push_back(committed_[j]);
}

// ReadIndex answers (ready.h step 3, after this Ready's apply): each read returns the register
// as the state machine holds it now, which must include every write known committed when the
// read was invoked (a read may return w iff w committed before the answer and no newer write
// to the key committed before the invocation; values are unique, so indices compare them).
void Cluster::serve_read(int i, uint64_t read_id, Index read_index) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  const std::string who = "node " + std::to_string(n.id.get());
  auto it = open_reads_.find(read_id);
  if (!ok()) return;
  if (it == open_reads_.end() || it->second.node != i) {
    fail("host contract", who + " answers read " + std::to_string(read_id) + " it was not asked");
    return;
  }
  if (n.kv.applied() < read_index.get()) {
    fail("linearizability", who + " serves read " + std::to_string(read_id) + " at index " +
                                std::to_string(read_index.get()) + " having applied only " +
                                std::to_string(n.kv.applied()));
    return;
  }
  const KvStore::Cell* cell = n.kv.get(it->second.key);
  const uint64_t index = cell ? cell->index : 0;
  if (index < it->second.index_min) {
    fail("linearizability", who + " serves a stale read of \"" + it->second.key +
                                "\": the value written at " + std::to_string(index) +
                                ", but the write at " + std::to_string(it->second.index_min) +
                                " committed before the read began");
    return;
  }
  ReadResult& r = read_results_[read_id];
  r.done = true;
  r.served = true;
  r.value = cell ? cell->value : std::string();
  r.value_index = index;
  open_reads_.erase(it);
  ++stats_.reads_served;
}

void Cluster::fail_read(int i, uint64_t read_id, Refusal refusal) {
  auto it = open_reads_.find(read_id);
  if (it == open_reads_.end() || it->second.node != i) return;
  ReadResult& r = read_results_[read_id];
  r.done = true;
  r.refusal = refusal;
  open_reads_.erase(it);
  ++stats_.reads_failed;
}

// Persist before send (ready.h step 2, Figure 2 "respond to RPCs only after updating stable
// storage"): a granted vote and a candidate's own vote must be durable when they leave.
void Cluster::check_before_send(int i, const Message& m) {
  const Node& n = *nodes_[static_cast<size_t>(i)];
  const HardState& hs = n.disk.hard_state();
  const std::string who = "node " + std::to_string(n.id.get());
  if (m.type == MessageType::kRequestVoteResponse && !m.reject) {
    if (hs.term < m.term || (hs.term == m.term && hs.vote != m.to)) {
      fail("persist before send",
           who + " grants its vote to " + std::to_string(m.to.get()) + " in term " +
               std::to_string(m.term.get()) + " but its durable state is term " +
               std::to_string(hs.term.get()) + " vote " + std::to_string(hs.vote.get()));
    }
  } else if (m.type == MessageType::kRequestVote) {
    if (hs.term < m.term || (hs.term == m.term && hs.vote != n.id)) {
      fail("persist before send", who + " asks for votes in term " + std::to_string(m.term.get()) +
                                      " before its own vote is durable (durable term " +
                                      std::to_string(hs.term.get()) + ")");
    }
  }
}

// Durability of commits: an entry is committed only once a majority holds it durably, and no
// crash may take that away.
void Cluster::check_committed_durable(bool full) {
  if (committed_.empty() || !ok()) return;
  const size_t from = full ? 1 : committed_.size();
  for (size_t k = from; k <= committed_.size(); ++k) {
    if (!durable_on_majority(k)) {
      const Entry& e = committed_[k - 1];
      std::string holders;
      for (const auto& n : nodes_) {
        const Entry* d = n->disk.entry_at(e.index);
        const bool covered = n->disk.snapshot() && n->disk.snapshot()->meta.index >= e.index;
        if ((d != nullptr && *d == e) || covered) holders += " " + std::to_string(n->id.get());
      }
      fail("committed entry lost", "committed " + entry_text(e) +
                                       " is durable (as an entry or in a snapshot) only on" +
                                       (holders.empty() ? std::string(" no node") : holders) +
                                       ", no majority of its configuration");
      return;
    }
  }
}

// Durable as an entry or covered by a durable snapshot, on a majority of the voters of a
// configuration that could have committed it: the newest committed one at or below it, or
// any written after it up to the next committed one (configurations take effect on append).
bool Cluster::durable_on_majority(size_t k) const {
  const Entry& e = committed_[k - 1];
  std::set<NodeId> holders;
  for (const auto& n : nodes_) {
    const Entry* d = n->disk.entry_at(e.index);
    const bool covered = n->disk.snapshot() && n->disk.snapshot()->meta.index >= e.index;
    if ((d != nullptr && *d == e) || covered) holders.insert(n->id);
  }
  const auto majority_of = [&](const Membership& m) {
    size_t count = 0;
    for (NodeId v : m.voters) count += holders.count(v);
    return !m.voters.empty() && count >= m.voters.size() / 2 + 1;
  };
  auto at = committed_configs_.upper_bound(k);
  const uint64_t limit = at == committed_configs_.end() ? UINT64_MAX : at->first;
  if (majority_of(std::prev(at)->second)) return true;
  for (auto w = written_configs_.upper_bound(k); w != written_configs_.end() && w->first <= limit;
       ++w) {
    for (const Membership& m : w->second) {
      if (majority_of(m)) return true;
    }
  }
  return false;
}

uint64_t Cluster::state_hash() const {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const auto& n : nodes_) {
    h = fnv(h, n->id.get());
    h = fnv(h, n->disk.hard_state().term.get());
    h = fnv(h, n->disk.hard_state().vote.get());
    h = fnv(h, n->disk.hard_state().commit.get());
    h = fnv(h, n->disk.first_index().get());
    for (const Entry& e : n->disk.entries()) h = hash_entry(h, e);
    h = fnv(h, n->disk.snapshot() ? n->disk.snapshot()->meta.index.get() : 0);
    h = fnv(h, n->kv.hash());
    h = fnv(h, n->applied.size());
    for (const Entry& e : n->applied) h = hash_entry(h, e);
    if (n->core != nullptr) {
      const Status s = n->core->status();
      h = fnv(h, static_cast<uint64_t>(s.role));
      h = fnv(h, s.term.get());
      h = fnv(h, s.commit.get());
      h = fnv(h, s.last_index.get());
      h = fnv(h, s.last_term.get());
    }
  }
  h = fnv(h, committed_.size());
  return h;
}

}  // namespace raftlab::sim
