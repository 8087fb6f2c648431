// `raftlab down`: stop every node (SIGTERM, SIGKILL after a bound) and wait for the pids to
// exit; `--purge` then removes the cluster directory.
#include <signal.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cmd/cluster/contract.h"
#include "cmd/cluster/dir_lock.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/actions.h"
#include "cmd/lab/command.h"
#include "cmd/lab/output.h"
#include "cmd/lab/process.h"
#include "cmd/verbs.h"

namespace raftlab::lab {
namespace {

struct DownOptions {
  std::string dir;
  bool purge = false;
  bool json = false;
};

// The nodes to stop: cluster.json's, or when it cannot be read (damaged, edited by hand), every
// DIR/n<ID> with a pid file. Either way a pid is trusted only if /proc/PID/cmdline names this
// very directory and id (live_node_pid), so a broken cluster.json never leaves nodes running.
std::vector<NodeId> nodes_to_stop(const std::string& dir) {
  std::vector<NodeId> ids;
  std::string unreadable;
  try {
    for (const NodeSpec& n : load_cluster(dir).nodes) ids.push_back(n.id);
    return ids;
  } catch (const LabError& e) {
    if (!std::filesystem::is_directory(dir)) throw;
    unreadable = e.what();
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 2 || name[0] != 'n' || !entry.is_directory()) continue;
    char* end = nullptr;
    const unsigned long long id = std::strtoull(name.c_str() + 1, &end, 10);
    if (*end == '\0' && id != 0 && std::filesystem::exists(entry.path() / std::string(kPidFile))) {
      ids.push_back(NodeId(id));
    }
  }
  // No node directory with a pid file either: this is no cluster at all.
  if (ids.empty()) throw LabError(kExitEnvironment, unreadable);
  std::cerr << "raftlab: " << unreadable << "; stopping the nodes found by their pid files\n";
  std::sort(ids.begin(), ids.end());
  return ids;
}

int run_down(const DownOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  // Signal every node first, then wait: N nodes stop in the time of one.
  std::vector<std::pair<NodeId, pid_t>> stopping;
  for (NodeId id : nodes_to_stop(dir)) {
    if (const auto pid = live_node_pid(dir, id)) {
      ::kill(*pid, SIGTERM);
      ::kill(*pid, SIGCONT);  // a paused node handles SIGTERM only once resumed
      stopping.emplace_back(id, *pid);
    }
  }
  std::vector<NodeId> stopped;
  for (const auto& [id, pid] : stopping) {
    stop_pid(pid, SIGTERM);  // already signalled: waits, escalates to SIGKILL after the bound
    stopped.push_back(id);
    if (!o.json) std::cout << "stopped node " << id.get() << " (pid " << pid << ")\n";
  }
  // Purged, the directory and its actions.jsonl go; without cluster.json there is no cluster.
  if (!o.purge && std::filesystem::exists(dir + "/" + std::string(kClusterJson))) {
    record_action(dir, "down", stopped, "down " + ids_text(stopped));
  }
  if (o.purge) {
    // Not while another command (an `up`) works in the directory.
    const DirLock lock = lock_cluster_dir(dir);
    std::filesystem::remove_all(dir);
    if (!o.json) std::cout << "removed " << dir << "\n";
  }
  if (o.json) print_json({{"nodes", ids_json(stopped)}, {"purged", o.purge}});
  return kExitOk;
}

}  // namespace

void setup_down(CLI::App& app) {
  auto o = std::make_shared<DownOptions>();
  CLI::App* cmd = add_verb(app, "down", "Stop every node (SIGTERM, then SIGKILL)", o->dir);
  cmd->add_flag("--purge", o->purge, "Remove DIR afterwards");
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o] { return run_down(*o); });
}

}  // namespace raftlab::lab
