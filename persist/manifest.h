// The WAL manifest: which segments must exist, so that recovery can tell a log that lost its
// newest (or oldest, or a middle) segment from a log that is simply short. Without it a
// deleted newest segment looked like a log that had never been longer, and the node restarted
// with acknowledged entries silently gone.
//
// The file `MANIFEST` in the WAL directory (integers little-endian, as in format.h):
//
//   +--------------------------------------------------------------------------------+
//   | magic "RLABMANI" (8) | version u32 (4) | first_seq u64 (8) | last_seq u64 (8)    |
//   | first_name_length u32 (4) | first_name (first_name_length bytes)                |
//   | crc u32 (4): CRC-32C of every byte before it                                    |
//   +--------------------------------------------------------------------------------+
//
// Every segment whose segment_seq lies in [first_seq, last_seq] must exist with a valid
// header; the newest is always `open-LAST`. first_name is the name of the first one when the
// manifest was written, kept only so that a missing first segment can be named.
//
// Writing (persist/wal.cc), always whole: `MANIFEST.tmp` is written, fdatasynced, renamed over
// `MANIFEST` and the directory fsynced, so a crash leaves the old manifest or the new one.
// Never per append; only:
//   - when a segment was created (a roll, or the first one): in the sync job that makes it
//     durable, after the segment's header is fdatasynced and its name fsynced in the directory
//     (last_seq grows). A crash before that leaves a manifest whose last_seq is older than the
//     newest segments: those hold only writes no sync has reported durable, so recovery keeps
//     what is readable in them (or drops one whose header never reached the disk).
//   - before segments below a snapshot are removed (first_seq grows), so a crash between the
//     two leaves segments older than the manifest lists, which recovery removes; never a
//     listed segment missing.
//   - by recovery, when what it found or created differs from the manifest (and when there is
//     no manifest: a WAL written before manifests existed is adopted as it is, with a warning).
// Recovery (Wal::open) refuses to start, with CorruptionError naming the missing file, when a
// listed segment is missing or has no header; a damaged manifest is refused the same way.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "persist/durable.h"

namespace raftlab::persist {

constexpr char kManifestMagic[8] = {'R', 'L', 'A', 'B', 'M', 'A', 'N', 'I'};
constexpr uint32_t kManifestVersion = 1;
constexpr size_t kManifestNameBytesMax = 64;  // a closed segment name is 41 (+ ".SEQ")
constexpr size_t kManifestFixedBytes = 8 + 4 + 8 + 8 + 4 + 4;  // all but first_name
static_assert(kManifestFixedBytes == 36);
constexpr const char* kManifestName = "MANIFEST";
constexpr const char* kManifestTmpName = "MANIFEST.tmp";

struct Manifest {
  uint64_t first_seq = 0;  // >= 1
  uint64_t last_seq = 0;   // >= first_seq
  std::string first_name;  // at most kManifestNameBytesMax bytes
  friend bool operator==(const Manifest&, const Manifest&) = default;
};

std::string encode_manifest(const Manifest& m);
/// Returns why the bytes are not a valid manifest, or nullopt.
std::optional<std::string> decode_manifest(std::string_view bytes, Manifest* out);
/// The manifest of a WAL directory; nullopt when it has none. Throws CorruptionError when the
/// file does not decode, IoError when it cannot be read.
std::optional<Manifest> read_manifest(const std::string& wal_dir);
/// Replaces the manifest atomically (temporary file, fdatasync, rename, directory fsync).
void write_manifest(const std::string& wal_dir, const Manifest& m, bool fsync);

/// The manifest as it is on disk, shared by a Wal (loop thread) and its sync job (a worker):
/// both rewrite it, so each change is made and written under one lock, from the newest state,
/// and a job can never put back a first_seq that a removal advanced.
class ManifestKeeper {
 public:
  ManifestKeeper(std::string wal_dir, bool fsync, Manifest on_disk);
  Manifest get() const;
  /// Applies `change` to the manifest and writes it, unless it left it unchanged.
  template <typename Change>
  void update(Change change) {
    std::lock_guard<std::mutex> lock(mutex_);
    Manifest next = manifest_;
    change(next);
    if (next == manifest_) return;
    write_manifest(wal_dir_, next, fsync_);
    if (durable_) durable_->publish_whole(durable_name_);  // after its rename was fsynced
    manifest_ = std::move(next);
  }
  /// Each write from now on is published to `table` once durable.
  void publish_durable_to(std::shared_ptr<DurableTable> table, std::string durable_name);

 private:
  const std::string wal_dir_;
  const bool fsync_;
  mutable std::mutex mutex_;
  Manifest manifest_;                      // guarded by mutex_; what the file holds
  std::shared_ptr<DurableTable> durable_;  // guarded by mutex_; null: nothing published
  std::string durable_name_;               // "wal/MANIFEST"
};

}  // namespace raftlab::persist
