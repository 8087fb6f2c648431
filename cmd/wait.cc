// `raftlab wait leader|no-leader|converged|commit INDEX [--nodes SEL|majority] [--timeout 10s]`:
// polls the nodes' admin status until the condition holds (exit 0, prints it) or the bound
// passes (exit 3, says what was seen last).

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/command.h"
#include "cmd/lab/output.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/process.h"
#include "cmd/lab/selectors.h"
#include "cmd/verbs.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;

constexpr uint32_t kWaitAdminTimeoutMs = 200;  // per node per poll

struct WaitOptions {
  std::string dir;
  std::string condition;          // leader | no-leader | converged | commit
  std::optional<uint64_t> index;  // commit INDEX
  std::string nodes;              // a selector or "majority"; empty: the condition's default
  std::string timeout = "10s";
  bool json = false;
};

struct Outcome {
  bool holds = false;
  json doc;          // printed with --json when it holds
  std::string text;  // printed otherwise, and on stderr after a timeout
};

const NodeView* find(const std::vector<NodeView>& views, uint64_t id) {
  for (const NodeView& v : views) {
    if (v.id.get() == id) return &v;
  }
  return nullptr;
}

std::string seen_text(const std::vector<NodeView>& views) {
  std::string out;
  for (const NodeView& v : views) {
    out += "\n  node " + std::to_string(v.id.get()) + ": " + to_string(v.process);
    if (v.answered) {
      out += ", " + v.role + " term " + std::to_string(v.term) + " leader " +
             std::to_string(v.leader) + " commit " + std::to_string(v.commit) + " applied " +
             std::to_string(v.applied) + " last " + std::to_string(v.last_index);
    } else if (v.process == ProcessState::kRunning) {
      out += ", not answering";
    }
  }
  return out;
}

// The leader the considered nodes agree on: with --nodes, every selected node names the same
// answering leader, one of them, in its term; else the one a majority of the voters agrees on.
Outcome check_leader(const ClusterSpec& spec, const std::vector<NodeView>& views,
                     const std::vector<const NodeView*>& considered, bool selected) {
  Outcome out;
  uint64_t term = 0;
  NodeId leader;
  if (!selected) {
    leader = agreed_leader(spec, views, &term);
  } else if (!considered.empty()) {
    const NodeView& first = *considered.front();
    const uint64_t l = first.role == "leader" ? first.id.get() : first.leader;
    const NodeView* lv = find(views, l);
    // The leader is one of them: right after `isolate 1`, nodes 2 and 3 still name node 1 (in
    // a term it still leads) until their timers fire; "2 and 3 have a leader" means among them.
    const bool among = std::any_of(considered.begin(), considered.end(),
                                   [&](const NodeView* v) { return v->id.get() == l; });
    bool agree = l != 0 && among && lv != nullptr && lv->answered && lv->role == "leader";
    for (const NodeView* v : considered) {
      const uint64_t says = v->role == "leader" ? v->id.get() : v->leader;
      agree = agree && v->answered && says == l && v->term == lv->term;
    }
    if (agree) {
      leader = NodeId(l);
      term = lv->term;
    }
  }
  out.holds = static_cast<bool>(leader);
  out.doc = {{"leader", leader.get()}, {"term", term}};
  out.text = "leader " + std::to_string(leader.get()) + " (term " + std::to_string(term) + ")";
  return out;
}

Outcome check_no_leader(const std::vector<const NodeView*>& considered,
                        const std::vector<NodeId>& ids) {
  Outcome out;
  out.holds = std::none_of(considered.begin(), considered.end(),
                           [](const NodeView* v) { return v->answered && v->role == "leader"; });
  out.doc = {{"nodes", ids_json(ids)}, {"leader", nullptr}};
  out.text = "no leader on nodes " + ids_text(ids);
  return out;
}

// At least a majority considered, all answering with the same leader, term, commit and last
// index, each having applied everything it committed.
Outcome check_converged(size_t majority, const std::vector<const NodeView*>& considered,
                        const std::vector<NodeId>& ids) {
  Outcome out;
  bool same = !considered.empty() && considered.size() >= majority;
  const NodeView* f = considered.empty() ? nullptr : considered.front();
  for (const NodeView* v : considered) {
    same = same && v->answered && f->answered && v->leader != 0 && v->term == f->term &&
           v->leader == f->leader && v->commit == f->commit && v->applied == v->commit &&
           v->last_index == f->last_index && v->commit == v->last_index;
  }
  out.holds = same;
  if (same) {
    out.doc = {{"nodes", ids_json(ids)},
               {"leader", f->leader},
               {"term", f->term},
               {"commit", f->commit},
               {"last_index", f->last_index}};
    out.text = "converged: nodes " + ids_text(ids) + " at commit " + std::to_string(f->commit) +
               ", term " + std::to_string(f->term) + ", leader " + std::to_string(f->leader);
  } else {
    out.text = "not converged";
  }
  return out;
}

// `index` committed on every selected node, else on a majority of the voters.
Outcome check_commit(const ClusterSpec& spec, const std::vector<NodeView>& views, uint64_t index,
                     const std::optional<std::vector<NodeId>>& selected) {
  Outcome out;
  std::vector<NodeId> reached;
  for (const NodeView& v : views) {
    if (v.answered && v.commit >= index) reached.push_back(v.id);
  }
  if (selected) {
    out.holds =
        !selected->empty() && std::all_of(selected->begin(), selected->end(), [&](NodeId id) {
          return std::count(reached.begin(), reached.end(), id) > 0;
        });
  } else {
    size_t voters = 0;
    for (NodeId id : reached) {
      voters += std::count(spec.voters.begin(), spec.voters.end(), id);
    }
    out.holds = voters >= spec.voters.size() / 2 + 1;
  }
  out.doc = {{"nodes", ids_json(reached)}, {"commit", index}};
  out.text = "commit " + std::to_string(index) + " reached on nodes " + ids_text(reached);
  return out;
}

// `selected`: the nodes named by --nodes, or nullopt for the majority (and default) mode.
Outcome check(const WaitOptions& o, const ClusterSpec& spec, const std::vector<NodeView>& views,
              const std::optional<std::vector<NodeId>>& selected) {
  // The nodes a condition looks at: the selected ones, else every running node.
  std::vector<const NodeView*> considered;
  for (const NodeView& v : views) {
    const bool in = selected ? std::count(selected->begin(), selected->end(), v.id) > 0
                             : v.process == ProcessState::kRunning;
    if (in) considered.push_back(&v);
  }
  if (o.condition == "leader") return check_leader(spec, views, considered, selected.has_value());
  std::vector<NodeId> ids;
  for (const NodeView* v : considered) ids.push_back(v->id);
  if (o.condition == "no-leader") return check_no_leader(considered, ids);
  if (o.condition == "converged")
    return check_converged(spec.voters.size() / 2 + 1, considered, ids);
  return check_commit(spec, views, *o.index, selected);
}

int run_wait(const WaitOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  std::optional<std::vector<NodeId>> selected;
  if (!o.nodes.empty() && o.nodes != "majority") {
    selected = resolve_selector(o.nodes, dir, spec);
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(*parse_duration_ms(o.timeout));
  std::vector<NodeView> views;
  for (;;) {
    views = collect_views(dir, spec, false, kWaitAdminTimeoutMs);
    const Outcome out = check(o, spec, views, selected);
    if (out.holds) {
      if (o.json) {
        print_json(out.doc);
      } else {
        std::cout << out.text << "\n";
      }
      return kExitOk;
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
  }
  std::cerr << "raftlab: wait " << o.condition << (o.index ? " " + std::to_string(*o.index) : "")
            << ": timed out after " << o.timeout << "; last seen:" << seen_text(views) << "\n";
  return kExitTimeout;
}

}  // namespace

void setup_wait(CLI::App& app) {
  auto o = std::make_shared<WaitOptions>();
  CLI::App* cmd =
      add_verb(app, "wait", "Block until a condition holds (exit 3 on timeout)", o->dir);
  cmd->add_option("CONDITION", o->condition, "leader, no-leader, converged or commit")
      ->required()
      ->check(CLI::IsMember({"leader", "no-leader", "converged", "commit"}));
  cmd->add_option("INDEX", o->index, "For commit: the index to reach");
  cmd->add_option("--nodes", o->nodes,
                  "The nodes that must satisfy it: a selector or majority (default: a majority "
                  "for leader and commit, the running nodes otherwise)")
      ->check(selector_validator() | CLI::IsMember({"majority"}));
  cmd->add_option("--timeout", o->timeout, "Bound (default 10s)")
      ->check(positive_duration_validator());
  add_json_flag(cmd, o->json);
  cmd->callback([o] {
    if ((o->condition == "commit") != o->index.has_value()) {
      throw CLI::ValidationError(
          "INDEX", o->index ? "only `wait commit` takes an INDEX" : "`wait commit` needs an INDEX");
    }
    run_command([o] { return run_wait(*o); });
  });
}

}  // namespace raftlab::lab
