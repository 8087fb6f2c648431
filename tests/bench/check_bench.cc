// Cost of `raftlab check --history`: load + check of generated histories (tests/check/gen.h:
// clients against a linearizable register store, random latencies so operations overlap, a
// few % info operations that took effect or not, a fresh process id after each info).
// Usage: raftlab_check_bench [--runs N] [CONFIG...]; CONFIG is one of the names below (all by
// default). Prints, per configuration, the median of N runs and the process's peak RSS so far
// (run one configuration alone for its own peak).
//   raftlab_check_bench --seeds N [--dump FILE] CONFIG...: one run of each of N seeds instead,
//   printing the slowest seed (and writing its history to FILE): a search for hard histories.
//   raftlab_check_bench --file PATH...: load + check of recorded histories (median of --runs).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cmd/checker/history.h"
#include "cmd/checker/linearize.h"
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
    // Issue 17's shapes: one key of a real run (300 ops, 16 processes, no info), and small
    // fuzzed histories where everything overlaps.
    {"key300", "300 ops, 1 key, 16 clients, no info (one key of a real run)", 300, 1, 16, 0.0,
     false},
    {"fuzz48", "48 ops, 1 key, 16 clients, 10% info", 48, 1, 16, 0.10, false},
};

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/raftlab_check_bench_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0 || write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    std::perror("temp file");
    std::exit(1);
  }
  close(fd);
  return path;
}

GenOptions gen_options(const Config& c, uint64_t seed) {
  GenOptions g;
  g.seed = seed;
  g.ops = c.ops;
  g.keys = c.keys;
  g.clients = c.clients;
  g.info = c.info;
  g.put = c.put;
  g.append = c.append;
  g.cas = c.cas;
  return g;
}

// One run of each seed 1..seeds; prints the slowest and writes its history to `dump`.
void search_seeds(const Config& c, uint64_t seeds, const std::string& dump) {
  double worst_ms = -1;
  uint64_t worst_seed = 0;
  std::string worst_text;
  raftlab::check::CheckResult worst;
  std::vector<double> all_ms;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    const std::string text =
        raftlab::check::testing::to_jsonl(raftlab::check::testing::simulate(gen_options(c, seed)));
    const auto t0 = std::chrono::steady_clock::now();
    const raftlab::check::History h = raftlab::check::parse_history(text);
    raftlab::check::CheckResult r = raftlab::check::check(h);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    all_ms.push_back(ms);
    if (ms > worst_ms) {
      worst_ms = ms;
      worst_seed = seed;
      worst_text = text;
      worst = std::move(r);
    }
  }
  std::sort(all_ms.begin(), all_ms.end());
  uint64_t states = 0;
  for (const auto& k : worst.keys) states += k.states_explored;
  std::printf(
      "%-10s %s\n           %llu seeds: median %.2f ms, slowest seed %llu: %.1f ms, %s, "
      "%llu states\n",
      c.name, c.what, static_cast<unsigned long long>(seeds), all_ms[all_ms.size() / 2],
      static_cast<unsigned long long>(worst_seed), worst_ms,
      raftlab::check::to_string(worst.verdict), static_cast<unsigned long long>(states));
  if (!dump.empty()) {
    std::FILE* f = std::fopen(dump.c_str(), "wb");
    if (f != nullptr) {
      std::fwrite(worst_text.data(), 1, worst_text.size(), f);
      std::fclose(f);
    }
  }
  std::fflush(stdout);
}

// Load + check of a recorded history, median of `runs`.
void run_file(const std::string& path, int runs) {
  std::vector<double> total_ms;
  raftlab::check::CheckResult last;
  size_t ops = 0;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const raftlab::check::History h = raftlab::check::load_history(path);
    last = raftlab::check::check(h);
    total_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    ops = h.ops.size();
  }
  std::sort(total_ms.begin(), total_ms.end());
  uint64_t states = 0;
  size_t unknown = 0;
  for (const auto& k : last.keys) {
    states += k.states_explored;
    unknown += k.verdict == raftlab::check::Verdict::kUnknown;
  }
  std::printf(
      "%s\n           %zu ops, %zu keys: median %.1f ms (of %d), %s, %zu keys unknown, "
      "%llu states, checker peak %.1f MiB\n",
      path.c_str(), ops, last.keys.size(), total_ms[total_ms.size() / 2], runs,
      raftlab::check::to_string(last.verdict), unknown, static_cast<unsigned long long>(states),
      static_cast<double>(last.memory_peak_bytes) / (1 << 20));
  std::fflush(stdout);
}

void run(const Config& c, int runs) {
  GenOptions g = gen_options(c, 42);
  auto ops = raftlab::check::testing::simulate(g);
  if (c.plant && !raftlab::check::testing::plant_stale_read(ops, 42)) {
    std::fprintf(stderr, "%s: no stale read to plant\n", c.name);
    return;
  }
  const std::string text = raftlab::check::testing::to_jsonl(ops);
  const std::string path = write_temp(text);

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
  unlink(path.c_str());
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
  uint64_t seeds = 0;
  std::string dump;
  bool files = false;
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
      seeds = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--dump") == 0 && i + 1 < argc) {
      dump = argv[++i];
    } else if (std::strcmp(argv[i], "--file") == 0) {
      files = true;
    } else {
      names.emplace_back(argv[i]);
    }
  }
  if (files) {
    for (const std::string& path : names) run_file(path, runs);
    return 0;
  }
  for (const Config& c : kConfigs) {
    if (names.empty() || std::find(names.begin(), names.end(), c.name) != names.end()) {
      if (seeds > 0) {
        search_seeds(c, seeds, dump);
      } else {
        run(c, runs);
      }
    }
  }
  return 0;
}
