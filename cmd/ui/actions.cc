// `raftlab ui`'s actions: request checks and argv (see actions.h).
#include "cmd/ui/actions.h"

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "net/hold.h"

namespace raftlab::ui {
namespace {

using nlohmann::json;

// A request that fails a check; its message goes to the page as the 400's "error".
class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One request being checked: its fields, read only through the typed getters below.
struct Request {
  const json& j;
  const std::vector<uint64_t>& node_ids;

  uint64_t node(const char* key) const {
    const auto it = j.find(key);
    if (it == j.end()) throw BadRequest(std::string("missing field \"") + key + "\"");
    return node_value(*it, key);
  }
  uint64_t node_value(const json& v, const char* key) const {
    if (!v.is_number_unsigned()) {
      throw BadRequest(std::string("\"") + key + "\" must be a node id, not " + v.dump());
    }
    const uint64_t id = v.get<uint64_t>();
    if (std::find(node_ids.begin(), node_ids.end(), id) == node_ids.end()) {
      throw BadRequest("node " + std::to_string(id) + " is not in the cluster");
    }
    return id;
  }
  std::string text(const char* key, bool required = true) const {
    const auto it = j.find(key);
    if (it == j.end()) {
      if (required) throw BadRequest(std::string("missing field \"") + key + "\"");
      return "";
    }
    return string_value(*it, key);
  }
  bool flag(const char* key) const {
    const auto it = j.find(key);
    if (it == j.end()) return false;
    if (!it->is_boolean()) throw BadRequest(std::string("\"") + key + "\" must be true or false");
    return it->get<bool>();
  }
  const json& array(const char* key) const {
    const auto it = j.find(key);
    if (it == j.end()) throw BadRequest(std::string("missing field \"") + key + "\"");
    if (!it->is_array() || it->empty()) {
      throw BadRequest(std::string("\"") + key + "\" must be a non-empty array");
    }
    return *it;
  }
  static std::string string_value(const json& v, const char* key) {
    if (!v.is_string()) throw BadRequest(std::string("\"") + key + "\" must be a string");
    const std::string s = v.get<std::string>();
    if (s.size() > kUiActionStringBytesMax) {
      throw BadRequest(std::string("\"") + key + "\" is longer than " +
                       std::to_string(kUiActionStringBytesMax) + " bytes");
    }
    for (const char c : s) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        throw BadRequest(std::string("\"") + key + "\" holds a control character");
      }
    }
    return s;
  }
};

// What one verb takes and the words it becomes: `words` go before --dir DIR, `values` after
// `--` (so a value starting with '-' is never read as a flag).
struct Built {
  std::vector<std::string> words;
  std::vector<std::string> values;
};
struct VerbSpec {
  std::set<std::string> fields;  // besides "verb"
  std::function<Built(const Request&)> build;
};

Built one_node(const char* verb, const Request& r) {
  return {{verb, std::to_string(r.node("node"))}, {}};
}

Built link(const char* verb, const Request& r) {
  const uint64_t from = r.node("from");
  const uint64_t to = r.node("to");
  if (from == to) throw BadRequest("\"from\" and \"to\" are the same node");
  return {{verb, std::to_string(from), std::to_string(to)}, {}};
}

// [[1,2],[3,4,5]] -> "1,2" "3,4,5"; no node twice, no empty group.
Built partition(const Request& r) {
  Built b{{"partition"}, {}};
  std::set<uint64_t> seen;
  for (const json& group : r.array("groups")) {
    if (!group.is_array() || group.empty()) {
      throw BadRequest("each of \"groups\" must be a non-empty array of node ids");
    }
    std::string words;
    for (const json& v : group) {
      const uint64_t id = r.node_value(v, "groups");
      if (!seen.insert(id).second) throw BadRequest("node " + std::to_string(id) + " is twice");
      words += (words.empty() ? "" : ",") + std::to_string(id);
    }
    b.words.push_back(words);
  }
  return b;
}

Built hold(const Request& r) {
  Built b{{"net", "hold"}, {}};
  if (r.j.contains("from"))
    b.words.insert(b.words.end(), {"--from", std::to_string(r.node("from"))});
  if (r.j.contains("to")) b.words.insert(b.words.end(), {"--to", std::to_string(r.node("to"))});
  const std::string type = r.text("type", false);
  if (r.j.contains("type")) {
    if (!net::parse_message_type(type)) throw BadRequest("unknown message type \"" + type + "\"");
    b.words.insert(b.words.end(), {"--type", type});
  }
  return b;
}

bool is_message_id(const std::string& id) {
  const size_t dot = id.find('.');
  const auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 20 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  return dot != std::string::npos && digits(std::string_view(id).substr(0, dot)) &&
         digits(std::string_view(id).substr(dot + 1));
}

// deliver, drop: held message ids "FROM.SEQ" (as `msgs` names them).
Built message_ids(const char* verb, const Request& r) {
  const json& ids = r.array("ids");
  if (ids.size() > kUiActionIdsMax) {
    throw BadRequest("more than " + std::to_string(kUiActionIdsMax) + " ids");
  }
  Built b{{verb}, {}};
  for (const json& v : ids) {
    const std::string id = Request::string_value(v, "ids");
    if (!is_message_id(id)) throw BadRequest("\"" + id + "\" is not a message id (FROM.SEQ)");
    b.words.push_back(id);
  }
  return b;
}

const std::map<std::string, VerbSpec>& verbs() {
  using R = const Request&;
  static const std::map<std::string, VerbSpec> table = {
      {"kill", {{"node"}, [](R r) { return one_node("kill", r); }}},
      {"start", {{"node"}, [](R r) { return one_node("start", r); }}},
      {"pause", {{"node"}, [](R r) { return one_node("pause", r); }}},
      {"resume", {{"node"}, [](R r) { return one_node("resume", r); }}},
      {"isolate", {{"node"}, [](R r) { return one_node("isolate", r); }}},
      {"campaign", {{"node"}, [](R r) { return one_node("campaign", r); }}},
      {"transfer", {{"node"}, [](R r) { return one_node("transfer", r); }}},
      {"freeze",
       {{"node"},
        [](R r) {
          return Built{{"timers", "freeze", std::to_string(r.node("node"))}, {}};
        }}},
      {"thaw",
       {{"node"},
        [](R r) {
          return Built{{"timers", "thaw", std::to_string(r.node("node"))}, {}};
        }}},
      {"cut",
       {{"from", "to", "one_way"},
        [](R r) {
          Built b = link("cut", r);
          if (r.flag("one_way")) b.words.push_back("--one-way");
          return b;
        }}},
      {"heal-link", {{"from", "to"}, [](R r) { return link("heal", r); }}},
      {"heal",
       {{},
        [](R) {
          return Built{{"heal"}, {}};
        }}},
      {"partition", {{"groups"}, partition}},
      {"put",
       {{"key", "value"},
        [](R r) {
          return Built{{"put"}, {r.text("key"), r.text("value")}};
        }}},
      {"hold", {{"from", "to", "type"}, hold}},
      {"release",
       {{},
        [](R) {
          return Built{{"net", "release"}, {}};
        }}},
      {"deliver", {{"ids"}, [](R r) { return message_ids("deliver", r); }}},
      {"drop", {{"ids"}, [](R r) { return message_ids("drop", r); }}},
  };
  return table;
}

std::vector<std::string> checked_args(std::string_view body, const std::vector<uint64_t>& node_ids,
                                      const std::string& dir) {
  if (body.size() > kUiBodyBytesMax) {
    throw BadRequest("the body is over " + std::to_string(kUiBodyBytesMax) + " bytes");
  }
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw BadRequest("the body is not a JSON object");
  const Request r{j, node_ids};
  if (!j.contains("verb")) throw BadRequest("missing field \"verb\"");
  const std::string verb = r.text("verb");
  const auto it = verbs().find(verb);
  if (it == verbs().end()) throw BadRequest("unknown verb \"" + verb + "\"");
  for (const auto& [key, value] : j.items()) {
    if (key != "verb" && !it->second.fields.count(key)) {
      throw BadRequest("verb \"" + verb + "\" takes no field \"" + key + "\"");
    }
  }
  const Built b = it->second.build(r);
  std::vector<std::string> args = b.words;
  args.insert(args.end(), {"--dir", dir});
  if (!b.values.empty()) {
    args.push_back("--");
    args.insert(args.end(), b.values.begin(), b.values.end());
  }
  return args;
}

}  // namespace

ActionArgs action_args(std::string_view body, const std::vector<uint64_t>& node_ids,
                       const std::string& dir) {
  try {
    return {checked_args(body, node_ids, dir), ""};
  } catch (const BadRequest& e) {
    return {{}, e.what()};
  }
}

}  // namespace raftlab::ui
