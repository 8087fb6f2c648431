// Node selectors (see selectors.h).
#include "cmd/lab/selectors.h"

#include <random>
#include <set>
#include <sstream>

#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/output.h"
#include "cmd/lab/parse.h"

namespace raftlab::lab {

std::vector<NodeId> resolve_selector(const std::string& selector, const std::string& dir,
                                     const ClusterSpec& spec) {
  std::vector<NodeId> all;
  for (const NodeSpec& n : spec.nodes) all.push_back(n.id);
  if (selector == "all") return all;
  if (selector == "leader" || selector == "followers") {
    const std::vector<NodeView> views = collect_views(dir, spec);
    NodeId leader = agreed_leader(spec, views);
    if (!leader) {
      // No majority agrees (a partition, say): the answering leader of the highest term.
      uint64_t best = 0;
      for (const NodeView& v : views) {
        if (v.answered && v.role == "leader" && v.term >= best) {
          best = v.term;
          leader = v.id;
        }
      }
    }
    if (!leader) throw LabError(kExitEnvironment, "no leader: no running node is the leader now");
    if (selector == "leader") return {leader};
    std::erase(all, leader);
    return all;
  }
  if (selector == "random") {
    std::vector<NodeId> running;
    for (NodeId id : all) {
      if (node_process_state(dir, id) == ProcessState::kRunning) running.push_back(id);
    }
    const std::vector<NodeId>& pool = running.empty() ? all : running;
    if (pool.empty()) throw LabError(kExitEnvironment, "the cluster has no nodes");
    std::random_device rd;
    return {pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rd)]};
  }
  std::set<NodeId> chosen;
  std::stringstream in(selector);
  std::string part;
  while (std::getline(in, part, ',')) {
    const auto id = parse_u64(part);
    if (!id || *id == 0) throw LabError(kExitUsage, "bad node selector '" + selector + "'");
    if (spec.node(NodeId(*id)) == nullptr) {
      throw LabError(kExitUsage,
                     "unknown node " + part + " (the cluster has nodes " + ids_text(all) + ")");
    }
    chosen.insert(NodeId(*id));
  }
  return {chosen.begin(), chosen.end()};
}

}  // namespace raftlab::lab
