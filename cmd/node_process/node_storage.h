// A node process's storage: opening DIR/n<ID> (its WAL and snapshots, directory names from
// cmd/cluster/contract.h) and the Storage of node/pipeline.h over them.
//
// WalStorage: entries and hard state go to the Wal's buffer; a group commit
// (Wal::begin_sync) runs on a libuv worker, at most one at a time (the pipeline starts the
// next). A leader's snapshot is saved synchronously (durable before the WAL mark naming it);
// the node's own snapshot is saved on a worker, and the WAL mark and the removal of covered
// segments wait for it. Every I/O error goes to `fatal`: nothing unsynced was acknowledged,
// so stopping loses nothing. With fsync on, what each sync made durable is published to
// n<ID>/durable (persist/durable.h) for `raftlab crash --lose-unsynced`.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/core.h"
#include "node/pipeline.h"
#include "persist/snapshot.h"
#include "persist/wal.h"

namespace raftlab::lab {

/// Opens the node's WAL and newest snapshot. Logs why and returns nullopt when it cannot
/// (a corrupt WAL, an unreadable directory).
std::optional<persist::NodeStorage> open_storage(NodeId id, const std::string& node_dir,
                                                 bool fsync);

/// The state the core restarts from; the commit is clamped to the log's end (a lost tail).
/// The entries and the snapshot's bytes move out of `storage`.
Restored restored_state(NodeId id, persist::NodeStorage& storage);

class WalStorage final : public Storage {
 public:
  struct Callbacks {
    std::function<void(const std::string&)> fatal;  // logs, exits 4; never returns
    std::function<void(uint64_t durable_seq)> synced;
    std::function<void(const SnapshotMeta&, const std::string& error)> snapshot_saved;
    // start_snapshot_fork's child exited: the file holds `size` bytes of state, or error.
    std::function<void(const SnapshotMeta&, uint64_t size, const std::string& error)>
        snapshot_written;
  };
  /// durable_snapshot_index: the snapshot the node started from (0: none).
  WalStorage(NodeId id, uv_loop_t* loop, std::unique_ptr<persist::Wal> wal, std::string node_dir,
             bool fsync, Index durable_snapshot_index, Callbacks callbacks);

  void write(Ready& ready) override;
  uint64_t written_seq() const override { return wal_->written_seq(); }
  uint64_t durable_seq() const override { return wal_->durable_seq(); }
  void begin_sync() override;
  /// From the own snapshot being saved, else from one of the newest snapshot files.
  std::optional<Payload> read_snapshot(const SnapshotMeta& meta, uint64_t offset,
                                       uint64_t length) override;
  /// An entry whose bytes the core's log released, read back from the WAL.
  std::optional<Payload> read_entry(Index index, Term term) override;

  size_t snapshot_files_open() const { return snapshot_files_.size(); }
  /// Closes the snapshot files that are neither the newest nor `in_use` (being sent:
  /// Core::snapshots_in_use); a removed file's space is freed once it is closed.
  void retain_snapshots(const std::vector<Index>& in_use);

  /// The node's own snapshot at `meta`, written to its file by a forked child from the state
  /// machine as it is now (the child's copy-on-write view: nothing is serialized on this
  /// thread, and the node goes on applying). `produce` runs in the child only and must hand
  /// exactly `data_length` bytes. callbacks.snapshot_written runs once the child exited.
  /// False (logged) when no child could be started.
  bool start_snapshot_fork(const SnapshotMeta& meta, uint64_t data_length,
                           const persist::SnapshotProducer& produce);

  bool snapshot_save_in_flight() const { return snapshot_save_in_flight_; }
  /// The node's own snapshot is durable: the WAL marks it and drops the segments below both
  /// it and the core's log (log_first_index).
  void mark_snapshot(const SnapshotMeta& meta, Index log_first_index);
  Index durable_snapshot_index() const { return durable_snapshot_index_; }
  /// At shutdown: syncs what is left, on this thread. Returns an error, or "".
  std::string final_sync();

 private:
  struct SyncWork;
  struct SnapshotWork;
  struct ForkWork;
  struct RemovalWork;
  struct ClosingWork;
  void remove_segments(Index below);
  void record_saved_snapshot(const SnapshotMeta& meta);
  void start_snapshot_save(const Snapshot& snapshot);
  void publish_snapshot(const SnapshotMeta& meta);
  void save_leader_snapshot(const Snapshot& snapshot);
  void open_snapshot_file(Index index);

  NodeId id_;
  uv_loop_t* loop_;
  std::unique_ptr<persist::Wal> wal_;
  std::string snap_dir_;
  bool fsync_ = true;
  Callbacks callbacks_;
  std::shared_ptr<persist::DurableTable> durable_;  // null without fsync (persist/durable.h)
  bool snapshot_save_in_flight_ = false;            // own snapshots: one at a time
  bool removal_in_flight_ = false;                  // remove_segments: one at a time
  Index durable_snapshot_index_;  // newest snapshot known durable (WAL segments below may go)
  uint32_t sync_delay_ms_ = 0;    // test-only RAFTLAB_TEST_SYNC_DELAY_MS (node_storage.cc)
  // Where InstallSnapshot chunks are read from (read_snapshot): the own snapshot whose save
  // is in flight (its bytes until the file is durable), and the snapshot files, open: the
  // newest and those being sent (retain_snapshots), so a transfer goes on after a newer
  // snapshot removed its file.
  std::optional<Snapshot> saving_;
  std::map<Index, std::unique_ptr<persist::SnapshotFile>> snapshot_files_;
};

}  // namespace raftlab::lab
