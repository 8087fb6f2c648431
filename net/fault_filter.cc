// The fault filter: rule edits, reachability and the per-message verdict. See fault_filter.h.
#include "net/fault_filter.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace raftlab {
namespace {

constexpr uint64_t kDelayMaxMs = std::numeric_limits<uint32_t>::max();

bool is_probability(double p) { return p >= 0 && p <= 1; }  // false for NaN too

void check_fault(const LinkFault& fault) {
  if (!is_probability(fault.loss) || !is_probability(fault.duplicate) ||
      !is_probability(fault.reorder)) {
    throw std::invalid_argument("fault filter: loss, duplicate and reorder must be in [0, 1]");
  }
}

// A node may be in at most one group, or reachability would depend on the group order.
void check_partition(const std::vector<std::set<NodeId>>& groups) {
  std::set<NodeId> seen;
  for (const auto& group : groups) {
    for (NodeId node : group) {
      if (!seen.insert(node).second) {
        throw std::invalid_argument("fault filter: node " + std::to_string(node.get()) +
                                    " is in more than one partition group");
      }
    }
  }
}

bool matches(const std::set<NodeId>& nodes, NodeId node) {
  return nodes.empty() || nodes.contains(node);
}

// The group a node is in: its index in `groups`, or groups.size() for the unnamed group of
// nodes that no group names.
size_t group_of(const std::vector<std::set<NodeId>>& groups, NodeId node) {
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].contains(node)) return i;
  }
  return groups.size();
}

std::string node_list(const std::set<NodeId>& nodes) {
  if (nodes.empty()) return "*";
  std::string out;
  for (NodeId node : nodes) {
    if (!out.empty()) out += ',';
    out += std::to_string(node.get());
  }
  return out;
}

// 0.1 -> "10%", 0.005 -> "0.5%", 1.0/3 -> "33.333%".
std::string percent(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", p * 100);
  std::string out = buf;
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out + "%";
}

std::string describe_fault(const LinkFault& f) {
  std::string out;
  auto add = [&out](const std::string& item) { out += (out.empty() ? "" : " ") + item; };
  if (f.loss > 0) add("loss=" + percent(f.loss));
  if (f.delay_ms > 0) add("delay=" + std::to_string(f.delay_ms) + "ms");
  if (f.jitter_ms > 0) add("jitter=" + std::to_string(f.jitter_ms) + "ms");
  if (f.duplicate > 0) add("duplicate=" + percent(f.duplicate));
  if (f.reorder > 0) add("reorder=" + percent(f.reorder));
  if (f.reorder_ms > 0) add("hold=" + std::to_string(f.reorder_ms) + "ms");
  return out.empty() ? "perfect" : out;
}

}  // namespace

FaultFilter::FaultFilter(uint64_t seed) : prng_(seed) {}

void FaultFilter::set_rules(FaultRules rules) {
  std::erase_if(rules.partition, [](const auto& group) { return group.empty(); });
  check_partition(rules.partition);
  for (const auto& rule : rules.links) check_fault(rule.fault);
  rules_ = std::move(rules);
}

void FaultFilter::partition(std::vector<std::set<NodeId>> groups) {
  std::erase_if(groups, [](const auto& group) { return group.empty(); });
  check_partition(groups);
  rules_.partition = std::move(groups);
}

void FaultFilter::isolate(NodeId node) { rules_.partition = {{node}}; }

void FaultFilter::cut(NodeId from, NodeId to, bool one_way) {
  rules_.cuts.emplace(from, to);
  if (!one_way) rules_.cuts.emplace(to, from);
}

void FaultFilter::set_link(LinkRule rule) {
  check_fault(rule.fault);
  rules_.links.push_back(std::move(rule));
}

void FaultFilter::heal() {
  rules_.partition.clear();
  rules_.cuts.clear();
}

void FaultFilter::heal_all() { rules_ = FaultRules{}; }

bool FaultFilter::reachable(NodeId from, NodeId to) const {
  if (from == to) return true;  // a node always hears itself
  if (rules_.cuts.contains({from, to})) return false;
  return group_of(rules_.partition, from) == group_of(rules_.partition, to);
}

Verdict FaultFilter::decide(NodeId from, NodeId to) {
  // A message to oneself never crosses the network; it consumes no randomness either.
  if (from == to) return Verdict{{0}};
  if (!reachable(from, to)) {
    Verdict cut_off;
    cut_off.dropped_by = rules_.cuts.contains({from, to}) ? DropCause::kCut : DropCause::kPartition;
    return cut_off;
  }

  // The last matching rule wins; no matching rule means a perfect link.
  LinkFault fault;
  int32_t link = -1;
  for (size_t i = 0; i < rules_.links.size(); ++i) {
    const LinkRule& rule = rules_.links[i];
    if (matches(rule.from, from) && matches(rule.to, to)) {
      fault = rule.fault;
      link = static_cast<int32_t>(i);
    }
  }

  Verdict verdict;
  verdict.link = link;
  if (prng_.chance(fault.loss)) {
    verdict.dropped_by = DropCause::kLoss;
    return verdict;
  }

  // uniform() is half-open, so [0, jitter_ms] is uniform(0, jitter_ms + 1).
  auto draw_delay = [this, &fault]() -> uint64_t {
    return uint64_t{fault.delay_ms} + prng_.uniform(0, uint64_t{fault.jitter_ms} + 1);
  };
  uint64_t first_ms = draw_delay();
  verdict.reordered = prng_.chance(fault.reorder);
  if (verdict.reordered) {
    // Held back longer than any later message on this link can take, so those overtake it.
    const uint64_t hold_ms = fault.reorder_ms != 0
                                 ? uint64_t{fault.reorder_ms}
                                 : 2 * uint64_t{fault.delay_ms} + fault.jitter_ms + 1;
    first_ms += hold_ms;
  }

  verdict.delays_ms.push_back(static_cast<uint32_t>(std::min(first_ms, kDelayMaxMs)));
  verdict.duplicated = prng_.chance(fault.duplicate);
  if (verdict.duplicated) {
    // The copy travels on its own: its delay is drawn afresh. Delays are listed in delivery
    // order, so the copy is the later of the two.
    const uint64_t copy_ms = draw_delay();
    verdict.delays_ms.push_back(static_cast<uint32_t>(std::min(copy_ms, kDelayMaxMs)));
    std::sort(verdict.delays_ms.begin(), verdict.delays_ms.end());
  }
  return verdict;
}

std::string FaultFilter::describe() const {
  std::string out;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : "; ") + part; };
  if (!rules_.partition.empty()) {
    std::string groups;
    for (const auto& group : rules_.partition) {
      groups += (groups.empty() ? "" : " | ") + node_list(group);
    }
    add("partition " + groups);
  }
  if (!rules_.cuts.empty()) {
    std::string cuts;
    for (const auto& [from, to] : rules_.cuts) {
      cuts +=
          (cuts.empty() ? "" : ", ") + std::to_string(from.get()) + "->" + std::to_string(to.get());
    }
    add("cut " + cuts);
  }
  for (const LinkRule& rule : rules_.links) {
    add("link " + node_list(rule.from) + "->" + node_list(rule.to) + " " +
        describe_fault(rule.fault));
  }
  return out.empty() ? "none" : out;
}

namespace {

// "1->2", "1,2->*": a link rule's ends as describe() writes them.
std::string link_ends(const LinkRule& rule) {
  return node_list(rule.from) + "->" + node_list(rule.to);
}

}  // namespace

std::string FaultFilter::describe_drop(const Verdict& verdict, NodeId from, NodeId to) const {
  switch (verdict.dropped_by) {
    case DropCause::kNone:
      return "none";
    case DropCause::kCut:
      return "cut " + std::to_string(from.get()) + "->" + std::to_string(to.get());
    case DropCause::kPartition: {
      std::string groups;
      for (const auto& group : rules_.partition) {
        groups += (groups.empty() ? "" : " | ") + node_list(group);
      }
      return "partition " + groups;
    }
    case DropCause::kLoss:
      break;
  }
  if (verdict.link < 0 || static_cast<size_t>(verdict.link) >= rules_.links.size()) return "loss";
  const LinkRule& rule = rules_.links[static_cast<size_t>(verdict.link)];
  return "loss " + link_ends(rule) + " " + percent(rule.fault.loss);
}

std::string FaultFilter::describe_delay(const Verdict& verdict) const {
  if (verdict.link < 0 || static_cast<size_t>(verdict.link) >= rules_.links.size()) return "delay";
  const LinkRule& rule = rules_.links[static_cast<size_t>(verdict.link)];
  if (verdict.reordered) return "reorder " + link_ends(rule) + " " + percent(rule.fault.reorder);
  std::string out = "delay " + link_ends(rule) + " " + std::to_string(rule.fault.delay_ms) + "ms";
  if (rule.fault.jitter_ms > 0) out += " jitter " + std::to_string(rule.fault.jitter_ms) + "ms";
  return out;
}

std::string FaultFilter::describe_dup(const Verdict& verdict) const {
  if (verdict.link < 0 || static_cast<size_t>(verdict.link) >= rules_.links.size()) return "dup";
  const LinkRule& rule = rules_.links[static_cast<size_t>(verdict.link)];
  return "dup " + link_ends(rule) + " " + percent(rule.fault.duplicate);
}

}  // namespace raftlab
