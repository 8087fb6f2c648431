// The names of a node's data directories, defined once: open_node_storage (persist/snapshot.h),
// the offline dump (persist/dump.h), the node process and the CLI's contract
// (cmd/cluster/contract.h) all use these.
#pragma once

#include <string_view>

namespace raftlab::persist {

constexpr std::string_view kWalDir = "wal";    // DIR/wal: the write-ahead log (persist/wal.h)
constexpr std::string_view kSnapDir = "snap";  // DIR/snap: snapshots (persist/snapshot.h)

}  // namespace raftlab::persist
