// The raftlab binary: wires the subcommands together and maps errors to exit codes. No logic
// lives here. The exit code table (0 done, 1 violation, 2 usage, 3 timeout, 4 environment) is
// the contract in CLI.md; keep this file in step with it.
//
// Each subcommand lives in its own file cmd/<name>.cc with an options struct, a
// `setup_<name>(CLI::App&)` that adds the subcommand, its flags and their validation, and a
// `run_<name>(options)` that returns an exit code. The callback set by setup_<name> runs
// run_<name> and reports a non-zero exit code by throwing CLI::RuntimeError(code).
// g++ 12 at -O2 reports a false "potential null pointer dereference" inside std::string as
// inlined into CLI11 (a known GCC 12 false positive); silence it for these headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>
#pragma GCC diagnostic pop

#include "cmd/kv.h"
#include "cmd/lab.h"
#include "cmd/log_dump.h"
#include "cmd/node.h"

namespace {

constexpr const char* kVersion = "raftlab 0.1.0";
constexpr int kExitUsage = 2;  // CLI.md: unknown command or flag, bad value

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
  raftlab::lab::setup_fault_commands(app);    // partition, isolate, cut, net, heal, faults
  raftlab::lab::setup_wait(app);
  raftlab::lab::setup_logs(app);
  raftlab::lab::setup_admin_commands(app);
  raftlab::lab::setup_kv_commands(app);  // put, get, append, delete, cas
  raftlab::lab::setup_bench(app);
  raftlab::lab::setup_check(app);

  try {
    app.parse(argc, argv);
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
    return kExitUsage;
  }
  return 0;
}
