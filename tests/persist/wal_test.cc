// The WAL: round trips, segments, torn and zeroed tails, bit flips, fatal damage, snapshots and
// group commit with a real sync thread.
#include "persist/wal.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "persist/format.h"
#include "persist/snapshot.h"
#include "tests/persist/test_util.h"

using namespace raftlab;
using namespace raftlab::persist;
using namespace raftlab::persist::test;

namespace {

Recovered reopen(const std::string& dir, const WalOptions& options = {},
                 const std::optional<SnapshotMeta>& snapshot = std::nullopt) {
  Recovered r;
  Wal::open(dir, options, snapshot, &r);
  return r;
}

std::vector<Entry> entries_range(uint64_t first, uint64_t last, uint64_t term,
                                 const std::string& tag = "x") {
  std::vector<Entry> v;
  for (uint64_t i = first; i <= last; ++i)
    v.push_back(make_entry(i, term, tag + std::to_string(i)));
  return v;
}

// Segments of 4 KiB: 100 entries of 200 bytes roll several.
WalOptions small_segments() {
  WalOptions options;
  options.segment_bytes_max = 4096;
  return options;
}

std::string only_segment(const std::string& dir) {
  const auto files = segment_files(dir);
  REQUIRE(files.size() == 1);
  return dir + "/" + files[0];
}

}  // namespace

TEST_CASE("wal round trip of every record kind", "[wal]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  std::string binary(300, '\0');
  for (size_t k = 0; k < binary.size(); ++k) binary[k] = static_cast<char>(k * 7);
  std::vector<Entry> want = {make_entry(1, 1, ""), make_entry(2, 1, "", EntryType::kNoop),
                             make_entry(3, 2, "config", EntryType::kConfig),
                             make_entry(4, 2, binary)};
  const HardState hs{Term(2), NodeId(3), Index(3)};
  {
    Recovered r;
    auto wal = Wal::open(dir, {}, std::nullopt, &r);
    CHECK(r.entries.empty());
    CHECK(r.hard_state == HardState{});
    CHECK(wal->write(hs, want) == 1);
    CHECK(wal->sync() == 1);
  }
  Recovered r = reopen(dir);
  CHECK(r.entries == want);
  CHECK(r.hard_state == hs);
  CHECK(r.warnings.empty());

  SECTION("appending after a reopen, with a truncating write") {
    {
      Recovered r2;
      auto wal = Wal::open(dir, {}, std::nullopt, &r2);
      wal->write(HardState{Term(3), NodeId(1), Index(3)}, {make_entry(3, 3, "new3")});
      wal->append({make_entry(4, 3, "new4"), make_entry(5, 3, "new5")});
      wal->sync();
    }
    Recovered r3 = reopen(dir);
    REQUIRE(r3.entries.size() == 5);
    CHECK(r3.entries[2] == make_entry(3, 3, "new3"));
    CHECK(r3.entries[4] == make_entry(5, 3, "new5"));
    CHECK(r3.hard_state == HardState{Term(3), NodeId(1), Index(3)});
  }
  SECTION("invalid writes are refused and leave nothing behind") {
    Recovered r2;
    auto wal = Wal::open(dir, {}, std::nullopt, &r2);
    CHECK_THROWS_AS(wal->append({make_entry(9, 3, "gap")}), std::invalid_argument);
    CHECK_THROWS_AS(wal->append({make_entry(5, 3, "a"), make_entry(7, 3, "b")}),
                    std::invalid_argument);
    wal->sync();
    CHECK(reopen(dir).entries == want);
  }
}

TEST_CASE("wal segments roll, are named first-last and are removed below a snapshot", "[wal]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  const WalOptions options = small_segments();
  const std::string data(200, 'd');
  {
    Recovered r;
    auto wal = Wal::open(dir, options, std::nullopt, &r);
    for (uint64_t i = 1; i <= 100; ++i) {
      wal->write(HardState{Term(1), NodeId(1), Index(i - 1)}, {make_entry(i, 1, data)});
      if (i % 10 == 0) wal->sync();
    }
    wal->sync();
    CHECK(wal->segments_count() > 4);
  }
  const auto files = segment_files(dir);
  CHECK(files.front().rfind("00000000000000000001-", 0) == 0);
  CHECK(files.back().rfind("open-", 0) == 0);
  Recovered r = reopen(dir, options);
  REQUIRE(r.entries.size() == 100);
  CHECK(r.entries.back().index == Index(100));
  CHECK(r.hard_state.commit == Index(99));

  // A snapshot at 50: open_node_storage removes the segments wholly below it.
  TempDir node;
  std::filesystem::copy(dir, node.sub("wal"));
  SnapshotMeta meta{Index(50), Term(1), Membership{{NodeId(1), NodeId(2)}, {NodeId(4)}}};
  save_snapshot(node.sub("snap"), meta, "state at 50", true);
  const size_t before = segment_files(node.sub("wal")).size();
  {
    NodeStorage s = open_node_storage(node.path(), options);
    CHECK(s.recovered.snapshot == meta);
    CHECK(s.snapshot_data == "state at 50");
    REQUIRE(s.recovered.entries.size() == 50);
    CHECK(s.recovered.entries.front().index == Index(51));
  }
  CHECK(segment_files(node.sub("wal")).size() < before);
  NodeStorage again = open_node_storage(node.path(), options);
  CHECK(again.recovered.entries.size() == 50);
  CHECK(again.recovered.hard_state.commit == Index(99));  // hard state survives the removal
}

TEST_CASE("entries are read back by index, from the buffer, a segment or a reopened wal",
          "[wal][read]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  const WalOptions options = small_segments();
  const auto data = [](uint64_t i) { return std::string(200, static_cast<char>('a' + i % 26)); };
  const auto read = [](Wal& wal, uint64_t i, uint64_t term) {
    const std::optional<Payload> p = wal.read_entry(Index(i), Term(term));
    return p ? std::optional<std::string>(p->str()) : std::nullopt;
  };
  {
    Recovered r;
    auto wal = Wal::open(dir, options, std::nullopt, &r);
    for (uint64_t i = 1; i <= 100; ++i) {
      wal->append({make_entry(i, 1, data(i))});
      CHECK(read(*wal, i, 1) == data(i));  // still in the buffer
      if (i % 10 == 0) wal->sync();
    }
    REQUIRE(wal->segments_count() > 4);
    for (uint64_t i = 1; i <= 100; ++i) CHECK(read(*wal, i, 1) == data(i));
    CHECK(read(*wal, 7, 2) == std::nullopt);  // another term: not the entry asked for
    CHECK(read(*wal, 101, 1) == std::nullopt);
    CHECK(read(*wal, 0, 1) == std::nullopt);
    // A truncating write: 60.. now hold term 2, and 61.. end at 62.
    wal->append({make_entry(60, 2, "sixty"), make_entry(61, 2, "x"), make_entry(62, 2, "y")});
    CHECK(read(*wal, 60, 1) == std::nullopt);
    CHECK(read(*wal, 60, 2) == "sixty");
    CHECK(read(*wal, 63, 1) == std::nullopt);
    CHECK(read(*wal, 59, 1) == data(59));
    wal->sync();
  }
  Recovered r;
  auto wal = Wal::open(dir, options, std::nullopt, &r);
  REQUIRE(r.entries.size() == 62);
  for (uint64_t i = 1; i <= 59; ++i) CHECK(read(*wal, i, 1) == data(i));
  CHECK(read(*wal, 62, 2) == "y");

  SECTION("entries in removed segments are gone, the rest still read") {
    wal->append_snapshot_mark(SnapshotMark{Index(50), Term(1)});
    wal->sync();
    REQUIRE(wal->remove_segments_below(Index(50)) > 0);
    CHECK(read(*wal, 1, 1) == std::nullopt);
    CHECK(read(*wal, 55, 1) == data(55));
  }
  SECTION("a damaged record is an error naming the file, not other bytes") {
    const std::string first = dir + "/" + segment_files(dir).front();
    std::string bytes = slurp(first);
    bytes[bytes.size() - 3] ^= 1;  // inside the last entry's data
    std::FILE* f = std::fopen(first.c_str(), "r+b");
    REQUIRE(f != nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    bool threw = false;
    for (uint64_t i = 1; i <= 59 && !threw; ++i) {
      try {
        (void)wal->read_entry(Index(i), Term(1));
      } catch (const CorruptionError& e) {
        threw = true;
        CHECK(std::string(e.what()).find(first) != std::string::npos);
      }
    }
    CHECK(threw);
  }
}

TEST_CASE("detached segments are removed on another thread while the wal goes on", "[wal]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  const WalOptions options = small_segments();
  const std::string tag(200, 'e');  // entries of about 200 bytes: 100 roll several segments
  Recovered r;
  auto wal = Wal::open(dir, options, std::nullopt, &r);
  wal->append(entries_range(1, 100, 1, tag));
  wal->append_snapshot_mark(SnapshotMark{Index(60), Term(1)});
  wal->sync();
  SegmentRemoval removal = wal->detach_segments_below(Index(60));
  REQUIRE(removal.count() > 0);
  CHECK(wal->detach_segments_below(Index(60)).count() == 0);  // already taken out
  std::thread worker([&] { removal.run(); });
  for (uint64_t i = 101; i <= 150; ++i) {  // appends, rolls and syncs meanwhile
    wal->append(entries_range(i, i, 1, tag));
    wal->sync();
  }
  worker.join();
  CHECK(removal.count() == 0);
  CHECK(segment_files(dir).front().rfind("00000000000000000001-", 0) != 0);  // the oldest went
  CHECK(wal->read_entry(Index(30), Term(1)) == std::nullopt);
  CHECK(wal->read_entry(Index(140), Term(1))->str() == tag + "140");
  wal.reset();
  Recovered again;
  Wal::open(dir, options, SnapshotMeta{Index(60), Term(1), {}}, &again);
  CHECK(again.warnings.empty());  // the manifest lists exactly what is there
  REQUIRE(again.entries.size() == 90);
  CHECK(again.entries.front().index == Index(61));
}

TEST_CASE("snapshot marks and the newest valid snapshot", "[wal][snapshot]") {
  TempDir node;
  WalOptions options;
  options.segment_bytes_max = 4096;
  SnapshotMeta old_meta{Index(3), Term(1), {{NodeId(1)}, {}}};
  SnapshotMeta meta{Index(20), Term(4), {{NodeId(1), NodeId(2), NodeId(3)}, {}}};
  {
    NodeStorage s = open_node_storage(node.path(), options);
    s.wal->append(entries_range(1, 5, 1));
    save_snapshot(node.sub("snap"), old_meta, "old", true);
    // InstallSnapshot past the log end: the log restarts after 20.
    save_snapshot(node.sub("snap"), meta, "new", true);
    s.wal->append_snapshot_mark({meta.index, meta.term});
    s.wal->append(entries_range(21, 25, 4));
    s.wal->sync();
  }
  NodeStorage s = open_node_storage(node.path(), options);
  CHECK(s.recovered.snapshot == meta);
  CHECK(s.recovered.entries == entries_range(21, 25, 4));
  CHECK(!std::filesystem::exists(node.sub("snap/" + snapshot_file_name(Index(3)))));

  SECTION("a damaged snapshot that the log depends on is fatal") {
    s.wal.reset();
    const std::string path = node.sub("snap/" + snapshot_file_name(Index(20)));
    std::string bytes = slurp(path);
    bytes[bytes.size() - 1] ^= 1;
    spit(path, bytes);
    try {
      open_node_storage(node.path(), options);
      FAIL("damaged snapshot accepted");
    } catch (const CorruptionError& e) {
      CHECK(std::string(e.what()).find("snapshot 20") != std::string::npos);
    }
  }
}

TEST_CASE("a torn tail at every byte of the last record recovers the record before", "[wal]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  uint64_t last_start = 0;
  {
    Recovered r;
    auto wal = Wal::open(dir, {}, std::nullopt, &r);
    wal->write(HardState{Term(1), NodeId(1), Index(0)}, entries_range(1, 3, 1));
    wal->sync();
    last_start = std::filesystem::file_size(only_segment(dir));
    wal->append({make_entry(4, 1, "the last record, torn")});
    wal->sync();
  }
  const std::string file = only_segment(dir);
  const std::string whole = slurp(file);
  for (uint64_t cut = last_start; cut < whole.size(); ++cut) {
    INFO("cut at " << cut);
    spit(file, whole.substr(0, cut));
    Recovered r = reopen(dir);
    CHECK(r.entries == entries_range(1, 3, 1));
    if (cut > last_start) {
      REQUIRE(r.warnings.size() == 1);
      CHECK(r.warnings[0].path == file);
      CHECK(r.warnings[0].offset == last_start);
      CHECK(r.warnings[0].message.find("last good index 3") != std::string::npos);
      CHECK(std::filesystem::file_size(file) == last_start);  // truncated on disk
    }
  }
}

TEST_CASE("a zeroed tail is truncated with a warning", "[wal]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  {
    Recovered r;
    auto wal = Wal::open(dir, {}, std::nullopt, &r);
    wal->append(entries_range(1, 5, 1));
    wal->sync();
  }
  const std::string file = only_segment(dir);
  const std::string whole = slurp(file);
  SECTION("zeros appended (preallocated space)") {
    spit(file, whole + std::string(8192, '\0'));
    Recovered r = reopen(dir);
    CHECK(r.entries == entries_range(1, 5, 1));
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].offset == whole.size());
  }
  SECTION("the last record zeroed (a lost page)") {
    const size_t last_size = kRecordHeaderBytes + kEntryPayloadFixedBytes + 2;
    spit(file, whole.substr(0, whole.size() - last_size) + std::string(last_size, '\0'));
    Recovered r = reopen(dir);
    CHECK(r.entries == entries_range(1, 4, 1));
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].message.find("last good index 4") != std::string::npos);
  }
}

TEST_CASE("one flipped bit in any byte of a small wal is never accepted", "[wal]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  const HardState hs{Term(2), NodeId(1), Index(2)};
  {
    Recovered r;
    auto wal = Wal::open(dir, {}, std::nullopt, &r);
    wal->write(hs, {make_entry(1, 1, "alpha"), make_entry(2, 2, "beta")});
    wal->append({make_entry(3, 2, "gamma")});
    wal->sync();
  }
  const std::string file = only_segment(dir);
  const std::string whole = slurp(file);
  const std::vector<Entry> all = {make_entry(1, 1, "alpha"), make_entry(2, 2, "beta"),
                                  make_entry(3, 2, "gamma")};
  size_t fatal = 0;
  size_t truncated = 0;
  for (size_t byte = 0; byte < whole.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      INFO("byte " << byte << " bit " << bit);
      std::string bytes = whole;
      bytes[byte] = static_cast<char>(bytes[byte] ^ (1 << bit));
      spit(file, bytes);
      try {
        Recovered r = reopen(dir);
        // Accepted only as a torn tail: a strict prefix of what was written, with a warning,
        // and never a changed entry or hard state.
        REQUIRE(r.warnings.size() == 1);
        CHECK(r.entries.size() < all.size());
        CHECK(std::equal(r.entries.begin(), r.entries.end(), all.begin()));
        CHECK((r.hard_state == hs || r.hard_state == HardState{}));
        ++truncated;
      } catch (const CorruptionError& e) {
        CHECK(e.path().find(dir) == 0);
        ++fatal;
      }
    }
  }
  CHECK(fatal > 0);
  CHECK(truncated > 0);
  CHECK(fatal + truncated == whole.size() * 8);
}

TEST_CASE("damage that is not a torn tail stops recovery naming file and offset", "[wal]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  WalOptions options;
  options.segment_bytes_max = 4096;
  {
    Recovered r;
    auto wal = Wal::open(dir, options, std::nullopt, &r);
    for (uint64_t i = 1; i <= 60; ++i) wal->append({make_entry(i, 1, std::string(200, 'v'))});
    wal->sync();
  }
  const auto files = segment_files(dir);
  REQUIRE(files.size() >= 3);
  const uint64_t offset = kSegmentHeaderBytes + kRecordHeaderBytes + kHardStatePayloadBytes;

  SECTION("in a closed segment") {
    const std::string path = dir + "/" + files[0];
    std::string bytes = slurp(path);
    bytes[offset + 20] ^= 0x10;  // inside the first entry record
    spit(path, bytes);
    try {
      reopen(dir, options);
      FAIL("damage accepted");
    } catch (const CorruptionError& e) {
      CHECK(e.path() == path);
      CHECK(e.offset() == offset);
    }
  }
  SECTION("a truncated closed segment") {
    const std::string path = dir + "/" + files[0];
    const std::string bytes = slurp(path);
    spit(path, bytes.substr(0, bytes.size() - 3));
    CHECK_THROWS_AS(reopen(dir, options), CorruptionError);
  }
  SECTION("in the open segment with valid records after it") {
    const std::string path = dir + "/" + files.back();
    std::string bytes = slurp(path);
    REQUIRE(bytes.size() > offset + 500);
    bytes[offset + 20] ^= 0x10;
    spit(path, bytes);
    try {
      reopen(dir, options);
      FAIL("damage accepted");
    } catch (const CorruptionError& e) {
      CHECK(e.path() == path);
      CHECK(e.offset() == offset);
    }
  }
  SECTION("a missing segment") {
    std::filesystem::remove(dir + "/" + files[1]);
    CHECK_THROWS_AS(reopen(dir, options), CorruptionError);
  }
  SECTION("segments deleted without a snapshot") {
    std::filesystem::remove(dir + "/" + files[0]);
    CHECK_THROWS_AS(reopen(dir, options), CorruptionError);
  }
}

TEST_CASE("group commit: appends go on while another thread syncs", "[wal][group]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  WalOptions options;
  options.segment_bytes_max = 64 * 1024;  // so segments close while syncs are in flight
  constexpr uint64_t kEntriesCount = 3000;
  uint64_t durable = 0;
  uint64_t syncs = 0;
  uint64_t written = 0;
  {
    Recovered r;
    auto wal = Wal::open(dir, options, std::nullopt, &r);
    std::optional<std::thread> worker;
    std::optional<SyncJob> job;
    std::atomic<bool> done{false};
    // Appends until enough entries went in and enough syncs overlapped with appends.
    for (uint64_t i = 1; i <= kEntriesCount || syncs < 20; ++i) {
      INFO("syncs " << syncs << " durable " << durable);
      REQUIRE(i < 100 * kEntriesCount);
      // Past the quota, slow down so a starved sync thread (2 busy cores) can finish.
      if (i > kEntriesCount) std::this_thread::sleep_for(std::chrono::microseconds(100));
      wal->write(HardState{Term(1), NodeId(1), Index(i - 1)},
                 {make_entry(i, 1, std::string(100, 'g'))});
      if (job && done.load()) {
        worker->join();
        const uint64_t now = wal->finish_sync(std::move(*job));
        CHECK(now >= durable);  // durability never goes backwards
        durable = now;
        job.reset();
        worker.reset();
      }
      if (!job) {
        job = wal->begin_sync();
        done = false;
        ++syncs;
        worker.emplace([&job, &done] {
          job->run();
          done = true;
        });
      }
    }
    worker->join();
    durable = wal->finish_sync(std::move(*job));
    CHECK(durable <= wal->written_seq());
    CHECK(wal->sync() == wal->written_seq());
    written = wal->written_seq();
  }
  Recovered r = reopen(dir, options);
  REQUIRE(r.entries.size() == written);  // one entry per write
  CHECK(r.hard_state.commit == Index(written - 1));
  for (const auto& name : segment_files(dir)) CHECK(name.find(".tmp") == std::string::npos);
}

TEST_CASE("a snapshot written in pieces is the same file, read back in chunks", "[snapshot]") {
  TempDir a;
  TempDir b;
  const SnapshotMeta meta{Index(77), Term(3), Membership{{NodeId(1), NodeId(2)}, {}}};
  std::string data;
  for (int i = 0; data.size() < 3 * kSnapshotFlushBytes; ++i) data += "piece " + std::to_string(i);
  save_snapshot(a.path(), meta, data, true);
  const SnapshotProducer produce = [&](const auto& sink) {
    for (size_t at = 0; at < data.size(); at += 1000) sink(std::string_view(data).substr(at, 1000));
  };
  save_snapshot_streamed(b.path(), meta, data.size(), produce, true);
  const std::string name = snapshot_file_name(meta.index);
  CHECK(read_file(b.sub(name), kSnapshotBytesMax) == read_file(a.sub(name), kSnapshotBytesMax));

  const SnapshotFile file(b.sub(name));
  CHECK(file.index() == meta.index);
  CHECK(file.data_length() == data.size());
  CHECK(file.read(5, 7) == data.substr(5, 7));
  CHECK(file.read(data.size() - 3, 3) == data.substr(data.size() - 3));
  CHECK_THROWS_AS(file.read(data.size() - 3, 4), IoError);

  SECTION("a producer that hands the wrong number of bytes leaves no snapshot") {
    TempDir c;
    CHECK_THROWS_AS(save_snapshot_streamed(c.path(), meta, data.size() + 1, produce, true),
                    std::logic_error);
    CHECK_FALSE(std::filesystem::exists(c.sub(name)));
  }
  SECTION("a file cut short is refused") {
    truncate_file(b.sub(name), 100);
    CHECK_THROWS_AS(SnapshotFile(b.sub(name)), CorruptionError);
  }
}
