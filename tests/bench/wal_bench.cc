// WAL benchmark, fsync on, in a directory given on the command line (default: a temporary
// directory under /tmp). Five runs each, every run and the median printed:
//   (a) one 256-byte entry per sync: syncs/s (compare with fio --fdatasync=1 on the same disk)
//   (b) 64 entries of 256 bytes per sync: entries/s (target >= 500,000)
//   (c) recovery of a 1 GiB log: seconds (target < 2 s; the log is in the page cache)
// Usage: raftlab_wal_bench [DIR] [--recovery-mib N]
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "persist/crc32c.h"
#include "persist/wal.h"

using namespace raftlab;
using namespace raftlab::persist;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kRuns = 5;
constexpr size_t kEntryBytes = 256;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<Entry> batch(uint64_t first, size_t count) {
  std::vector<Entry> v(count);
  for (size_t k = 0; k < count; ++k) {
    v[k].index = Index(first + k);
    v[k].term = Term(1);
    v[k].data = std::string(kEntryBytes, static_cast<char>('a' + k % 26));
  }
  return v;
}

// Appends `syncs` batches of `per_sync` entries, one sync each; returns the elapsed seconds.
double run_appends(const std::string& dir, uint64_t syncs, size_t per_sync) {
  std::filesystem::remove_all(dir);
  Recovered r;
  auto wal = Wal::open(dir, {}, std::nullopt, &r);
  std::vector<std::vector<Entry>> batches;
  for (uint64_t s = 0; s < syncs; ++s) batches.push_back(batch(1 + s * per_sync, per_sync));
  const auto start = Clock::now();
  for (const auto& b : batches) {
    wal->append(b);
    wal->sync();
  }
  return seconds_since(start);
}

void report(const char* what, const std::vector<double>& runs, const char* unit) {
  std::printf("%s:", what);
  for (const double r : runs) std::printf(" %.0f", r);
  std::printf("  median %.0f %s\n", median(runs), unit);
}

}  // namespace

int main(int argc, char** argv) {
  std::string base;
  uint64_t recovery_mib = 1024;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--recovery-mib" && i + 1 < argc) {
      recovery_mib = std::strtoull(argv[++i], nullptr, 10);
    } else {
      base = a;
    }
  }
  bool remove_base = false;
  if (base.empty()) {
    char tmpl[] = "/tmp/raftlab-wal-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return 4;
    base = tmpl;
    remove_base = true;
  }
  const std::string dir = base + "/wal";
  std::printf("dir %s, crc32c %s\n", base.c_str(),
              crc32c_hardware_available() ? "sse4.2" : "portable");

  std::vector<double> a, b, c;
  for (int run = 0; run < kRuns; ++run) {
    constexpr uint64_t kSyncs = 2000;
    a.push_back(kSyncs / run_appends(dir, kSyncs, 1));
  }
  report("(a) 1 x 256 B per sync, syncs/s", a, "syncs/s");
  for (int run = 0; run < kRuns; ++run) {
    constexpr uint64_t kSyncs = 2000;
    b.push_back(kSyncs * 64 / run_appends(dir, kSyncs, 64));
  }
  report("(b) 64 x 256 B per sync, entries/s", b, "entries/s");

  // (c) a log of recovery_mib MiB, written once (fsync off: only reading it is measured).
  std::filesystem::remove_all(dir);
  const uint64_t record_bytes = kRecordHeaderBytes + kEntryPayloadFixedBytes + kEntryBytes;
  const uint64_t entries_count = (recovery_mib << 20) / record_bytes;
  {
    WalOptions fast;
    fast.fsync = false;
    Recovered r;
    auto wal = Wal::open(dir, fast, std::nullopt, &r);
    for (uint64_t i = 1; i <= entries_count; i += 1024) {
      wal->append(batch(i, static_cast<size_t>(std::min<uint64_t>(1024, entries_count - i + 1))));
    }
    wal->sync();
  }
  for (int run = 0; run < kRuns; ++run) {
    const auto start = Clock::now();
    Recovered r;
    auto wal = Wal::open(dir, {}, std::nullopt, &r);
    const double s = seconds_since(start);
    if (r.entries.size() != entries_count) {
      std::fprintf(stderr, "recovered %zu entries, wrote %llu\n", r.entries.size(),
                   static_cast<unsigned long long>(entries_count));
      return 1;
    }
    c.push_back(s * 1000);
  }
  std::printf(
      "(c) recovery of %llu MiB (%llu entries), ms:", static_cast<unsigned long long>(recovery_mib),
      static_cast<unsigned long long>(entries_count));
  for (const double r : c) std::printf(" %.0f", r);
  std::printf("  median %.0f ms\n", median(c));
  if (remove_base) std::filesystem::remove_all(base);
  return 0;
}
