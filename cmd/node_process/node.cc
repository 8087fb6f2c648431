// `raftlab node` (see node.h).
#include "cmd/node_process/node.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cmd/cluster/cluster_dir.h"
#include "cmd/node_process/node_host.h"

namespace raftlab::cmd {

void setup_node(CLI::App& app) {
  CLI::App* node = app.add_subcommand("node", "Run one node process (internal: used by up/start)");
  node->group("");  // hidden from `raftlab --help`: users start nodes with `up` and `start`
  auto options = std::make_shared<NodeOptions>();
  node->add_option("--dir", options->dir,
                   "Cluster directory (default $RAFTLAB_DIR or ./raftlab-data)");
  node->add_option("--id", options->id, "This node's id in cluster.json")
      ->required()
      ->check(CLI::Range(uint64_t{1}, uint64_t{4294967295}));
  node->callback([options] {
    const int code = run_node(*options);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

int run_node(const NodeOptions& options) {
  try {
    return lab::run_node_host({lab::resolve_dir(options.dir), NodeId(options.id)});
  } catch (const lab::LabError& e) {
    std::cerr << "raftlab node " << options.id << ": " << e.what() << "\n";
    return e.exit_code();
  }
}

}  // namespace raftlab::cmd
