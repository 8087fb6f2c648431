// `raftlab timeline --json`: the merged events for scripts, messages paired (docs/trace.md).
#include <map>

#include "cmd/timeline/model.h"

namespace raftlab::timeline {
namespace {

using nlohmann::json;

json message_json(const Message& m) {
  json o = {{"ev", "message"}, {"type", m.type}, {"from", m.from},
            {"to", m.to},      {"term", m.term}, {"seq", m.seq}};
  o["t"] = m.sent != kNoTime ? m.sent : m.recv;
  o["sent"] = m.sent != kNoTime ? json(m.sent) : json(nullptr);
  o["recv"] = m.recv != kNoTime ? json(m.recv) : json(nullptr);
  if (!m.fault.empty()) o["fault"] = m.fault;
  o["text"] = message_fields(m.type, *m.fields);
  json fields = *m.fields;
  for (const char* common : {"t", "n", "ev", "type", "from", "to", "term", "seq"}) {
    fields.erase(common);
  }
  o["fields"] = std::move(fields);
  return o;
}

json event_json(const Event& e) {
  json o = e.record->j;
  o["t"] = e.t;
  o["ev"] = e.record->ev;
  if (e.node != 0) {
    o["role"] = std::string(1, e.role);
    o["state_term"] = e.term;
  }
  o["text"] = decision_text(*e.record);
  return o;
}

}  // namespace

std::string format_json(const Timeline& tl, const Filter& f) {
  json events = json::array();
  size_t messages = 0;
  size_t received = 0;
  std::map<std::string, size_t> by_type;
  for (const Event& e : tl.events) {
    if (!keep_event(tl, e, f)) continue;
    if (e.message < 0) {
      events.push_back(event_json(e));
      continue;
    }
    const Message& m = tl.messages[static_cast<size_t>(e.message)];
    if (!shows_message(e, m)) continue;
    events.push_back(message_json(m));
    ++messages;
    if (m.recv != kNoTime && m.sent != kNoTime) ++received;
    ++by_type[m.type];
  }
  json doc = {
      {"t0", tl.t0}, {"t1", tl.t1}, {"nodes", tl.input.nodes}, {"torn_lines", tl.input.torn_lines}};
  doc["counts"] = {{"messages", messages}, {"paired", received}, {"by_type", by_type}};
  doc["events"] = std::move(events);
  return doc.dump() + "\n";
}

}  // namespace raftlab::timeline
