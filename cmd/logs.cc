// `raftlab logs SEL [--follow]`: the nodes' own log lines (n<ID>/node.log), prefixed with the
// node id when several nodes are chosen.

// g++ 12 false positive inside CLI11 (see main.cc).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <chrono>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "cmd/lab.h"
#include "cmd/lab_contract.h"

namespace raftlab::lab {
namespace {

constexpr uint32_t kFollowIntervalMs = 200;

struct LogsOptions {
  std::string dir;
  std::string selector;
  bool follow = false;
  size_t lines = 0;  // 0: all
};

struct Tail {
  std::ifstream in;
  std::string partial;  // a line not finished yet
};

void print_lines(const std::string& prefix, Tail& t, std::deque<std::string>* keep,
                 size_t keep_max) {
  std::string line;
  while (std::getline(t.in, line)) {
    if (t.in.eof()) {  // no newline yet: the node is still writing it
      t.partial += line;
      break;
    }
    line = t.partial + line;
    t.partial.clear();
    if (keep != nullptr) {
      keep->push_back(prefix + line);
      if (keep_max != 0 && keep->size() > keep_max) keep->pop_front();
    } else {
      std::cout << prefix << line << "\n";
    }
  }
  t.in.clear();
}

int run_logs(const LogsOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  const std::vector<NodeId> ids = resolve_selector(o.selector, dir, spec);
  std::map<uint64_t, Tail> tails;
  for (NodeId id : ids) {
    const std::string path = node_dir(dir, id) + "/" + std::string(kNodeLog);
    Tail& t = tails[id.get()];
    t.in.open(path);
    if (!t.in && !o.follow) std::cerr << "raftlab: no " << path << "\n";
  }
  auto prefix = [&](uint64_t id) {
    return ids.size() > 1 ? "n" + std::to_string(id) + "| " : std::string();
  };
  for (auto& [id, t] : tails) {
    std::deque<std::string> kept;
    print_lines(prefix(id), t, &kept, o.lines);
    for (const auto& l : kept) std::cout << l << "\n";
  }
  std::cout.flush();
  while (o.follow) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kFollowIntervalMs));
    for (auto& [id, t] : tails) {
      if (!t.in.is_open()) {
        t.in.open(node_dir(dir, NodeId(id)) + "/" + std::string(kNodeLog));
        if (!t.in) continue;
      }
      print_lines(prefix(id), t, nullptr, 0);
    }
    std::cout.flush();
  }
  return kExitOk;
}

}  // namespace

void setup_logs(CLI::App& app) {
  auto o = std::make_shared<LogsOptions>();
  CLI::App* cmd = app.add_subcommand("logs", "Print the nodes' own log lines (node.log)");
  add_dir_option(cmd, o->dir);
  cmd->add_option("SEL", o->selector, "Nodes: 2, 1,3, leader, followers, all, random")
      ->required()
      ->check(selector_validator());
  cmd->add_flag("-f,--follow", o->follow, "Keep printing new lines until interrupted");
  cmd->add_option("-n,--lines", o->lines, "Only the last N lines of each node (default all)");
  cmd->callback([o] { run_command([o] { return run_logs(*o); }); });
}

}  // namespace raftlab::lab
