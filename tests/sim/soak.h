// Random-fault runs on the simulator: a fault phase driven by a seeded nemesis, then a liveness
// phase on a healed cluster. Shared by the soak tests, the mutation tests and the demo tools.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "node/config.h"
#include "tests/sim/sim.h"

namespace raftlab::sim {

/// The flavour of the fault schedule.
enum class Profile : uint8_t {
  kMixed,     // every fault kind, random config knobs
  kFigure8,   // MIT Figure 8: propose, then crash the leader soon after; one entry per message
  kSlowDisk,  // slow syncs and frequent crashes: writes in flight are often lost
  kChurn,     // partitions and leader changes without crashes
  // Issue #3's focused schedules (the mixed one covers them too, less densely):
  kMembership,  // rapid add/remove of servers with partitions and leader crashes
  kReads,       // reads at old and new leaders and followers while leaders are isolated
};

const char* to_string(Profile profile);

struct SoakOptions {
  int nodes_count = 5;    // voters at the start
  int spares_count = -1;  // nodes outside the first configuration; -1: chosen by the seed
  uint64_t seed = 1;
  uint32_t fault_ticks = 2000;  // length of the fault phase, in ticks of 10 ms
  Profile profile = Profile::kMixed;
  UnsafeSwitches unsafe;
  std::string test_name;  // for the replay command
  bool liveness = true;   // run the liveness phase after the faults
  bool check_persist_before_send = true;
};

struct SoakResult {
  bool ok = true;
  std::string checker;  // the checker that found a violation, if any
  std::string report;   // what broke, seed, replay command
  uint64_t hash = 0;    // final state hash
  Stats stats;
  uint64_t committed_count = 0;
  uint64_t reads_served = 0;
  uint64_t sim_ms = 0;
};

SoakResult run_soak(const SoakOptions& options);

/// Heals every fault, restarts crashed nodes and requires, within a bounded simulated time,
/// one leader and a fresh command applied on every node. Records a "liveness" violation if not.
void run_liveness(Cluster& cluster, const std::string& command_prefix);

/// RAFTLAB_SEED, if set: run exactly that seed.
std::optional<uint64_t> env_seed();
/// An unsigned environment variable, or `fallback`.
uint64_t env_u64(const char* name, uint64_t fallback);

}  // namespace raftlab::sim
