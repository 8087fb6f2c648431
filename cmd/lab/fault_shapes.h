// The network fault shapes of Jepsen's nemeses, defined once: `partition --random SHAPE`
// (cmd/partition.cc) writes them with the cluster's seed, and the nemesis of `check`
// (cmd/drive/nemesis.cc) injects them with its own, through the CLI (`partition`, `cut`,
// `isolate`). Every shape is a function of a node order, shuffled with a seed, so a run replays.
//
// Halves and isolate-leader are partitions into groups; a majority ring and a bridge are not
// (reachability is not transitive there), so they are written as symmetric cuts.
#pragma once

#include <cstddef>
#include <set>
#include <utility>
#include <vector>

#include "node/prng.h"
#include "node/types.h"

namespace raftlab::lab {

using NodePairs = std::set<std::pair<NodeId, NodeId>>;  // directed: from, to

/// Fisher-Yates with `prng`: the order the shapes below are cut from.
void seeded_shuffle(std::vector<NodeId>& order, Prng& prng);

/// The first n/2 nodes of `order`, and the rest.
std::vector<std::set<NodeId>> halves(const std::vector<NodeId>& order);

/// Two sides that hear only one node, the bridge, which hears both. `order` is not empty.
struct Bridge {
  std::vector<NodeId> left;   // the first n/2 nodes of the order
  NodeId node;                // the one after them
  std::vector<NodeId> right;  // the rest
};
Bridge bridge(const std::vector<NodeId>& order);

/// Nodes on a ring in `order`, each hearing the nodes within `reach` places: a majority, and no
/// two nodes hear the same majority.
struct MajorityRing {
  size_t reach = 0;
  NodePairs cuts;  // both ways
};
MajorityRing majority_ring(const std::vector<NodeId>& order);

/// The leader alone, and every other node of `nodes` in one group.
std::vector<std::set<NodeId>> isolate_leader(NodeId leader, const std::vector<NodeId>& nodes);

/// Every pair (a in `left`, b in `right`) cut both ways.
NodePairs cuts_between(const std::vector<NodeId>& left, const std::vector<NodeId>& right);

}  // namespace raftlab::lab
