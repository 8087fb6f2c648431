// `raftlab crash SEL [--lose-unsynced [--tear]]`: SIGKILL the nodes and wait until they are gone.
// With --lose-unsynced, each node's files are then cut back to what it had published as
// durable (persist/durable.h, cmd/lab/power_cut.h), as a power cut would leave them; --tear
// also leaves a partial record at the end of the WAL. Without --lose-unsynced it is `kill`.
#include <signal.h>

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cmd/cluster/cluster_dir.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/actions.h"
#include "cmd/lab/command.h"
#include "cmd/lab/output.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/power_cut.h"
#include "cmd/lab/process.h"
#include "cmd/lab/selectors.h"
#include "cmd/verbs.h"
#include "persist/io.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;

constexpr uint32_t kKillGoneTimeoutMs = 5000;  // SIGKILL cannot be caught; a bound all the same

struct CrashOptions {
  std::string dir;
  std::string selector;
  bool lose_unsynced = false;
  bool tear = false;
  bool json = false;
};

// The node's durable table; exit 4 when it has none (a `--no-fsync` cluster: nothing durable).
std::vector<persist::DurableFile> read_durable_table(const std::string& nd, NodeId id) {
  const std::string path = persist::join_path(nd, persist::kDurableFileName);
  const std::string name = "node " + std::to_string(id.get());
  if (!persist::path_exists(path)) {
    throw LabError(kExitEnvironment, name + " published no durable offsets (" + path +
                                         " missing: never started, or runs without fsync)");
  }
  std::vector<persist::DurableFile> files;
  const std::string error =
      persist::decode_durable_table(persist::read_file(path, persist::kDurableFileBytes), &files);
  if (!error.empty()) throw LabError(kExitEnvironment, path + ": " + error);
  return files;
}

// Cuts one stopped node's files; returns the steps taken.
std::vector<CutStep> cut_node(const std::string& dir, NodeId id, bool tear) {
  const std::string nd = node_dir(dir, id);
  const std::vector<persist::DurableFile> published = read_durable_table(nd, id);
  const std::vector<CutStep> steps = plan_power_cut(
      published, list_node_files(nd), tear,
      [&](const std::string& name, uint64_t offset) { return read_record_size(nd, name, offset); });
  try {
    apply_power_cut(nd, steps);
  } catch (const persist::IoError& e) {
    throw LabError(kExitEnvironment, std::string("cutting node ") + std::to_string(id.get()) +
                                         "'s files: " + e.what());
  }
  return steps;
}

int run_crash(const CrashOptions& o) {
  if (o.tear && !o.lose_unsynced) throw LabError(kExitUsage, "--tear needs --lose-unsynced");
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  const std::vector<NodeId> ids = resolve_selector(o.selector, dir, spec);
  // A power cut takes the nodes down at one moment: every SIGKILL is sent before waiting for
  // any, and all are gone (no write can follow) before any file is cut.
  json rows = json::array();
  std::vector<std::optional<pid_t>> pids;
  for (NodeId id : ids) {
    pids.push_back(live_node_pid(dir, id));
    if (pids.back()) ::kill(*pids.back(), SIGKILL);
  }
  for (size_t k = 0; k < ids.size(); ++k) {
    const std::optional<pid_t> pid = pids[k];
    if (pid && !wait_pid_gone(*pid, kKillGoneTimeoutMs)) {
      throw LabError(kExitEnvironment, "pid " + std::to_string(*pid) + " did not exit");
    }
    rows.push_back({{"id", ids[k].get()}, {"pid_before", pid ? json(*pid) : json(nullptr)}});
    if (!o.json) {
      std::cout << "node " << ids[k].get() << ": " << (pid ? "killed (SIGKILL)" : "was not running")
                << "\n";
    }
  }
  for (size_t k = 0; o.lose_unsynced && k < ids.size(); ++k) {
    json cut = json::array();
    for (const CutStep& s : cut_node(dir, ids[k], o.tear)) {
      cut.push_back(describe_step(s));
      if (!o.json) std::cout << "node " << ids[k].get() << ": " << describe_step(s) << "\n";
    }
    rows[k]["cut"] = cut;
  }
  std::string text = "crash " + ids_text(ids) + " (SIGKILL";
  if (o.lose_unsynced)
    text += o.tear ? ", unsynced writes lost, last record torn" : ", unsynced writes lost";
  // Verb "kill": the timeline draws a killed node down until its start (docs/trace.md).
  record_action(dir, "kill", ids, text + ")");
  if (o.json)
    print_json({{"nodes", rows},
                {"action", "crash"},
                {"lose_unsynced", o.lose_unsynced},
                {"tear", o.tear}});
  return kExitOk;
}

}  // namespace

void setup_crash(CLI::App& app) {
  auto o = std::make_shared<CrashOptions>();
  CLI::App* cmd = add_verb(app, "crash",
                           "Crash nodes (SIGKILL); --lose-unsynced: as a power cut, losing what "
                           "they had not synced",
                           o->dir);
  cmd->add_option("SEL", o->selector, "Nodes: 2, 1,3, leader, followers, all, random")
      ->required()
      ->check(selector_validator());
  cmd->add_flag("--lose-unsynced", o->lose_unsynced,
                "Cut each node's files back to what it had made durable (fdatasync returned)");
  cmd->add_flag("--tear", o->tear, "With --lose-unsynced: leave a partial last WAL record");
  add_json_flag(cmd, o->json);
  cmd->callback([o] { run_command([o] { return run_crash(*o); }); });
}

}  // namespace raftlab::lab
