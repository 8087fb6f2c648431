// A node process's storage (see node_storage.h).
#include "cmd/node_process/node_storage.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <thread>
#include <utility>

#include "cmd/cluster/contract.h"
#include "cmd/node_process/event_log.h"
#include "persist/io.h"

namespace raftlab::lab {
namespace {

// Test-only (like RAFTLAB_TEST_HELD_MAX): each WAL sync waits this long on its worker before
// its fdatasync, so that what an unsafe switch sends before persisting (release_before_persist)
// is out long before it is durable, and a power cut (`crash --lose-unsynced`) lands in between.
constexpr const char* kSyncDelayEnv = "RAFTLAB_TEST_SYNC_DELAY_MS";
constexpr uint32_t kSyncDelayMaxMs = 10000;  // a larger value is taken as this
constexpr int kSnapshotChildFailed = 1;      // exit status: the file could not be written
constexpr int kSnapshotChildOrphaned = 2;  // exit status: the parent died before PDEATHSIG was set
constexpr int kChildCloseFdsMax = 65536;   // without close_range: descriptors closed one by one

// Read once, when the node's storage opens; 0 (no delay) when unset or not a number.
uint32_t test_sync_delay_ms(NodeId id) {
  const char* env = std::getenv(kSyncDelayEnv);
  if (env == nullptr) return 0;
  const uint64_t ms = std::min<uint64_t>(std::strtoull(env, nullptr, 10), kSyncDelayMaxMs);
  if (ms > 0) {
    log_line(id, std::string("test-only ") + kSyncDelayEnv + ": each WAL sync waits " +
                     std::to_string(ms) + " ms before its fdatasync");
  }
  return static_cast<uint32_t>(ms);
}

}  // namespace

std::optional<persist::NodeStorage> open_storage(NodeId id, const std::string& node_dir,
                                                 bool fsync) {
  persist::WalOptions wal_options;
  wal_options.fsync = fsync;
  try {
    return persist::open_node_storage(node_dir, wal_options);
  } catch (const persist::CorruptionError& e) {
    // what() already names the file and the offset: say it once.
    log_line(id, std::string("refusing to start: corrupt WAL: ") + e.what() +
                     " (inspect it with `raftlab log dump " + std::to_string(id.get()) + "`)");
  } catch (const std::exception& e) {
    log_line(id, std::string("refusing to start: cannot open storage: ") + e.what());
  }
  return std::nullopt;
}

// The commit index is volatile state in Raft (Figure 2): a log whose tail was lost (a torn write,
// a hand truncation) can hold a commit beyond its last entry. Take the last entry then; the
// leader brings the rest (and the lost tail) back.
Restored restored_state(NodeId id, persist::NodeStorage& storage) {
  for (const persist::Warning& w : storage.recovered.warnings) {
    log_line(id, "recovery: " + w.message);
  }
  Restored restored;
  restored.hard_state = storage.recovered.hard_state;
  restored.entries = std::move(storage.recovered.entries);
  const Index snapshot_index =
      storage.recovered.snapshot ? storage.recovered.snapshot->index : Index(0);
  const Index last = restored.entries.empty() ? snapshot_index : restored.entries.back().index;
  Index& commit = restored.hard_state.commit;
  if (commit > last) {
    log_line(id, "recovery: the stored commit " + std::to_string(commit.get()) +
                     " is beyond the log's last index " + std::to_string(last.get()) +
                     " (its tail was lost): starting from commit " + std::to_string(last.get()));
    commit = last;
  }
  if (storage.recovered.snapshot) {
    restored.snapshot = Snapshot{*storage.recovered.snapshot, storage.snapshot_data.size(),
                                 Payload(std::move(storage.snapshot_data))};
  }
  return restored;
}

struct WalStorage::SyncWork {
  uv_work_t req{};  // req.data points to this
  WalStorage* storage = nullptr;
  persist::SyncJob job;
  uint32_t delay_ms = 0;  // test-only, before the fdatasync (kSyncDelayEnv)
};

struct WalStorage::RemovalWork {
  uv_work_t req{};  // req.data points to this
  WalStorage* storage = nullptr;
  persist::SegmentRemoval removal;
  std::string error;  // set by the worker
};

struct WalStorage::ClosingWork {
  uv_work_t req{};  // req.data points to this
  std::vector<std::unique_ptr<persist::SnapshotFile>> files;
};

struct WalStorage::ForkWork {
  uv_work_t req{};  // req.data points to this
  WalStorage* storage = nullptr;
  pid_t pid = 0;
  SnapshotMeta meta;
  int status = 0;  // from waitpid, on the worker
};

namespace {

// The child of start_snapshot_fork: writes the file and exits, touching nothing the parent
// owns. It dies with the parent (PDEATHSIG), so a killed node leaves at most a .tmp file and
// no process holding its directory lock; it closes every inherited descriptor (sockets, the
// lock, the WAL) first, so a connection the parent closes really closes.
[[noreturn]] void run_snapshot_child(pid_t parent, NodeId id, const std::string& dir,
                                     const SnapshotMeta& meta, uint64_t data_length,
                                     const persist::SnapshotProducer& produce, bool fsync) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(kSnapshotChildOrphaned);
  if (::close_range(3, ~0U, 0) != 0) {  // a kernel before 5.9
    for (int fd = 3; fd < kChildCloseFdsMax; ++fd) ::close(fd);
  }
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
  try {
    persist::save_snapshot_streamed(dir, meta, data_length, produce, fsync);
  } catch (const std::exception& e) {
    // stderr is the node's log; the parent reports the exit status.
    const std::string line =
        "node " + std::to_string(id.get()) + ": snapshot writer: " + e.what() + "\n";
    [[maybe_unused]] const ssize_t n = ::write(2, line.data(), line.size());
    ::_exit(kSnapshotChildFailed);
  }
  ::_exit(0);
}

std::string child_error(int status) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFSIGNALED(status)) return "the writer died of signal " + std::to_string(WTERMSIG(status));
  return "the writer exited with status " + std::to_string(WEXITSTATUS(status)) +
         " (its reason is in this log)";
}

}  // namespace

bool WalStorage::start_snapshot_fork(const SnapshotMeta& meta, uint64_t data_length,
                                     const persist::SnapshotProducer& produce) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    log_line(id_, std::string("cannot fork a snapshot writer: ") + std::strerror(errno));
    return false;
  }
  if (pid == 0) run_snapshot_child(parent, id_, snap_dir_, meta, data_length, produce, fsync_);
  snapshot_save_in_flight_ = true;
  auto* work = new ForkWork;
  work->req.data = work;
  work->storage = this;
  work->pid = pid;
  work->meta = meta;
  uv_queue_work(
      loop_, &work->req,
      [](uv_work_t* req) {  // worker thread: waits for the child
        auto* w = static_cast<ForkWork*>(req->data);
        while (::waitpid(w->pid, &w->status, 0) < 0 && errno == EINTR) {
        }
      },
      [](uv_work_t* req, int) {
        std::unique_ptr<ForkWork> w(static_cast<ForkWork*>(req->data));
        WalStorage* self = w->storage;
        self->snapshot_save_in_flight_ = false;
        std::string error = child_error(w->status);
        uint64_t size = 0;
        if (error.empty()) {
          self->open_snapshot_file(w->meta.index);
          const auto it = self->snapshot_files_.find(w->meta.index);
          if (it == self->snapshot_files_.end()) error = "the written file cannot be opened";
          if (error.empty()) size = it->second->data_length();
        }
        self->callbacks_.snapshot_written(w->meta, size, error);
      });
  return true;
}

struct WalStorage::SnapshotWork {
  uv_work_t req{};  // req.data points to this
  WalStorage* storage = nullptr;
  std::string dir;
  Snapshot snapshot;
  bool fsync = true;
  std::string error;  // set by the worker
};

WalStorage::WalStorage(NodeId id, uv_loop_t* loop, std::unique_ptr<persist::Wal> wal,
                       std::string node_dir, bool fsync, Index durable_snapshot_index,
                       Callbacks callbacks)
    : id_(id),
      loop_(loop),
      wal_(std::move(wal)),
      snap_dir_(node_dir + "/" + std::string(kSnapDir)),
      fsync_(fsync),
      callbacks_(std::move(callbacks)),
      durable_snapshot_index_(durable_snapshot_index),
      sync_delay_ms_(test_sync_delay_ms(id)) {
  if (durable_snapshot_index > Index(0)) open_snapshot_file(durable_snapshot_index);
  if (!fsync_) return;  // nothing is ever durable: publish nothing
  try {
    durable_ = persist::DurableTable::create(node_dir);
    wal_->publish_durable_to(durable_);
  } catch (const std::exception& e) {
    // The node runs as well without it; only `crash --lose-unsynced` will refuse.
    log_line(id_, std::string("cannot publish durable offsets: ") + e.what());
    durable_.reset();
  }
}

// Snapshot files are published whole once save_snapshot returned (it fsynced the file and
// the directory), before the WAL mark that names them; removed older ones are forgotten.
void WalStorage::publish_snapshot(const SnapshotMeta& meta) {
  if (!durable_) return;
  durable_->publish_whole(std::string(kSnapDir) + "/" + persist::snapshot_file_name(meta.index));
  durable_->forget_missing(std::string(kSnapDir) + "/");
}

// A snapshot file this node saved or loaded, opened for chunk reads. A failure only costs the
// transfers of that snapshot (read_snapshot answers nullopt; the core starts over later).
void WalStorage::open_snapshot_file(Index index) {
  try {
    auto file = std::make_unique<persist::SnapshotFile>(snap_dir_ + "/" +
                                                        persist::snapshot_file_name(index));
    snapshot_files_[index] = std::move(file);
  } catch (const std::exception& e) {
    log_line(id_, std::string("cannot open the snapshot file for sending: ") + e.what());
  }
}

void WalStorage::retain_snapshots(const std::vector<Index>& in_use) {
  if (snapshot_files_.size() <= 1) return;
  const Index newest = snapshot_files_.rbegin()->first;
  auto closing = std::make_unique<ClosingWork>();
  for (auto it = snapshot_files_.begin(); it != snapshot_files_.end();) {
    if (it->first != newest && std::find(in_use.begin(), in_use.end(), it->first) == in_use.end()) {
      closing->files.push_back(std::move(it->second));
      it = snapshot_files_.erase(it);
    } else {
      ++it;
    }
  }
  if (closing->files.empty()) return;
  // A removed snapshot's blocks are freed when its last descriptor closes: tens of megabytes
  // take ext4 several milliseconds (measured 7-21 ms for 27 MB), so a worker closes them.
  closing->req.data = closing.get();
  uv_queue_work(
      loop_, &closing.release()->req,
      [](uv_work_t* req) { static_cast<ClosingWork*>(req->data)->files.clear(); },
      [](uv_work_t* req, int) { delete static_cast<ClosingWork*>(req->data); });
}

// Segments below a durable snapshot go on a worker (SegmentRemoval: the unlinks, the
// directory fsync and the blocks freed at the last close took 55-70 ms on the loop, the whole
// of the p99.9 at 64 clients). One removal at a time; segments left by a skipped one go with
// the next compaction.
void WalStorage::remove_segments(Index below) {
  if (removal_in_flight_) return;
  auto work = std::make_unique<RemovalWork>();
  work->removal = wal_->detach_segments_below(below);
  if (work->removal.count() == 0) return;
  removal_in_flight_ = true;
  work->req.data = work.get();
  work->storage = this;
  uv_queue_work(
      loop_, &work.release()->req,
      [](uv_work_t* req) {  // worker thread: touches only the work item
        auto* w = static_cast<RemovalWork*>(req->data);
        try {
          w->removal.run();
        } catch (const std::exception& e) {
          w->error = e.what();
        }
      },
      [](uv_work_t* req, int) {
        std::unique_ptr<RemovalWork> w(static_cast<RemovalWork*>(req->data));
        w->storage->removal_in_flight_ = false;
        if (!w->error.empty()) {
          w->storage->callbacks_.fatal("cannot remove WAL segments below a snapshot: " + w->error);
        }
      });
}

std::optional<Payload> WalStorage::read_snapshot(const SnapshotMeta& meta, uint64_t offset,
                                                 uint64_t length) {
  if (saving_ && saving_->meta.index == meta.index) {
    return slice_snapshot(saving_->data, offset, length);
  }
  const auto it = snapshot_files_.find(meta.index);
  if (it == snapshot_files_.end()) return std::nullopt;
  try {
    return Payload(it->second->read(offset, length));
  } catch (const std::exception& e) {
    log_line(id_, std::string("cannot read a snapshot chunk: ") + e.what());
    return std::nullopt;
  }
}

std::optional<Payload> WalStorage::read_entry(Index index, Term term) {
  try {
    return wal_->read_entry(index, term);
  } catch (const std::exception& e) {
    log_line(id_, std::string("cannot read entry ") + std::to_string(index.get()) +
                      " back from the WAL: " + e.what());
    return std::nullopt;
  }
}

// Step 1 of ready.h, in its order.
void WalStorage::write(Ready& ready) {
  try {
    if (ready.snapshot && ready.snapshot_saved) {
      record_saved_snapshot(ready.snapshot->meta);  // written by start_snapshot_fork's child
    } else if (ready.snapshot && !ready.restore_snapshot) {
      // Our own snapshot: the log it covers is still in the WAL, so nothing is lost if it
      // is not durable yet.
      start_snapshot_save(*ready.snapshot);
    } else if (ready.snapshot) {
      save_leader_snapshot(*ready.snapshot);
    } else if (ready.truncate_from &&
               (ready.entries.empty() || ready.entries.front().index != *ready.truncate_from)) {
      log_line(id_, "truncate_from " + std::to_string(ready.truncate_from->get()) +
                        " without a snapshot or entries at it; the next entries truncate instead");
    }
    if (ready.compacted_through) {
      // Only segments wholly below a durable snapshot go (Wal removes closed, durable
      // segments only), never past the newest durable one (an own snapshot may be in flight).
      remove_segments(std::min(*ready.compacted_through, durable_snapshot_index_));
    }
    if (ready.hard_state || !ready.entries.empty()) wal_->write(ready.hard_state, ready.entries);
  } catch (const std::exception& e) {
    callbacks_.fatal(std::string("cannot persist: ") + e.what());
  }
}

// A leader's snapshot replaces our state: synchronous, durable before the WAL mark. The mark
// also drops stored entries that do not continue the snapshot (the truncate_from of an
// InstallSnapshot that replaced the whole log).
void WalStorage::save_leader_snapshot(const Snapshot& snapshot) {
  persist::save_snapshot(snap_dir_, snapshot.meta, snapshot.data.str(), fsync_);
  publish_snapshot(snapshot.meta);
  open_snapshot_file(snapshot.meta.index);
  wal_->append_snapshot_mark({snapshot.meta.index, snapshot.meta.term});
  durable_snapshot_index_ = std::max(durable_snapshot_index_, snapshot.meta.index);
}

// A snapshot file already durable (fsynced, renamed, directory fsynced): publish it and mark it
// in the WAL; the Ready's compaction then removes the segments it covers.
void WalStorage::record_saved_snapshot(const SnapshotMeta& meta) {
  if (meta.index <= durable_snapshot_index_) return;  // a leader's newer snapshot came first
  publish_snapshot(meta);
  wal_->append_snapshot_mark({meta.index, meta.term});
  durable_snapshot_index_ = meta.index;
}

void WalStorage::begin_sync() {
  auto* work = new SyncWork;
  work->req.data = work;
  work->storage = this;
  work->delay_ms = sync_delay_ms_;
  try {
    // begin_sync writes the buffered records out (and may start a segment): ENOSPC shows here.
    work->job = wal_->begin_sync();
  } catch (const std::exception& e) {
    delete work;
    callbacks_.fatal(std::string("cannot write the WAL: ") + e.what());
    return;
  }
  uv_queue_work(
      loop_, &work->req,
      [](uv_work_t* req) {  // worker thread: touches only the work item
        auto* w = static_cast<SyncWork*>(req->data);
        if (w->delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(w->delay_ms));
        w->job.run();
      },
      [](uv_work_t* req, int) {
        std::unique_ptr<SyncWork> w(static_cast<SyncWork*>(req->data));
        WalStorage* self = w->storage;
        uint64_t durable_seq = 0;
        try {
          durable_seq = self->wal_->finish_sync(std::move(w->job));
        } catch (const std::exception& e) {
          // A failed fsync is fatal (wal.h): the kernel may have dropped the pages.
          self->callbacks_.fatal(std::string("sync failed: ") + e.what());
          return;
        }
        self->callbacks_.synced(durable_seq);
      });
}

// A large state machine takes a while to write and fsync: a worker does it.
void WalStorage::start_snapshot_save(const Snapshot& snapshot) {
  auto* work = new SnapshotWork;
  work->req.data = work;
  work->storage = this;
  work->dir = snap_dir_;
  work->snapshot = snapshot;  // shares the bytes with saving_, until the file is durable
  work->fsync = fsync_;
  snapshot_save_in_flight_ = true;
  saving_ = snapshot;
  uv_queue_work(
      loop_, &work->req,
      [](uv_work_t* req) {  // worker thread: touches only the work item
        auto* w = static_cast<SnapshotWork*>(req->data);
        try {
          persist::save_snapshot(w->dir, w->snapshot.meta, w->snapshot.data.str(), w->fsync);
        } catch (const std::exception& e) {
          w->error = e.what();
        }
      },
      [](uv_work_t* req, int) {
        std::unique_ptr<SnapshotWork> w(static_cast<SnapshotWork*>(req->data));
        w->storage->snapshot_save_in_flight_ = false;
        auto& saving = w->storage->saving_;
        if (saving && saving->meta.index == w->snapshot.meta.index) saving.reset();
        if (w->error.empty()) {
          try {
            w->storage->publish_snapshot(w->snapshot.meta);
          } catch (const std::exception& e) {
            w->error = e.what();
          }
          w->storage->open_snapshot_file(w->snapshot.meta.index);
        }
        w->storage->callbacks_.snapshot_saved(w->snapshot.meta, w->error);
      });
}

void WalStorage::mark_snapshot(const SnapshotMeta& meta, Index log_first_index) {
  if (meta.index <= durable_snapshot_index_) return;  // a leader's newer snapshot came first
  try {
    wal_->append_snapshot_mark({meta.index, meta.term});
    durable_snapshot_index_ = meta.index;
    remove_segments(std::min(meta.index, log_first_index - 1));
  } catch (const std::exception& e) {
    callbacks_.fatal(std::string("cannot persist: ") + e.what());
  }
}

std::string WalStorage::final_sync() {
  try {
    if (wal_->written_seq() > wal_->durable_seq()) wal_->sync();
  } catch (const std::exception& e) {
    return std::string("final sync failed: ") + e.what();
  }
  return {};
}

}  // namespace raftlab::lab
