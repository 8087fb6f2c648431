// The raftlab binary: wires the subcommands together and maps errors to exit codes. No logic
// lives here. The exit code table (0 done, 1 violation, 2 usage, 3 timeout, 4 environment) is
// the contract in docs/cli.md; keep the two in step.
//
// Each subcommand lives in its own file cmd/<name>.cc with an options struct, a
// `setup_<name>(CLI::App&)` that adds the subcommand, its flags and their validation, and a
// `run_<name>(options)` that returns an exit code. The callback set by setup_<name> runs
// run_<name> and reports a non-zero exit code by throwing CLI::RuntimeError(code).
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "cmd/cluster/exit_codes.h"
#include "cmd/log_dump.h"
#include "cmd/node_process/node.h"
#include "cmd/verbs.h"

namespace {

constexpr const char* kVersion = "raftlab 0.1.0";

constexpr const char* kFooter =
    "The cluster lives in a directory: --dir DIR, else $RAFTLAB_DIR, else ./raftlab-data.\n"
    "--dir and --json may come before the command too (raftlab --dir D status).\n"
    "Durations take a unit: 150ms, 2s, 1m. Nodes: 2, 1,3, leader, followers, all, random.\n"
    "Exit codes: 0 done; 1 a check found a violation, an operation failed for certain, get\n"
    "found no key, logs differ; 2 usage error; 3 timed out or outcome unknown; 4 environment\n"
    "(no cluster, node not running, port in use, corrupt WAL, disk full).\n"
    "`raftlab COMMAND --help` tells more.";

// The verbs by what they are for, in `raftlab --help`.
struct VerbGroup {
  const char* group;
  std::vector<const char*> verbs;
};
const std::vector<VerbGroup>& verb_groups() {
  static const std::vector<VerbGroup> groups = {
      {"Cluster",
       {"up", "down", "status", "kill", "crash", "start", "restart", "pause", "resume", "members",
        "member", "rebuild", "transfer", "snapshot"}},
      {"Faults",
       {"partition", "isolate", "cut", "net", "heal", "faults", "msgs", "deliver", "drop"}},
      {"Inspect", {"wait", "log", "logs", "timeline", "ui"}},
      {"Key/value store", {"put", "get", "append", "delete", "cas"}},
      {"Test and measure", {"check", "bench"}},
  };
  return groups;
}

void group_verbs(CLI::App& app) {
  for (const VerbGroup& g : verb_groups()) {
    for (const char* verb : g.verbs) {
      try {
        app.get_subcommand(verb)->group(g.group);
      } catch (const CLI::OptionNotFound&) {
        // a verb this build does not have
      }
    }
  }
  app.get_subcommand("log")->description(
      "The Raft log on disk: `log dump` its entries, `log diff` the nodes' logs compared");
  app.get_subcommand("logs")->description(
      "A node's own diagnostic lines (node.log), not the Raft log");
}

// git, etcdctl and kubectl take global flags before the verb: `raftlab --dir D status`. The
// leading --dir and --json are moved behind the verb's arguments, where every verb takes them.
std::vector<std::string> global_flags_last(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::vector<std::string> leading;
  size_t k = 1;
  while (k < args.size()) {
    if (args[k] == "--json" || args[k].rfind("--dir=", 0) == 0) {
      leading.push_back(args[k++]);
    } else if (args[k] == "--dir" && k + 1 < args.size()) {
      leading.push_back(args[k++]);
      leading.push_back(args[k++]);
    } else {
      break;
    }
  }
  if (leading.empty() || k == args.size()) return args;  // nothing moved, or no verb at all
  std::vector<std::string> out = {args[0]};
  out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(k), args.end());
  out.insert(out.end(), leading.begin(), leading.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("raftlab: a command-line lab for Raft clusters", "raftlab");
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);

  // Subcommands, one line each (see the comment at the top of this file), e.g.:
  // setup_up(app);
  raftlab::cmd::setup_log(app);
  raftlab::cmd::setup_node(app);  // internal: one node process
  raftlab::lab::setup_up(app);
  raftlab::lab::setup_down(app);
  raftlab::lab::setup_status(app);
  raftlab::lab::setup_process_commands(app);  // kill, start, restart, pause, resume
  raftlab::lab::setup_crash(app);             // crash --lose-unsynced [--tear]
  raftlab::lab::setup_fault_commands(app);    // partition, isolate, cut, net, heal, faults
  raftlab::lab::setup_hold_commands(app);     // net hold, net release, msgs, deliver, drop
  raftlab::lab::setup_wait(app);
  raftlab::lab::setup_logs(app);
  raftlab::lab::setup_admin_commands(app);
  raftlab::lab::setup_kv_commands(app);  // put, get, append, delete, cas
  raftlab::lab::setup_bench(app);
  raftlab::lab::setup_check(app);
  raftlab::lab::setup_timeline(app);
  raftlab::lab::setup_timer_commands(app);  // timers freeze|thaw, campaign
  raftlab::lab::setup_ui(app);

  group_verbs(app);
  app.footer(kFooter);

  std::vector<std::string> args = global_flags_last(argc, argv);
  std::vector<char*> arg_ptrs;
  for (std::string& a : args) arg_ptrs.push_back(a.data());
  try {
    app.parse(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a subcommand ran and failed with this code
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help or --version, on stdout
    // CLI11 checks for a missing subcommand before unexpected arguments; name those first.
    const std::vector<std::string> unexpected = app.remaining();
    if (!unexpected.empty()) {
      std::cerr << "raftlab: unknown command or flag: " << unexpected.front() << "\n\n";
    } else {
      std::cerr << "raftlab: " << e.what() << "\n\n";
    }
    std::cerr << app.help();
    return raftlab::lab::kExitUsage;
  }
  return 0;
}
