// `raftlab down`: stop every node (SIGTERM, SIGKILL after a bound) and wait for the pids to
// exit; `--purge` then removes the cluster directory.
#include <signal.h>

// g++ 12 false positive inside CLI11 (see main.cc).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <filesystem>
#include <iostream>
#include <memory>

#include "cmd/lab.h"

namespace raftlab::lab {
namespace {

struct DownOptions {
  std::string dir;
  bool purge = false;
  bool json = false;
};

int run_down(const DownOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  // Signal every node first, then wait: N nodes stop in the time of one.
  std::vector<std::pair<NodeId, pid_t>> stopping;
  for (const NodeSpec& n : spec.nodes) {
    if (const auto pid = live_node_pid(dir, n.id)) {
      ::kill(*pid, SIGTERM);
      ::kill(*pid, SIGCONT);  // a paused node handles SIGTERM only once resumed
      stopping.emplace_back(n.id, *pid);
    }
  }
  std::vector<NodeId> stopped;
  for (const auto& [id, pid] : stopping) {
    stop_pid(pid, SIGTERM);  // already signalled: waits, escalates to SIGKILL after the bound
    stopped.push_back(id);
    if (!o.json) std::cout << "stopped node " << id.get() << " (pid " << pid << ")\n";
  }
  if (o.purge) {
    std::filesystem::remove_all(dir);
    if (!o.json) std::cout << "removed " << dir << "\n";
  }
  if (o.json) print_json({{"nodes", ids_json(stopped)}, {"purged", o.purge}});
  return kExitOk;
}

}  // namespace

void setup_down(CLI::App& app) {
  auto o = std::make_shared<DownOptions>();
  CLI::App* cmd = app.add_subcommand("down", "Stop every node (SIGTERM, then SIGKILL)");
  add_dir_option(cmd, o->dir);
  cmd->add_flag("--purge", o->purge, "Remove DIR afterwards");
  cmd->add_flag("--json", o->json, "Print one JSON document");
  cmd->callback([o] { run_command([o] { return run_down(*o); }); });
}

}  // namespace raftlab::lab
