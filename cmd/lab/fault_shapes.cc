// The network fault shapes (see fault_shapes.h).
#include "cmd/lab/fault_shapes.h"

#include <algorithm>

namespace raftlab::lab {

void seeded_shuffle(std::vector<NodeId>& order, Prng& prng) {
  for (size_t k = order.size(); k > 1; --k) std::swap(order[k - 1], order[prng.uniform(0, k)]);
}

std::vector<std::set<NodeId>> halves(const std::vector<NodeId>& order) {
  const size_t half = order.size() / 2;
  return {std::set<NodeId>(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(half)),
          std::set<NodeId>(order.begin() + static_cast<std::ptrdiff_t>(half), order.end())};
}

Bridge bridge(const std::vector<NodeId>& order) {
  const auto half = static_cast<std::ptrdiff_t>(order.size() / 2);
  return Bridge{{order.begin(), order.begin() + half},
                order[static_cast<size_t>(half)],
                {order.begin() + half + 1, order.end()}};
}

MajorityRing majority_ring(const std::vector<NodeId>& order) {
  const size_t n = order.size();
  const size_t majority = n / 2 + 1;
  MajorityRing ring;
  ring.reach = majority / 2;
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = a + 1; b < n; ++b) {
      const size_t distance = std::min(b - a, n - (b - a));
      if (distance > ring.reach) {
        ring.cuts.insert({order[a], order[b]});
        ring.cuts.insert({order[b], order[a]});
      }
    }
  }
  return ring;
}

std::vector<std::set<NodeId>> isolate_leader(NodeId leader, const std::vector<NodeId>& nodes) {
  std::set<NodeId> rest;
  for (NodeId id : nodes) {
    if (id != leader) rest.insert(id);
  }
  return {{leader}, rest};
}

NodePairs cuts_between(const std::vector<NodeId>& left, const std::vector<NodeId>& right) {
  NodePairs cuts;
  for (NodeId a : left) {
    for (NodeId b : right) {
      cuts.insert({a, b});
      cuts.insert({b, a});
    }
  }
  return cuts;
}

}  // namespace raftlab::lab
