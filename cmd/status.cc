// `raftlab status`: one row per node (process state, role, term, leader, indexes, faults);
// `--watch` redraws it every 500 ms.
#include <unistd.h>

// g++ 12 false positive inside CLI11 (see main.cc).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "cmd/lab.h"

namespace raftlab::lab {
namespace {

constexpr uint32_t kWatchIntervalMs = 500;

struct StatusOptions {
  std::string dir;
  bool json = false;
  bool watch = false;
  uint64_t watch_count = 0;  // hidden, for tests: stop after this many redraws (0: never)
};

int run_status(const StatusOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  if (!o.watch) {
    const ClusterSpec spec = load_cluster(dir);
    print_status(spec, collect_views(dir, spec, true), o.json);
    return kExitOk;
  }
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  for (uint64_t k = 0; o.watch_count == 0 || k < o.watch_count; ++k) {
    if (k > 0) std::this_thread::sleep_for(std::chrono::milliseconds(kWatchIntervalMs));
    const ClusterSpec spec = load_cluster(dir);  // fault rules change under us
    const auto views = collect_views(dir, spec, true);
    if (tty) std::cout << "\033[H\033[2J";
    print_status(spec, views, false);
    if (!tty) std::cout << "\n";
    std::cout.flush();
  }
  return kExitOk;
}

}  // namespace

void setup_status(CLI::App& app) {
  auto o = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand("status", "One row per node: process, role, term, indexes");
  add_dir_option(cmd, o->dir);
  CLI::Option* json = cmd->add_flag("--json", o->json, "Print one JSON document");
  cmd->add_flag("--watch", o->watch, "Redraw every 500 ms until interrupted")->excludes(json);
  cmd->add_option("--watch-count", o->watch_count)->group("");  // hidden, for tests
  cmd->callback([o] { run_command([o] { return run_status(*o); }); });
}

}  // namespace raftlab::lab
