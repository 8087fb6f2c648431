// The manifest file itself: its encoding refuses any damage, and the Wal keeps it equal to the
// segments on disk through rolls, removals and recovery (layout and rules in manifest.h).
#include "persist/manifest.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "persist/snapshot.h"
#include "persist/wal.h"
#include "tests/persist/test_util.h"

using namespace raftlab;
using namespace raftlab::persist;
using namespace raftlab::persist::test;

namespace {

// The segment_seq of each segment file, in order, read from the headers.
std::vector<uint64_t> segment_seqs(const std::string& dir) {
  std::vector<uint64_t> seqs;
  for (const auto& name : segment_files(dir)) {
    SegmentHeader h;
    REQUIRE(parse_segment_header(slurp(dir + "/" + name), &h) == Damage::kNone);
    seqs.push_back(h.segment_seq);
  }
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

// The manifest lists exactly the segments in the directory.
void check_manifest_matches(const std::string& dir) {
  const std::optional<Manifest> m = read_manifest(dir);
  REQUIRE(m.has_value());
  const std::vector<uint64_t> seqs = segment_seqs(dir);
  REQUIRE(!seqs.empty());
  CHECK(m->first_seq == seqs.front());
  CHECK(m->last_seq == seqs.back());
  CHECK(std::filesystem::exists(dir + "/" + m->first_name));
  CHECK(std::filesystem::exists(dir + "/" + open_segment_name(m->last_seq)));
}

}  // namespace

TEST_CASE("manifest encoding round-trips and refuses every damaged byte", "[manifest]") {
  const Manifest m{3, 17, closed_segment_name(Index(101), Index(150))};
  const std::string bytes = encode_manifest(m);
  CHECK(bytes.size() == kManifestFixedBytes + m.first_name.size());
  Manifest back;
  REQUIRE(!decode_manifest(bytes, &back));
  CHECK(back == m);
  for (size_t byte = 0; byte < bytes.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[byte] = static_cast<char>(damaged[byte] ^ (1 << bit));
      INFO("byte " << byte << " bit " << bit);
      CHECK(decode_manifest(damaged, &back).has_value());
    }
  }
  for (size_t cut = 0; cut < bytes.size(); ++cut)
    CHECK(decode_manifest(bytes.substr(0, cut), &back));
  CHECK(decode_manifest(bytes + '\0', &back));
  CHECK_THROWS_AS(encode_manifest(Manifest{5, 4, "x"}), std::logic_error);
}

TEST_CASE("the manifest follows rolls, removals and recovery", "[manifest]") {
  TempDir node;
  const std::string dir = node.sub("wal");
  WalOptions options;
  options.segment_bytes_max = 4096;
  NodeStorage s = open_node_storage(node.path(), options);
  CHECK(read_manifest(dir) == Manifest{1, 1, open_segment_name(1)});
  for (uint64_t i = 1; i <= 100; ++i) {
    s.wal->append({make_entry(i, 1, std::string(200, 'f'))});
    if (i % 10 == 0) {
      s.wal->sync();
      check_manifest_matches(dir);  // each roll is listed by the sync that follows it
    }
  }
  const Manifest before = *read_manifest(dir);
  CHECK(before.first_name == segment_files(dir).front());  // renamed when it closed
  save_snapshot(node.sub("snap"), SnapshotMeta{Index(50), Term(1), {{NodeId(1)}, {}}}, "s", true);
  s.wal->append_snapshot_mark({Index(50), Term(1)});
  REQUIRE(s.wal->remove_segments_below(Index(50)) > 0);
  const Manifest after = *read_manifest(dir);
  CHECK(after.first_seq > before.first_seq);
  CHECK(after.last_seq == before.last_seq);
  check_manifest_matches(dir);
  s.wal->sync();
  s.wal.reset();
  // Recovery with nothing to repair leaves it as it is.
  NodeStorage again = open_node_storage(node.path(), options);
  CHECK(again.recovered.warnings.empty());
  CHECK(read_manifest(dir) == after);
}

TEST_CASE("a damaged manifest stops recovery, naming it", "[manifest]") {
  TempDir tmp;
  const std::string dir = tmp.sub("wal");
  {
    Recovered r;
    auto wal = Wal::open(dir, {}, std::nullopt, &r);
    wal->append({make_entry(1, 1, "a")});
    wal->sync();
  }
  const std::string path = dir + "/" + kManifestName;
  std::string bytes = slurp(path);
  bytes[13] ^= 1;  // inside first_seq
  spit(path, bytes);
  Recovered r;
  try {
    Wal::open(dir, {}, std::nullopt, &r);
    FAIL("damaged manifest accepted");
  } catch (const CorruptionError& e) {
    CHECK(e.path() == path);
    CHECK(std::string(e.what()).find("checksum") != std::string::npos);
  }
}
