// Helper process for the persist tests.
//   raftlab_wal_crash_child crash DIR SEED   appends and syncs forever in the node data
//       directory DIR, writing "I\n" on stdout after each sync that made entries up to I
//       durable; the crash test kills it with SIGKILL at random moments.
//   raftlab_wal_crash_child write DIR COUNT  writes COUNT entries and a hard state, syncs, exits
//       (the log dump scenarios read the result).
// Entry contents are a function of the index (expected_data), so the parent can check them.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "node/prng.h"
#include "persist/snapshot.h"
#include "tests/persist/crash_data.h"

using namespace raftlab;
using namespace raftlab::persist;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: raftlab_wal_crash_child crash|write DIR SEED|COUNT\n";
    return 2;
  }
  const std::string mode = argv[1];
  const std::string dir = argv[2];
  const uint64_t n = std::strtoull(argv[3], nullptr, 10);
  WalOptions options;
  options.segment_bytes_max = 16 * 1024;  // small, so kills land in segment rolls and renames
  try {
    NodeStorage s = open_node_storage(dir, options);
    uint64_t last = s.recovered.entries.empty() ? 0 : s.recovered.entries.back().index.get();
    if (mode == "write") {
      for (uint64_t i = last + 1; i <= last + n; ++i) {
        s.wal->append({test::expected_entry(i)});
      }
      s.wal->append_hard_state(HardState{Term(1), NodeId(1), Index(last + n)});
      s.wal->sync();
      return 0;
    }
    Prng prng(n);
    constexpr uint64_t kBatchesMax = 1'000'000;  // the parent kills us long before
    for (uint64_t b = 0; b < kBatchesMax; ++b) {
      const uint64_t count = prng.uniform(1, 20);
      std::vector<Entry> batch;
      for (uint64_t k = 0; k < count; ++k) batch.push_back(test::expected_entry(last + 1 + k));
      s.wal->write(HardState{Term(1), NodeId(1), Index(last)}, batch);
      last += count;
      s.wal->sync();
      const std::string line = std::to_string(last) + "\n";
      if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "raftlab_wal_crash_child: " << e.what() << "\n";
    return 4;
  }
  return 0;
}
