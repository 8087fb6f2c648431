// The admin commands of held messages (net/hold.h; protocol in cmd/cluster/contract.h): the hold
// rules from cluster.json, the list `raftlab msgs` prints, and deliver and drop by hand.
#include <cstdlib>

#include "cmd/cluster/cluster_dir.h"
#include "cmd/node_process/host.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;

constexpr const char* kHeldMaxEnv = "RAFTLAB_TEST_HELD_MAX";  // overrides net::kHeldMessagesMax

std::set<NodeId> id_set(const json& request, const char* key) {
  std::set<NodeId> out;
  for (const json& v : request.value(key, json::array())) out.insert(NodeId(v.get<uint64_t>()));
  return out;
}

// The request's ids, or its from/to/types/count filter (an empty filter: every held message).
net::HoldSelection selection_of(const json& request) {
  net::HoldSelection s;
  s.ids = request.value("ids", std::vector<std::string>{});
  s.filter.from = id_set(request, "from");
  s.filter.to = id_set(request, "to");
  for (const std::string& name : request.value("types", std::vector<std::string>{})) {
    const std::optional<MessageType> type = net::parse_message_type(name);
    if (!type) throw std::invalid_argument("unknown message type '" + name + "'");
    s.filter.types.insert(*type);
  }
  if (request.contains("count")) s.count_max = request["count"].get<size_t>();
  return s;
}

json held_json(const net::HoldQueue& queue) {
  json held = json::array();
  for (const Message& m : queue.messages()) {
    held.push_back({{"id", net::held_id(m)},
                    {"from", m.from.get()},
                    {"to", m.to.get()},
                    {"type", to_string(m.type)},
                    {"term", m.term.get()},
                    {"seq", m.trace_seq},
                    {"fields", json::parse(trace_fields_json(m))}});
  }
  const net::HoldCounters& c = queue.counters();
  return {{"ok", true},
          {"held", held},
          {"rules", queue.rules().size()},
          {"counters",
           {{"held", c.held},
            {"delivered", c.delivered},
            {"discarded", c.discarded},
            {"cap_dropped", c.cap_dropped}}}};
}

}  // namespace

// Called once the transport exists: the trace hears of every held message, and a (re)started
// node holds what cluster.json says, like its fault rules.
void Host::attach_hold() {
  if (trace_ != nullptr) {
    transport_->set_hold_hook(
        [this](net::HoldAct act, const Message& m, const char* why) { trace_->hold(act, m, why); });
  }
  // Test-only: a small cap the hold_deliver scenario reaches in a second. A count, or ignored.
  if (const char* cap = std::getenv(kHeldMaxEnv)) {
    const uint64_t n = std::strtoull(cap, nullptr, 10);
    if (n > 0) transport_->set_held_max(n);
  }
  transport_->set_hold_rules(spec_.holds);
}

json Host::admin_hold(const std::string& cmd, const json& request) {
  if (cmd == "held") return held_json(transport_->held());
  if (cmd != "hold_deliver" && cmd != "hold_drop") {
    return {{"ok", false}, {"error", "unknown command '" + cmd + "'"}};
  }
  const net::HoldSelection selection = selection_of(request);
  std::vector<std::string> unknown;
  const size_t count = cmd == "hold_deliver" ? transport_->deliver_held(selection, unknown)
                                             : transport_->discard_held(selection, unknown);
  return {{"ok", true}, {"count", count}, {"unknown", unknown}};
}

}  // namespace raftlab::lab
