// The nemesis and the liveness phase of random-fault runs.
#include "tests/sim/soak.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

namespace raftlab::sim {
namespace {

constexpr uint32_t kTickMs = 10;
constexpr uint64_t kNemesisStepsMax = 1'000'000;  // bound on fault-phase slices
constexpr size_t kLinkRulesMax = 4;               // link rules in force at once
constexpr uint64_t kLivenessLeaderMs = 10'000;    // to elect one leader after healing
constexpr uint64_t kLivenessApplyMs = 5'000;      // for one command to reach every node
constexpr int kLivenessAttemptsMax = 6;
constexpr uint64_t kLivenessReadMs = 5'000;  // for a read at the healed leader to be served
constexpr uint64_t kLivenessRetryMs = 500;   // after a refused proposal
constexpr uint64_t kKeysCount = 4;           // registers written, so reads contend with writes

template <typename T>
const T& pick(Prng& rng, const std::vector<T>& options) {
  return options[rng.uniform(0, options.size())];
}

std::vector<NodeId> shuffled_nodes(Prng& rng, int n) {
  std::vector<NodeId> ids;
  for (int i = 0; i < n; ++i) ids.push_back(Cluster::node_id(i));
  for (size_t i = ids.size(); i > 1; --i) std::swap(ids[i - 1], ids[rng.uniform(0, i)]);
  return ids;
}

// The live leader with the highest term, else -1.
int find_leader(const Cluster& c) {
  int best = -1;
  for (int i = 0; i < c.size(); ++i) {
    const Core* core = c.core(Cluster::node_id(i));
    if (core == nullptr || core->role() != Role::kLeader) continue;
    if (best == -1 || core->term() > c.core(Cluster::node_id(best))->term()) best = i;
  }
  return best;
}

Config random_core_config(Prng& rng, Profile profile) {
  Config c;
  c.heartbeat_ticks = static_cast<uint32_t>(rng.uniform(1, 4));
  c.election_ticks_min = static_cast<uint32_t>(rng.uniform(8, 16));
  c.election_ticks_max = c.election_ticks_min + static_cast<uint32_t>(rng.uniform(4, 16));
  c.pre_vote = rng.chance(0.75);
  c.check_quorum = rng.chance(0.75);
  // Without either, a removed server that never learns its removal committed disrupts the
  // cluster forever with ever higher terms (thesis §4.2.3): liveness is not promised then.
  if (!c.pre_vote && !c.check_quorum) c.pre_vote = true;
  c.entries_per_msg_max = pick<uint32_t>(rng, {1, 3, 64});
  c.bytes_per_msg_max = rng.chance(0.2) ? 40 : 1024 * 1024;
  c.inflight_msgs_max = pick<uint32_t>(rng, {1, 4, 16});
  if (profile == Profile::kFigure8) c.entries_per_msg_max = 1;
  // Snapshots: few trailing entries and small chunks make InstallSnapshot common and slow.
  c.snapshot_trailing_entries = pick<uint32_t>(rng, {0, 2, 10, 100});
  c.snapshot_chunk_bytes_max = pick<uint64_t>(rng, {16, 128, 64 * 1024});
  c.catchup_rounds_max = pick<uint32_t>(rng, {2, 10});
  // Memory: most seeds let the log release applied commands at once or soon, so AppendEntries
  // to a follower behind are filled from the simulated disk (Storage::read_entry).
  c.log_payload_bytes_max = pick<uint64_t>(rng, {0, 64, 4096, 4ull << 20});
  return c;
}

std::string random_key(Prng& rng) {
  std::string key = "k";
  key += std::to_string(rng.uniform(0, kKeysCount));
  return key;
}

// A read of a random register at the leader (often) or any live node: followers forward it
// (thesis §6.4.1), and a deposed leader that still thinks it leads must not answer stale.
void random_read(Prng& rng, Cluster& c) {
  int target = find_leader(c);
  if (target == -1 || rng.chance(0.5)) target = static_cast<int>(rng.uniform(0, c.size()));
  c.read(Cluster::node_id(target), random_key(rng));
}

// Leadership transfer from the leader to a random voter (maybe down, maybe partitioned: then
// it must time out and the leader resume).
void random_transfer(Prng& rng, Cluster& c) {
  const int leader = find_leader(c);
  if (leader == -1) return;
  const std::vector<NodeId>& voters = c.core(Cluster::node_id(leader))->membership().voters;
  if (voters.empty()) return;
  c.transfer_leader(Cluster::node_id(leader), pick(rng, voters));
}

// A single-server change at the leader: add a non-member (a spare or a removed server), or
// remove a member (maybe the leader itself) while more than `voters_min` voters remain.
void random_membership(Prng& rng, Cluster& c, size_t voters_min) {
  const int leader = find_leader(c);
  if (leader == -1) return;
  const Membership& m = c.core(Cluster::node_id(leader))->membership();
  std::vector<NodeId> outside;
  std::vector<NodeId> removable = m.learners;
  for (int i = 0; i < c.size(); ++i) {
    if (!is_member(m, Cluster::node_id(i))) outside.push_back(Cluster::node_id(i));
  }
  if (m.voters.size() > voters_min)
    removable.insert(removable.end(), m.voters.begin(), m.voters.end());
  if (!outside.empty() && (removable.empty() || rng.chance(0.5))) {
    c.change_membership(Cluster::node_id(leader), MembershipOp::kAddServer, pick(rng, outside));
  } else if (!removable.empty()) {
    c.change_membership(Cluster::node_id(leader), MembershipOp::kRemoveServer,
                        pick(rng, removable));
  }
}

// Partition faults: each replaces the reachability rules (partition and cuts).
void random_partition(Prng& rng, Cluster& c) {
  const int n = c.size();
  const std::vector<NodeId> ids = shuffled_nodes(rng, n);
  FaultFilter& f = c.faults();
  f.heal();
  switch (rng.uniform(0, 5)) {
    case 0: {  // random halves
      const size_t k = rng.uniform(1, static_cast<uint64_t>(n));
      f.partition({std::set<NodeId>(ids.begin(), ids.begin() + static_cast<long>(k)),
                   std::set<NodeId>(ids.begin() + static_cast<long>(k), ids.end())});
      break;
    }
    case 1: {  // majority ring: everyone sees a majority, no two see the same one
      const int reach = std::max(1, (n / 2 + 1) / 2);
      for (int a = 0; a < n; ++a) {
        for (int b = 0; b < n; ++b) {
          const int d = std::abs(a - b);
          if (a != b && std::min(d, n - d) > reach) f.cut(ids[a], ids[b], true);
        }
      }
      break;
    }
    case 2: {  // bridge: two halves joined by one node that sees both
      const size_t k = std::max<size_t>(1, static_cast<size_t>(n - 1) / 2);
      for (size_t a = 0; a < k; ++a) {
        for (size_t b = k + 1; b < ids.size(); ++b) f.cut(ids[a], ids[b], false);
      }
      break;
    }
    case 3:  // isolate one node
      f.isolate(ids[0]);
      break;
    default:  // one-way cuts
      for (uint64_t k = 0, count = rng.uniform(1, 3); k < count; ++k) {
        f.cut(ids[k], ids[k + 1], true);
      }
      break;
  }
}

// Link faults: loss, delay and jitter, duplication, reordering, on everything or one node.
void random_link_fault(Prng& rng, Cluster& c) {
  FaultFilter& f = c.faults();
  if (f.rules().links.size() >= kLinkRulesMax) {
    FaultRules rules = f.rules();
    rules.links.clear();
    f.set_rules(rules);
  }
  LinkRule rule;
  if (rng.chance(0.5)) {
    const NodeId node = Cluster::node_id(static_cast<int>(rng.uniform(0, c.size())));
    if (rng.chance(0.5)) {
      rule.from = {node};
    } else {
      rule.to = {node};
    }
  }
  switch (rng.uniform(0, 4)) {
    case 0:
      rule.fault.loss = 0.05 + 0.35 * static_cast<double>(rng.uniform(0, 100)) / 100;
      break;
    case 1:
      rule.fault.delay_ms = static_cast<uint32_t>(rng.uniform(0, 40));
      rule.fault.jitter_ms = static_cast<uint32_t>(rng.uniform(0, 80));
      break;
    case 2:
      rule.fault.duplicate = 0.05 + 0.3 * static_cast<double>(rng.uniform(0, 100)) / 100;
      break;
    default:
      rule.fault.reorder = 0.1 + 0.3 * static_cast<double>(rng.uniform(0, 100)) / 100;
      rule.fault.reorder_ms = static_cast<uint32_t>(rng.uniform(5, 200));
      break;
  }
  f.set_link(rule);
}

// Proposes to the leader if there is one, else (sometimes) to a random node that refuses.
void random_proposal(Prng& rng, Cluster& c, uint64_t& command_counter) {
  int target = find_leader(c);
  if (target == -1 || rng.chance(0.1)) target = static_cast<int>(rng.uniform(0, c.size()));
  std::vector<std::string> commands;
  for (uint64_t k = 0, count = rng.uniform(1, 4); k < count; ++k) {
    // Built by appending: GCC 12's -Wrestrict misfires on "literal" + std::string here.
    std::string command = random_key(rng);
    command += "=s";
    command += std::to_string(c.seed());
    command += 'c';
    command += std::to_string(command_counter++);
    commands.push_back(std::move(command));
  }
  c.propose(Cluster::node_id(target), std::move(commands));
}

int live_count(const Cluster& c) {
  int live = 0;
  for (int i = 0; i < c.size(); ++i) live += c.up(Cluster::node_id(i)) ? 1 : 0;
  return live;
}

void restart_random(Prng& rng, Cluster& c) {
  std::vector<NodeId> down;
  for (int i = 0; i < c.size(); ++i) {
    if (!c.up(Cluster::node_id(i))) down.push_back(Cluster::node_id(i));
  }
  if (!down.empty()) c.restart(pick(rng, down));
}

void mixed_step(Prng& rng, Cluster& c, uint64_t& command_counter) {
  c.run_for(rng.uniform(5, 80));
  if (!c.ok()) return;
  if (rng.chance(0.5)) random_proposal(rng, c, command_counter);
  if (rng.chance(0.25)) random_read(rng, c);
  if (rng.chance(0.02)) random_transfer(rng, c);
  if (rng.chance(0.03)) random_membership(rng, c, 2);
  if (!rng.chance(0.12)) return;
  switch (rng.uniform(0, 10)) {
    case 0:
      c.faults().heal();
      break;
    case 1:
      c.faults().heal_all();
      break;
    case 2:
    case 3:
      random_partition(rng, c);
      break;
    case 4:
    case 5:
      random_link_fault(rng, c);
      break;
    case 6:
      c.crash(Cluster::node_id(static_cast<int>(rng.uniform(0, c.size()))));
      break;
    case 7: {
      const int leader = find_leader(c);
      if (leader != -1) c.crash(Cluster::node_id(leader));
      break;
    }
    default:
      restart_random(rng, c);
      break;
  }
}

// MIT's Figure 8: propose to the leader, wait a little (sometimes longer), crash it; keep at
// least a majority up.
void figure8_step(Prng& rng, Cluster& c, uint64_t& command_counter) {
  const int leader = find_leader(c);
  if (leader != -1) random_proposal(rng, c, command_counter);
  c.run_for(rng.chance(0.1) ? rng.uniform(0, 250) : rng.uniform(0, 13));
  if (!c.ok()) return;
  if (leader != -1 && c.up(Cluster::node_id(leader))) c.crash(Cluster::node_id(leader));
  if (live_count(c) <= c.size() / 2) restart_random(rng, c);
}

void slow_disk_step(Prng& rng, Cluster& c, uint64_t& command_counter) {
  c.run_for(rng.uniform(5, 60));
  if (!c.ok()) return;
  if (rng.chance(0.6)) random_proposal(rng, c, command_counter);
  if (rng.chance(0.25)) c.crash(Cluster::node_id(static_cast<int>(rng.uniform(0, c.size()))));
  if (live_count(c) <= c.size() / 2 || rng.chance(0.3)) restart_random(rng, c);
}

void churn_step(Prng& rng, Cluster& c, uint64_t& command_counter) {
  c.run_for(rng.uniform(5, 100));
  if (!c.ok()) return;
  if (rng.chance(0.6)) random_proposal(rng, c, command_counter);
  if (!rng.chance(0.15)) return;
  if (rng.chance(0.3)) {
    c.faults().heal();
  } else {
    random_partition(rng, c);
  }
}

// Rapid single-server changes among partitions and leader crashes: what a membership bug
// (a configuration used only once committed, two changes at once) needs to show.
void membership_step(Prng& rng, Cluster& c, uint64_t& command_counter) {
  c.run_for(rng.uniform(5, 60));
  if (!c.ok()) return;
  if (rng.chance(0.5)) random_proposal(rng, c, command_counter);
  if (rng.chance(0.4)) random_membership(rng, c, 1);
  if (rng.chance(0.1)) random_read(rng, c);
  if (rng.chance(0.03)) random_transfer(rng, c);
  if (rng.chance(0.08)) random_partition(rng, c);
  if (rng.chance(0.05)) c.faults().heal();
  if (rng.chance(0.05)) {
    const int leader = find_leader(c);
    if (leader != -1) c.crash(Cluster::node_id(leader));
  }
  if (rng.chance(0.03)) c.crash(Cluster::node_id(static_cast<int>(rng.uniform(0, c.size()))));
  if (live_count(c) <= c.size() / 2 || rng.chance(0.2)) restart_random(rng, c);
}

// Reads everywhere while leaders get isolated: an isolated leader that still believes it leads
// (until CheckQuorum, or forever without it) must not serve what the new leader overwrote.
void reads_step(Prng& rng, Cluster& c, uint64_t& command_counter) {
  c.run_for(rng.uniform(5, 50));
  if (!c.ok()) return;
  if (rng.chance(0.6)) random_proposal(rng, c, command_counter);
  for (uint64_t k = 0, count = rng.uniform(0, 3); k < count; ++k) {
    c.read(Cluster::node_id(static_cast<int>(rng.uniform(0, c.size()))), random_key(rng));
  }
  if (rng.chance(0.05)) {
    const int leader = find_leader(c);
    if (leader != -1) c.faults().isolate(Cluster::node_id(leader));
  }
  if (rng.chance(0.04)) c.faults().heal();
  if (rng.chance(0.04)) random_link_fault(rng, c);
  if (rng.chance(0.02)) c.crash(Cluster::node_id(static_cast<int>(rng.uniform(0, c.size()))));
  if (rng.chance(0.01)) random_transfer(rng, c);
  if (live_count(c) <= c.size() / 2 || rng.chance(0.05)) restart_random(rng, c);
}

}  // namespace

const char* to_string(Profile profile) {
  switch (profile) {
    case Profile::kMixed:
      return "mixed";
    case Profile::kFigure8:
      return "figure8";
    case Profile::kSlowDisk:
      return "slow-disk";
    case Profile::kChurn:
      return "churn";
    case Profile::kMembership:
      return "membership";
    case Profile::kReads:
      return "reads";
  }
  return "?";
}

std::optional<uint64_t> env_seed() {
  const char* s = std::getenv("RAFTLAB_SEED");
  if (s == nullptr || *s == '\0') return std::nullopt;
  return std::strtoull(s, nullptr, 10);
}

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return fallback;
  return std::strtoull(s, nullptr, 10);
}

void run_liveness(Cluster& c, const std::string& command_prefix) {
  if (!c.ok()) return;
  c.faults().heal_all();
  for (int i = 0; i < c.size(); ++i) c.restart(Cluster::node_id(i));
  if (!c.ok()) return;
  const uint64_t start_ms = c.now_ms();
  for (int attempt = 0; attempt < kLivenessAttemptsMax && c.ok(); ++attempt) {
    if (!c.run_until([&] { return c.single_leader() != -1; }, kLivenessLeaderMs)) break;
    const NodeId leader = Cluster::node_id(c.single_leader());
    const std::string command = command_prefix + "-live" + std::to_string(attempt);
    const Outcome out = c.propose(leader, {command});
    if (!out.accepted) {
      c.run_for(kLivenessRetryMs);  // a transfer or a change under way: give it time
      continue;
    }
    const uint64_t index = out.first_index.get();
    // Every member of the leader's configuration; removed servers and spares are left out.
    const auto everywhere = [&] {
      const Core* lc = c.core(leader);
      if (lc == nullptr) return false;
      for (int i = 0; i < c.size(); ++i) {
        if (!is_member(lc->membership(), Cluster::node_id(i))) continue;
        const std::vector<Entry>& applied = c.applied(Cluster::node_id(i));
        if (applied.size() < index || applied[index - 1].data != command) return false;
      }
      return true;
    };
    if (!c.run_until(everywhere, kLivenessApplyMs)) continue;
    // A read at the leader is served too (ReadIndex makes progress on a healed cluster).
    const int reader = c.single_leader();
    if (reader == -1) continue;
    const uint64_t read_id = c.read(Cluster::node_id(reader), KvStore::parse(command).first);
    const auto answered = [&] {
      const ReadResult* r = c.read_result(read_id);
      return r != nullptr && r->done;
    };
    if (!c.run_until(answered, kLivenessReadMs)) continue;
    if (c.read_result(read_id)->served) return;
  }
  if (!c.ok()) return;
  std::string state;
  for (int i = 0; i < c.size(); ++i) {
    const Core* core = c.core(Cluster::node_id(i));
    if (core == nullptr) continue;
    const Status s = core->status();
    state += " n" + std::to_string(s.id.get()) + ":" + to_string(s.role) + "/t" +
             std::to_string(s.term.get()) + "/commit" + std::to_string(s.commit.get()) + "/last" +
             std::to_string(s.last_index.get()) + "/[" + describe(s.membership) + "]";
  }
  c.fail("liveness", "no command applied on every node within " +
                         std::to_string(c.now_ms() - start_ms) + " ms after healing;" + state);
}

SoakResult run_soak(const SoakOptions& options) {
  Prng rng(derive_seed(options.seed, 7));  // the nemesis's own stream
  SimConfig sc;
  int spares = options.spares_count;
  if (spares < 0) {
    const bool membership =
        options.profile == Profile::kMixed || options.profile == Profile::kMembership;
    spares = membership ? static_cast<int>(rng.uniform(0, 3)) : 0;
  }
  sc.nodes_count = options.nodes_count + spares;
  sc.voters_count = options.nodes_count;
  sc.seed = options.seed;
  sc.tick_ms = kTickMs;
  sc.commands_unique = true;
  sc.replay_test_name = options.test_name;
  sc.core = random_core_config(rng, options.profile);
  sc.core.unsafe = options.unsafe;
  sc.check_persist_before_send = options.check_persist_before_send;
  sc.snapshot_every = rng.chance(0.8) ? pick<uint64_t>(rng, {3, 10, 40}) : 0;
  sc.snapshot_padding_bytes = rng.chance(0.2) ? rng.uniform(100, 2000) : 0;
  if (options.profile == Profile::kSlowDisk) {
    sc.disk_latency_min_ms = 10;
    sc.disk_latency_max_ms = 80;
  } else if (rng.chance(0.2)) {
    sc.disk_latency_min_ms = 5;
    sc.disk_latency_max_ms = 40;
  }
  Cluster c(sc);
  if (env_u64("RAFTLAB_TRACE", 0) != 0) {
    // Replay aid: the notable events of the run, with simulated time.
    c.narrate = [&c](const std::string& what) {
      std::fprintf(stderr, "[%llu ms] %s\n", static_cast<unsigned long long>(c.now_ms()),
                   what.c_str());
    };
  }
  if (options.profile == Profile::kFigure8) {
    // Lossy, jittery links: a new leader's own-term entries then often miss the followers
    // that acknowledged its predecessors' entries (the situation of Figure 8 (c)).
    LinkRule rule;
    rule.fault.loss = 0.1;
    rule.fault.jitter_ms = static_cast<uint32_t>(rng.uniform(5, 30));
    c.faults().set_link(rule);
  }

  const uint64_t fault_end_ms = static_cast<uint64_t>(options.fault_ticks) * kTickMs;
  uint64_t command_counter = 0;
  for (uint64_t s = 0; s < kNemesisStepsMax && c.ok() && c.now_ms() < fault_end_ms; ++s) {
    switch (options.profile) {
      case Profile::kMixed:
        mixed_step(rng, c, command_counter);
        break;
      case Profile::kFigure8:
        figure8_step(rng, c, command_counter);
        break;
      case Profile::kSlowDisk:
        slow_disk_step(rng, c, command_counter);
        break;
      case Profile::kChurn:
        churn_step(rng, c, command_counter);
        break;
      case Profile::kMembership:
        membership_step(rng, c, command_counter);
        break;
      case Profile::kReads:
        reads_step(rng, c, command_counter);
        break;
    }
  }
  std::string prefix = "s";
  prefix += std::to_string(options.seed);
  if (options.liveness) run_liveness(c, prefix);
  c.check_committed_durable(true);

  SoakResult r;
  r.ok = c.ok();
  if (!r.ok) r.checker = c.violation()->checker;
  r.report = c.report();
  r.hash = c.state_hash();
  r.stats = c.stats();
  r.committed_count = c.committed().size();
  r.reads_served = c.stats().reads_served;
  r.sim_ms = c.now_ms();
  return r;
}

}  // namespace raftlab::sim
