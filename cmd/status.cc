// `raftlab status`: one row per node (process state, role, term, leader, indexes, faults);
// `--watch` redraws it every 500 ms, and at once when a node's role, term, leader or process
// changes (polled every 50 ms), with the time of the frame and a '*' on what changed. Both
// name the cluster's trace level (docs/trace.md).
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "cmd/cluster/clock.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/command.h"
#include "cmd/lab/output.h"
#include "cmd/lab/process.h"
#include "cmd/verbs.h"

namespace raftlab::lab {
namespace {

constexpr uint32_t kWatchIntervalMs = 500;      // a frame at least this often
constexpr uint32_t kWatchPollMs = 50;           // nodes asked this often; a change draws at once
constexpr uint32_t kWatchAdminTimeoutMs = 200;  // per node per poll

struct StatusOptions {
  std::string dir;
  bool json = false;
  bool watch = false;
  uint64_t watch_count = 0;  // hidden, for tests: stop after this many redraws (0: never)
};

// What makes a frame worth drawing at once: a process, role, term or leader that changed.
std::string pulse(const std::vector<NodeView>& views) {
  std::string out;
  for (const NodeView& v : views) {
    out += std::to_string(v.id.get()) + ":" + to_string(v.process) + "/" + v.role + "/" +
           std::to_string(v.term) + "/" + std::to_string(v.leader) + ";";
  }
  return out;
}

// One frame: the time on the monotonic clock of node.log and events.jsonl, and a '*' after
// every value that changed since the last frame.
void draw_frame(const ClusterSpec& spec, const std::vector<NodeView>& views,
                std::vector<std::vector<std::string>>& last, uint64_t frame, bool tty) {
  std::vector<std::vector<std::string>> rows = status_rows(spec, views);
  const std::vector<std::vector<std::string>> plain = rows;
  for (size_t r = 1; r < rows.size() && r < last.size(); ++r) {
    for (size_t c = 1; c < rows[r].size() && c < last[r].size(); ++c) {
      if (rows[r][c] != last[r][c]) rows[r][c] += "*";
    }
  }
  last = plain;
  const uint64_t ns = monotonic_ns();
  if (tty) std::cout << "\033[H\033[2J";
  std::printf("cluster %s  trace %s  [%llu.%03llu]  frame %llu  (* changed since the last frame)\n",
              spec.cluster_id.c_str(), to_string(spec.trace),
              static_cast<unsigned long long>(ns / 1'000'000'000),
              static_cast<unsigned long long>(ns % 1'000'000'000 / 1'000'000),
              static_cast<unsigned long long>(frame));
  std::fflush(stdout);
  print_table(rows);
  if (!tty) std::cout << "\n";
  std::cout.flush();
}

int run_status(const StatusOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  if (!o.watch) {
    const ClusterSpec spec = load_cluster(dir);
    const std::vector<NodeView> views = collect_views(dir, spec, true);
    if (o.json) {
      nlohmann::json doc = status_json(spec, views);
      doc["trace"] = to_string(spec.trace);
      print_json(doc);
    } else {
      print_status(spec, views, false);
      std::cout << "trace " << to_string(spec.trace)
                << " (n<ID>/trace.jsonl; `up --trace` sets it)\n";
      std::cout << "protocol " << protocol_text(spec.protocol)
                << " (`up --no-prevote --no-check-quorum --no-fast-backup --max-inflight N "
                   "--max-batch N` set it)\n";
    }
    return kExitOk;
  }
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  std::vector<std::vector<std::string>> last;
  std::string last_pulse;
  auto last_draw = std::chrono::steady_clock::now();
  for (uint64_t frame = 0; o.watch_count == 0 || frame < o.watch_count;) {
    const ClusterSpec spec = load_cluster(dir);  // fault rules change under us
    const auto views = collect_views(dir, spec, true, kWatchAdminTimeoutMs);
    const std::string now_pulse = pulse(views);
    const auto now = std::chrono::steady_clock::now();
    // An election between two frames is never missed: a change of role or term draws at once.
    if (frame == 0 || now_pulse != last_pulse ||
        now - last_draw >= std::chrono::milliseconds(kWatchIntervalMs)) {
      draw_frame(spec, views, last, ++frame, tty);
      last_pulse = now_pulse;
      last_draw = now;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kWatchPollMs));
  }
  return kExitOk;
}

}  // namespace

void setup_status(CLI::App& app) {
  auto o = std::make_shared<StatusOptions>();
  CLI::App* cmd = add_verb(app, "status", "One row per node: process, role, term, indexes", o->dir);
  CLI::Option* json = add_json_flag(cmd, o->json);
  cmd->add_flag("--watch", o->watch,
                "Redraw until interrupted: every 500 ms, and at once on a change of role, term or "
                "leader; '*' marks what changed")
      ->excludes(json);
  cmd->add_option("--watch-count", o->watch_count)->group("");  // hidden, for tests
  run_on_parse(cmd, [o] { return run_status(*o); });
}

}  // namespace raftlab::lab
