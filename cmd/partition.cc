// The network faults: `raftlab partition`, `isolate`, `cut`, `net`, `heal`, `faults`. Each
// rewrites the "faults" of cluster.json (the source of truth, atomically) and pushes
// {"cmd":"reload_faults"} to every running node, so a restarted node reloads the same rules.
// Options differ per command, so each has its own struct.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <memory>
#include <set>

#include "cmd/cluster/dir_lock.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/actions.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/command.h"
#include "cmd/lab/fault_shapes.h"
#include "cmd/lab/output.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/process.h"
#include "cmd/lab/selectors.h"
#include "cmd/verbs.h"
#include "net/fault_filter.h"
#include "node/prng.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;

json groups_json(const std::vector<std::set<NodeId>>& groups) {
  json a = json::array();
  for (const auto& g : groups) a.push_back(ids_json({g.begin(), g.end()}));
  return a;
}

std::string groups_text(const std::vector<std::set<NodeId>>& groups) {
  std::string out;
  for (const auto& g : groups) out += (out.empty() ? "" : " | ") + ids_text({g.begin(), g.end()});
  return out;
}

// "{1,2} {3,4,5}": the groups as actions.jsonl words them (docs/trace.md).
std::string braced_groups(const std::vector<std::set<NodeId>>& groups) {
  std::string out;
  for (const auto& g : groups) {
    out += (out.empty() ? "{" : " {") + ids_text({g.begin(), g.end()}) + "}";
  }
  return out;
}

std::string cuts_text(const std::set<std::pair<NodeId, NodeId>>& cuts) {
  std::string out;
  for (const auto& [a, b] : cuts) {
    out += (out.empty() ? "" : ", ") + std::to_string(a.get()) + "->" + std::to_string(b.get());
  }
  return out;
}

json cuts_json(const std::set<std::pair<NodeId, NodeId>>& cuts) {
  json a = json::array();
  for (const auto& [f, t] : cuts) a.push_back({f.get(), t.get()});
  return a;
}

// Every link (a, b) with a in `from`, b in `to` and a != b, and (b, a) too when both_ways.
std::set<std::pair<NodeId, NodeId>> links_between(const std::vector<NodeId>& from,
                                                  const std::vector<NodeId>& to, bool both_ways) {
  std::set<std::pair<NodeId, NodeId>> links;
  for (NodeId a : from) {
    for (NodeId b : to) {
      if (a == b) continue;
      links.insert({a, b});
      if (both_ways) links.insert({b, a});
    }
  }
  return links;
}

// Validates the rules through the FaultFilter (a node in two groups, a bad ratio), writes them
// and pushes them.
void apply_rules(const std::string& dir, ClusterSpec& spec, FaultRules rules) {
  FaultFilter check(spec.seed);
  try {
    check.set_rules(rules);
  } catch (const std::invalid_argument& e) {
    throw LabError(kExitUsage, e.what());
  }
  spec.faults = check.rules();
  save_cluster(dir, spec);
  push_faults(dir, spec);
}

std::vector<NodeId> all_ids(const ClusterSpec& spec) {
  std::vector<NodeId> all;
  for (const NodeSpec& n : spec.nodes) all.push_back(n.id);
  return all;
}

// ---- partition ---------------------------------------------------------------------------------

struct PartitionOptions {
  std::string dir;
  std::vector<std::string> groups;  // each a selector
  std::string random_shape;         // halves|majority-ring|bridge|isolate-leader
  bool json = false;
};

// FNV-1a: a hash of the shape's name that is the same on every build (std::hash is not).
uint64_t fnv1a(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (const char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

// Jepsen's shapes (cmd/lab/fault_shapes.h), with the cluster's seed.
void random_shape(const std::string& dir, const ClusterSpec& spec, const std::string& shape,
                  FaultRules& rules, std::string& description) {
  std::vector<NodeId> nodes = all_ids(spec);
  Prng prng(spec.seed ^ fnv1a(shape));
  seeded_shuffle(nodes, prng);
  rules.partition.clear();
  if (shape == "halves") {
    rules.partition = halves(nodes);
    description = "halves: " + groups_text(rules.partition);
  } else if (shape == "isolate-leader") {
    rules.partition = isolate_leader(resolve_selector("leader", dir, spec).front(), nodes);
    description = "isolate-leader: " + groups_text(rules.partition);
  } else if (shape == "majority-ring") {
    const MajorityRing ring = majority_ring(nodes);
    rules.cuts.insert(ring.cuts.begin(), ring.cuts.end());
    description = "majority-ring " + ids_text(nodes) + ": each node hears its " +
                  std::to_string(2 * ring.reach) + " nearest on the ring";
  } else {  // bridge
    const Bridge b = bridge(nodes);
    const NodePairs cuts = cuts_between(b.left, b.right);
    rules.cuts.insert(cuts.begin(), cuts.end());
    description = "bridge: " + ids_text(b.left) + " | " + ids_text(b.right) + ", node " +
                  std::to_string(b.node.get()) + " hears both";
  }
}

int run_partition(const PartitionOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const DirLock lock = lock_cluster_dir(dir);  // read, change and write cluster.json alone
  ClusterSpec spec = load_cluster(dir);
  FaultRules rules = spec.faults;
  std::string description;
  if (!o.random_shape.empty()) {
    random_shape(dir, spec, o.random_shape, rules, description);
  } else {
    std::set<NodeId> seen;
    rules.partition.clear();
    for (const std::string& g : o.groups) {
      const std::vector<NodeId> ids = resolve_selector(g, dir, spec);
      for (NodeId id : ids) {
        if (!seen.insert(id).second) {
          throw LabError(kExitUsage, "node " + std::to_string(id.get()) + " is in two groups");
        }
      }
      rules.partition.emplace_back(ids.begin(), ids.end());
    }
    std::set<NodeId> rest;
    for (NodeId id : all_ids(spec)) {
      if (!seen.count(id)) rest.insert(id);
    }
    if (!rest.empty()) rules.partition.push_back(rest);
    description = "partition: " + groups_text(rules.partition);
  }
  apply_rules(dir, spec, rules);
  std::string text = "partition " + braced_groups(spec.faults.partition);
  if (!o.random_shape.empty()) text += " (" + description + ")";
  if (!spec.faults.cuts.empty()) text += "; cut " + cuts_text(spec.faults.cuts);
  record_action(dir, "partition", all_ids(spec), text);
  if (o.json) {
    json doc = {{"nodes", ids_json(all_ids(spec))},
                {"groups", groups_json(spec.faults.partition)},
                {"cuts", cuts_json(spec.faults.cuts)}};
    if (!o.random_shape.empty()) doc["shape"] = o.random_shape;
    print_json(doc);
  } else {
    std::cout << description << "\n";
  }
  return kExitOk;
}

// ---- isolate -----------------------------------------------------------------------------------

struct SelOptions {
  std::string dir;
  std::string selector;
  bool json = false;
};

int run_isolate(const SelOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const DirLock lock = lock_cluster_dir(dir);  // read, change and write cluster.json alone
  ClusterSpec spec = load_cluster(dir);
  const std::vector<NodeId> ids = resolve_selector(o.selector, dir, spec);
  FaultRules rules = spec.faults;
  // The named nodes each alone; the others keep the groups they were in, minus the named ones.
  std::vector<std::set<NodeId>> groups;
  std::set<NodeId> named(ids.begin(), ids.end());
  std::set<NodeId> grouped;
  for (auto g : rules.partition) {
    for (NodeId id : ids) g.erase(id);
    grouped.insert(g.begin(), g.end());
    if (!g.empty()) groups.push_back(g);
  }
  std::set<NodeId> rest;
  for (NodeId id : all_ids(spec)) {
    if (!named.count(id) && !grouped.count(id)) rest.insert(id);
  }
  if (!rest.empty()) groups.push_back(rest);
  for (NodeId id : ids) groups.push_back({id});
  rules.partition = groups;
  apply_rules(dir, spec, rules);
  record_action(dir, "isolate", ids,
                "isolate " + ids_text(ids) + ": partition " + braced_groups(spec.faults.partition));
  if (o.json) {
    print_json({{"nodes", ids_json(ids)}, {"groups", groups_json(spec.faults.partition)}});
  } else {
    std::cout << "isolated " << ids_text(ids) << ": partition " << groups_text(groups) << "\n";
  }
  return kExitOk;
}

// ---- cut ---------------------------------------------------------------------------------------

struct CutOptions {
  std::string dir;
  std::string from;
  std::string to;
  bool one_way = false;
  bool json = false;
};

int run_cut(const CutOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const DirLock lock = lock_cluster_dir(dir);  // read, change and write cluster.json alone
  ClusterSpec spec = load_cluster(dir);
  const std::vector<NodeId> from = resolve_selector(o.from, dir, spec);
  const std::vector<NodeId> to = resolve_selector(o.to, dir, spec);
  FaultRules rules = spec.faults;
  const std::set<std::pair<NodeId, NodeId>> added = links_between(from, to, !o.one_way);
  if (added.empty()) throw LabError(kExitUsage, "cut: a node cannot be cut from itself");
  rules.cuts.insert(added.begin(), added.end());
  apply_rules(dir, spec, rules);
  std::set<NodeId> touched(from.begin(), from.end());
  touched.insert(to.begin(), to.end());
  record_action(dir, "cut", {touched.begin(), touched.end()}, "cut " + cuts_text(added));
  if (o.json) {
    print_json({{"nodes", ids_json({touched.begin(), touched.end()})}, {"cuts", cuts_json(added)}});
  } else {
    for (const auto& [a, b] : added) std::cout << "cut " << a.get() << " -> " << b.get() << "\n";
  }
  return kExitOk;
}

// ---- net ---------------------------------------------------------------------------------------

struct NetOptions {
  std::string dir;
  std::string from = "all";
  std::string to = "all";
  std::string loss, delay, jitter, duplicate, reorder;
  bool json = false;
};

int run_net(const NetOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const DirLock lock = lock_cluster_dir(dir);  // read, change and write cluster.json alone
  ClusterSpec spec = load_cluster(dir);
  LinkRule rule;
  // `all` is written as the empty set: every node, also one added later.
  if (o.from != "all") {
    const auto ids = resolve_selector(o.from, dir, spec);
    rule.from = {ids.begin(), ids.end()};
  }
  if (o.to != "all") {
    const auto ids = resolve_selector(o.to, dir, spec);
    rule.to = {ids.begin(), ids.end()};
  }
  if (!o.loss.empty()) rule.fault.loss = *parse_ratio(o.loss);
  if (!o.duplicate.empty()) rule.fault.duplicate = *parse_ratio(o.duplicate);
  if (!o.reorder.empty()) rule.fault.reorder = *parse_ratio(o.reorder);
  if (!o.delay.empty()) rule.fault.delay_ms = static_cast<uint32_t>(*parse_duration_ms(o.delay));
  if (!o.jitter.empty()) {
    rule.fault.jitter_ms = static_cast<uint32_t>(*parse_duration_ms(o.jitter));
  }
  FaultRules rules = spec.faults;
  rules.links.push_back(rule);
  apply_rules(dir, spec, rules);
  FaultFilter f(spec.seed);
  f.set_rules(spec.faults);
  std::set<NodeId> touched(rule.from.begin(), rule.from.end());
  touched.insert(rule.to.begin(), rule.to.end());
  if (rule.from.empty() || rule.to.empty()) {
    for (NodeId id : all_ids(spec)) touched.insert(id);
  }
  FaultFilter one(spec.seed);
  one.set_rules(FaultRules{{}, {}, {rule}});
  record_action(dir, "net", {touched.begin(), touched.end()}, one.describe());
  if (o.json) {
    print_json({{"nodes", ids_json({touched.begin(), touched.end()})},
                {"link",
                 {{"from", ids_json({rule.from.begin(), rule.from.end()})},
                  {"to", ids_json({rule.to.begin(), rule.to.end()})},
                  {"loss", rule.fault.loss},
                  {"delay_ms", rule.fault.delay_ms},
                  {"jitter_ms", rule.fault.jitter_ms},
                  {"duplicate", rule.fault.duplicate},
                  {"reorder", rule.fault.reorder}}}});
  } else {
    std::cout << f.describe() << "\n";
  }
  return kExitOk;
}

// ---- heal, faults ------------------------------------------------------------------------------

struct HealOptions {
  std::string dir;
  bool all = false;
  std::string from;  // `heal A B`: only the cuts between A and B
  std::string to;
  bool json = false;
};

// `heal A B`: the cuts between A and B, both ways, and nothing else (a partition or a link
// fault stays); exit 1 when there is none.
int run_heal_link(const HealOptions& o, const std::string& dir, ClusterSpec& spec) {
  const std::vector<NodeId> from = resolve_selector(o.from, dir, spec);
  const std::vector<NodeId> to = resolve_selector(o.to, dir, spec);
  FaultRules rules = spec.faults;
  std::set<std::pair<NodeId, NodeId>> removed;
  for (const auto& cut : links_between(from, to, true)) {
    if (rules.cuts.erase(cut) > 0) removed.insert(cut);
  }
  if (removed.empty()) {
    throw LabError(kExitFailed,
                   "heal: no cut between " + o.from + " and " + o.to + " (see `faults`)");
  }
  apply_rules(dir, spec, rules);
  std::set<NodeId> touched(from.begin(), from.end());
  touched.insert(to.begin(), to.end());
  record_action(dir, "heal", {touched.begin(), touched.end()}, "heal " + cuts_text(removed));
  if (o.json) {
    print_json(
        {{"nodes", ids_json({touched.begin(), touched.end()})}, {"healed", cuts_json(removed)}});
  } else {
    for (const auto& [a, b] : removed) {
      std::cout << "healed " << a.get() << " -> " << b.get() << "\n";
    }
  }
  return kExitOk;
}

int run_heal(const HealOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const DirLock lock = lock_cluster_dir(dir);  // read, change and write cluster.json alone
  ClusterSpec spec = load_cluster(dir);
  if (!o.from.empty()) return run_heal_link(o, dir, spec);
  FaultRules rules = spec.faults;
  rules.partition.clear();
  rules.cuts.clear();
  if (o.all) rules.links.clear();
  apply_rules(dir, spec, rules);
  FaultFilter left(spec.seed);
  left.set_rules(spec.faults);
  record_action(dir, "heal", all_ids(spec),
                std::string(o.all ? "heal --all" : "heal") + "; rules left: " + left.describe());
  if (o.json) {
    print_json({{"nodes", ids_json(all_ids(spec))}, {"links_kept", spec.faults.links.size()}});
  } else {
    std::cout << "healed partitions and cuts"
              << (o.all                       ? " and link faults"
                  : spec.faults.links.empty() ? ""
                                              : "; link faults stay")
              << "\n";
  }
  return kExitOk;
}

struct FaultsOptions {
  std::string dir;
  bool json = false;
};

int run_faults(const FaultsOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  if (o.json) {
    print_json(json::parse(cluster_to_json(spec)).at("faults"));
  } else if (spec.faults.empty() && spec.holds.empty()) {
    std::cout << "no faults\n";
  } else {
    FaultFilter f(spec.seed);
    f.set_rules(spec.faults);
    if (!spec.faults.empty()) std::cout << f.describe() << "\n";
    for (const net::HoldRule& h : spec.holds) std::cout << net::describe(h) << "\n";
  }
  return kExitOk;
}

void setup_partition(CLI::App& app) {
  auto o = std::make_shared<PartitionOptions>();
  CLI::App* cmd = add_verb(
      app, "partition",
      "Split the nodes into groups that talk only inside themselves (replaces any partition)",
      o->dir);
  CLI::Option* groups =
      cmd->add_option("GROUPS", o->groups, "Groups, e.g. 1,2 3,4,5; unnamed nodes form one more")
          ->check(selector_validator());
  cmd->add_option("--random", o->random_shape, "A shape chosen with the cluster's seed")
      // `ring` is the nemesis's name for majority-ring: one name for one thing, both accepted.
      ->transform(CLI::Transformer({{"ring", "majority-ring"}}))
      ->check(CLI::IsMember({"halves", "majority-ring", "bridge", "isolate-leader"}))
      ->excludes(groups);
  add_json_flag(cmd, o->json);
  cmd->callback([o] {
    if (o->groups.empty() && o->random_shape.empty()) {
      throw CLI::ValidationError("GROUPS", "name the groups or give --random SHAPE");
    }
    run_command([o] { return run_partition(*o); });
  });
}

void setup_isolate(CLI::App& app) {
  auto o = std::make_shared<SelOptions>();
  CLI::App* cmd = add_verb(app, "isolate", "Cut the named nodes off, each alone", o->dir);
  cmd->add_option("SEL", o->selector, "Nodes: 2, 1,3, leader, followers, all, random")
      ->required()
      ->check(selector_validator());
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o] { return run_isolate(*o); });
}

void setup_cut(CLI::App& app) {
  auto o = std::make_shared<CutOptions>();
  CLI::App* cmd = add_verb(app, "cut", "Drop messages from A to B (and B to A)", o->dir);
  cmd->add_option("A", o->from, "Sending nodes")->required()->check(selector_validator());
  cmd->add_option("B", o->to, "Receiving nodes")->required()->check(selector_validator());
  cmd->add_flag("--one-way", o->one_way, "Only A to B");
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o] { return run_cut(*o); });
}

void setup_net(CLI::App& app) {
  auto o = std::make_shared<NetOptions>();
  CLI::App* cmd = add_verb(app, "net", "Lossy, slow, duplicating, reordering links", o->dir);
  cmd->add_option("--from", o->from, "Senders (default all)")->check(selector_validator());
  cmd->add_option("--to", o->to, "Receivers (default all)")->check(selector_validator());
  cmd->add_option("--loss", o->loss, "Drop ratio, 10% or 0.1")->check(ratio_validator());
  cmd->add_option("--delay", o->delay, "Added delay, e.g. 20ms")->check(duration_validator());
  cmd->add_option("--jitter", o->jitter, "Extra random delay up to D")->check(duration_validator());
  cmd->add_option("--duplicate", o->duplicate, "Duplicate ratio")->check(ratio_validator());
  cmd->add_option("--reorder", o->reorder, "Reorder ratio")->check(ratio_validator());
  add_json_flag(cmd, o->json);
  cmd->callback([o, cmd] {
    if (!cmd->get_subcommands().empty()) return;  // `net hold`, `net release`: cmd/hold.cc
    if (o->loss.empty() && o->delay.empty() && o->jitter.empty() && o->duplicate.empty() &&
        o->reorder.empty()) {
      throw CLI::ValidationError("net",
                                 "give at least one of --loss --delay --jitter --duplicate "
                                 "--reorder");
    }
    run_command([o] { return run_net(*o); });
  });
}

void setup_heal(CLI::App& app) {
  auto o = std::make_shared<HealOptions>();
  CLI::App* cmd = add_verb(app, "heal", "Remove partitions and cuts", o->dir);
  CLI::Option* all = cmd->add_flag("--all", o->all, "Also remove link faults (loss, delay, ...)");
  CLI::Option* from = cmd->add_option("A", o->from, "Only the cuts between A and B, both ways")
                          ->check(selector_validator())
                          ->excludes(all);
  cmd->add_option("B", o->to, "The other end (with A)")->check(selector_validator())->needs(from);
  add_json_flag(cmd, o->json);
  cmd->callback([o] {
    if (!o->from.empty() && o->to.empty()) throw CLI::ValidationError("B", "heal A B: name B too");
    run_command([o] { return run_heal(*o); });
  });
}

void setup_faults(CLI::App& app) {
  auto o = std::make_shared<FaultsOptions>();
  CLI::App* cmd = add_verb(app, "faults", "List the fault rules in force", o->dir);
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o] { return run_faults(*o); });
}

}  // namespace

void setup_fault_commands(CLI::App& app) {
  setup_partition(app);
  setup_isolate(app);
  setup_cut(app);
  setup_net(app);
  setup_heal(app);
  setup_faults(app);
}

}  // namespace raftlab::lab
