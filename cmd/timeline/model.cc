// Building the merged timeline and filtering it (model.h).
#include "cmd/timeline/model.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <utility>

namespace raftlab::timeline {
namespace {

using nlohmann::json;

bool is_message_record(const std::string& ev) {
  return ev == "send" || ev == "recv" || ev == "drop" || ev == "delay" || ev == "dup";
}

uint64_t u64(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// The verbs after which a node's process is gone, so its role is no longer known.
bool ends_process(const std::string& verb) {
  return verb == "kill" || verb == "down" || verb == "restart";
}

// Pairs sends, receipts and fault records into messages (model.h: the latest send of the same
// (from, seq) at or before the receipt). Events are in time order.
class Pairing {
 public:
  explicit Pairing(std::vector<Message>& messages) : messages_(messages) {}

  int64_t add(const Record& r) {
    const uint64_t key_from = u64(r.j, "from");
    const uint64_t seq = u64(r.j, "seq");
    std::vector<size_t>& sends = by_key_[{key_from, seq}];
    if (r.ev == "send") return add_message(r, &sends, true);
    if (r.ev == "recv") {
      if (!sends.empty() && messages_[sends.back()].recv == kNoTime) {
        messages_[sends.back()].recv = r.t;
        return static_cast<int64_t>(sends.back());
      }
      return add_message(r, nullptr, false);  // its send is not in the trace, or a duplicate
    }
    if (sends.empty()) return add_message(r, nullptr, false);  // a fault record alone
    Message& m = messages_[sends.back()];
    std::string rule = r.ev + " " + str_field(r.j, "rule");
    if (r.ev == "delay") rule += " (" + std::to_string(u64(r.j, "ms")) + " ms)";
    m.fault = m.fault.empty() ? rule : m.fault + "; " + rule;
    return static_cast<int64_t>(sends.back());
  }

 private:
  int64_t add_message(const Record& r, std::vector<size_t>* sends, bool sent) {
    Message m;
    m.type = str_field(r.j, "type");
    m.from = static_cast<uint32_t>(u64(r.j, "from"));
    m.to = static_cast<uint32_t>(u64(r.j, "to"));
    m.term = u64(r.j, "term");
    m.seq = u64(r.j, "seq");
    (sent ? m.sent : m.recv) = r.t;
    if (!sent && r.ev != "recv") m.fault = r.ev + " " + str_field(r.j, "rule");
    m.fields = &r.j;
    messages_.push_back(std::move(m));
    if (sends != nullptr) sends->push_back(messages_.size() - 1);
    return static_cast<int64_t>(messages_.size() - 1);
  }

  std::vector<Message>& messages_;
  std::map<std::pair<uint64_t, uint64_t>, std::vector<size_t>> by_key_;
};

struct NodeState {
  char role = '-';
  uint64_t term = 0;
};

// Updates the nodes' roles and terms for one record.
void track_state(const Record& r, std::map<uint32_t, NodeState>& state) {
  if (r.ev == "role") {
    state[r.node] = NodeState{role_letter(str_field(r.j, "role")), u64(r.j, "term")};
  } else if (r.ev == "trace") {
    state[r.node] = NodeState{};  // a new process: its role comes with its first role record
  } else if (r.ev == "action" && ends_process(str_field(r.j, "verb"))) {
    for (uint32_t n : action_nodes(r)) state[n] = NodeState{};
  }
}

bool in_window(const Timeline& tl, int64_t t, const Filter& f) {
  const double s = static_cast<double>(t - tl.t0) / 1e9;
  return (!f.since_s || s >= *f.since_s) && (!f.until_s || s <= *f.until_s);
}

}  // namespace

std::string str_field(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<uint32_t> action_nodes(const Record& r) {
  std::vector<uint32_t> out;
  const auto it = r.j.find("nodes");
  if (it == r.j.end() || !it->is_array()) return out;
  for (const json& n : *it) {
    if (n.is_number_unsigned()) out.push_back(n.get<uint32_t>());
  }
  return out;
}

char role_letter(const std::string& role) {
  if (role == "follower") return 'F';
  if (role == "precandidate") return 'P';
  if (role == "candidate") return 'C';
  if (role == "leader") return 'L';
  if (role == "learner") return 'l';
  return '-';
}

Timeline build(Input input) {
  Timeline tl;
  tl.input = std::move(input);
  const std::vector<Record>& recs = tl.input.records;
  std::vector<size_t> order(recs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return recs[a].t != recs[b].t ? recs[a].t < recs[b].t : recs[a].node < recs[b].node;
  });
  if (!order.empty()) {
    tl.t0 = recs[order.front()].t;
    tl.t1 = recs[order.back()].t;
  }
  if (tl.input.history && !tl.input.history->ops.empty()) {
    const check::History& h = *tl.input.history;
    tl.t0 = order.empty() ? h.first_time : std::min(tl.t0, h.first_time);
    tl.t1 = std::max(tl.t1, h.last_time);
  }
  Pairing pairing(tl.messages);
  std::map<uint32_t, NodeState> state;
  tl.events.reserve(recs.size());
  for (size_t k : order) {
    const Record& r = recs[k];
    track_state(r, state);
    Event e{r.t, r.node, &r, '-', 0, -1};
    if (r.node != 0) e.role = state[r.node].role, e.term = state[r.node].term;
    if (is_message_record(r.ev)) e.message = pairing.add(r);
    tl.events.push_back(e);
  }
  return tl;
}

bool shows_message(const Event& e, const Message& m) {
  return e.record->ev == "send" || (m.sent == kNoTime && m.fields == &e.record->j);
}

bool keep_message(const Timeline& tl, const Message& m, const Filter& f) {
  const int64_t t = m.sent != kNoTime ? m.sent : m.recv;
  if (!in_window(tl, t, f)) return false;
  if (!f.types.empty() && f.types.count(m.type) == 0) return false;
  if (!f.nodes.empty() && f.nodes.count(m.from) == 0 && f.nodes.count(m.to) == 0) return false;
  if (!f.from.empty() && f.from.count(m.from) == 0) return false;
  return f.to.empty() || f.to.count(m.to) != 0;
}

bool keep_event(const Timeline& tl, const Event& e, const Filter& f) {
  if (e.message >= 0) return keep_message(tl, tl.messages[static_cast<size_t>(e.message)], f);
  if (!in_window(tl, e.t, f) || !f.from.empty() || !f.to.empty()) return false;
  const Record& r = *e.record;
  if (!f.types.empty() && f.types.count(r.ev) == 0) return false;
  if (f.nodes.empty()) return true;
  if (e.node != 0) return f.nodes.count(e.node) != 0;
  const std::vector<uint32_t> named = action_nodes(r);  // an action: one naming a chosen node
  return named.empty() ||
         std::any_of(named.begin(), named.end(), [&](uint32_t n) { return f.nodes.count(n); });
}

}  // namespace raftlab::timeline
