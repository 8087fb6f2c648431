// The write-ahead log of one node: entries, hard state and snapshot marks in checksummed
// records (byte layout: persist/format.h), in segment files under one directory.
//
// Files. The segment being written is `open-N` (N = its segment_seq, 20 digits). When it
// exceeds segment_bytes_max it is closed: synced, renamed `FIRST-LAST` (the first and last
// entry index it holds, 20 digits each) and a new `open-(N+1)` begun. The directory is fsynced
// after every create, rename and unlink before anything that depends on it is called durable.
// Segments are ordered by the segment_seq in their headers, not by name. `MANIFEST` records
// which segments must exist (persist/manifest.h: its layout and when it is written).
//
// Recovery policy (Wal::open):
//   1. The newest segment, if it is `open-N`, may end in a torn or zeroed tail: the last writes
//      before a crash that were never synced. Damage there is a torn tail only if no valid
//      record follows it anywhere in the file; then the file is truncated at the damage and a
//      warning names the file, the offset and the last good index. Only unsynced writes can be
//      lost this way: a sync makes the whole file prefix durable, so a record that was
//      acknowledged is followed by nothing but other acknowledged records or the torn end.
//   2. Any other damage (in a closed segment, in an earlier `open-N`, a damaged record followed
//      by valid ones, a bad header, a gap in the indices, a missing snapshot, a segment the
//      manifest lists that is missing or has no header, a damaged manifest) stops recovery:
//      CorruptionError names the file and the offset. We would rather refuse to start than drop
//      an acknowledged entry silently; `raftlab log dump` shows what is there.
//   3. What a crash between two steps of a roll or a removal leaves is repaired, with a
//      warning: segments older than the manifest's first are removed (their removal was under
//      way), a newest `open-N` beyond the manifest's last without a header is removed, and the
//      manifest is brought up to date. No manifest at all is a WAL written before manifests
//      existed: it is adopted as it is and the manifest created.
//   A record's checksum covers its length and type, so damage is never accepted as data.
//
// Threading contract (group commit; issue #5 drives it from a libuv loop):
//   - One "loop" thread owns the Wal: open, write/append*, begin_sync, finish_sync,
//     remove_segments_below and every accessor run there only.
//   - begin_sync() writes every buffered record to the kernel and returns a SyncJob covering
//     every write issued so far (seq <= job.seq()). job.run() may run on any thread (a libuv
//     worker) while the loop thread keeps calling write(): it fdatasyncs the segments closed
//     since the last sync, renames them, fsyncs the directory if needed and fdatasyncs the
//     current segment; when a segment was created since the last job it then rewrites the
//     manifest (through the locked ManifestKeeper, which remove_segments_below shares). It
//     touches nothing else the loop thread uses.
//   - finish_sync(job) on the loop thread, after run() returned, reports "durable through
//     seq": only then may the host send what waited for those writes (ready.h step 2). At most
//     one job is in flight; syncs complete in order, so durability never goes backwards.
//   - A failed fdatasync is fatal (finish_sync throws IoError): the kernel may have dropped the
//     dirty pages, so retrying could report data durable that is not.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "node/types.h"
#include "persist/durable.h"
#include "persist/format.h"
#include "persist/io.h"
#include "persist/manifest.h"

namespace raftlab::persist {

/// Damage that recovery will not repair: names the file and the byte offset.
class CorruptionError : public std::runtime_error {
 public:
  CorruptionError(std::string path, uint64_t offset, const std::string& what)
      : std::runtime_error(path + " at offset " + std::to_string(offset) + ": " + what),
        path_(std::move(path)),
        offset_(offset) {}
  const std::string& path() const { return path_; }
  uint64_t offset() const { return offset_; }

 private:
  std::string path_;
  uint64_t offset_;
};

struct Warning {
  std::string path;
  uint64_t offset = 0;
  std::string message;  // the whole sentence, path and offset included
};

struct WalOptions {
  bool fsync = true;  // off only for tests and `--no-fsync` labs: a crash may then lose anything
  uint64_t segment_bytes_max = 64ull << 20;      // at most kSegmentBytesMaxLimit
  uint64_t write_buffer_bytes_max = 1ull << 20;  // buffered records are written beyond this
};

/// What recovery found: exactly what the core's Restored needs, plus the snapshot it starts
/// from.
struct Recovered {
  HardState hard_state;
  std::optional<SnapshotMeta> snapshot;  // the snapshot the log starts after, if any
  std::vector<Entry> entries;            // consecutive, starting right after the snapshot
  std::vector<Warning> warnings;         // torn tails truncated, files removed
};

class Wal;
struct FoundSegment;  // recovery's working state (wal.cc)
struct Replay;

/// One group commit in flight (see the threading contract above).
class SyncJob {
 public:
  SyncJob() = default;
  SyncJob(SyncJob&&) = default;
  SyncJob& operator=(SyncJob&&) = default;
  ~SyncJob();

  /// Makes every write up to seq() durable. Any thread; does not throw (errors are kept for
  /// finish_sync).
  void run() noexcept;
  uint64_t seq() const { return seq_; }

  struct Segment;  // one segment file; defined in wal.cc, opaque elsewhere

 private:
  friend class Wal;
  void publish_renames();
  void publish_current();
  uint64_t seq_ = 0;
  bool fsync_ = true;
  bool ran_ = false;
  bool sync_directory_ = false;  // a segment was created since the last sync
  bool list_current_ = false;    // current_ is newer than the manifest's last_seq
  std::shared_ptr<ManifestKeeper> manifest_;
  std::shared_ptr<DurableTable> durable_;  // null: nothing published (durable.h)
  uint64_t current_bytes_ = 0;             // current_'s length when the job began
  std::string dir_;
  std::vector<std::shared_ptr<Segment>> closed_;  // sync, then rename to their final names
  std::shared_ptr<Segment> current_;
  std::string error_;
};

/// WAL segments a snapshot made unneeded, taken out of the Wal by
/// Wal::detach_segments_below and deleted by run(), on any thread: the manifest moves first
/// (manifest.h), then the files are unlinked, the directory fsynced, and the segments' last
/// descriptors closed. On ext4 that takes tens of milliseconds for a 64 MiB segment (freeing
/// its blocks), which the node keeps off its loop. One at a time: a second one could move the
/// manifest's first segment back.
class SegmentRemoval {
 public:
  SegmentRemoval() = default;
  SegmentRemoval(SegmentRemoval&&) = default;
  SegmentRemoval& operator=(SegmentRemoval&&) = default;
  ~SegmentRemoval();
  /// Throws IoError. Afterwards the removal holds nothing (the files are closed).
  void run();
  size_t count() const { return segments_.size(); }

 private:
  friend class Wal;
  std::vector<std::shared_ptr<SyncJob::Segment>> segments_;
  uint64_t first_seq_ = 0;  // the manifest's first segment once these are gone
  std::string first_name_;
  std::shared_ptr<ManifestKeeper> manifest_;
  std::shared_ptr<DurableTable> durable_;
  std::string dir_;
  bool fsync_ = true;
};

class Wal {
 public:
  /// Recovers the log in `dir` (created if missing) as the policy above says, repairs a torn
  /// tail, and returns a Wal ready to append after it. `snapshot` is the newest valid snapshot
  /// (persist/snapshot.h), if any: entries it covers are not returned, and the log must hold
  /// every entry after it. Throws CorruptionError or IoError.
  static std::unique_ptr<Wal> open(const std::string& dir, const WalOptions& options,
                                   const std::optional<SnapshotMeta>& snapshot,
                                   Recovered* recovered);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  /// One Ready's writes: entries first (the first one discards every stored entry at or above
  /// its index), then the hard state, so a recovered commit never points past the log.
  /// Returns the write's sequence number. Throws std::invalid_argument on entries that are
  /// not consecutive, leave a gap, or exceed kEntryDataBytesMax.
  uint64_t write(const std::optional<HardState>& hard_state, const std::vector<Entry>& entries);
  uint64_t append(const std::vector<Entry>& entries) { return write(std::nullopt, entries); }
  uint64_t append_hard_state(const HardState& hs) { return write(hs, {}); }
  /// The log now starts after `mark`. Write it only once the snapshot file is durable.
  uint64_t append_snapshot_mark(const SnapshotMark& mark);

  SyncJob begin_sync();
  /// Returns the newest seq now durable. Throws IoError if the job's sync failed.
  uint64_t finish_sync(SyncJob job);
  /// begin_sync + run + finish_sync on this thread.
  uint64_t sync();

  /// Deletes closed, durable segments holding only entries at or below `index` (a snapshot
  /// covers them), oldest first, then fsyncs the directory. The manifest's first segment
  /// moves before any unlink (manifest.h). Returns how many were removed.
  size_t remove_segments_below(Index index);
  /// The same in two steps: the segments leave the Wal now (loop thread), and the returned
  /// removal deletes them when run, on any thread, before the next detach is run.
  SegmentRemoval detach_segments_below(Index index);

  uint64_t written_seq() const { return written_seq_; }
  uint64_t durable_seq() const { return durable_seq_; }
  bool sync_in_flight() const { return sync_in_flight_; }
  Index last_index() const { return last_index_; }
  const std::string& dir() const { return dir_; }
  size_t segments_count() const;  // durable closed + closed in flight + current
  /// From now on, each sync publishes what it made durable to `table` (durable.h).
  void publish_durable_to(std::shared_ptr<DurableTable> table);

  /// The data of the entry at `index` as the log now holds it, if it carries `term`: read
  /// back from its segment (or the unwritten buffer) by the position recorded when it was
  /// written or recovered. nullopt when the log has no such entry; throws IoError or
  /// CorruptionError when the record cannot be read or is damaged. Loop thread.
  std::optional<Payload> read_entry(Index index, Term term);

 private:
  using Segment = SyncJob::Segment;
  Wal(std::string dir, const WalOptions& options);
  void recover(const std::optional<SnapshotMeta>& snapshot, Recovered* recovered);
  void drop_unlisted(const std::optional<Manifest>& manifest, std::vector<FoundSegment>& found,
                     Recovered* recovered);
  std::shared_ptr<Segment> replay_segments(std::vector<FoundSegment>& found, Replay& replay,
                                           Recovered* recovered);
  void adopt_manifest(const std::optional<Manifest>& on_disk, bool found_any, Recovered* recovered);
  std::string name_of_segment(uint64_t seq) const;
  void start_segment();
  void roll_if_full(size_t next_record_bytes);
  void flush();
  void note_entry(Index index);
  void note_position(Index index, uint64_t segment_seq, uint64_t offset);
  void forget_positions_before(uint64_t segment_seq);
  Segment* find_segment(uint64_t seq) const;

  std::string dir_;
  WalOptions options_;
  std::string buffer_;  // encoded records not yet written to the current segment
  std::shared_ptr<Segment> current_;
  std::vector<std::shared_ptr<Segment>> closed_unsynced_;  // closed since the last begin_sync
  std::vector<std::shared_ptr<Segment>> closed_in_flight_;
  std::vector<std::shared_ptr<Segment>> closed_durable_;  // renamed, in segment order
  std::set<std::string> closed_names_;  // never reused: a rename must not replace a segment
  bool directory_dirty_ = false;
  std::shared_ptr<ManifestKeeper> manifest_;  // set by recovery
  std::shared_ptr<DurableTable> durable_;     // null: nothing published
  uint64_t listed_last_seq_ = 0;  // the manifest's last_seq once the jobs begun so far ran
  uint64_t next_segment_seq_ = 1;
  uint64_t written_seq_ = 0;
  uint64_t durable_seq_ = 0;
  uint64_t in_flight_seq_ = 0;
  bool sync_in_flight_ = false;
  HardState hard_state_;                  // newest written, repeated at the head of each segment
  std::optional<SnapshotMark> snapshot_;  // likewise
  Index last_index_;                      // log end as written
  // Where each entry of the log is: positions_[k] holds entry positions_first_ + k as
  // (segment_seq << 32 | offset in that segment), for read_entry. Entries in removed
  // segments are forgotten; 8 bytes an entry.
  std::deque<uint64_t> positions_;
  Index positions_first_;
};

/// The name of a closed segment, and the name of an open one.
std::string closed_segment_name(Index first, Index last);
std::string open_segment_name(uint64_t segment_seq);

}  // namespace raftlab::persist
