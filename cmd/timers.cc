// `raftlab timers freeze|thaw SEL` and `raftlab campaign N`: the election timer by hand (issue
// 14), so a scenario decides who campaigns and when. Each sends one admin request (contract.h:
// timers, campaign) to each selected node, and records what it did in actions.jsonl. A frozen
// timer is volatile: a restarted node starts thawed.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cmd/cluster/contract.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/actions.h"
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

constexpr uint32_t kTimerRequestTimeoutMs = 1000;  // one admin request; nothing waits on disk

struct TimersOptions {
  std::string dir;
  std::string op;  // freeze|thaw
  std::string selector;
  bool json = false;
};

struct CampaignOptions {
  std::string dir;
  std::string selector;
  bool json = false;
};

// Every selected node must be running (check first, act second, as kill.cc does).
void require_running(const std::string& dir, const std::vector<NodeId>& ids) {
  for (NodeId id : ids) {
    if (node_process_state(dir, id) != ProcessState::kRunning) {
      throw LabError(kExitEnvironment, "node " + std::to_string(id.get()) + " is not running");
    }
  }
}

// One admin request; a node that does not answer is an environment failure (4), a refusal a
// definite no (1).
json ask(const std::string& dir, NodeId id, const json& request) {
  const auto a = admin_request(dir, id, request, kTimerRequestTimeoutMs);
  const std::string name = "node " + std::to_string(id.get());
  if (!a) throw LabError(kExitEnvironment, name + " did not answer");
  if (!a->value("ok", false)) {
    throw LabError(kExitFailed, name + " refused: " + a->value("error", std::string("refused")));
  }
  return *a;
}

int run_timers(const TimersOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  const std::vector<NodeId> ids = resolve_selector(o.selector, dir, spec);
  require_running(dir, ids);
  for (NodeId id : ids) {
    ask(dir, id, json{{"cmd", "timers"}, {"op", o.op}});
    if (!o.json) {
      std::cout << "node " << id.get() << ": election timer "
                << (o.op == "freeze" ? "frozen" : "thawed") << "\n";
    }
  }
  record_action(dir, "timers", ids, "timers " + o.op + " " + ids_text(ids));
  if (o.json) print_json({{"nodes", ids_json(ids)}, {"timers_frozen", o.op == "freeze"}});
  return kExitOk;
}

int run_campaign(const CampaignOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  const std::vector<NodeId> ids = resolve_selector(o.selector, dir, spec);
  if (ids.size() != 1) {
    throw LabError(kExitUsage,
                   "campaign needs exactly one node; '" + o.selector + "' names " + ids_text(ids));
  }
  const NodeId id = ids.front();
  require_running(dir, ids);
  const json a = ask(dir, id, json{{"cmd", "campaign"}});
  const std::string role = a.value("role", std::string("?"));
  const uint64_t term = a.value("term", uint64_t{0});
  record_action(
      dir, "campaign", ids,
      "campaign " + std::to_string(id.get()) + ": " + role + " in term " + std::to_string(term));
  if (o.json) {
    print_json({{"nodes", ids_json(ids)}, {"role", role}, {"term", term}});
  } else {
    std::cout << "node " << id.get() << ": " << role << " in term " << term << "\n";
  }
  return kExitOk;
}

}  // namespace

void setup_timer_commands(CLI::App& app) {
  auto t = std::make_shared<TimersOptions>();
  CLI::App* timers = add_verb(app, "timers",
                              "Freeze or thaw the election timer of nodes: a frozen follower "
                              "never campaigns on its own (a restart thaws it)",
                              t->dir);
  timers->add_option("OP", t->op, "freeze or thaw")
      ->required()
      ->check(CLI::IsMember({"freeze", "thaw"}));
  timers->add_option("SEL", t->selector, "The nodes: 2, 2,3, all, followers, ...")
      ->required()
      ->check(selector_validator());
  add_json_flag(timers, t->json);
  run_on_parse(timers, [t] { return run_timers(*t); });

  auto c = std::make_shared<CampaignOptions>();
  CLI::App* campaign =
      add_verb(app, "campaign", "Make one node's election timer fire now (frozen or not)", c->dir);
  campaign->add_option("SEL", c->selector, "The node (exactly one)")
      ->required()
      ->check(selector_validator());
  add_json_flag(campaign, c->json);
  run_on_parse(campaign, [c] { return run_campaign(*c); });
}

}  // namespace raftlab::lab
