// `raftlab logs SEL [--follow]`: the nodes' own log lines (n<ID>/node.log), prefixed with the
// node id when several nodes are chosen. A node stamps each line with CLOCK_MONOTONIC seconds
// ("[8312.456123] node 2: ..."), one clock for every process on the machine and the clock of
// events.jsonl and histories, so the lines of several nodes are printed merged in time order
// (a line without a stamp stays behind the stamped line before it).

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "cmd/cluster/contract.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/command.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/process.h"
#include "cmd/lab/selectors.h"
#include "cmd/verbs.h"

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

// The CLOCK_MONOTONIC stamp of a node.log line, in microseconds; nullopt when it has none.
std::optional<uint64_t> line_stamp_us(const std::string& line) {
  if (line.size() < 4 || line[0] != '[') return std::nullopt;
  uint64_t s = 0;
  uint64_t us = 0;
  int digits = 0;
  size_t k = 1;
  for (; k < line.size() && std::isdigit(static_cast<unsigned char>(line[k])); ++k) {
    s = s * 10 + static_cast<uint64_t>(line[k] - '0');
  }
  if (k == 1 || k >= line.size() || line[k] != '.') return std::nullopt;
  for (++k; k < line.size() && std::isdigit(static_cast<unsigned char>(line[k])); ++k, ++digits) {
    if (digits < 6) us = us * 10 + static_cast<uint64_t>(line[k] - '0');
  }
  if (k >= line.size() || line[k] != ']') return std::nullopt;
  for (; digits < 6; ++digits) us *= 10;
  return s * 1'000'000 + us;
}

// Every node's lines merged by their stamps (stable: a node's own order is kept), the last
// `lines_max` of them (0: all).
void print_merged(std::map<uint64_t, Tail>& tails,
                  const std::function<std::string(uint64_t)>& prefix, size_t lines_max) {
  struct Line {
    uint64_t stamp_us;
    uint64_t node;
    size_t seq;
    std::string text;
  };
  std::vector<Line> all;
  for (auto& [id, t] : tails) {
    std::deque<std::string> kept;
    print_lines("", t, &kept, 0);
    uint64_t stamp = 0;
    for (std::string& l : kept) {
      if (const auto s = line_stamp_us(l)) stamp = *s;
      all.push_back(Line{stamp, id, all.size(), prefix(id) + std::move(l)});
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Line& a, const Line& b) {
    return a.stamp_us != b.stamp_us ? a.stamp_us < b.stamp_us : a.seq < b.seq;
  });
  const size_t from = lines_max != 0 && all.size() > lines_max ? all.size() - lines_max : 0;
  for (size_t k = from; k < all.size(); ++k) std::cout << all[k].text << "\n";
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
  print_merged(tails, prefix, o.lines);
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
  CLI::App* cmd = add_verb(
      app, "logs", "Print the nodes' own log lines (node.log), merged in time order on one clock",
      o->dir);
  cmd->add_option("SEL", o->selector, "Nodes: 2, 1,3, leader, followers, all, random")
      ->required()
      ->check(selector_validator());
  cmd->add_flag("-f,--follow", o->follow, "Keep printing new lines until interrupted");
  cmd->add_option("-n,--lines", o->lines,
                  "Only the last N lines (of all chosen nodes, merged; default all)");
  run_on_parse(cmd, [o] { return run_logs(*o); });
}

}  // namespace raftlab::lab
