// The random-fault soak and the replay tests.
//
// The soak runs RAFTLAB_SEEDS seeds in total (default 6000), a third per cluster size
// (3, 5 and 7 nodes; 7 is split in two halves so ctest -j2 balances), each a fault phase of
// 2,000 ticks and then a liveness phase. RAFTLAB_SEED=S runs only seed S and prints its final
// state hash: that is the replay command every failure prints.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <string>

#include "tests/sim/soak.h"

namespace raftlab::sim {
namespace {

constexpr uint64_t kSoakSeedsDefault = 6000;
constexpr uint32_t kSoakFaultTicks = 2000;

struct SoakTotals {
  uint64_t seeds = 0;
  uint64_t ticks = 0;
  uint64_t messages = 0;
  uint64_t committed = 0;
  uint64_t sim_ms = 0;
  uint64_t crashes = 0;
  uint64_t leaders = 0;
  uint64_t snapshots_installed = 0;
  uint64_t entries_read_back = 0;
  uint64_t reads_served = 0;
  uint64_t transfers = 0;
  uint64_t config_changes = 0;
};

// Runs seeds [first, last) of the given size; stops at the first violation.
void soak(const std::string& name, int nodes, uint64_t first, uint64_t last) {
  if (const std::optional<uint64_t> seed = env_seed()) {
    first = *seed;
    last = *seed + 1;
  }
  const auto start = std::chrono::steady_clock::now();
  SoakTotals totals;
  for (uint64_t seed = first; seed < last; ++seed) {
    SoakOptions o;
    o.nodes_count = nodes;
    o.seed = seed;
    o.fault_ticks = kSoakFaultTicks;
    o.test_name = name;
    // Most seeds run the mixed nemesis; some the focused schedules of the mutation tests.
    switch (seed % 10) {
      case 0:
        o.profile = Profile::kFigure8;
        break;
      case 1:
        o.profile = Profile::kSlowDisk;
        break;
      case 2:
        o.profile = Profile::kChurn;
        break;
      case 3:
        o.profile = Profile::kMembership;
        break;
      case 4:
        o.profile = Profile::kReads;
        break;
      default:
        o.profile = Profile::kMixed;
        break;
    }
    const SoakResult r = run_soak(o);
    if (!r.ok) FAIL(r.report);
    ++totals.seeds;
    totals.ticks += r.stats.ticks;
    totals.messages += r.stats.messages_sent;
    totals.committed += r.committed_count;
    totals.sim_ms += r.sim_ms;
    totals.crashes += r.stats.crashes;
    totals.leaders += r.stats.leaders_elected;
    totals.snapshots_installed += r.stats.snapshots_installed;
    totals.entries_read_back += r.stats.entries_read_back;
    totals.reads_served += r.stats.reads_served;
    totals.transfers += r.stats.transfers_accepted;
    totals.config_changes += r.stats.config_changes_accepted;
    if (last - first == 1) {
      std::printf("seed %llu: final state hash %016llx\n", static_cast<unsigned long long>(seed),
                  static_cast<unsigned long long>(r.hash));
      std::printf("  messages by type:");
      for (size_t t = 1; t < r.stats.sent_by_type.size(); ++t) {
        std::printf(" %s=%llu", to_string(static_cast<MessageType>(t)),
                    static_cast<unsigned long long>(r.stats.sent_by_type[t]));
      }
      std::printf("\n");
    }
  }
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "%s: %llu seeds, %llu node ticks, %llu messages, %llu committed entries, %llu leaders, "
      "%llu crashes, %llu snapshot installs, %llu entries read back from disk, %llu reads "
      "served, %llu transfers, %llu "
      "membership changes, %.1f s simulated, %.1f s elapsed, 0 violations\n",
      name.c_str(), static_cast<unsigned long long>(totals.seeds),
      static_cast<unsigned long long>(totals.ticks),
      static_cast<unsigned long long>(totals.messages),
      static_cast<unsigned long long>(totals.committed),
      static_cast<unsigned long long>(totals.leaders),
      static_cast<unsigned long long>(totals.crashes),
      static_cast<unsigned long long>(totals.snapshots_installed),
      static_cast<unsigned long long>(totals.entries_read_back),
      static_cast<unsigned long long>(totals.reads_served),
      static_cast<unsigned long long>(totals.transfers),
      static_cast<unsigned long long>(totals.config_changes),
      static_cast<double>(totals.sim_ms) / 1000, elapsed_s);
  std::fflush(stdout);
}

uint64_t seeds_per_size() { return env_u64("RAFTLAB_SEEDS", kSoakSeedsDefault) / 3; }

}  // namespace

// Seeds are numbered per size from 1, so "RAFTLAB_SEED=S ... \"soak N nodes\"" names a run.
TEST_CASE("soak 3 nodes", "[soak]") { soak("soak 3 nodes", 3, 1, 1 + seeds_per_size()); }

TEST_CASE("soak 5 nodes", "[soak]") { soak("soak 5 nodes", 5, 1, 1 + seeds_per_size()); }

TEST_CASE("soak 7 nodes (a)", "[soak]") {
  soak("soak 7 nodes (a)", 7, 1, 1 + seeds_per_size() / 2);
}

TEST_CASE("soak 7 nodes (b)", "[soak]") {
  soak("soak 7 nodes (b)", 7, 1 + seeds_per_size() / 2, 1 + seeds_per_size());
}

TEST_CASE("replay: a seed gives the same final state twice", "[replay]") {
  const uint64_t seed = env_seed().value_or(42);
  SoakOptions o;
  o.nodes_count = 5;
  o.seed = seed;
  o.test_name = "replay: a seed gives the same final state twice";
  const SoakResult a = run_soak(o);
  const SoakResult b = run_soak(o);
  if (!a.ok) FAIL(a.report);
  std::printf("replay seed %llu: final state hash %016llx\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(a.hash));
  REQUIRE(a.hash == b.hash);
  REQUIRE(a.stats.messages_sent == b.stats.messages_sent);
  REQUIRE(a.stats.events == b.stats.events);
  o.seed = seed + 1;
  const SoakResult c = run_soak(o);
  REQUIRE(c.hash != a.hash);
}

}  // namespace raftlab::sim
