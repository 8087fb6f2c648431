// POSIX file helpers (see io.h).
#include "persist/io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace raftlab::persist {
namespace {

[[noreturn]] void fail(const std::string& path, const char* call) {
  throw IoError(path, std::string(call) + ": " + std::strerror(errno));
}

}  // namespace

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void make_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) fail(path, "mkdir");
}

std::vector<std::string> list_directory(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) fail(dir, "opendir");
  std::vector<std::string> names;
  // Bounded by the directory itself; readdir returns null at the end.
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_file(const std::string& path, uint64_t size_max_bytes) {
  const int fd = open_file(path, O_RDONLY);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(path, "fstat");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > size_max_bytes) {
    ::close(fd);
    throw IoError(path, "file of " + std::to_string(size) + " bytes exceeds the maximum " +
                            std::to_string(size_max_bytes));
  }
  std::string bytes(size, '\0');
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, bytes.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      fail(path, "read");
    }
    if (n == 0) break;  // shrank under us: return what is there
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  ::close(fd);
  return bytes;
}

int open_file(const std::string& path, int flags, int mode) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) fail(path, "open");
  return fd;
}

void close_file(int fd, const std::string& path) {
  if (::close(fd) != 0) fail(path, "close");
}

void write_all(int fd, const void* data, size_t size, const std::string& path) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, "write");
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void read_all_at(int fd, void* data, size_t size, uint64_t offset, const std::string& path) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, "pread");
    if (n == 0) throw IoError(path, "short read at offset " + std::to_string(offset));
    p += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<size_t>(n);
  }
}

void sync_file(int fd, const std::string& path) {
  if (::fdatasync(fd) != 0) fail(path, "fdatasync");
}

void sync_directory(const std::string& dir) {
  const int fd = open_file(dir, O_RDONLY | O_DIRECTORY);
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail(dir, "fsync");
  }
  ::close(fd);
}

void rename_file(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) fail(from, ("rename to " + to).c_str());
}

void remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0) fail(path, "unlink");
}

void truncate_file(const std::string& path, uint64_t size_bytes) {
  if (::truncate(path.c_str(), static_cast<off_t>(size_bytes)) != 0) fail(path, "truncate");
}

uint64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(path, "stat");
  return static_cast<uint64_t>(st.st_size);
}

void write_file_atomic(const std::string& dir, const std::string& tmp_name,
                       const std::string& final_name, const std::string& bytes, bool fsync) {
  const std::string tmp = join_path(dir, tmp_name);
  const int fd = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC);
  try {
    write_all(fd, bytes.data(), bytes.size(), tmp);
    if (fsync) sync_file(fd, tmp);
  } catch (...) {
    close_file(fd, tmp);
    throw;
  }
  close_file(fd, tmp);
  rename_file(tmp, join_path(dir, final_name));
  if (fsync) sync_directory(dir);
}

}  // namespace raftlab::persist
