// The KV client commands (cmd/kv_commands.cc) and what `check` and `bench` share with them.
#pragma once

#include <cstdint>

#include "cmd/cluster/cluster_dir.h"
#include "net/kv_client.h"

namespace CLI {
class App;
}  // namespace CLI

namespace raftlab::lab {

/// Client options for the cluster in `spec`: every node's port, an operation bound of
/// `op_timeout_ms` and a try bound a third of it (between 100 ms and 1 s).
net::KvClientOptions kv_client_options(const ClusterSpec& spec, uint64_t op_timeout_ms,
                                       uint64_t seed);

/// put, get, append, delete, cas.
void setup_kv_commands(CLI::App& app);
/// bench (cmd/drive/bench.cc).
void setup_bench(CLI::App& app);
/// check (cmd/drive/check_run.cc).
void setup_check(CLI::App& app);

}  // namespace raftlab::lab
