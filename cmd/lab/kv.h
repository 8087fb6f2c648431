// The KV client options that the KV commands (cmd/kv_commands.cc), `check` and `bench` share.
#pragma once

#include <cstdint>

#include "cmd/cluster/cluster_dir.h"
#include "net/kv_client.h"

namespace raftlab::lab {

/// Client options for the cluster in `spec`: every node's port, an operation bound of
/// `op_timeout_ms` and a try bound a third of it (between 100 ms and 1 s).
net::KvClientOptions kv_client_options(const ClusterSpec& spec, uint64_t op_timeout_ms,
                                       uint64_t seed);

}  // namespace raftlab::lab
