// One owner per directory: an exclusive flock(2) on a lock file inside it, held for as long as
// the DirLock lives (the kernel drops it when the process dies, kill -9 included, so a crash
// never leaves a stale lock behind). The holder writes its pid into the file, so a refused
// caller can name who holds it.
//
// Two users (cmd/cluster/contract.h names the files):
//   - a node process locks DIR/n<ID>/lock for its whole life, before it reads or removes
//     anything there: a second node on the same directory exits 4 naming the holder. Readers
//     that never remove (`log dump`) take no lock.
//   - every command that changes cluster.json locks DIR/cluster.lock around its read, change
//     and write (with a bounded wait), so concurrent commands serialize and none loses
//     another's change.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace raftlab::lab {

constexpr uint32_t kClusterLockWaitMs = 15000;  // a command waits this long for cluster.lock
constexpr uint32_t kLockPollMs = 10;            // between two tries while waiting

class DirLock {
 public:
  DirLock() = default;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  DirLock(DirLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
    other.fd_ = -1;
  }
  DirLock& operator=(DirLock&& other) noexcept;
  ~DirLock() { release(); }

  /// Tries to lock `path` (created if missing) within wait_ms (0: one try). True when held.
  /// On false, *holder is the pid written by the holder (0 when unknown). Throws LabError(4)
  /// when the file cannot be opened at all.
  bool acquire(const std::string& path, uint32_t wait_ms, pid_t* holder);
  void release();
  bool held() const { return fd_ >= 0; }

 private:
  bool try_once(const std::string& path);  // open, flock, check the inode is still the path's

  int fd_ = -1;
  std::string path_;
};

/// Locks DIR/cluster.lock for a command that changes cluster.json; LabError(4) naming the
/// holder's pid when it is not free within kClusterLockWaitMs. DIR must exist.
DirLock lock_cluster_dir(const std::string& dir);

}  // namespace raftlab::lab
