// raftlab_sim_bench: how fast the simulator runs on one core. Each run is a 5-node cluster
// with a steady stream of proposals for 100k ticks (1,000 s simulated), checkers on.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/sim/sim.h"

namespace raftlab::sim {
namespace {

constexpr uint64_t kTickMs = 10;

struct BenchRun {
  double elapsed_s = 0;
  uint64_t ticks = 0;
  uint64_t node_ticks = 0;
  uint64_t messages = 0;
  uint64_t committed = 0;
};

BenchRun bench_once(uint64_t seed, uint64_t ticks) {
  SimConfig sc;
  sc.nodes_count = 5;
  sc.seed = seed;
  sc.core.heartbeat_ticks = 2;
  sc.core.election_ticks_min = 10;
  sc.core.election_ticks_max = 20;
  sc.replay_test_name = "(raftlab_sim_bench)";
  Cluster c(sc);
  const auto start = std::chrono::steady_clock::now();
  uint64_t counter = 0;
  // One proposal of two commands every tick, to whoever leads.
  for (uint64_t t = 0; t < ticks && c.ok(); ++t) {
    c.run_for(kTickMs);
    const int leader = c.single_leader();
    if (leader != -1) {
      std::string a = "b";
      a += std::to_string(counter++);
      std::string b = "b";
      b += std::to_string(counter++);
      c.propose(Cluster::node_id(leader), {a, b});
    }
  }
  BenchRun r;
  r.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!c.ok()) std::printf("%s\n", c.report().c_str());
  r.ticks = ticks;
  r.node_ticks = c.stats().ticks;
  r.messages = c.stats().messages_sent;
  r.committed = c.committed().size();
  return r;
}

}  // namespace
}  // namespace raftlab::sim

int main(int argc, char** argv) {
  uint64_t ticks = 100'000;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--ticks") == 0 && i + 1 < argc) {
      ticks = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--ticks N] [--runs N]\n", argv[0]);
      return 2;
    }
  }
  std::vector<double> ticks_per_s;
  std::vector<double> messages_per_s;
  for (int run = 0; run < runs; ++run) {
    const raftlab::sim::BenchRun r =
        raftlab::sim::bench_once(static_cast<uint64_t>(run) + 1, ticks);
    ticks_per_s.push_back(static_cast<double>(r.ticks) / r.elapsed_s);
    messages_per_s.push_back(static_cast<double>(r.messages) / r.elapsed_s);
    std::printf(
        "run %d: %llu ticks (%llu node ticks), %llu messages, %llu committed in %.2f s: "
        "%.0f ticks/s, %.0f messages/s\n",
        run + 1, static_cast<unsigned long long>(r.ticks),
        static_cast<unsigned long long>(r.node_ticks), static_cast<unsigned long long>(r.messages),
        static_cast<unsigned long long>(r.committed), r.elapsed_s, ticks_per_s.back(),
        messages_per_s.back());
  }
  if (runs <= 0) return 0;
  std::sort(ticks_per_s.begin(), ticks_per_s.end());
  std::sort(messages_per_s.begin(), messages_per_s.end());
  std::printf("median: %.0f ticks/s, %.0f messages/s (5 nodes, 10 ms ticks, one core)\n",
              ticks_per_s[ticks_per_s.size() / 2], messages_per_s[messages_per_s.size() / 2]);
  return 0;
}
