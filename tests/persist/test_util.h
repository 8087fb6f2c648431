// Helpers for the persist tests: temporary directories removed even when a test fails.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "node/types.h"
#include "persist/io.h"

namespace raftlab::persist::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "raftlab-wal-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// (Not istreambuf_iterator: g++ 12 raises a false -Wnull-dereference inside it.)
inline std::string slurp(const std::string& path) { return read_file(path, 1ull << 30); }

inline void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline Entry make_entry(uint64_t index, uint64_t term, std::string data,
                        EntryType type = EntryType::kNormal) {
  Entry e;
  e.index = Index(index);
  e.term = Term(term);
  e.type = type;
  e.data = std::move(data);
  return e;
}

/// The segment file names in a wal directory (not its MANIFEST), sorted.
inline std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind("MANIFEST", 0) != 0) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace raftlab::persist::test
