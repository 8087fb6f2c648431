// `raftlab node --dir DIR --id N`: one node process. Internal: `raftlab up`, `start` and
// `restart` run it detached, with stdout and stderr going to DIR/n<N>/node.log.
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace raftlab::cmd {

struct NodeOptions {
  std::string dir;  // --dir, else $RAFTLAB_DIR, else ./raftlab-data
  uint64_t id = 0;  // --id
};

/// Adds the hidden `node` subcommand.
void setup_node(CLI::App& app);
/// Returns the exit code (see run_node_host).
int run_node(const NodeOptions& options);

}  // namespace raftlab::cmd
