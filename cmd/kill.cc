// The process faults, which share one options struct (a selector, --json): `raftlab kill SEL
// [--signal KILL|TERM]`, `start SEL`, `restart SEL`, `pause SEL` (SIGSTOP), `resume SEL`
// (SIGCONT). Each prints the nodes it chose.
#include <signal.h>

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/actions.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/command.h"
#include "cmd/lab/output.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/ports.h"
#include "cmd/lab/process.h"
#include "cmd/lab/selectors.h"
#include "cmd/verbs.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;

enum class Action { kKill, kStart, kRestart, kPause, kResume };

struct ProcessOptions {
  std::string dir;
  std::string selector;
  std::string signal = "KILL";  // kill only
  bool json = false;
};

const char* action_name(Action a) {
  switch (a) {
    case Action::kKill:
      return "kill";
    case Action::kStart:
      return "start";
    case Action::kRestart:
      return "restart";
    case Action::kPause:
      return "pause";
    case Action::kResume:
      return "resume";
  }
  return "";
}

int run_process(Action action, const ProcessOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  const std::vector<NodeId> ids = resolve_selector(o.selector, dir, spec);
  json nodes = json::array();
  // Check first, act second: a node that must be running and is not fails the whole command
  // before anything changed.
  for (NodeId id : ids) {
    const ProcessState s = node_process_state(dir, id);
    const std::string name = "node " + std::to_string(id.get());
    if (action == Action::kPause && s == ProcessState::kStopped) {
      throw LabError(kExitEnvironment, name + " is not running");
    }
    if (action == Action::kResume && s == ProcessState::kStopped) {
      throw LabError(kExitEnvironment, name + " is not running");
    }
  }
  for (NodeId id : ids) {
    const std::optional<pid_t> pid = live_node_pid(dir, id);
    json row = {{"id", id.get()}, {"pid_before", pid ? json(*pid) : json(nullptr)}};
    std::string said;
    switch (action) {
      case Action::kKill:
      case Action::kRestart:
        if (pid) {
          const int sig = (action == Action::kKill && o.signal == "TERM") ? SIGTERM : SIGKILL;
          stop_pid(*pid, sig);
          said = std::string("killed (SIG") + sigabbrev_np(sig) + ")";
        } else {
          said = "was not running";
        }
        if (action == Action::kKill) break;
        [[fallthrough]];
      case Action::kStart:
        if (action == Action::kStart && pid) {
          said = "already running";
          break;
        }
        if (!wait_port_free(spec.node(id)->port)) {
          throw LabError(kExitEnvironment, "port " + std::to_string(spec.node(id)->port) +
                                               " of node " + std::to_string(id.get()) +
                                               " is in use");
        }
        row["pid"] = start_node(dir, id);
        said += std::string(said.empty() ? "" : ", ") + "started (pid " +
                std::to_string(row["pid"].get<pid_t>()) + ")";
        break;
      case Action::kPause:
        ::kill(*pid, SIGSTOP);
        said = "paused";
        break;
      case Action::kResume:
        ::kill(*pid, SIGCONT);
        // Fault rules may have changed while it was paused: it could not take the push then.
        admin_request(dir, id, json{{"cmd", "reload_faults"}}, 1000);
        said = "resumed";
        break;
    }
    if (!o.json) std::cout << "node " << id.get() << ": " << said << "\n";
    nodes.push_back(id.get());
  }
  std::string text = std::string(action_name(action)) + " " + ids_text(ids);
  if (action == Action::kKill) text += o.signal == "TERM" ? " (SIGTERM)" : " (SIGKILL)";
  record_action(dir, action_name(action), ids, text);
  if (o.json) print_json({{"nodes", nodes}, {"action", action_name(action)}});
  return kExitOk;
}

void add_process_command(CLI::App& app, Action action, const std::string& help) {
  auto o = std::make_shared<ProcessOptions>();
  CLI::App* cmd = add_verb(app, action_name(action), help, o->dir);
  cmd->add_option("SEL", o->selector, "Nodes: 2, 1,3, leader, followers, all, random")
      ->required()
      ->check(selector_validator());
  if (action == Action::kKill) {
    cmd->add_option("--signal", o->signal, "KILL (default: a crash) or TERM (clean shutdown)")
        ->check(CLI::IsMember({"KILL", "TERM"}));
  }
  add_json_flag(cmd, o->json);
  cmd->callback([action, o] { run_command([action, o] { return run_process(action, *o); }); });
}

}  // namespace

void setup_process_commands(CLI::App& app) {
  add_process_command(app, Action::kKill, "Crash nodes (SIGKILL by default)");
  add_process_command(app, Action::kStart, "Start stopped nodes on their data");
  add_process_command(app, Action::kRestart, "Crash nodes, then start them on their data");
  add_process_command(app, Action::kPause, "Pause nodes (SIGSTOP)");
  add_process_command(app, Action::kResume, "Resume paused nodes (SIGCONT)");
}

}  // namespace raftlab::lab
