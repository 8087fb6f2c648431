// A forensic read of a node's data directory for `raftlab log dump`: the manifest, every
// segment, every record with its offset, damaged stretches with what is wrong, and the
// snapshots. Reads only; unlike recovery it goes on past damage, resuming at the next record
// that checks out. `corrupt` is set for every damage that makes recovery refuse to start
// (persist/wal.h), and for a damaged snapshot file; not for what recovery repairs (a torn
// tail, a segment the manifest does not list yet, leftovers of an interrupted removal).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/types.h"
#include "persist/format.h"
#include "persist/manifest.h"

namespace raftlab::persist {

struct DumpRecord {
  uint64_t offset = 0;
  uint64_t size_bytes = 0;
  Damage damage = Damage::kNone;  // kNone: a valid record of `type`
  RecordType type = RecordType::kReserved;
  Entry entry;
  HardState hard_state;
  SnapshotMark snapshot;
  std::string problem;     // damage: what is wrong; also set on valid records that break the log
  bool torn_tail = false;  // damage recovery would truncate (newest open segment, nothing after)
};

struct DumpSegment {
  std::string name;
  std::string path;
  uint64_t size_bytes = 0;
  bool open = false;
  uint64_t segment_seq = 0;
  std::string header_problem;       // empty when the header checks out
  std::vector<DumpRecord> records;  // entries outside [from, to] left out
};

struct DumpSnapshot {
  std::string path;
  std::optional<SnapshotMeta> meta;  // nullopt: damaged, see problem
  uint64_t data_bytes = 0;
  std::string problem;
  bool damaged = false;  // a .snap file that does not check out (a leftover .tmp is not)
};

struct DumpReport {
  std::string wal_dir;
  std::string snap_dir;              // empty when PATH was the wal/ directory itself
  std::optional<Manifest> manifest;  // nullopt: none (a WAL older than manifests) or damaged
  std::string manifest_problem;      // why the manifest is damaged
  std::vector<DumpSegment> segments;
  std::vector<DumpSnapshot> snapshots;
  std::optional<HardState> hard_state;  // the newest valid hard state record
  std::vector<std::string> problems;    // damage not tied to one record (missing segments)
  std::vector<std::string> notes;       // what recovery repairs, worth knowing
  uint64_t entries_count = 0;           // valid entry records shown
  bool corrupt = false;                 // damage recovery would refuse (torn tails excluded)
};

/// `path`: a node data directory (with wal/ and snap/) or a wal/ directory. Throws IoError when
/// it cannot be read at all.
DumpReport dump_wal(const std::string& path, Index from, Index to);

}  // namespace raftlab::persist
