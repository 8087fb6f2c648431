// DirLock (see dir_lock.h).
#include "cmd/cluster/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>

#include "cmd/cluster/cluster_dir.h"
#include "cmd/cluster/contract.h"

namespace raftlab::lab {
namespace {

pid_t read_holder(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32] = {};
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  return static_cast<pid_t>(std::strtol(buf, nullptr, 10));
}

}  // namespace

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

void DirLock::release() {
  if (fd_ < 0) return;
  // The pid is left in the file: it is only read while the lock is held by someone.
  ::close(fd_);  // drops the flock
  fd_ = -1;
}

bool DirLock::try_once(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw LabError(kExitEnvironment, "cannot open lock file " + path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK || err == EINTR) return false;
    throw LabError(kExitEnvironment, "cannot lock " + path + ": " + std::strerror(err));
  }
  // The file may have been removed (a purge) between our open and our flock: a lock on an
  // unlinked inode guards nothing. Held only if the path still names the inode we locked.
  struct stat by_fd {};
  struct stat by_path {};
  if (::fstat(fd, &by_fd) != 0 || ::stat(path.c_str(), &by_path) != 0 ||
      by_fd.st_ino != by_path.st_ino || by_fd.st_dev != by_path.st_dev) {
    ::close(fd);
    return false;
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    const int err = errno;
    ::close(fd);
    throw LabError(kExitEnvironment, "cannot write lock file " + path + ": " + std::strerror(err));
  }
  fd_ = fd;
  path_ = path;
  return true;
}

bool DirLock::acquire(const std::string& path, uint32_t wait_ms, pid_t* holder) {
  release();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    if (try_once(path)) return true;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kLockPollMs));
  }
  if (holder != nullptr) *holder = read_holder(path);
  return false;
}

DirLock lock_cluster_dir(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw LabError(kExitEnvironment, "no cluster at " + dir + "; run `raftlab up`");
  }
  DirLock lock;
  pid_t holder = 0;
  const std::string path = dir + "/" + std::string(kClusterLock);
  if (!lock.acquire(path, kClusterLockWaitMs, &holder)) {
    throw LabError(kExitEnvironment,
                   "the cluster directory " + dir + " is locked by " +
                       (holder > 0 ? "pid " + std::to_string(holder) : "another command") +
                       " (still held after " + std::to_string(kClusterLockWaitMs / 1000) + " s; " +
                       path + ")");
  }
  return lock;
}

}  // namespace raftlab::lab
