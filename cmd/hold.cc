// Messages by hand (net/hold.h): `raftlab net hold` and `net release` (under `net`, from
// cmd/partition.cc) change the hold rules in cluster.json and push them like fault rules;
// `msgs` lists what the running nodes hold; `deliver` sends held messages on, `drop` discards
// them. A held message is named "FROM.SEQ", the sender and the `seq` of its trace records.

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
#include "cmd/lab/output.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/process.h"
#include "cmd/lab/selectors.h"
#include "cmd/timeline/model.h"
#include "cmd/verbs.h"
#include "net/hold.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;

// The flags that name messages, shared by `net hold`, `net release`, `deliver` and `drop`.
struct MessageFlags {
  std::string from = "all";
  std::string to = "all";
  std::vector<std::string> types;
};

void add_message_flags(CLI::App* cmd, MessageFlags& f) {
  cmd->add_option("--from", f.from, "Senders (default all)")->check(selector_validator());
  cmd->add_option("--to", f.to, "Receivers (default all)")->check(selector_validator());
  cmd->add_option("--type", f.types, "Message types, e.g. AppendEntries,Heartbeat (default all)")
      ->delimiter(',')
      ->check([](const std::string& name) {
        return net::parse_message_type(name) ? std::string() : "unknown message type " + name;
      });
}

// `all` is the empty set: every node, also one added later.
std::set<NodeId> ends_of(const std::string& selector, const std::string& dir,
                         const ClusterSpec& spec) {
  if (selector == "all") return {};
  const std::vector<NodeId> ids = resolve_selector(selector, dir, spec);
  return {ids.begin(), ids.end()};
}

net::HoldRule rule_of(const MessageFlags& f, const std::string& dir, const ClusterSpec& spec) {
  net::HoldRule rule{ends_of(f.from, dir, spec), ends_of(f.to, dir, spec), {}};
  for (const std::string& name : f.types) rule.types.insert(*net::parse_message_type(name));
  return rule;
}

bool flags_given(const MessageFlags& f) {
  return f.from != "all" || f.to != "all" || !f.types.empty();
}

json rule_json(const net::HoldRule& rule) {
  json types = json::array();
  for (MessageType t : rule.types) types.push_back(to_string(t));
  return {{"from", ids_json({rule.from.begin(), rule.from.end()})},
          {"to", ids_json({rule.to.begin(), rule.to.end()})},
          {"types", types},
          {"text", net::describe(rule)}};
}

// ---- net hold, net release ---------------------------------------------------------------------

struct HoldOptions {
  std::string dir;
  MessageFlags flags;
  bool json = false;
};

int run_net_hold(const HoldOptions& o, bool release) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const DirLock lock = lock_cluster_dir(dir);  // read, change and write cluster.json alone
  ClusterSpec spec = load_cluster(dir);
  const net::HoldRule rule = rule_of(o.flags, dir, spec);
  std::vector<net::HoldRule> changed;  // added, or removed
  if (!release) {
    spec.holds.push_back(rule);
    changed.push_back(rule);
  } else {
    const bool every = !flags_given(o.flags);
    for (auto it = spec.holds.begin(); it != spec.holds.end();) {
      if (every || *it == rule) {
        changed.push_back(*it);
        it = spec.holds.erase(it);
      } else {
        ++it;
      }
    }
    if (!every && changed.empty()) {
      throw LabError(kExitFailed, "no hold rule is " + net::describe(rule) + " (see `faults`)");
    }
  }
  save_cluster(dir, spec);
  push_faults(dir, spec);  // reload_faults: the nodes re-read the hold rules too
  std::string text;
  for (const net::HoldRule& r : changed) {
    text += std::string(text.empty() ? "" : "; ") + (release ? "release " : "") + net::describe(r);
  }
  record_action(dir, "net", resolve_selector("all", dir, spec),
                text.empty() ? "release (no hold rules)" : text);
  if (o.json) {
    json rules = json::array();
    for (const net::HoldRule& r : changed) rules.push_back(rule_json(r));
    print_json({{release ? "released" : "added", rules}, {"rules_left", spec.holds.size()}});
  } else {
    std::cout << (text.empty() ? "no hold rules" : text) << "\n";
  }
  return kExitOk;
}

// ---- msgs --------------------------------------------------------------------------------------

struct MsgsOptions {
  std::string dir;
  bool json = false;
};

// Each running node's held messages, oldest first per node, nodes in id order.
json collect_held(const std::string& dir, const ClusterSpec& spec) {
  json held = json::array();
  for (const NodeSpec& n : spec.nodes) {
    if (node_process_state(dir, n.id) != ProcessState::kRunning) continue;
    const auto a = admin_request(dir, n.id, json{{"cmd", "held"}});
    if (!a || !a->value("ok", false)) {
      std::cerr << "raftlab: node " << n.id.get() << " did not list its held messages\n";
      continue;
    }
    for (const json& m : a->at("held")) held.push_back(m);
  }
  return held;
}

std::string held_line(const json& m) {
  const std::string fields =
      timeline::message_fields(m.at("type").get<std::string>(), m.at("fields"));
  return m.at("id").get<std::string>() + "  " + std::to_string(m.at("from").get<uint64_t>()) +
         "->" + std::to_string(m.at("to").get<uint64_t>()) + " " + m.at("type").get<std::string>() +
         " t" + std::to_string(m.at("term").get<uint64_t>()) + (fields.empty() ? "" : " " + fields);
}

int run_msgs(const MsgsOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  const json held = collect_held(dir, spec);
  if (o.json) {
    print_json({{"held", held}});
  } else if (held.empty()) {
    std::cout << "no held messages\n";
  } else {
    for (const json& m : held) std::cout << held_line(m) << "\n";
  }
  return kExitOk;
}

// ---- deliver, drop -----------------------------------------------------------------------------

struct MoveOptions {
  std::string dir;
  std::vector<std::string> ids;
  MessageFlags flags;
  uint64_t count = 0;  // 0: every match
  bool all = false;
  bool json = false;
};

// "FROM.SEQ" -> FROM; LabError(2) when it is not two numbers.
NodeId id_sender(const std::string& id) {
  const size_t dot = id.find('.');
  const auto digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (dot == std::string::npos || !digits(std::string_view(id).substr(0, dot)) ||
      !digits(std::string_view(id).substr(dot + 1))) {
    throw LabError(kExitUsage, "'" + id + "' is not a held message id (FROM.SEQ, see `msgs`)");
  }
  return NodeId(std::stoull(id.substr(0, dot)));
}

// Every id must be held now: a mistyped id changes nothing.
void check_ids_held(const std::string& dir, const ClusterSpec& spec, const MoveOptions& o) {
  std::set<std::string> held;
  for (const json& m : collect_held(dir, spec)) held.insert(m.at("id").get<std::string>());
  for (const std::string& id : o.ids) {
    if (!held.count(id)) throw LabError(kExitFailed, "no held message " + id + " (see `msgs`)");
  }
}

// The request to each sender: its ids, or the selection.
std::map<NodeId, json> requests_of(const std::string& dir, const ClusterSpec& spec,
                                   const MoveOptions& o, const char* cmd) {
  std::map<NodeId, json> out;
  if (!o.ids.empty()) {
    for (const std::string& id : o.ids) {
      json& r = out[id_sender(id)];
      r["cmd"] = cmd;
      r["ids"].push_back(id);
    }
    return out;
  }
  const net::HoldRule rule = o.all ? net::HoldRule{} : rule_of(o.flags, dir, spec);
  json types = json::array();
  for (MessageType t : rule.types) types.push_back(to_string(t));
  const std::vector<NodeId> to(rule.to.begin(), rule.to.end());
  for (NodeId sender : rule.from.empty()
                           ? resolve_selector("all", dir, spec)
                           : std::vector<NodeId>(rule.from.begin(), rule.from.end())) {
    out[sender] = {{"cmd", cmd},
                   {"from", json::array({sender.get()})},
                   {"to", ids_json(to)},
                   {"types", types}};
  }
  return out;
}

int run_move(const MoveOptions& o, bool deliver) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  for (const std::string& id : o.ids) id_sender(id);  // malformed: 2 before anything is asked
  if (!o.ids.empty()) check_ids_held(dir, spec, o);
  uint64_t left = o.count == 0 ? UINT64_MAX : o.count;
  uint64_t moved = 0;
  std::vector<std::string> unknown;
  std::set<NodeId> senders;
  for (auto& [sender, request] :
       requests_of(dir, spec, o, deliver ? "hold_deliver" : "hold_drop")) {
    if (left == 0) break;
    if (node_process_state(dir, sender) != ProcessState::kRunning) continue;
    if (o.ids.empty() && left != UINT64_MAX) request["count"] = left;
    const auto a = admin_request(dir, sender, request);
    if (!a || !a->value("ok", false)) {
      throw LabError(kExitTimeout, "node " + std::to_string(sender.get()) + " did not answer" +
                                       (a ? ": " + a->value("error", std::string()) : ""));
    }
    const uint64_t n = a->value("count", uint64_t{0});
    for (const json& id : a->value("unknown", json::array())) unknown.push_back(id);
    moved += n;
    if (left != UINT64_MAX) left -= std::min(left, n);
    if (n > 0) senders.insert(sender);
  }
  const std::string verb = deliver ? "deliver" : "drop";
  std::string what;
  for (const std::string& id : o.ids) what += " " + id;
  record_action(dir, verb, {senders.begin(), senders.end()},
                verb + what + ": " + std::to_string(moved) + " message(s)");
  if (o.json) {
    print_json({{verb == "deliver" ? "delivered" : "dropped", moved}, {"unknown", unknown}});
  } else {
    std::cout << (deliver ? "delivered " : "dropped ") << moved << " message(s)\n";
  }
  if (!unknown.empty()) {
    throw LabError(kExitFailed, "no longer held: " + unknown.front() + " (see `msgs`)");
  }
  if (moved == 0 && !o.all) throw LabError(kExitFailed, "no held message matches");
  return kExitOk;
}

void setup_move(CLI::App& app, const char* name, const char* what, bool deliver) {
  auto o = std::make_shared<MoveOptions>();
  CLI::App* cmd = add_verb(app, name, what, o->dir);
  cmd->add_option("IDS", o->ids, "Held messages by id (FROM.SEQ, as `msgs` lists them)");
  add_message_flags(cmd, o->flags);
  cmd->add_option("--count", o->count, "At most N messages, the oldest first")
      ->check(CLI::Range(uint64_t{1}, UINT64_MAX));
  cmd->add_flag("--all", o->all, "Every held message");
  add_json_flag(cmd, o->json);
  cmd->callback([o, deliver] {
    const bool by_flags = flags_given(o->flags) || o->count != 0;
    if (int(!o->ids.empty()) + int(by_flags) + int(o->all) != 1) {
      throw CLI::ValidationError("IDS", "give ids, or --from/--to/--type/--count, or --all");
    }
    run_command([o, deliver] { return run_move(*o, deliver); });
  });
}

void setup_net_hold(CLI::App& net, const char* name, bool release) {
  auto o = std::make_shared<HoldOptions>();
  CLI::App* cmd = add_verb(net, name,
                           release ? "Remove hold rules (all without flags) and let their held "
                                     "messages go, in order"
                                   : "Hold matching messages at their sender until delivered "
                                     "(`msgs`, `deliver`, `drop`)",
                           o->dir);
  add_message_flags(cmd, o->flags);
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o, release] { return run_net_hold(*o, release); });
}

}  // namespace

void setup_hold_commands(CLI::App& app) {
  CLI::App* net = app.get_subcommand("net");  // added by setup_fault_commands
  setup_net_hold(*net, "hold", false);
  setup_net_hold(*net, "release", true);
  auto o = std::make_shared<MsgsOptions>();
  CLI::App* msgs = add_verb(app, "msgs", "The messages held by `net hold`, per node", o->dir);
  add_json_flag(msgs, o->json);
  run_on_parse(msgs, [o] { return run_msgs(*o); });
  setup_move(app, "deliver", "Send held messages on, in their order", true);
  setup_move(app, "drop", "Discard held messages", false);
}

}  // namespace raftlab::lab
