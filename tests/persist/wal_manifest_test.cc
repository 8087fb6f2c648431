// What the WAL's manifest guards against, seen through Wal::open and the files alone: a
// deleted newest, first or middle segment is refused naming the file; a WAL written before
// manifests opens; and every state a crash can leave in a roll or a removal still opens.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "persist/snapshot.h"
#include "persist/wal.h"
#include "tests/persist/test_util.h"

using namespace raftlab;
using namespace raftlab::persist;
using namespace raftlab::persist::test;

namespace {

constexpr uint64_t kSmallSegmentBytes = 4096;
constexpr uint64_t kEntriesCount = 60;  // of 200 bytes: about 14 a segment, so 5 segments
const std::string kManifest = "MANIFEST";

WalOptions small_segments() {
  WalOptions options;
  options.segment_bytes_max = kSmallSegmentBytes;
  return options;
}

std::vector<Entry> entries_range(uint64_t first, uint64_t last) {
  std::vector<Entry> v;
  for (uint64_t i = first; i <= last; ++i) v.push_back(make_entry(i, 1, std::string(200, 'm')));
  return v;
}

// A WAL of kEntriesCount entries in several segments, synced.
void write_wal(const std::string& dir) {
  Recovered r;
  auto wal = Wal::open(dir, small_segments(), std::nullopt, &r);
  for (uint64_t i = 1; i <= kEntriesCount; ++i) {
    wal->write(HardState{Term(1), NodeId(1), Index(i)}, entries_range(i, i));
    if (i % 7 == 0) wal->sync();
  }
  wal->sync();
}

Recovered reopen(const std::string& dir) {
  Recovered r;
  Wal::open(dir, small_segments(), std::nullopt, &r);
  return r;
}

// Wal::open must refuse with a CorruptionError on `path` whose text holds `words`.
void require_refused(const std::string& dir, const std::string& path, const std::string& words) {
  try {
    reopen(dir);
    FAIL("recovery accepted a WAL that lost a segment");
  } catch (const CorruptionError& e) {
    INFO(e.what());
    CHECK(e.path() == path);
    CHECK(std::string(e.what()).find(words) != std::string::npos);
  }
}

bool any_warning(const Recovered& r, const std::string& words) {
  for (const Warning& w : r.warnings) {
    if (w.message.find(words) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a WAL whose newest segment is gone is refused, naming it", "[manifest]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  write_wal(dir);
  const auto files = segment_files(dir);
  REQUIRE(files.size() >= 4);
  REQUIRE(files.back().rfind("open-", 0) == 0);
  const std::string newest = dir + "/" + files.back();

  SECTION("the newest deleted") {
    std::filesystem::remove(newest);
    require_refused(dir, newest, "newest");
  }
  SECTION("the two newest deleted") {
    std::filesystem::remove(newest);
    std::filesystem::remove(dir + "/" + files[files.size() - 2]);
    require_refused(dir, newest, "newest");
  }
  SECTION("every segment deleted") {
    for (const auto& name : files) std::filesystem::remove(dir + "/" + name);
    require_refused(dir, dir + "/" + files.front(), "no segment is left");
  }
  // Refused again on a second try: recovery changed nothing on its way out.
  CHECK_THROWS_AS(reopen(dir), CorruptionError);
}

TEST_CASE("a WAL whose first segment is gone is refused, naming it", "[manifest]") {
  TempDir tmp;
  SECTION("no snapshot") {
    const std::string dir = tmp.sub("wal");
    write_wal(dir);
    const auto files = segment_files(dir);
    std::filesystem::remove(dir + "/" + files.front());
    require_refused(dir, dir + "/" + files.front(), "first");
  }
  SECTION("after a snapshot removed the segments below it") {
    write_wal(tmp.sub("wal"));
    save_snapshot(tmp.sub("snap"), SnapshotMeta{Index(30), Term(1), {{NodeId(1)}, {}}}, "s", true);
    const size_t before = segment_files(tmp.sub("wal")).size();
    open_node_storage(tmp.path(), small_segments());  // removes the segments below 30
    const auto files = segment_files(tmp.sub("wal"));
    REQUIRE(files.size() < before);
    const std::string first = tmp.sub("wal/" + files.front());
    std::filesystem::remove(first);
    try {
      open_node_storage(tmp.path(), small_segments());
      FAIL("recovery accepted a WAL that lost its first segment");
    } catch (const CorruptionError& e) {
      CHECK(e.path() == first);
    }
  }
}

TEST_CASE("a WAL with a segment missing in the middle names the missing segment", "[manifest]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  write_wal(dir);
  const auto files = segment_files(dir);
  std::filesystem::remove(dir + "/" + files[1]);
  require_refused(dir, dir + "/" + files[2], "segment_seq 2 is missing");
}

TEST_CASE("a WAL written before manifests existed opens and gets one", "[manifest]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  write_wal(dir);
  std::filesystem::remove(dir + "/" + kManifest);  // as an older raftlab left it
  const auto files = segment_files(dir);
  Recovered r = reopen(dir);
  CHECK(r.entries == entries_range(1, kEntriesCount));
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].message.find("no manifest") != std::string::npos);
  REQUIRE(std::filesystem::exists(dir + "/" + kManifest));
  CHECK(segment_files(dir) == files);
  // From now on the WAL is guarded like a new one, and opens without a word.
  CHECK(reopen(dir).warnings.empty());
  std::filesystem::remove(dir + "/" + files.back());
  require_refused(dir, dir + "/" + files.back(), "newest");
}

TEST_CASE("a new WAL has a manifest from the start, rewritten only on a roll", "[manifest]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  const std::string manifest = dir + "/" + kManifest;
  Recovered r;
  auto wal = Wal::open(dir, small_segments(), std::nullopt, &r);
  CHECK(r.warnings.empty());
  REQUIRE(std::filesystem::exists(manifest));
  // Appends and syncs within one segment leave the manifest alone (a rewrite is a rename,
  // which would change its inode); the roll after them rewrites it.
  auto inode = [&] {
    struct stat st {};
    REQUIRE(::stat(manifest.c_str(), &st) == 0);
    return st.st_ino;
  };
  const auto first_inode = inode();
  const size_t segments = wal->segments_count();
  uint64_t i = 1;
  for (; wal->segments_count() == segments; ++i) {
    REQUIRE(i < kEntriesCount);
    const auto before = inode();
    wal->append(entries_range(i, i));
    wal->sync();
    if (wal->segments_count() == segments) CHECK(inode() == before);
  }
  CHECK(inode() != first_inode);
  wal->sync();
  wal.reset();
  // The roll was recorded: losing the new newest segment is now refused.
  const auto files = segment_files(dir);
  std::filesystem::remove(dir + "/" + files.back());
  require_refused(dir, dir + "/" + files.back(), "newest");
}

TEST_CASE("every state a crash can leave in a roll or a removal opens", "[manifest]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  const std::string manifest = dir + "/" + kManifest;
  write_wal(dir);
  const std::string old_manifest = slurp(manifest);
  uint64_t written = kEntriesCount;

  SECTION("killed after a roll created a segment, before anything was synced") {
    Recovered r;
    auto wal = Wal::open(dir, small_segments(), std::nullopt, &r);
    const size_t segments = wal->segments_count();
    while (wal->segments_count() == segments) {
      ++written;
      REQUIRE(written < 2 * kEntriesCount);
      wal->append(entries_range(written, written));
    }
    wal.reset();  // the new segment's header was buffered only: a headerless open-N is left
  }
  SECTION("killed after a roll wrote the new segment, before the sync job ran") {
    Recovered r;
    auto wal = Wal::open(dir, small_segments(), std::nullopt, &r);
    const size_t segments = wal->segments_count();
    while (wal->segments_count() == segments) {
      ++written;
      REQUIRE(written < 2 * kEntriesCount);
      wal->append(entries_range(written, written));
    }
    SyncJob never_run = wal->begin_sync();  // writes every buffered record, syncs nothing
    wal.reset();
  }
  SECTION("killed between the segments and the manifest of a sync job") {
    {
      Recovered r;
      auto wal = Wal::open(dir, small_segments(), std::nullopt, &r);
      for (uint64_t k = 0; k < 40; ++k)
        wal->append(entries_range(written + 1 + k, written + 1 + k));
      written += 40;
      wal->sync();
    }
    spit(manifest, old_manifest);  // the rename of the new manifest never reached the disk
  }
  SECTION("killed while writing the manifest") { spit(dir + "/MANIFEST.tmp", std::string(7, 'x')); }
  SECTION("killed between the manifest and the unlinks of a removal") {
    save_snapshot(tmp.sub("snap"), SnapshotMeta{Index(20), Term(1), {{NodeId(1)}, {}}}, "s", true);
    TempDir saved;
    std::filesystem::copy(dir, saved.sub("wal"));
    open_node_storage(tmp.path(), small_segments());  // removes the segments below 20
    REQUIRE(segment_files(dir).size() < segment_files(saved.sub("wal")).size());
    // The unlinked segments come back, as if the unlinks never reached the disk.
    for (const auto& name : segment_files(saved.sub("wal"))) {
      if (!std::filesystem::exists(dir + "/" + name)) {
        std::filesystem::copy(saved.sub("wal/" + name), dir + "/" + name);
      }
    }
    NodeStorage s = open_node_storage(tmp.path(), small_segments());
    CHECK(any_warning(s.recovered, "older than the manifest"));
    REQUIRE(!s.recovered.entries.empty());
    CHECK(s.recovered.entries.front().index == Index(21));
    CHECK(s.recovered.entries.back().index == Index(kEntriesCount));
    s.wal.reset();
    CHECK(open_node_storage(tmp.path(), small_segments()).recovered.warnings.empty());
    return;  // the log now starts after the snapshot, as the removal meant
  }
  Recovered r = reopen(dir);
  REQUIRE(r.entries.size() >= kEntriesCount);  // everything synced is there
  CHECK(r.entries == entries_range(1, r.entries.back().index.get()));
  CHECK(!std::filesystem::exists(dir + "/MANIFEST.tmp"));
  // And the manifest now lists what recovery kept: losing the newest is refused.
  CHECK(reopen(dir).warnings.empty());
  const auto files = segment_files(dir);
  std::filesystem::remove(dir + "/" + files.back());
  require_refused(dir, dir + "/" + files.back(), "newest");
}
