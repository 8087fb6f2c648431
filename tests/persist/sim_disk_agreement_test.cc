// The simulator's disk model (tests/sim/sim_disk.h) and the real WAL agree: the same seeded
// sequence of writes (truncating ones too), syncs and crashes goes to both, and after every
// crash the WAL must hold exactly the model's durable state plus a prefix of the writes the
// model lost (record by record: a crash may keep some unsynced bytes). When the crash keeps
// no unsynced byte, the two agree exactly.
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>

#include "node/prng.h"
#include "persist/wal.h"
#include "tests/persist/test_util.h"
#include "tests/sim/sim_disk.h"

using namespace raftlab;
using namespace raftlab::persist;

namespace {

struct DiskState {
  HardState hard_state;
  std::vector<Entry> entries;
  friend bool operator==(const DiskState&, const DiskState&) = default;
};

std::map<std::string, uint64_t> file_sizes(const std::string& dir) {
  std::map<std::string, uint64_t> sizes;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    sizes[e.path().filename().string()] = e.file_size();
  }
  return sizes;
}

// Drops a random suffix of the bytes written since the last sync, across files in order.
uint64_t lose_unsynced_bytes(const std::string& dir, const std::map<std::string, uint64_t>& synced,
                             Prng& prng, bool keep_none) {
  struct Span {
    std::string path;
    uint64_t from, to;
  };
  std::vector<Span> spans;  // open-N names sort in segment order
  for (const auto& [name, size] : file_sizes(dir)) {
    const auto it = synced.find(name);
    const uint64_t from = it == synced.end() ? 0 : it->second;
    if (size > from) spans.push_back({dir + "/" + name, from, size});
  }
  uint64_t unsynced = 0;
  for (const Span& s : spans) unsynced += s.to - s.from;
  uint64_t keep = keep_none ? 0 : prng.uniform(0, unsynced + 1);
  for (const Span& s : spans) {
    const uint64_t kept = std::min(keep, s.to - s.from);
    keep -= kept;
    if (s.from + kept == 0) {
      std::filesystem::remove(s.path);
    } else {
      std::filesystem::resize_file(s.path, s.from + kept);
    }
  }
  return unsynced;
}

}  // namespace

TEST_CASE("the simulator's disk model and the real WAL agree on what survives", "[agreement]") {
  const uint64_t seeds = 20;
  uint64_t crashes = 0;
  uint64_t exact = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    INFO("seed " << seed);
    test::TempDir tmp;
    const std::string dir = tmp.sub("wal");
    WalOptions options;
    options.segment_bytes_max = seed % 2 == 0 ? 4096 : 1 << 20;
    Prng prng(seed);
    sim::SimDisk model;
    Recovered r;
    auto wal = Wal::open(dir, options, std::nullopt, &r);
    wal->sync();
    std::map<std::string, uint64_t> synced = file_sizes(dir);
    uint64_t last = 0;
    uint64_t term = 1;
    for (int step = 0; step < 400; ++step) {
      const uint64_t action = prng.uniform(0, 100);
      if (action < 70) {  // a Ready's writes
        std::optional<HardState> hs;
        std::vector<Entry> entries;
        if (prng.uniform(0, 2) == 0) {
          hs = HardState{Term(term), NodeId(prng.uniform(0, 4)), Index(last / 2)};
        }
        if (prng.uniform(0, 4) != 0) {
          uint64_t first = last + 1;
          if (prng.uniform(0, 5) == 0 && last > 0) {  // a new leader overwrites a suffix
            first = prng.uniform(last > 5 ? last - 5 : 1, last + 1);
            ++term;
          }
          const uint64_t count = prng.uniform(1, 6);
          for (uint64_t i = first; i < first + count; ++i) {
            entries.push_back(
                test::make_entry(i, term, std::string(prng.uniform(0, 300), 'a' + i % 26)));
          }
          last = first + count - 1;
        }
        if (!hs && entries.empty()) continue;
        wal->write(hs, entries);
        model.write(hs, entries);
      } else if (action < 90) {
        wal->sync();
        model.begin_sync();
        REQUIRE(!model.complete_sync());
        synced = file_sizes(dir);
      } else {  // crash
        ++crashes;
        // Unsynced bytes reach the kernel when a segment rolls, when the write buffer fills, and
        // (here) when a sync begins but never completes.
        if (prng.uniform(0, 2) == 0) {
          SyncJob never_run = wal->begin_sync();
        }
        wal.reset();
        const bool keep_none = prng.uniform(0, 4) == 0;
        lose_unsynced_bytes(dir, synced, prng, keep_none);
        // The model's durable state, then each unsynced record in turn.
        std::vector<DiskState> candidates;
        DiskState s{model.hard_state(), model.entries()};
        candidates.push_back(s);
        for (const sim::SimDisk::Write& w : model.pending()) {
          for (const Entry& e : w.entries) {
            REQUIRE(!sim::SimDisk::apply(s.hard_state, s.entries, std::nullopt, {e}));
            candidates.push_back(s);
          }
          if (w.hard_state) {
            s.hard_state = *w.hard_state;
            candidates.push_back(s);
          }
        }
        model.crash();
        wal = Wal::open(dir, options, std::nullopt, &r);
        const DiskState got{r.hard_state, r.entries};
        if (keep_none) {
          CHECK(got == candidates.front());  // nothing unsynced survived: exact agreement
          ++exact;
        } else {
          CHECK(std::find(candidates.begin(), candidates.end(), got) != candidates.end());
        }
        // Continue from what the WAL kept: the model adopts it as durable.
        model = sim::SimDisk();
        model.write(got.hard_state, got.entries);
        model.begin_sync();
        REQUIRE(!model.complete_sync());
        last = got.entries.empty() ? 0 : got.entries.back().index.get();
        wal->sync();
        synced = file_sizes(dir);
      }
    }
    wal->sync();
    wal.reset();
    model.begin_sync();
    REQUIRE(!model.complete_sync());
    Wal::open(dir, options, std::nullopt, &r);
    CHECK(DiskState{r.hard_state, r.entries} == DiskState{model.hard_state(), model.entries()});
  }
  CHECK(crashes > 50);
  CHECK(exact > 10);
}
