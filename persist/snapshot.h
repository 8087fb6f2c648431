// Snapshot files in a node's snap/ directory, and opening a node's whole data directory.
//
// A snapshot file `snap-INDEX.snap` (INDEX: 20 digits):
//
//   +----------------------------------------------------------------------------------+
//   | magic "RLABSNAP" (8) | version u32 (4) | crc u32 (4) | meta_length u32 (4)         |
//   | data_length u64 (8) | meta (meta_length) | state-machine data (data_length)         |
//   +----------------------------------------------------------------------------------+
//   crc = CRC-32C of everything after the crc field. meta = index u64 | term u64 |
//   voters_count u32 | voter ids u64... | learners_count u32 | learner ids u64...
//
// Saving writes `snap-INDEX.tmp`, fsyncs it, renames it, fsyncs the directory, and only then
// removes older snapshots: at every moment one complete snapshot is on disk. Loading takes the
// newest file that checks out; damaged or leftover temporary files are reported as warnings.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/types.h"
#include "persist/layout.h"
#include "persist/wal.h"

namespace raftlab::persist {

constexpr char kSnapshotMagic[8] = {'R', 'L', 'A', 'B', 'S', 'N', 'A', 'P'};
constexpr uint32_t kSnapshotVersion = 1;
constexpr size_t kSnapshotHeaderBytes = 8 + 4 + 4 + 4 + 8;  // magic, version, crc, meta, data
static_assert(kSnapshotHeaderBytes == 28);
constexpr uint64_t kSnapshotBytesMax = 1ull << 32;
constexpr size_t kMembersCountMax = 4096;  // voters or learners in one membership

struct Snapshot {
  SnapshotMeta meta;
  std::string data;  // opaque state-machine bytes
};

std::string snapshot_file_name(Index index);
std::string encode_snapshot(const SnapshotMeta& meta, std::string_view data);
/// Decodes a snapshot file's bytes; returns the reason when they are not a valid snapshot.
std::optional<std::string> decode_snapshot(std::string_view bytes, Snapshot* out);

/// Writes a snapshot durably (see above) and removes the older ones.
void save_snapshot(const std::string& dir, const SnapshotMeta& meta, std::string_view data,
                   bool fsync);
/// Hands the state machine's bytes to the sink given, in pieces.
using SnapshotProducer =
    std::function<void(const std::function<void(std::string_view piece)>& sink)>;
constexpr uint64_t kSnapshotFlushBytes = 4u << 20;  // written back in pieces of this much
/// save_snapshot for bytes produced in pieces (exactly data_length of them, or it throws
/// std::logic_error), never held whole: the same file, written back every
/// kSnapshotFlushBytes as it goes. Throws IoError.
void save_snapshot_streamed(const std::string& dir, const SnapshotMeta& meta, uint64_t data_length,
                            const SnapshotProducer& produce, bool fsync);
/// The newest valid snapshot in `dir`, if any (dir may be missing).
std::optional<Snapshot> load_newest_snapshot(const std::string& dir,
                                             std::vector<Warning>* warnings);

/// An open snapshot file whose state-machine bytes are read in pieces (InstallSnapshot
/// chunks), so a node need not hold a snapshot in memory. The descriptor stays open: a newer
/// snapshot may remove the file, and a transfer in progress still reads it. Only the header
/// and lengths are checked here; the whole file's checksum was checked when it was loaded at
/// start, and a file this process saved was checked before it was written.
class SnapshotFile {
 public:
  /// Opens `path`; throws IoError (cannot open or read) or CorruptionError (not a snapshot).
  explicit SnapshotFile(const std::string& path);
  ~SnapshotFile();
  SnapshotFile(const SnapshotFile&) = delete;
  SnapshotFile& operator=(const SnapshotFile&) = delete;

  Index index() const { return index_; }
  uint64_t data_length() const { return data_length_; }
  /// The state-machine bytes [offset, offset + length); throws IoError on a short read.
  std::string read(uint64_t offset, uint64_t length) const;

 private:
  std::string path_;
  int fd_ = -1;
  Index index_;
  uint64_t data_offset_ = 0;  // in the file
  uint64_t data_length_ = 0;
};

/// A node's data directory: DIR/wal and DIR/snap.
struct NodeStorage {
  std::unique_ptr<Wal> wal;
  Recovered recovered;
  std::string snapshot_data;  // the state machine to restore (empty without a snapshot)
};
NodeStorage open_node_storage(const std::string& data_dir, const WalOptions& options);

}  // namespace raftlab::persist
