// The nemesis of `raftlab check` (see nemesis.h) and its hidden test hook `raftlab nemesis-run`.
#include "cmd/drive/nemesis.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "cmd/cluster/clock.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/drive/raftlab_child.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/command.h"
#include "cmd/lab/fault_shapes.h"
#include "cmd/lab/output.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/process.h"

namespace raftlab::lab {
namespace {

// Every kind, in the order of `--nemesis all` and of the usage error's list.
constexpr std::array<FaultKind, 12> kFaultKinds = {
    FaultKind::kPartition, FaultKind::kRing,     FaultKind::kBridge, FaultKind::kIsolateLeader,
    FaultKind::kCut,       FaultKind::kKill,     FaultKind::kPause,  FaultKind::kLoss,
    FaultKind::kDelay,     FaultKind::kTransfer, FaultKind::kMember, FaultKind::kPower,
};

}  // namespace

const char* to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::kPartition:
      return "partition";
    case FaultKind::kRing:
      return "ring";
    case FaultKind::kBridge:
      return "bridge";
    case FaultKind::kIsolateLeader:
      return "isolate-leader";
    case FaultKind::kCut:
      return "cut";
    case FaultKind::kKill:
      return "kill";
    case FaultKind::kPause:
      return "pause";
    case FaultKind::kLoss:
      return "loss";
    case FaultKind::kDelay:
      return "delay";
    case FaultKind::kTransfer:
      return "transfer";
    case FaultKind::kMember:
      return "member";
    case FaultKind::kPower:
      return "power";
  }
  return "partition";
}

std::vector<FaultKind> parse_nemesis_kinds(const std::string& text) {
  std::vector<FaultKind> kinds;
  std::stringstream in(text);
  std::string part;
  auto add = [&](FaultKind kind) {
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
  };
  while (std::getline(in, part, ',')) {
    part.erase(0, part.find_first_not_of(" \t"));
    part.erase(part.find_last_not_of(" \t") + 1);
    if (part.empty() || part == "none") continue;
    if (part == "majority-ring") part = "ring";  // partition --random's name for it
    const auto named = std::find_if(kFaultKinds.begin(), kFaultKinds.end(),
                                    [&](FaultKind k) { return part == to_string(k); });
    if (part == "all") {
      for (FaultKind k : kFaultKinds) {
        if (k != FaultKind::kPower) add(k);  // by name only: `all` meant these before it
      }
    } else if (named != kFaultKinds.end()) {
      add(*named);
    } else {
      std::string known;
      for (FaultKind k : kFaultKinds)
        known += (known.empty() ? "" : ", ") + std::string(to_string(k));
      throw LabError(kExitUsage,
                     "unknown nemesis kind '" + part + "' (kinds: " + known + ", all, none)");
    }
  }
  return kinds;
}

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Bounds on the commands the nemesis runs (each CLI command bounds its own waits below these).
constexpr uint64_t kFaultCommandTimeoutMs = 10'000;  // partition, cut, net, heal, kill, pause
constexpr uint64_t kStartCommandTimeoutMs = 20'000;  // start: port wait and start-up wait
constexpr uint64_t kTransferCommandTimeoutMs = 8'000;
constexpr const char* kTransferTimeout = "3s";
constexpr uint64_t kRemoveCommandTimeoutMs = 12'000;
constexpr const char* kRemoveTimeout = "5s";
constexpr uint64_t kAddCommandTimeoutMs = 20'000;
constexpr const char* kAddTimeout = "12s";
constexpr uint64_t kTicksMax = 1'000'000;        // with the stop flag: the schedule is bounded
constexpr uint64_t kConvergePollsMax = 100'000;  // with the deadline
constexpr uint32_t kConvergeAdminTimeoutMs = 200;
constexpr uint32_t kConvergePollMs = 50;

// What `raftlab status --json` says now.
struct Observed {
  std::vector<uint64_t> all;
  std::vector<uint64_t> running;  // process running and answering
  std::vector<uint64_t> paused;
  std::vector<uint64_t> stopped;
  uint64_t leader = 0;              // the answering leader of the highest term (0: none)
  std::vector<uint64_t> followers;  // running, answering, role follower (voters, not learners)
  bool healthy = false;             // every node running and answering, a leader
};

std::optional<Observed> parse_status(const json& doc) {
  if (!doc.is_object() || !doc.contains("nodes") || !doc["nodes"].is_array()) return std::nullopt;
  Observed o;
  uint64_t best_term = 0;
  for (const json& n : doc["nodes"]) {
    if (!n.is_object() || !n.contains("id") || !n["id"].is_number_unsigned()) continue;
    const uint64_t id = n["id"].get<uint64_t>();
    o.all.push_back(id);
    const std::string process = n.value("process", "");
    const std::string role =
        n.contains("role") && n["role"].is_string() ? n["role"].get<std::string>() : "unknown";
    if (process == "paused") o.paused.push_back(id);
    if (process == "stopped") o.stopped.push_back(id);
    if (process != "running" || role == "unknown") continue;
    o.running.push_back(id);
    const uint64_t term =
        n.contains("term") && n["term"].is_number_unsigned() ? n["term"].get<uint64_t>() : 0;
    if (role == "leader" && term >= best_term) {
      best_term = term;
      o.leader = id;
    }
    if (role == "follower") o.followers.push_back(id);
  }
  o.healthy = o.leader != 0 && o.running.size() == o.all.size();
  return o;
}

std::string list_text(const std::vector<uint64_t>& ids) {
  std::string out;
  for (uint64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The kinds: one function each, planning the injection from what the cluster looks like now.

// What a kind's function sees: the cluster now, its nodes in the nemesis' random order, and
// the nemesis' random source.
struct Situation {
  const Observed& now;
  const std::vector<uint64_t>& nodes;  // shuffled
  Prng& prng;

  uint64_t pick(const std::vector<uint64_t>& from) const {
    return from[prng.uniform(0, from.size())];
  }
};

// One injection as its kind's function plans it.
struct Plan {
  std::vector<std::vector<std::string>> commands;  // run in order; only cut has more than one
  std::vector<std::string> labels;                 // cut: each command's "from->to"
  uint64_t timeout_ms = kFaultCommandTimeoutMs;    // of each command
  std::string value;                               // the injection event's value
  Nemesis::Fault fault;                            // its undo
  std::string skip;                                // not empty: nothing injected, and why
};

// Partitions and cuts are undone by `heal`; link faults need --all, the others say their own.
Plan heal_plan(FaultKind kind) {
  Plan p;
  p.fault.kind = kind;
  p.fault.undo_args = {"heal"};
  p.fault.undo_timeout_ms = kFaultCommandTimeoutMs;
  p.fault.undo_f = "heal";
  return p;
}

Plan skipped(const char* why) {
  Plan p;
  p.skip = why;
  return p;
}

std::vector<NodeId> node_ids(const std::vector<uint64_t>& ids) {
  std::vector<NodeId> out;
  for (uint64_t id : ids) out.emplace_back(id);
  return out;
}

std::string sorted_text(std::vector<NodeId> ids) {
  std::sort(ids.begin(), ids.end());
  return ids_text(ids);
}

Plan plan_partition(const Situation& s) {
  if (s.nodes.size() < 2) return skipped("fewer than 2 nodes");
  const std::vector<std::set<NodeId>> groups = halves(node_ids(s.nodes));
  const std::string a = ids_text({groups[0].begin(), groups[0].end()});
  const std::string b = ids_text({groups[1].begin(), groups[1].end()});
  Plan p = heal_plan(FaultKind::kPartition);
  p.commands = {{"partition", a, b}};
  p.value = a + " | " + b;
  return p;
}

Plan plan_ring(const Situation&) {
  Plan p = heal_plan(FaultKind::kRing);
  p.commands = {{"partition", "--random", "majority-ring"}};
  return p;
}

Plan plan_bridge(const Situation& s) {
  if (s.nodes.size() < 3) return skipped("fewer than 3 nodes");
  const Bridge b = bridge(node_ids(s.nodes));
  const std::string left = sorted_text(b.left);
  const std::string right = sorted_text(b.right);
  Plan p = heal_plan(FaultKind::kBridge);
  p.commands = {{"cut", left, right}};  // both ways; the bridge node hears both sides
  p.value =
      "bridge " + left + " | " + right + ", node " + std::to_string(b.node.get()) + " hears both";
  return p;
}

Plan plan_isolate_leader(const Situation& s) {
  if (s.now.leader == 0) return skipped("no leader");
  Plan p = heal_plan(FaultKind::kIsolateLeader);
  p.commands = {{"isolate", std::to_string(s.now.leader)}};
  p.value = "isolate node " + std::to_string(s.now.leader) + " (leader)";
  return p;
}

// A few one-way cuts between random ordered pairs, one command each.
Plan plan_cut(const Situation& s) {
  const size_t n = s.nodes.size();
  if (n < 2) return skipped("fewer than 2 nodes");
  const size_t pairs = s.prng.uniform(1, std::max<size_t>(1, n / 2) + 1);
  std::set<std::pair<uint64_t, uint64_t>> chosen;
  for (size_t k = 0; k < pairs * 4 && chosen.size() < pairs; ++k) {
    const uint64_t from = s.pick(s.now.all);
    const uint64_t to = s.pick(s.now.all);
    if (from != to) chosen.insert({from, to});
  }
  Plan p = heal_plan(FaultKind::kCut);
  for (const auto& [from, to] : chosen) {
    p.commands.push_back({"cut", std::to_string(from), std::to_string(to), "--one-way"});
    p.labels.push_back(std::to_string(from) + "->" + std::to_string(to));
  }
  return p;
}

// Kill -9 or pause one running node, the leader half the time.
Plan plan_stop_node(const Situation& s, FaultKind kind) {
  const bool leader = s.now.leader != 0 && s.prng.chance(0.5);
  if (s.now.running.empty()) return skipped("no node running");
  const uint64_t id = leader ? s.now.leader : s.pick(s.now.running);
  const std::string suffix = id == s.now.leader ? " (leader)" : "";
  const std::string node = std::to_string(id);
  Plan p = heal_plan(kind);
  p.commands = {{to_string(kind), node}};
  if (kind == FaultKind::kKill) {
    p.value = "kill -9 node " + node + suffix;
    p.fault.undo_args = {"start", node};
    p.fault.undo_timeout_ms = kStartCommandTimeoutMs;
    p.fault.undo_f = "restart";
    p.fault.undo_value = "start node " + node;
  } else {
    p.value = "pause node " + node + suffix;
    p.fault.undo_args = {"resume", node};
    p.fault.undo_f = "resume";
    p.fault.undo_value = "resume node " + node;
  }
  return p;
}

// A power cut of one running node, or of every node a third of the time (all down at once:
// only what each had synced survives, so an acknowledged write lost by all shows as lost).
Plan plan_power_cut(const Situation& s) {
  constexpr double kAllChance = 1.0 / 3;
  if (s.now.running.empty()) return skipped("no node running");
  const std::string target =
      s.prng.chance(kAllChance) ? "all" : std::to_string(s.pick(s.now.running));
  Plan p = heal_plan(FaultKind::kPower);
  p.commands = {{"crash", target, "--lose-unsynced", "--tear"}};
  p.value = "power cut " + (target == "all" ? target : "node " + target);
  p.fault.undo_args = {"start", target};
  p.fault.undo_timeout_ms = kStartCommandTimeoutMs;
  p.fault.undo_f = "restart";
  p.fault.undo_value = "start " + (target == "all" ? target : "node " + target);
  return p;
}

// Loss or delay on every link.
Plan plan_link_fault(FaultKind kind) {
  Plan p = heal_plan(kind);
  if (kind == FaultKind::kLoss) {
    p.commands = {{"net", "--loss", "20%"}};
    p.value = "loss 20% all links";
  } else {
    p.commands = {{"net", "--delay", "30ms", "--jitter", "10ms"}};
    p.value = "delay 30ms jitter 10ms all links";
  }
  p.fault.undo_args = {"heal", "--all"};
  return p;
}

Plan plan_transfer(const Situation& s) {
  if (s.now.leader == 0) return skipped("no leader");
  if (s.now.followers.empty()) return skipped("no follower");
  const uint64_t target = s.pick(s.now.followers);
  Plan p = heal_plan(FaultKind::kTransfer);
  p.commands = {{"transfer", std::to_string(target), "--timeout", kTransferTimeout}};
  p.timeout_ms = kTransferCommandTimeoutMs;
  p.value = "transfer " + std::to_string(s.now.leader) + " -> " + std::to_string(target);
  p.fault.undo_args.clear();  // nothing to undo: the event marks the end of the window
  p.fault.undo_f = "transfer-done";
  p.fault.undo_value = p.value;
  return p;
}

// Only on a whole cluster: never remove a member while another node is down.
Plan plan_member(const Situation& s) {
  if (!s.now.healthy) return skipped("not every node is running, or no leader");
  if (s.nodes.size() < 3) return skipped("fewer than 3 nodes");
  if (s.now.followers.empty()) return skipped("no follower");
  const std::string node = std::to_string(s.pick(s.now.followers));
  Plan p = heal_plan(FaultKind::kMember);
  p.commands = {{"member", "remove", node, "--timeout", kRemoveTimeout}};
  p.timeout_ms = kRemoveCommandTimeoutMs;
  p.value = "member remove " + node;
  p.fault.undo_args = {"member", "add", node, "--timeout", kAddTimeout};
  p.fault.undo_timeout_ms = kAddCommandTimeoutMs;
  p.fault.undo_f = "member-add";
  p.fault.undo_value = "member add " + node;
  return p;
}

Plan plan(FaultKind kind, const Situation& s) {
  switch (kind) {
    case FaultKind::kPartition:
      return plan_partition(s);
    case FaultKind::kRing:
      return plan_ring(s);
    case FaultKind::kBridge:
      return plan_bridge(s);
    case FaultKind::kIsolateLeader:
      return plan_isolate_leader(s);
    case FaultKind::kCut:
      return plan_cut(s);
    case FaultKind::kKill:
    case FaultKind::kPause:
      return plan_stop_node(s, kind);
    case FaultKind::kLoss:
    case FaultKind::kDelay:
      return plan_link_fault(kind);
    case FaultKind::kTransfer:
      return plan_transfer(s);
    case FaultKind::kMember:
      return plan_member(s);
    case FaultKind::kPower:
      return plan_power_cut(s);
  }
  return skipped("unknown kind");
}

// The majority ring's event value: the cuts `partition --random` answered, each pair once.
std::string ring_value(const json& doc) {
  std::string cuts;
  if (doc.is_object() && doc.contains("cuts") && doc["cuts"].is_array()) {
    for (const json& c : doc["cuts"]) {
      if (!c.is_array() || c.size() != 2 || !c[0].is_number_unsigned() ||
          !c[1].is_number_unsigned()) {
        continue;
      }
      const uint64_t a = c[0].get<uint64_t>(), b = c[1].get<uint64_t>();
      if (a < b) cuts += (cuts.empty() ? "" : " ") + std::to_string(a) + "-" + std::to_string(b);
    }
  }
  return "majority-ring, cut " + (cuts.empty() ? std::string("nothing") : cuts);
}

// The groups `isolate` answered: "1,2 | 3".
std::string groups_value(const json& doc) {
  std::string groups;
  for (const json& g : doc["groups"]) {
    std::vector<uint64_t> ids;
    if (!g.is_array()) continue;
    for (const json& id : g) {
      if (id.is_number_unsigned()) ids.push_back(id.get<uint64_t>());
    }
    groups += (groups.empty() ? "" : " | ") + list_text(ids);
  }
  return groups;
}

// The injection event's value, once its commands ran (`done` of them, the last answering `r`).
std::string injected_value(FaultKind kind, const Plan& p, size_t done, const CommandResult& r) {
  if (kind == FaultKind::kCut) {
    std::string cuts;
    for (size_t k = 0; k < done; ++k) cuts += (cuts.empty() ? "" : ", ") + p.labels[k];
    return "one-way " + cuts;
  }
  if (kind == FaultKind::kRing) return ring_value(r.doc);
  if (kind == FaultKind::kIsolateLeader && r.doc.is_object() && r.doc.contains("groups") &&
      r.doc["groups"].is_array()) {
    return p.value + ": " + groups_value(r.doc);
  }
  return p.value;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Nemesis.

Nemesis::Nemesis(NemesisOptions options, std::function<void(const NemesisEvent&)> record)
    : options_(std::move(options)), record_(std::move(record)), prng_(options_.seed) {
  std::error_code ec;
  exe_ = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) throw LabError(kExitEnvironment, "cannot find this binary: " + ec.message());
}

Nemesis::~Nemesis() { stop_thread(); }

void Nemesis::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

size_t Nemesis::injected() const { return injected_.load(); }

void Nemesis::stop_thread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Nemesis::emit(const std::string& f, const std::string& value) {
  if (!record_) return;
  try {
    record_(NemesisEvent{monotonic_ns(), f, value});
  } catch (const std::exception& e) {
    std::cerr << "raftlab nemesis: recording " << f << " failed: " << e.what() << "\n";
  }
}

void Nemesis::run() {
  for (uint64_t tick = 0; tick < kTicksMax; ++tick) {
    const uint64_t base = std::max<uint64_t>(options_.interval_ms, 1);
    const uint64_t wait_ms = base * prng_.uniform(75, 126) / 100;  // +-25%
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stopping_; });
      if (stopping_) return;
    }
    // One fault at a time: the previous one is undone first; one that cannot be undone now
    // stays in force and nothing new is injected until it is.
    if (in_force_) {
      // A recorded fault is retried until undone; an unrecorded one (an injection that failed
      // but may have taken effect) gets one try, and stop_and_heal's heal covers the rest.
      if (!undo(*in_force_) && !in_force_->undo_f.empty()) continue;
      in_force_.reset();
    }
    if (options_.kinds.empty()) continue;
    const FaultKind kind = options_.kinds[prng_.uniform(0, options_.kinds.size())];
    try {
      in_force_ = inject(kind);
    } catch (const std::exception& e) {
      std::cerr << "raftlab nemesis: " << to_string(kind) << ": " << e.what() << "\n";
    }
  }
}

std::optional<Nemesis::Fault> Nemesis::inject(FaultKind kind) {
  const char* name = to_string(kind);
  auto run = [&](const std::vector<std::string>& args, uint64_t timeout_ms) {
    CommandResult r = run_raftlab(exe_, options_.dir, args, timeout_ms);
    if (!r.ok()) std::cerr << "raftlab nemesis: " << name << ": " << failure_text(args, r) << "\n";
    return r;
  };
  const CommandResult status = run({"status"}, kFaultCommandTimeoutMs);
  const std::optional<Observed> now = status.ok() ? parse_status(status.doc) : std::nullopt;
  if (!now) return std::nullopt;
  std::vector<uint64_t> nodes = now->all;
  for (size_t k = nodes.size(); k > 1; --k) std::swap(nodes[k - 1], nodes[prng_.uniform(0, k)]);
  Plan p = plan(kind, Situation{*now, nodes, prng_});
  if (!p.skip.empty()) {
    std::cerr << "raftlab nemesis: " << name << " skipped: " << p.skip << "\n";
    return std::nullopt;
  }
  if (kind == FaultKind::kMember) removed_.push_back(std::stoull(p.fault.undo_args[2]));
  CommandResult last;
  size_t done = 0;
  for (; done < p.commands.size(); ++done) {
    last = run(p.commands[done], p.timeout_ms);
    if (!last.ok()) break;
  }
  if (done == 0 && !p.commands.empty()) {
    if (last.certainly_nothing() || kind == FaultKind::kTransfer) {
      if (kind == FaultKind::kMember) removed_.pop_back();
      return std::nullopt;
    }
    // It may have taken effect (a timeout, a change made but not confirmed): undo it at the
    // next tick, without events, since no injection was recorded.
    p.fault.undo_f.clear();
    return p.fault;
  }
  const std::string value = injected_value(kind, p, done, last);
  if (p.fault.undo_value.empty()) {
    const bool named = kind == FaultKind::kPartition || kind == FaultKind::kCut;
    p.fault.undo_value = named ? std::string(name) + " " + value : value;
  }
  ++injected_;
  emit(name, value);
  return p.fault;
}

bool Nemesis::undo(const Fault& fault) {
  if (!fault.undo_args.empty()) {
    const CommandResult r = run_raftlab(exe_, options_.dir, fault.undo_args, fault.undo_timeout_ms);
    if (!r.ok()) {
      std::cerr << "raftlab nemesis: undo of " << to_string(fault.kind) << ": "
                << failure_text(fault.undo_args, r) << "\n";
      return false;
    }
  }
  if (fault.kind == FaultKind::kMember && fault.undo_args.size() > 2) {
    std::erase(removed_, std::stoull(fault.undo_args[2]));
  }
  if (!fault.undo_f.empty()) emit(fault.undo_f, fault.undo_value);
  return true;
}

void Nemesis::heal_everything(std::vector<std::string>& problems) {
  auto run = [&](const std::vector<std::string>& args, uint64_t timeout_ms) {
    const CommandResult r = run_raftlab(exe_, options_.dir, args, timeout_ms);
    if (!r.ok()) problems.push_back(failure_text(args, r));
    return r.ok();
  };
  const CommandResult status = run_raftlab(exe_, options_.dir, {"status"}, kFaultCommandTimeoutMs);
  if (const std::optional<Observed> now = status.ok() ? parse_status(status.doc) : std::nullopt) {
    for (uint64_t id : now->paused) run({"resume", std::to_string(id)}, kFaultCommandTimeoutMs);
    for (uint64_t id : now->stopped) run({"start", std::to_string(id)}, kStartCommandTimeoutMs);
  } else {
    problems.push_back("`raftlab status` failed: " + last_line(status.err));
  }
  run({"heal", "--all"}, kFaultCommandTimeoutMs);
  for (uint64_t id : std::vector<uint64_t>(removed_)) {
    if (run({"member", "add", std::to_string(id), "--timeout", kAddTimeout},
            kAddCommandTimeoutMs)) {
      std::erase(removed_, id);
    }
  }
}

namespace {

// One look at the cluster after the heal: true once a leader a majority agrees on exists and
// every node answers with its applied index at least `target` (set to the leader's commit at
// the first look). `seen` tells what was found, for the reason of a failure.
bool converged_now(const std::string& dir, uint64_t& target, std::string& seen) {
  const ClusterSpec spec = load_cluster(dir);
  const std::vector<NodeView> views = collect_views(dir, spec, false, kConvergeAdminTimeoutMs);
  uint64_t term = 0;
  const NodeId leader = agreed_leader(spec, views, &term);
  uint64_t commit = 0;
  for (const NodeView& v : views) {
    if (v.id == leader) commit = v.commit;
  }
  if (target == 0) target = commit;
  commit = target;
  seen.clear();
  bool all = static_cast<bool>(leader);
  for (const NodeView& v : views) {
    const bool ok = v.answered && v.applied >= commit;
    all = all && ok;
    seen += "\n  node " + std::to_string(v.id.get()) + ": " + to_string(v.process) +
            (v.answered ? ", " + v.role + " term " + std::to_string(v.term) + " applied " +
                              std::to_string(v.applied) + " commit " + std::to_string(v.commit)
                        : std::string(", not answering"));
  }
  if (!leader) seen = "no leader agreed by a majority" + seen;
  return all;
}

}  // namespace

bool Nemesis::stop_and_heal(uint64_t converge_timeout_ms, std::string* why) {
  stop_thread();
  const auto deadline = Clock::now() + std::chrono::milliseconds(converge_timeout_ms);
  std::vector<std::string> problems;
  if (in_force_) {
    if (undo(*in_force_)) in_force_.reset();
  }
  // Whatever is left, whoever left it: every node resumed and started, every rule gone, every
  // member the nemesis removed added back.
  heal_everything(problems);
  in_force_.reset();
  emit("heal", "heal --all; every node resumed and started; removed members added back");

  // Converged: a leader a majority agrees on, every node running and answering, and each one's
  // applied index at least the leader's commit as first seen after the heal (clients may keep
  // writing: the commit moves on, and a node a few entries behind it has still caught up).
  std::string seen = "not polled";
  bool converged = false;
  uint64_t target = 0;
  for (uint64_t k = 0; k < kConvergePollsMax && !converged; ++k) {
    try {
      converged = converged_now(options_.dir, target, seen);
    } catch (const std::exception& e) {
      seen = e.what();
    }
    if (converged || Clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kConvergePollMs));
  }
  if (converged && problems.empty()) return true;
  if (why != nullptr) {
    std::string text;
    for (const std::string& p : problems) text += (text.empty() ? "" : "; ") + p;
    if (!converged) {
      text += (text.empty() ? "" : "; ") + std::string("not converged within ") +
              std::to_string(converge_timeout_ms) + " ms; last seen: " + seen;
    }
    *why = text;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// `raftlab nemesis-run`: the nemesis alone, for tests.

namespace {

constexpr const char* kNemesisRunHelp =
    "raftlab nemesis-run (internal, for tests): run the nemesis of `check` alone against a "
    "cluster; one JSON line per event; exit 0 if it converged after the final heal";

struct NemesisRunOptions {
  std::string dir;
  std::string kinds = "all";
  std::string interval = "300ms";
  std::string duration = "5s";
  std::string converge_timeout = "30s";
  uint64_t seed = 1;
};

int run_nemesis_run(const NemesisRunOptions& o) {
  NemesisOptions options;
  options.dir = absolute_dir(resolve_dir(o.dir));
  options.kinds = parse_nemesis_kinds(o.kinds);  // a usage error first, as the parser's are
  load_cluster(options.dir);                     // exit 4 without a cluster
  options.interval_ms = *parse_duration_ms(o.interval);
  options.seed = o.seed;
  std::mutex out_mutex;
  Nemesis nemesis(options, [&out_mutex](const NemesisEvent& e) {
    const json line = {{"process", "nemesis"},
                       {"type", "info"},
                       {"f", e.f},
                       {"value", e.value},
                       {"time", e.time_ns}};
    std::lock_guard<std::mutex> lock(out_mutex);
    std::cout << line.dump() << std::endl;
  });
  nemesis.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(*parse_duration_ms(o.duration)));
  std::string why;
  const bool ok = nemesis.stop_and_heal(*parse_duration_ms(o.converge_timeout), &why);
  std::cerr << "raftlab nemesis-run: " << nemesis.injected() << " faults injected; "
            << (ok ? "converged" : "NOT converged: " + why) << "\n";
  return ok ? kExitOk : kExitFailed;
}

}  // namespace

void setup_nemesis_run(CLI::App& app) {
  auto o = std::make_shared<NemesisRunOptions>();
  CLI::App* cmd = add_verb(app, "nemesis-run", kNemesisRunHelp, o->dir);
  cmd->group("");  // hidden from `raftlab --help`
  cmd->add_option("--kinds", o->kinds, "partition,kill,... or all or none (default all)");
  cmd->add_option("--interval", o->interval, "A new fault every (default 300ms)")
      ->check(duration_validator());
  cmd->add_option("--duration", o->duration, "Faults for this long (default 5s)")
      ->check(duration_validator());
  cmd->add_option("--converge-timeout", o->converge_timeout, "Bound after the heal (default 30s)")
      ->check(duration_validator());
  cmd->add_option("--seed", o->seed, "The nemesis' seed (default 1)");
  run_on_parse(cmd, [o] { return run_nemesis_run(*o); });
}

}  // namespace raftlab::lab
