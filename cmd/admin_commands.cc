// The admin commands of docs/cli.md's "Cluster" group: `raftlab transfer SEL`,
// `raftlab member add|remove ID` and `raftlab snapshot SEL`. Each sends one admin request
// (cmd/cluster/contract.h: transfer, member, snapshot) and, for transfer and member, polls the
// nodes' status until the change is seen by a majority or --timeout passes (exit 3).
//
// The membership seen here is the leader's own (its status "voters" and "learners"), not the
// bootstrap "voters" of cluster.json, which stay what the cluster started with: a node added
// later has no bootstrap file, starts with no configuration and learns it from the leader.
// `raftlab rebuild ID` brings back a node whose disk was lost (remove, wipe, add).

#include <signal.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "cmd/cluster/contract.h"
#include "cmd/cluster/dir_lock.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/drive/nemesis.h"
#include "cmd/lab/actions.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/command.h"
#include "cmd/lab/output.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/ports.h"
#include "cmd/lab/process.h"
#include "cmd/lab/selectors.h"
#include "cmd/verbs.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kStatusTimeoutMs = 200;     // per node per poll
constexpr uint32_t kRequestTimeoutMs = 1000;   // transfer and member requests to the leader
constexpr uint32_t kSnapshotTimeoutMs = 5000;  // a snapshot is written and fsynced first
constexpr uint32_t kResendTransferMs = 1000;   // a transfer the core gave up on is asked again
constexpr uint32_t kRetryRefusedMs = 100;      // a refused request is asked again after this
constexpr uint64_t kPollsMax = 1'000'000;      // with the deadline: every loop is bounded

// What the leader a majority agrees on says about the cluster.
struct LeaderView {
  NodeId leader;
  uint64_t term = 0;
  std::vector<uint64_t> voters;      // the leader's configuration
  std::vector<uint64_t> learners;    // sorted
  std::map<uint64_t, json> answers;  // every node that answered status, by id
};

bool contains(const std::vector<uint64_t>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id.get()) != ids.end();
}

std::string list_text(const std::vector<uint64_t>& ids) {
  std::string out;
  for (uint64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out.empty() ? "-" : out;
}

// Asks every running node for its status once. The leader is the answering node that says it
// leads, in the highest term, that a majority of its own voters agree on (same term, same
// leader); nullopt if there is none now.
std::optional<LeaderView> poll_leader(const std::string& dir, const ClusterSpec& spec,
                                      size_t* running = nullptr) {
  LeaderView view;
  size_t up = 0;
  for (const NodeSpec& n : spec.nodes) {
    if (node_process_state(dir, n.id) != ProcessState::kRunning) continue;
    ++up;
    const auto a = admin_request(dir, n.id, json{{"cmd", "status"}}, kStatusTimeoutMs);
    if (a && a->value("ok", false)) view.answers[n.id.get()] = *a;
  }
  if (running != nullptr) *running = up;
  std::optional<LeaderView> best;
  for (const auto& [id, a] : view.answers) {
    if (a.value("role", "") != "leader") continue;
    const uint64_t term = a.value("term", uint64_t{0});
    const std::vector<uint64_t> voters = id_list(a, "voters");
    size_t agree = 0;
    for (uint64_t v : voters) {
      const auto it = view.answers.find(v);
      if (it == view.answers.end() || it->second.value("term", uint64_t{0}) != term) continue;
      if (v == id || it->second.value("leader", uint64_t{0}) == id) ++agree;
    }
    if (voters.empty() || agree < voters.size() / 2 + 1) continue;
    if (best && best->term >= term) continue;
    best = LeaderView{NodeId(id), term, voters, id_list(a, "learners"), {}};
  }
  if (best) best->answers = std::move(view.answers);
  return best;
}

// True if a majority of the leader's voters report the leader's configuration: the change is
// on a majority's logs, not only on the leader's.
bool config_on_majority(const LeaderView& v) {
  size_t same = 0;
  for (uint64_t id : v.voters) {
    const auto it = v.answers.find(id);
    if (it == v.answers.end()) continue;
    if (id_list(it->second, "voters") == v.voters &&
        id_list(it->second, "learners") == v.learners) {
      ++same;
    }
  }
  return same >= v.voters.size() / 2 + 1;
}

void sleep_ms(uint32_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::string error_of(const std::optional<json>& answer, NodeId leader) {
  if (!answer) return "leader " + std::to_string(leader.get()) + " did not answer";
  return answer->value("error", std::string("refused"));
}

// ---- transfer ----------------------------------------------------------------------------------

constexpr const char* kTransferHelp =
    "Leadership transfer to one node; waits until a majority follows it (exit 3 if not in "
    "time, 4 if there is no leader or the node is not running)";

struct TransferOptions {
  std::string dir;
  std::string selector;
  std::string timeout = "5s";
  bool json = false;
};

int run_transfer(const TransferOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  const std::vector<NodeId> ids = resolve_selector(o.selector, dir, spec);
  if (ids.size() != 1) {
    throw LabError(kExitUsage,
                   "transfer needs exactly one node; '" + o.selector + "' names " + ids_text(ids));
  }
  const NodeId target = ids.front();
  const std::string name = "node " + std::to_string(target.get());
  if (node_process_state(dir, target) != ProcessState::kRunning) {
    throw LabError(kExitEnvironment, name + " is not running");
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(*parse_duration_ms(o.timeout));
  bool leader_seen = false;
  std::string refusal;
  NodeId asked;  // the leader asked last
  auto next_ask = Clock::now();
  for (uint64_t k = 0; k < kPollsMax; ++k) {
    const std::optional<LeaderView> v = poll_leader(dir, spec);
    if (v) {
      leader_seen = true;
      if (v->leader == target) {
        record_action(dir, "transfer", {target},
                      "transfer to " + std::to_string(target.get()) + ": leader in term " +
                          std::to_string(v->term));
        if (o.json) {
          print_json({{"nodes", ids_json({target})}, {"leader", target.get()}, {"term", v->term}});
        } else {
          std::cout << "leader is " << name << " (term " << v->term << ")\n";
        }
        return kExitOk;
      }
      if (!contains(v->voters, target)) {
        throw LabError(kExitEnvironment, name + " is not a voter (voters " + list_text(v->voters) +
                                             "): only a voter can lead");
      }
      if (v->leader != asked || Clock::now() >= next_ask) {
        const auto a = admin_request(
            dir, v->leader, json{{"cmd", "transfer"}, {"target", target.get()}}, kRequestTimeoutMs);
        asked = v->leader;
        if (a && a->value("ok", false)) {
          // Accepted: the core hands over within an election timeout or gives up; ask again
          // after a while in case it gave up.
          next_ask = Clock::now() + std::chrono::milliseconds(kResendTransferMs);
        } else {
          refusal = error_of(a, v->leader);
          next_ask = Clock::now() + std::chrono::milliseconds(kRetryRefusedMs);
        }
      }
    }
    if (Clock::now() > deadline) break;
    sleep_ms(kPollIntervalMs);
  }
  if (!leader_seen) {
    throw LabError(kExitEnvironment,
                   "no leader: no majority agreed on a leader within " + o.timeout);
  }
  throw LabError(kExitTimeout, "transfer to " + name + " did not finish within " + o.timeout +
                                   (refusal.empty() ? "" : "; last refusal: " + refusal));
}

// ---- member ------------------------------------------------------------------------------------

constexpr const char* kMemberHelp =
    "Single-server membership change through the leader. `add` of a new id puts it in "
    "cluster.json on a free port and starts it; it joins as a learner and waits until the "
    "leader promotes it to voter. `remove` waits until it is no member; its process keeps "
    "running (stop it with `raftlab kill ID`). A refused change is retried until --timeout "
    "(exit 3)";

struct MemberOptions {
  std::string dir;
  std::string op;  // add | remove
  uint64_t id = 0;
  std::string timeout = "10s";
  bool json = false;
};

// Appends a node that cluster.json does not know yet, on a free port, and tells the running
// nodes (reload_faults also re-reads the peers), so every node can reach it.
void add_to_cluster_json(const std::string& dir, NodeId id) {
  const DirLock lock = lock_cluster_dir(dir);  // no other command's change is lost
  std::vector<int> held;
  const uint16_t port = pick_free_port(held);
  ClusterSpec spec = load_cluster(dir);
  if (spec.node(id) == nullptr) {
    spec.nodes.push_back(NodeSpec{id, port});
    save_cluster(dir, spec);
    std::cerr << "raftlab: node " << id.get() << " added to cluster.json on port " << port << "\n";
  }
  close_held(held);
  push_faults(dir, spec);
}

// Waits for a leader a majority agrees on: nothing is written or started while no change could
// be made. LabError(4) when no node runs or none is agreed on before the deadline.
LeaderView await_leader(const std::string& dir, const ClusterSpec& spec, Clock::time_point deadline,
                        const std::string& timeout) {
  for (uint64_t k = 0; k < kPollsMax; ++k) {
    size_t running = 0;
    if (auto v = poll_leader(dir, spec, &running)) return *v;
    if (running == 0) throw LabError(kExitEnvironment, "no leader: no node is running");
    if (Clock::now() > deadline) break;
    sleep_ms(kPollIntervalMs);
  }
  throw LabError(kExitEnvironment, "no leader: no majority agreed on a leader within " + timeout);
}

// `add`: the node must run to be caught up; a new id gets a port in cluster.json first.
void ensure_running(const std::string& dir, ClusterSpec& spec, NodeId id) {
  const std::string name = "node " + std::to_string(id.get());
  if (spec.node(id) == nullptr) {
    add_to_cluster_json(dir, id);
    spec = load_cluster(dir);
  }
  const ProcessState s = node_process_state(dir, id);
  if (s == ProcessState::kPaused) throw LabError(kExitEnvironment, name + " is paused");
  if (s == ProcessState::kStopped) {
    if (!wait_port_free(spec.node(id)->port)) {
      throw LabError(kExitEnvironment,
                     "port " + std::to_string(spec.node(id)->port) + " of " + name + " is in use");
    }
    const pid_t pid = start_node(dir, id);
    std::cerr << "raftlab: " << name << " started (pid " << pid << ")\n";
  }
}

// Makes `id` a voter (add) or no member (remove) through the leader and returns the leader's
// view once a majority reports the new configuration. LabError(3) when not done in time.
// *already: it was so before anything was asked.
LeaderView change_membership(const std::string& dir, const std::string& op, NodeId id,
                             const std::string& timeout, bool* already = nullptr) {
  ClusterSpec spec = load_cluster(dir);
  const bool add = op == "add";
  if (!add && spec.node(id) == nullptr) {
    std::vector<NodeId> all;
    for (const NodeSpec& n : spec.nodes) all.push_back(n.id);
    throw LabError(kExitUsage, "unknown node " + std::to_string(id.get()) +
                                   " (the cluster has nodes " + ids_text(all) + ")");
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(*parse_duration_ms(timeout));
  std::optional<LeaderView> v = await_leader(dir, spec, deadline, timeout);
  if (already != nullptr) {
    *already =
        add ? contains(v->voters, id) : !contains(v->voters, id) && !contains(v->learners, id);
  }
  if (add) ensure_running(dir, spec, id);
  std::string refusal;
  auto next_ask = Clock::now();
  for (uint64_t k = 0; k < kPollsMax; ++k) {
    if (k > 0) v = poll_leader(dir, spec);
    if (v) {
      const bool voter = contains(v->voters, id);
      const bool learner = contains(v->learners, id);
      const bool done = add ? voter : (!voter && !learner);
      if (done && config_on_majority(*v)) return *v;
      // A learner is caught up and promoted by the leader on its own; anything else is asked
      // for (again: the leader may have dropped a learner that did not catch up).
      const bool ask = add ? (!voter && !learner) : (voter || learner);
      if (ask && Clock::now() >= next_ask) {
        const auto a =
            admin_request(dir, v->leader, json{{"cmd", "member"}, {"op", op}, {"node", id.get()}},
                          kRequestTimeoutMs);
        if (!a || !a->value("ok", false)) refusal = error_of(a, v->leader);
        next_ask = Clock::now() + std::chrono::milliseconds(kRetryRefusedMs);
      }
    }
    if (Clock::now() > deadline) break;
    sleep_ms(kPollIntervalMs);
  }
  throw LabError(kExitTimeout, "member " + op + " " + std::to_string(id.get()) +
                                   ": not done within " + timeout +
                                   (refusal.empty() ? "" : "; last refusal: " + refusal));
}

void print_membership(const LeaderView& v, NodeId id, const std::string& done, bool as_json,
                      bool changed = true) {
  if (as_json) {
    print_json({{"nodes", ids_json({id})},
                {"changed", changed},
                {"voters", v.voters},
                {"learners", v.learners}});
  } else {
    std::cout << done << ": voters " << list_text(v.voters) << ", learners "
              << list_text(v.learners) << "\n";
  }
}

int run_member(const MemberOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const NodeId id(o.id);
  bool already = false;
  const LeaderView v = change_membership(dir, o.op, id, o.timeout, &already);
  const std::string name = "node " + std::to_string(id.get());
  std::string done;
  if (o.op == "add") {
    done = already ? name + " was a voter already, nothing changed" : "added " + name;
  } else {
    done = already ? name + " was not a member, nothing changed" : "removed " + name;
  }
  if (!already)
    record_action(dir, "member", {id}, "member " + o.op + " " + std::to_string(id.get()));
  print_membership(v, id, done, o.json, !already);
  return kExitOk;
}

// ---- members -----------------------------------------------------------------------------------

struct MembersOptions {
  std::string dir;
  std::string timeout = "5s";
  bool json = false;
};

// The configuration as the leader holds it (as `etcdctl member list`), and the nodes of
// cluster.json that are in it no more (or not yet).
int run_members(const MembersOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  const auto deadline = Clock::now() + std::chrono::milliseconds(*parse_duration_ms(o.timeout));
  const LeaderView v = await_leader(dir, spec, deadline, o.timeout);
  std::vector<uint64_t> others;
  for (const NodeSpec& n : spec.nodes) {
    if (!contains(v.voters, n.id) && !contains(v.learners, n.id)) others.push_back(n.id.get());
  }
  if (o.json) {
    print_json({{"leader", v.leader.get()},
                {"term", v.term},
                {"voters", v.voters},
                {"learners", v.learners},
                {"not_members", others}});
    return kExitOk;
  }
  std::cout << "ID  MEMBER   PORT\n";
  for (const NodeSpec& n : spec.nodes) {
    const char* m = contains(v.voters, n.id)     ? "voter"
                    : contains(v.learners, n.id) ? "learner"
                                                 : "removed";
    std::printf("%-3llu %-8s %u%s\n", static_cast<unsigned long long>(n.id.get()), m, n.port,
                n.id == v.leader ? "  (leader)" : "");
  }
  std::cout << "configuration of leader " << v.leader.get() << " in term " << v.term << "\n";
  return kExitOk;
}

// ---- rebuild -----------------------------------------------------------------------------------

constexpr const char* kRebuildHelp =
    "Rebuild a node whose disk was lost: remove it from the configuration, stop it, wipe its "
    "directory, add it back (it catches up as a learner, then votes). Restarting it empty "
    "instead is unsafe: it forgot its votes and acknowledged entries";

struct RebuildOptions {
  std::string dir;
  uint64_t id = 0;
  std::string timeout = "30s";
  bool json = false;
};

// Empties a stopped node's directory, under the node's own lock so no node process can be
// running on it meanwhile. The lock file stays (it is what we hold).
void wipe_node_dir(const std::string& dir, NodeId id) {
  const std::string nd = node_dir(dir, id);
  DirLock lock;
  pid_t holder = 0;
  if (!lock.acquire(nd + "/" + std::string(kNodeLock), 0, &holder)) {
    throw LabError(kExitEnvironment, "node " + std::to_string(id.get()) +
                                         "'s directory is locked by pid " + std::to_string(holder) +
                                         ": it still runs");
  }
  for (const auto& entry : std::filesystem::directory_iterator(nd)) {
    if (entry.path().filename() != kNodeLock) std::filesystem::remove_all(entry.path());
  }
}

// A node whose disk is gone cannot simply be restarted empty: it forgot the votes it granted
// and the entries it acknowledged, so it could vote twice in one term or help a leader that
// lacks committed entries to a majority (thesis §4.1, "servers that lose their storage").
// It rejoins as a new member instead: removed from the configuration (its old promises then
// count for nothing), wiped, and added back as a learner that catches up before it votes.
int run_rebuild(const RebuildOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const NodeId id(o.id);
  const ClusterSpec spec = load_cluster(dir);
  if (spec.node(id) == nullptr) {
    throw LabError(kExitUsage, "unknown node " + std::to_string(id.get()));
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(*parse_duration_ms(o.timeout));
  const LeaderView v = await_leader(dir, spec, deadline, o.timeout);
  if (v.leader == id) {
    throw LabError(kExitEnvironment, "node " + std::to_string(id.get()) +
                                         " leads: move leadership away first (`raftlab transfer`)");
  }
  std::cerr << "raftlab: rebuild " << id.get() << ": removing it from the configuration\n";
  change_membership(dir, "remove", id, o.timeout);
  if (const auto pid = live_node_pid(dir, id)) stop_pid(*pid, SIGKILL);
  wipe_node_dir(dir, id);
  std::cerr << "raftlab: rebuild " << id.get() << ": wiped " << node_dir(dir, id)
            << "; adding it back (it starts empty, as a learner)\n";
  const LeaderView after = change_membership(dir, "add", id, o.timeout);
  print_membership(after, id, "node " + std::to_string(id.get()) + " rebuilt, a voter again",
                   o.json);
  return kExitOk;
}

// ---- snapshot ----------------------------------------------------------------------------------

struct SnapshotOptions {
  std::string dir;
  std::string selector;
  bool json = false;
};

int run_snapshot(const SnapshotOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  const std::vector<NodeId> ids = resolve_selector(o.selector, dir, spec);
  // Check first, act second (as kill.cc does): every selected node must be running.
  for (NodeId id : ids) {
    if (node_process_state(dir, id) != ProcessState::kRunning) {
      throw LabError(kExitEnvironment, "node " + std::to_string(id.get()) + " is not running");
    }
  }
  json indexes = json::object();
  for (NodeId id : ids) {
    const auto a = admin_request(dir, id, json{{"cmd", "snapshot"}}, kSnapshotTimeoutMs);
    if (!a || !a->value("ok", false)) {
      throw LabError(kExitEnvironment,
                     "node " + std::to_string(id.get()) + " did not take a snapshot" +
                         (a ? ": " + a->value("error", std::string()) : std::string()));
    }
    const uint64_t index = a->value("snapshot_index", uint64_t{0});
    indexes[std::to_string(id.get())] = index;
    if (!o.json) std::cout << "node " << id.get() << ": snapshot at index " << index << "\n";
  }
  if (o.json) print_json({{"nodes", ids_json(ids)}, {"snapshot_index", indexes}});
  return kExitOk;
}

void setup_transfer(CLI::App& app) {
  auto o = std::make_shared<TransferOptions>();
  CLI::App* cmd = add_verb(app, "transfer", kTransferHelp, o->dir);
  cmd->add_option("SEL", o->selector, "The new leader: 2, random, ... (exactly one node)")
      ->required()
      ->check(selector_validator());
  cmd->add_option("--timeout", o->timeout, "Bound (default 5s)")
      ->check(positive_duration_validator());
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o] { return run_transfer(*o); });
}

void setup_member(CLI::App& app) {
  auto o = std::make_shared<MemberOptions>();
  CLI::App* cmd = add_verb(app, "member", kMemberHelp, o->dir);
  cmd->add_option("OP", o->op, "add or remove")
      ->required()
      ->check(CLI::IsMember({"add", "remove"}));
  cmd->add_option("ID", o->id, "The node id")->required()->check(node_id_validator());
  cmd->add_option("--timeout", o->timeout, "Bound (default 10s)")
      ->check(positive_duration_validator());
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o] { return run_member(*o); });
}

void setup_members(CLI::App& app) {
  auto o = std::make_shared<MembersOptions>();
  CLI::App* cmd =
      add_verb(app, "members",
               "The configuration as the leader holds it: voters, learners, removed nodes", o->dir);
  cmd->add_option("--timeout", o->timeout, "Bound on finding a leader (default 5s)")
      ->check(positive_duration_validator());
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o] { return run_members(*o); });
}

void setup_rebuild(CLI::App& app) {
  auto o = std::make_shared<RebuildOptions>();
  CLI::App* cmd = add_verb(app, "rebuild", kRebuildHelp, o->dir);
  cmd->add_option("ID", o->id, "The node to rebuild (not the leader)")
      ->required()
      ->check(node_id_validator());
  cmd->add_option("--timeout", o->timeout, "Bound on each membership change (default 30s)")
      ->check(positive_duration_validator());
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o] { return run_rebuild(*o); });
}

void setup_snapshot(CLI::App& app) {
  auto o = std::make_shared<SnapshotOptions>();
  CLI::App* cmd = add_verb(app, "snapshot", "Take a snapshot now on the selected nodes", o->dir);
  cmd->add_option("SEL", o->selector, "Nodes: 2, 1,3, leader, followers, all, random")
      ->required()
      ->check(selector_validator());
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o] { return run_snapshot(*o); });
}

}  // namespace

void setup_admin_commands(CLI::App& app) {
  setup_transfer(app);
  setup_member(app);
  setup_members(app);
  setup_rebuild(app);
  setup_snapshot(app);
  setup_nemesis_run(app);  // hidden: the nemesis of `check` alone, for tests
}

}  // namespace raftlab::lab
