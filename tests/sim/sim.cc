// The deterministic cluster simulator: scheduler, network, disks and safety checkers.
#include "tests/sim/sim.h"

#include <algorithm>
#include <deque>
#include <exception>
#include <sstream>

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

}  // namespace

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

/// One simulated machine: its core (when up) and its disk.
struct Cluster::Node {
  NodeId id;
  std::unique_ptr<Core> core;  // nullptr while crashed
  uint64_t incarnation = 0;    // bumped by crash and restart; stale events are ignored

  // The disk: what survives a crash.
  HardState durable_hard_state;
  std::vector<Entry> durable_entries;  // durable_entries[k - 1] has index k

  // Writes handed over but not yet synced, in Ready order. An item without writes only holds
  // after-persist messages waiting for an earlier write with the same persist id.
  struct PendingWrite {
    uint64_t persist_id = 0;
    bool has_writes = false;
    std::optional<HardState> hard_state;
    std::vector<Entry> entries;
    std::vector<Message> after_persist;
  };
  std::deque<PendingWrite> pending;
  size_t sync_covers = 0;  // pending items the sync in flight will make durable; 0: disk idle
  uint64_t durable_persist_id = 0;  // newest persist id durable (this incarnation)
  uint64_t newest_persist_id = 0;   // newest persist id issued (this incarnation)

  std::vector<Entry> applied;  // this incarnation's state machine input
  Index seen_commit;           // commit index already checked against the global sequence
};

Cluster::Cluster(SimConfig config)
    : config_(std::move(config)),
      prng_(derive_seed(config_.seed, 1)),
      filter_(derive_seed(config_.seed, 2)) {
  if (config_.nodes_count < 1) config_.nodes_count = 1;
  disconnected_.assign(static_cast<size_t>(config_.nodes_count), false);
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
  for (int j = 0; j < size(); ++j) c.voters.push_back(node_id(j));
  c.seed = derive_seed(config_.seed, 1000 + n.id.get() * 1000 + n.incarnation);
  c.check_invariants = true;
  try {
    n.core = std::make_unique<Core>(c, Restored{n.durable_hard_state, n.durable_entries});
  } catch (const std::exception& e) {
    fail("restart", "node " + std::to_string(n.id.get()) +
                        " cannot restart from its durable state: " + e.what());
    return;
  }
  n.pending.clear();
  n.sync_covers = 0;
  n.durable_persist_id = 0;
  n.newest_persist_id = 0;
  n.applied.clear();
  n.seen_commit = Index();
  // The restored core may consider a prefix already applied (it has no snapshot, so normally
  // none): that prefix must be the committed one.
  const Index applied = n.core->status().applied;
  for (uint64_t k = 1; k <= applied.get() && k <= n.core->log().last_index().get(); ++k) {
    n.applied.push_back(n.core->log().at(Index(k)));
  }
  check_commit(i);
  for (const Entry& e : n.applied) {
    if (e.index.get() > committed_.size() || !(committed_[e.index.get() - 1] == e)) {
      fail("state machine safety", "node " + std::to_string(n.id.get()) +
                                       " restarts with applied entry " + entry_text(e) +
                                       " that is not the committed one");
      return;
    }
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
  n.pending.clear();  // unsynced writes and unsent after-persist messages are lost
  n.sync_covers = 0;
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

bool Cluster::up(NodeId id) const { return nodes_[id.get() - 1]->core != nullptr; }

const Core* Cluster::core(NodeId id) const { return nodes_[id.get() - 1]->core.get(); }

const std::vector<Entry>& Cluster::applied(NodeId id) const {
  return nodes_[id.get() - 1]->applied;
}

const HardState& Cluster::durable_hard_state(NodeId id) const {
  return nodes_[id.get() - 1]->durable_hard_state;
}

const std::vector<Entry>& Cluster::durable_entries(NodeId id) const {
  return nodes_[id.get() - 1]->durable_entries;
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

ProposeOutcome Cluster::propose(NodeId id, std::vector<std::string> commands) {
  ProposeOutcome outcome;
  const int i = static_cast<int>(id.get() - 1);
  if (!ok() || nodes_[static_cast<size_t>(i)]->core == nullptr) return outcome;
  step(i, Propose{std::move(commands)}, &outcome);
  if (outcome.accepted) ++stats_.proposals_accepted;
  return outcome;
}

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

void Cluster::step(int i, const Input& input, ProposeOutcome* outcome) {
  Node& n = *nodes_[static_cast<size_t>(i)];
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
  handle_ready(i, std::move(ready), outcome);
  if (!ok()) return;
  check_role(i, role_before, term_before);
}

void Cluster::handle_ready(int i, Ready ready, ProposeOutcome* outcome) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  const std::string who = "node " + std::to_string(n.id.get());

  // The persist ids must follow ready.h: a Ready that writes gets a new, larger id; one that
  // does not repeats the newest.
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

  // 1. PERSIST (pending until a sync completes).
  if (ready.has_writes()) {
    Node::PendingWrite w;
    w.persist_id = ready.persist_id;
    w.has_writes = true;
    w.hard_state = ready.hard_state;
    w.entries = std::move(ready.entries);
    w.after_persist = std::move(ready.messages_after_persist);
    n.pending.push_back(std::move(w));
    maybe_start_sync(i);
  } else if (!ready.messages_after_persist.empty()) {
    if (ready.persist_id <= n.durable_persist_id) {
      for (Message& m : ready.messages_after_persist) send(i, std::move(m));
    } else {
      Node::PendingWrite w;
      w.persist_id = ready.persist_id;
      w.after_persist = std::move(ready.messages_after_persist);
      n.pending.push_back(std::move(w));
    }
  }
  if (!ok()) return;

  // 2. SEND.
  for (Message& m : ready.messages) {
    send(i, std::move(m));
    if (!ok()) return;
  }

  // 3. APPLY (after the commit index has been checked, so the global sequence is current).
  check_commit(i);
  if (!ok()) return;
  check_applied(i, ready.committed);
  if (!ok()) return;

  if (outcome != nullptr && ready.propose_outcome) *outcome = *ready.propose_outcome;
}

void Cluster::send(int i, Message m) {
  const Node& n = *nodes_[static_cast<size_t>(i)];
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

void Cluster::maybe_start_sync(int i) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  if (n.sync_covers != 0 || n.pending.empty()) return;
  // Group commit: this sync covers every write handed over so far.
  n.sync_covers = n.pending.size();
  ++stats_.syncs;
  const uint64_t latency_ms =
      prng_.uniform(config_.disk_latency_min_ms, config_.disk_latency_max_ms + 1);
  schedule(now_ms_ + latency_ms, EventKind::kSyncDone, i, n.incarnation, 0);
}

void Cluster::apply_write_durably(int i, const std::optional<HardState>& hs,
                                  const std::vector<Entry>& entries) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  if (hs) n.durable_hard_state = *hs;
  if (entries.empty()) return;
  const uint64_t first = entries.front().index.get();
  if (first == 0 || first > n.durable_entries.size() + 1) {
    fail("host contract", "node " + std::to_string(n.id.get()) + " writes entry " +
                              entry_text(entries.front()) + " past its durable log end " +
                              std::to_string(n.durable_entries.size()));
    return;
  }
  n.durable_entries.resize(first - 1);  // an entry at index i discards every entry >= i
  n.durable_entries.insert(n.durable_entries.end(), entries.begin(), entries.end());
}

void Cluster::complete_sync(int i) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  std::vector<Message> to_send;
  uint64_t durable_id = n.durable_persist_id;
  const size_t covers = std::min(n.sync_covers, n.pending.size());
  for (size_t k = 0; k < covers; ++k) {
    Node::PendingWrite& w = n.pending.front();
    if (w.has_writes) {
      apply_write_durably(i, w.hard_state, w.entries);
      durable_id = std::max(durable_id, w.persist_id);
    }
    for (Message& m : w.after_persist) to_send.push_back(std::move(m));
    n.pending.pop_front();
  }
  // Items that only wait for a write this sync made durable go out too.
  while (!n.pending.empty() && !n.pending.front().has_writes &&
         n.pending.front().persist_id <= durable_id) {
    for (Message& m : n.pending.front().after_persist) to_send.push_back(std::move(m));
    n.pending.pop_front();
  }
  n.sync_covers = 0;
  if (!ok()) return;
  const bool advanced = durable_id > n.durable_persist_id;
  n.durable_persist_id = durable_id;
  for (Message& m : to_send) {
    send(i, std::move(m));
    if (!ok()) return;
  }
  if (advanced) step(i, Persisted{durable_id}, nullptr);
  if (!ok() || n.core == nullptr) return;
  maybe_start_sync(i);
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
  if (ready.entries.empty()) {
    if (log.last_index() != last_before || log.last_term() != last_term_before) {
      fail("log matching", who + " changed its in-memory log without a write (last " +
                               std::to_string(last_before.get()) + "/" +
                               std::to_string(last_term_before.get()) + " -> " +
                               std::to_string(log.last_index().get()) + "/" +
                               std::to_string(log.last_term().get()) + ")");
    }
    return;
  }
  const Index first = ready.entries.front().index;
  if (first.get() == 0 || first > last_before + 1) {
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
    if (!t || *t != last.term) {
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
    const Entry& e = c.log().at(Index(k));
    if (k <= committed_.size()) {
      if (!(committed_[k - 1] == e)) {
        fail("state machine safety", who + " commits " + entry_text(e) + " where " +
                                         entry_text(committed_[k - 1]) + " was committed");
        return;
      }
      continue;
    }
    committed_.push_back(e);
    committed_term_.push_back(c.term().get());
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
void Cluster::check_applied(int i, const std::vector<Entry>& committed) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  const std::string who = "node " + std::to_string(n.id.get());
  for (const Entry& e : committed) {
    const uint64_t expected = n.applied.size() + 1;
    if (e.index.get() != expected) {
      fail("state machine safety", who + " applies " + entry_text(e) + " but expected index " +
                                       std::to_string(expected) +
                                       (e.index.get() < expected ? " (applied twice)" : ""));
      return;
    }
    if (e.index.get() > committed_.size() || !(committed_[e.index.get() - 1] == e)) {
      fail("state machine safety",
           who + " applies " + entry_text(e) + " which is not the committed entry at that index");
      return;
    }
    if (e.index.get() > n.durable_entries.size() || !(n.durable_entries[e.index.get() - 1] == e)) {
      fail("host contract", who + " applies " + entry_text(e) + " before it is durable there");
      return;
    }
    n.applied.push_back(e);
  }
}

// Persist before send (ready.h step 2, Figure 2 "respond to RPCs only after updating stable
// storage"): a granted vote and a candidate's own vote must be durable when they leave.
void Cluster::check_before_send(int i, const Message& m) {
  const Node& n = *nodes_[static_cast<size_t>(i)];
  const HardState& hs = n.durable_hard_state;
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
  const size_t majority = nodes_.size() / 2 + 1;
  const size_t from = full ? 1 : committed_.size();
  for (size_t k = from; k <= committed_.size(); ++k) {
    const Entry& e = committed_[k - 1];
    size_t holders = 0;
    for (const auto& n : nodes_) {
      if (n->durable_entries.size() >= k && n->durable_entries[k - 1] == e) ++holders;
    }
    if (holders < majority) {
      fail("committed entry lost", "committed " + entry_text(e) + " is durable on only " +
                                       std::to_string(holders) + " of " +
                                       std::to_string(nodes_.size()) + " nodes");
      return;
    }
  }
}

uint64_t Cluster::state_hash() const {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const auto& n : nodes_) {
    h = fnv(h, n->id.get());
    h = fnv(h, n->durable_hard_state.term.get());
    h = fnv(h, n->durable_hard_state.vote.get());
    h = fnv(h, n->durable_hard_state.commit.get());
    for (const Entry& e : n->durable_entries) h = hash_entry(h, e);
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
