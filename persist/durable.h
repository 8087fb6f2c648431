// The durable table: what a node has made durable, published as it syncs, so that
// `raftlab crash --lose-unsynced` can cut its files back to what a power cut would leave.
//
// SIGKILL keeps the page cache: a killed node loses no write, synced or not. A power cut loses
// every write not yet fdatasynced, and a file whose directory entry was not yet fsynced may
// vanish. The node writes, in memory, one slot per file of wal/ and snap/ (the node directory's
// `durable`, mmap'd MAP_SHARED): a store into the mapping is in the page cache at once, so it
// survives the node's SIGKILL and costs no system call per sync.
//
// The file DIR/n<ID>/durable (integers little-endian, as in format.h):
//
//   +---------------------------------------------------------------------------------+
//   | magic "RLABDURA" (8) | version u32 (4) | slots_count u32 (4) | overflow u32 (4)   |
//   | reserved u32 (4) | slots_count slots of kDurableSlotBytes:                         |
//   |   used u32 (4) | reserved u32 (4) | inode u64 (8) | length u64 (8) | name (64)       |
//   +---------------------------------------------------------------------------------+
//   name: the path under the node directory ("wal/open-...", "snap/snap-....snap"),
//   NUL-padded. used is written last when a slot is taken and first when it is freed, so a
//   node killed halfway through an update leaves either the old slot or the new one. length
//   is one aligned 8-byte store. overflow = 1: more files than slots; the table is then
//   incomplete and `crash --lose-unsynced` refuses (exit 4) rather than cut too much.
//
// Ordering (the contract the cutting relies on):
//   - A length is published only after the fdatasync that made it durable returned, and a
//     new file's slot only after its directory was fsynced too (persist/wal.cc SyncJob::run).
//   - A closed segment (`open-N` renamed `FIRST-LAST`) is published under its new name only
//     after the directory fsync: until then the cut renames the file back (found by inode).
//   - MANIFEST and snapshots are written whole (temporary file, fdatasync, rename, directory
//     fsync) and published after; a file renamed over a published name (MANIFEST) was synced
//     before the rename, so the cut keeps it.
//   - Files found when the node starts are fdatasynced (with their directory) and then
//     published: a plain `kill` before left unsynced bytes in the page cache.
// Without fsync (`up --no-fsync`) nothing is ever durable, and nothing is published.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace raftlab::persist {

constexpr char kDurableMagic[8] = {'R', 'L', 'A', 'B', 'D', 'U', 'R', 'A'};
constexpr uint32_t kDurableVersion = 1;
constexpr const char* kDurableFileName = "durable";
constexpr const char* kDurableTmpName = "durable.tmp";
constexpr size_t kDurableNameBytes = 64;  // "wal/" + a 41-byte segment name (+ ".SEQ")
constexpr size_t kDurableHeaderBytes = 8 + 4 + 4 + 4 + 4;  // magic, version, slots, overflow
constexpr size_t kDurableSlotBytes = 4 + 4 + 8 + 8 + kDurableNameBytes;
static_assert(kDurableHeaderBytes == 24 && kDurableSlotBytes == 88);
constexpr uint32_t kDurableSlotsCount = 1024;  // files in wal/ and snap/ at once, at most
constexpr size_t kDurableFileBytes = kDurableHeaderBytes + kDurableSlotsCount * kDurableSlotBytes;

/// One published file, as the cutting side reads it.
struct DurableFile {
  std::string name;  // under the node directory: "wal/open-..."
  uint64_t inode = 0;
  uint64_t length = 0;  // bytes durable from the start of the file
};

/// Decodes a durable table's bytes; returns why they are not one (an overflowed table
/// included), or "".
std::string decode_durable_table(std::string_view bytes, std::vector<DurableFile>* out);

/// The node's side: one per node process, shared by the loop thread and the sync worker.
class DurableTable {
 public:
  /// Syncs and publishes every file now in node_dir/wal and node_dir/snap, then replaces
  /// node_dir/durable with the new table (rename, so a crash while it starts leaves the old
  /// table, which still describes the files). Throws IoError.
  static std::shared_ptr<DurableTable> create(const std::string& node_dir);
  ~DurableTable();
  DurableTable(const DurableTable&) = delete;
  DurableTable& operator=(const DurableTable&) = delete;

  /// `name` (under the node directory) is durable through `length` bytes. Call only after
  /// the fdatasync (and, for a new name, the directory fsync) returned.
  void publish(std::string_view name, uint64_t inode, uint64_t length);
  /// Publishes the file at `name` whole, taking its inode and size from stat (for files
  /// written rarely and whole: MANIFEST, snapshots).
  void publish_whole(std::string_view name);
  /// The file is gone (its unlink made durable): frees its slot.
  void forget(std::string_view name);
  /// Frees the slots of `prefix` files ("snap/") that no longer exist.
  void forget_missing(std::string_view prefix);

 private:
  DurableTable(std::string node_dir, int fd, char* map);
  char* slot(uint32_t k) const;
  int find(std::string_view name) const;  // under mutex_; -1 when absent
  void take_slot(std::string_view name, uint64_t inode, uint64_t length);

  const std::string node_dir_;
  int fd_ = -1;
  char* map_ = nullptr;  // kDurableFileBytes, MAP_SHARED
  mutable std::mutex mutex_;
};

}  // namespace raftlab::persist
