// The power cut of `raftlab crash --lose-unsynced [--tear]` (cmd/lab/power_cut.h) over the
// durable table a Wal publishes as it syncs (persist/durable.h): the planning rules on their
// own, then a real WAL cut back and recovered.
#include "cmd/lab/power_cut.h"

#include <catch2/catch.hpp>

#include "persist/durable.h"
#include "persist/layout.h"
#include "persist/wal.h"
#include "tests/persist/test_util.h"

using namespace raftlab;
using namespace raftlab::lab;
using namespace raftlab::persist;
using namespace raftlab::persist::test;

namespace {

constexpr uint64_t kRecordBytes = 40;  // what the planning tests say every record measures

std::optional<uint64_t> fixed_record(const std::string&, uint64_t) { return kRecordBytes; }

const CutStep* step_for(const std::vector<CutStep>& steps, const std::string& name) {
  for (const CutStep& s : steps) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("power cut: unpublished files go, published ones are cut to their length",
          "[power_cut]") {
  const std::vector<DurableFile> published = {{"wal/open-2", 11, 500}, {"wal/MANIFEST", 12, 36}};
  const std::vector<FileOnDisk> disk = {{"wal/open-2", 11, 900},
                                        {"wal/open-3", 13, 100},   // created, never durable
                                        {"wal/MANIFEST", 14, 36},  // renamed over: keep
                                        {"snap/snap-1.tmp", 15, 7}};
  const std::vector<CutStep> steps = plan_power_cut(published, disk, false, fixed_record);
  REQUIRE(steps.size() == 3);
  CHECK(steps[0].kind == CutKind::kRemove);  // removals first
  REQUIRE(step_for(steps, "wal/open-3") != nullptr);
  CHECK(step_for(steps, "wal/open-3")->kind == CutKind::kRemove);
  CHECK(step_for(steps, "snap/snap-1.tmp")->kind == CutKind::kRemove);
  const CutStep* cut = step_for(steps, "wal/open-2");
  REQUIRE(cut != nullptr);
  CHECK(cut->kind == CutKind::kTruncate);
  CHECK(cut->to_bytes == 500);
  CHECK(cut->torn_bytes == 0);
  CHECK(step_for(steps, "wal/MANIFEST") == nullptr);
}

TEST_CASE("power cut: a rename not yet durable is undone, found by inode", "[power_cut]") {
  const std::vector<DurableFile> published = {{"wal/open-1", 21, 300}};
  const std::vector<FileOnDisk> disk = {{"wal/1-9", 21, 700}};
  const std::vector<CutStep> steps = plan_power_cut(published, disk, false, fixed_record);
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].rename_to == "wal/open-1");
  CHECK(steps[0].to_bytes == 300);
}

TEST_CASE("power cut: --tear keeps part of the first lost record, never all of it", "[power_cut]") {
  const std::vector<DurableFile> published = {{"wal/open-1", 31, 300}, {"snap/s", 32, 50}};
  const std::vector<FileOnDisk> disk = {{"wal/open-1", 31, 380}, {"snap/s", 32, 80}};
  const std::vector<CutStep> steps = plan_power_cut(published, disk, true, fixed_record);
  const CutStep* wal = step_for(steps, "wal/open-1");
  REQUIRE(wal != nullptr);
  CHECK(wal->torn_bytes > 0);
  CHECK(wal->torn_bytes < kRecordBytes);
  CHECK(wal->to_bytes == 300 + wal->torn_bytes);
  CHECK(step_for(steps, "snap/s")->torn_bytes == 0);  // only WAL records tear
  // One byte past the durable end: nothing left to tear but that byte, which is dropped.
  const std::vector<CutStep> one =
      plan_power_cut(published, {{"wal/open-1", 31, 301}}, true, fixed_record);
  REQUIRE(one.size() == 1);
  CHECK(one[0].to_bytes == 300);
}

// The Wal publishes what each sync made durable; a cut keeps every synced entry and loses the
// unsynced ones, torn or not, and recovery accepts what is left.
TEST_CASE("power cut of a real WAL keeps exactly the synced entries", "[power_cut]") {
  const bool tear = GENERATE(false, true);
  TempDir tmp;
  const std::string wal_dir = tmp.sub(std::string(kWalDir));
  WalOptions options;
  options.segment_bytes_max = 4096;  // several segments: closed ones are renamed and published
  options.write_buffer_bytes_max = 4096;
  {
    Recovered r;
    auto wal = Wal::open(wal_dir, options, std::nullopt, &r);
    wal->publish_durable_to(DurableTable::create(tmp.path()));
    std::vector<Entry> synced;
    for (uint64_t i = 1; i <= 200; ++i) synced.push_back(make_entry(i, 1, std::string(50, 'a')));
    wal->append(synced);
    wal->sync();
    std::vector<Entry> lost;
    for (uint64_t i = 201; i <= 300; ++i) lost.push_back(make_entry(i, 1, std::string(50, 'b')));
    wal->append(lost);  // in the kernel (buffers and rolls flush), never synced
  }
  std::vector<DurableFile> published;
  REQUIRE(decode_durable_table(slurp(tmp.sub(kDurableFileName)), &published).empty());
  const std::vector<CutStep> steps = plan_power_cut(
      published, list_node_files(tmp.path()), tear, [&](const std::string& name, uint64_t offset) {
        return read_record_size(tmp.path(), name, offset);
      });
  REQUIRE(!steps.empty());
  apply_power_cut(tmp.path(), steps);
  Recovered r;
  Wal::open(wal_dir, options, std::nullopt, &r);
  REQUIRE(r.entries.size() == 200);
  CHECK(r.entries.back().index == Index(200));
  CHECK(r.entries.back().data == std::string(50, 'a'));
}
