// Cost of `raftlab check --history`: load + check of generated histories (tests/check/gen.h:
// clients against a linearizable register store, random latencies so operations overlap, a
// few % info operations that took effect or not, a fresh process id after each info).
// Usage: raftlab_check_bench [--runs N] [CONFIG...]; CONFIG is one of the names below (all by
// default). Prints, per configuration, the median of N runs and the process's peak RSS so far
// (run one configuration alone for its own peak).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cmd/check/history.h"
#include "cmd/check/linearize.h"
#include "tests/check/gen.h"

namespace {

using raftlab::check::testing::GenOptions;

struct Config {
  const char* name;
  const char* what;
  size_t ops;
  size_t keys;
  size_t clients;
  double info;
  bool plant;         // plant one certainly stale read: the violation path, window included
  double put = 0.30;  // the mix: put, append, cas, the rest get
  double append = 0.20;
  double cas = 0.05;
};

constexpr Config kConfigs[] = {
    {"small", "10k ops, 20 keys, 8 clients (target < 40 ms)", 10000, 20, 8, 0.03, false},
    {"large", "100k ops, 50 keys, 16 clients (target < 350 ms)", 100000, 50, 16, 0.03, false},
    {"hot", "20k ops, 2 keys, 24 clients, 8% info (bounded: 1 GiB or unknown)", 20000, 2, 24, 0.08,
     false},
    {"small-bad", "10k ops, 20 keys, 8 clients, one stale read planted", 10000, 20, 8, 0.03, true},
    {"hot-bad", "20k ops, 2 keys, 24 clients, 8% info, one stale read planted", 20000, 2, 24, 0.08,
     true},
    {"appends", "20k ops, 1 key, 12 clients, 50% appends, 2% puts (long append chains)", 20000, 1,
     12, 0.05, false, 0.02, 0.50, 0.0},
};

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void run(const Config& c, int runs) {
  GenOptions g;
  g.seed = 42;
  g.ops = c.ops;
  g.keys = c.keys;
  g.clients = c.clients;
  g.info = c.info;
  g.put = c.put;
  g.append = c.append;
  g.cas = c.cas;
  auto ops = raftlab::check::testing::simulate(g);
  if (c.plant && !raftlab::check::testing::plant_stale_read(ops, 42)) {
    std::fprintf(stderr, "%s: no stale read to plant\n", c.name);
    return;
  }
  const std::string text = raftlab::check::testing::to_jsonl(ops);
  char path[] = "/tmp/raftlab_check_bench_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0 || write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    std::perror("temp file");
    std::exit(1);
  }
  close(fd);

  std::vector<double> total_ms;
  std::vector<double> load_ms;
  raftlab::check::CheckResult last;
  size_t processes = 0;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const raftlab::check::History h = raftlab::check::load_history(path);
    const auto t1 = std::chrono::steady_clock::now();
    last = raftlab::check::check(h);
    const auto t2 = std::chrono::steady_clock::now();
    load_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    total_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
    processes = h.processes;
  }
  unlink(path);
  std::sort(total_ms.begin(), total_ms.end());
  std::sort(load_ms.begin(), load_ms.end());
  uint64_t states = 0;
  size_t dropped = 0;
  for (const auto& k : last.keys) {
    states += k.states_explored;
    dropped += k.ops_dropped;
  }
  std::printf(
      "%-10s %s\n           %zu ops, %zu processes, %.1f MiB file: median %.1f ms (load %.1f ms), "
      "%s, %llu states, %zu dropped, checker peak %.1f MiB, process peak RSS %.1f MiB\n",
      c.name, c.what, ops.size(), processes, static_cast<double>(text.size()) / (1 << 20),
      total_ms[total_ms.size() / 2], load_ms[load_ms.size() / 2],
      raftlab::check::to_string(last.verdict), static_cast<unsigned long long>(states), dropped,
      static_cast<double>(last.memory_peak_bytes) / (1 << 20), peak_rss_mib());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      names.emplace_back(argv[i]);
    }
  }
  for (const Config& c : kConfigs) {
    if (names.empty() || std::find(names.begin(), names.end(), c.name) != names.end()) {
      run(c, runs);
    }
  }
  return 0;
}
