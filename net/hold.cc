// Held messages (see hold.h).
#include "net/hold.h"

#include <algorithm>

namespace raftlab::net {
namespace {

std::string ends_text(const std::set<NodeId>& ids) {
  if (ids.empty()) return "*";
  std::string out;
  for (NodeId id : ids) out += (out.empty() ? "" : ",") + std::to_string(id.get());
  return out;
}

bool in(const std::set<NodeId>& ids, NodeId id) { return ids.empty() || ids.count(id) > 0; }

}  // namespace

bool HoldRule::matches(const Message& m) const {
  return in(from, m.from) && in(to, m.to) && (types.empty() || types.count(m.type) > 0);
}

std::string describe(const HoldRule& rule) {
  std::string types;
  for (MessageType t : rule.types) types += (types.empty() ? "" : ",") + std::string(to_string(t));
  return "hold " + ends_text(rule.from) + "->" + ends_text(rule.to) + " " +
         (types.empty() ? "*" : types);
}

std::optional<MessageType> parse_message_type(std::string_view name) {
  for (int k = 1; k <= kMessageTypeCount; ++k) {
    const auto type = static_cast<MessageType>(k);
    if (name == to_string(type)) return type;
  }
  return std::nullopt;
}

std::string held_id(const Message& m) {
  return std::to_string(m.from.get()) + "." + std::to_string(m.trace_seq);
}

std::vector<Message> HoldQueue::set_rules(std::vector<HoldRule> rules) {
  rules_ = std::move(rules);
  std::vector<Message> released;
  std::deque<Message> kept;
  for (Message& m : queue_) {
    if (holds(m)) {
      kept.push_back(std::move(m));
    } else {
      released.push_back(std::move(m));
    }
  }
  queue_ = std::move(kept);
  counters_.delivered += released.size();
  return released;
}

bool HoldQueue::holds(const Message& m) const {
  if (rules_.empty()) return false;
  return std::any_of(rules_.begin(), rules_.end(),
                     [&m](const HoldRule& r) { return r.matches(m); });
}

std::optional<Message> HoldQueue::hold(Message m) {
  if (m.trace_seq == 0) m.trace_seq = next_seq_++;
  ++counters_.held;
  queue_.push_back(std::move(m));
  if (queue_.size() <= held_max_) return std::nullopt;
  Message oldest = std::move(queue_.front());
  queue_.pop_front();
  ++counters_.cap_dropped;
  return oldest;
}

std::vector<Message> HoldQueue::take(const HoldSelection& selection,
                                     std::vector<std::string>& unknown) {
  std::set<std::string> wanted(selection.ids.begin(), selection.ids.end());
  std::set<std::string> found;
  std::vector<Message> taken;
  std::deque<Message> kept;
  for (Message& m : queue_) {
    bool take_it = false;
    if (!selection.ids.empty()) {
      const std::string id = held_id(m);
      take_it = wanted.count(id) > 0;
      if (take_it) found.insert(id);
    } else {
      take_it = taken.size() < selection.count_max && selection.filter.matches(m);
    }
    if (take_it) {
      taken.push_back(std::move(m));
    } else {
      kept.push_back(std::move(m));
    }
  }
  queue_ = std::move(kept);
  for (const std::string& id : selection.ids) {
    if (!found.count(id)) unknown.push_back(id);
  }
  return taken;
}

}  // namespace raftlab::net
