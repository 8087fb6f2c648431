// The admin commands on a node's election timer (cmd/cluster/contract.h), for driving Raft by
// hand (issue 14): `timers` freezes or thaws it (node/ready.h FreezeTimer), `campaign` makes
// it fire now (Campaign). Both are core inputs, so the core traces them (`timer` records).
#include "cmd/node_process/event_log.h"
#include "cmd/node_process/host.h"

namespace raftlab::lab {

using nlohmann::json;

json Host::admin_timers(const json& request) {
  const std::string cmd = request["cmd"].get<std::string>();
  if (cmd == "campaign") return admin_campaign();
  const std::string op = request.value("op", "");
  if (op != "freeze" && op != "thaw") {
    return {{"ok", false},
            {"error", "expected {\"cmd\": \"timers\", \"op\": \"freeze\"|\"thaw\"}"}};
  }
  const bool frozen = op == "freeze";
  if (core_->status().timer_frozen != frozen) {
    step(FreezeTimer{frozen});
    log(std::string("election timer ") + (frozen ? "frozen" : "thawed") + " by an operator");
  }
  return {{"ok", true}, {"timers_frozen", core_->status().timer_frozen}};
}

// The core ignores a campaign where its own timer would not fire (a leader, a learner, a
// removed server); that is refused here in words, so the CLI can say why.
json Host::admin_campaign() {
  const Status before = core_->status();
  if (before.role == Role::kLeader) {
    return {{"ok", false},
            {"error", "it is the leader (term " + std::to_string(before.term.get()) + ")"}};
  }
  if (!before.voter) return {{"ok", false}, {"error", "it is not a voter: only a voter campaigns"}};
  step(Campaign{.by_operator = true});
  const Status after = core_->status();
  log("campaign by an operator: " + std::string(role_name(*core_)) + " in term " +
      std::to_string(after.term.get()));
  return {{"ok", true}, {"role", role_name(*core_)}, {"term", after.term.get()}};
}

}  // namespace raftlab::lab
