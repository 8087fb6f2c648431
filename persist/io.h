// Thin POSIX file helpers for persist/: every failure becomes an IoError naming the path and
// the errno text, so a caller can report it and exit 4 (docs/cli.md: environment error).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace raftlab::persist {

/// An operating-system call failed on `path`.
class IoError : public std::runtime_error {
 public:
  IoError(std::string path, const std::string& what)
      : std::runtime_error(path + ": " + what), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string join_path(const std::string& dir, const std::string& name);
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
/// Creates the directory if missing (not its parents).
void make_directory(const std::string& path);
/// Names in the directory, sorted, without "." and "..".
std::vector<std::string> list_directory(const std::string& dir);
/// The whole file. Throws IoError when it is larger than size_max_bytes.
std::string read_file(const std::string& path, uint64_t size_max_bytes);

int open_file(const std::string& path, int flags, int mode = 0644);
void close_file(int fd, const std::string& path);
void write_all(int fd, const void* data, size_t size, const std::string& path);
/// Reads exactly `size` bytes at `offset` (pread). Throws IoError on an error or a short file.
void read_all_at(int fd, void* data, size_t size, uint64_t offset, const std::string& path);
/// fdatasync; a failure is fatal for the file (Linux may drop the dirty pages: never retry).
void sync_file(int fd, const std::string& path);
/// fsync of a directory, so creates, renames and unlinks inside it are durable.
void sync_directory(const std::string& dir);
void rename_file(const std::string& from, const std::string& to);
/// Writes `bytes` to dir/tmp_name, syncs it (when `fsync`), renames it to dir/final_name and
/// syncs the directory: the file is either all there under its final name or not at all.
void write_file_atomic(const std::string& dir, const std::string& tmp_name,
                       const std::string& final_name, const std::string& bytes, bool fsync);
void remove_file(const std::string& path);
void truncate_file(const std::string& path, uint64_t size_bytes);
uint64_t file_size(const std::string& path);

}  // namespace raftlab::persist
