// Node selectors (`2`, `1,3`, `leader`, `followers`, `all`, `random`), resolved to node ids
// when the command runs; their syntax is checked earlier by selector_validator() (parse.h).
#pragma once

#include <string>
#include <vector>

#include "cmd/cluster/cluster_dir.h"

namespace raftlab::lab {

/// `2`, `1,3`, `leader`, `followers`, `all`, `random` -> node ids, sorted. LabError(2) naming
/// an unknown node; LabError(4) for `leader` when no leader is known.
std::vector<NodeId> resolve_selector(const std::string& selector, const std::string& dir,
                                     const ClusterSpec& spec);

}  // namespace raftlab::lab
