// The power cut (see power_cut.h).
#include "cmd/lab/power_cut.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "persist/format.h"
#include "persist/io.h"
#include "persist/layout.h"
#include "persist/manifest.h"

namespace raftlab::lab {
namespace {

bool is_wal_segment(const std::string& name) {
  const std::string wal = std::string(persist::kWalDir) + "/";
  return name.rfind(wal, 0) == 0 && name != wal + persist::kManifestName &&
         name != wal + persist::kManifestTmpName;
}

// How many bytes of the first non-durable record to keep: about half of it, at least one,
// never all of it (a whole record would be a write that happened).
uint64_t torn_keep_bytes(uint64_t extra_bytes, std::optional<uint64_t> record_bytes) {
  if (extra_bytes < 2) return 0;  // one byte past durable: keeping it tears nothing new
  const uint64_t whole = record_bytes && *record_bytes >= 2 ? *record_bytes : extra_bytes;
  return std::min(extra_bytes - 1, std::max<uint64_t>(1, whole / 2));
}

const persist::DurableFile* published_for(const std::vector<persist::DurableFile>& published,
                                          const FileOnDisk& f) {
  const persist::DurableFile* same_inode = nullptr;
  for (const persist::DurableFile& p : published) {
    if (p.inode != f.inode) continue;
    if (p.name == f.name) return &p;  // a kill inside a slot move leaves two: prefer this one
    if (same_inode == nullptr) same_inode = &p;
  }
  return same_inode;
}

}  // namespace

std::vector<CutStep> plan_power_cut(const std::vector<persist::DurableFile>& published,
                                    const std::vector<FileOnDisk>& on_disk, bool tear,
                                    const RecordSizeAt& record_size_at) {
  std::vector<CutStep> removals;
  std::vector<CutStep> cuts;
  const auto name_taken = [&](const std::string& name) {
    return std::any_of(on_disk.begin(), on_disk.end(),
                       [&](const FileOnDisk& f) { return f.name == name; });
  };
  for (const FileOnDisk& f : on_disk) {
    const persist::DurableFile* p = published_for(published, f);
    if (p == nullptr) {
      const bool replaced =
          std::any_of(published.begin(), published.end(),
                      [&](const persist::DurableFile& d) { return d.name == f.name; });
      if (!replaced) removals.push_back({CutKind::kRemove, f.name, "", f.size_bytes, 0, 0});
      continue;
    }
    CutStep step{CutKind::kTruncate, f.name, "", f.size_bytes, f.size_bytes, 0};
    if (p->name != f.name && !name_taken(p->name)) step.rename_to = p->name;
    if (f.size_bytes > p->length) {
      step.to_bytes = p->length;
      if (tear && is_wal_segment(p->name)) {
        step.torn_bytes =
            torn_keep_bytes(f.size_bytes - p->length, record_size_at(f.name, p->length));
        step.to_bytes += step.torn_bytes;
      }
    }
    if (!step.rename_to.empty() || step.to_bytes != step.from_bytes) cuts.push_back(step);
  }
  removals.insert(removals.end(), cuts.begin(), cuts.end());
  return removals;
}

std::vector<FileOnDisk> list_node_files(const std::string& node_dir) {
  std::vector<FileOnDisk> files;
  for (std::string_view sub : {persist::kWalDir, persist::kSnapDir}) {
    const std::string dir = persist::join_path(node_dir, std::string(sub));
    if (!persist::is_directory(dir)) continue;
    for (const std::string& name : persist::list_directory(dir)) {
      struct stat st {};
      if (::stat(persist::join_path(dir, name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      files.push_back({std::string(sub) + "/" + name, static_cast<uint64_t>(st.st_ino),
                       static_cast<uint64_t>(st.st_size)});
    }
  }
  return files;
}

std::optional<uint64_t> read_record_size(const std::string& node_dir, const std::string& name,
                                         uint64_t offset) {
  const std::string path = persist::join_path(node_dir, name);
  const int fd = persist::open_file(path, O_RDONLY);
  char header[persist::kRecordHeaderBytes];
  const ssize_t n = ::pread(fd, header, sizeof header, static_cast<off_t>(offset));
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof header)) return std::nullopt;
  uint32_t length = 0;
  std::memcpy(&length, header + 4, sizeof length);  // crc u32, then length u32 (format.h)
  return persist::kRecordHeaderBytes + uint64_t{length};
}

void apply_power_cut(const std::string& node_dir, const std::vector<CutStep>& steps) {
  for (const CutStep& s : steps) {
    const std::string path = persist::join_path(node_dir, s.name);
    if (s.kind == CutKind::kRemove) {
      persist::remove_file(path);
      continue;
    }
    std::string now = path;
    if (!s.rename_to.empty()) {
      now = persist::join_path(node_dir, s.rename_to);
      persist::rename_file(path, now);
    }
    if (s.to_bytes < s.from_bytes) persist::truncate_file(now, s.to_bytes);
  }
}

std::string describe_step(const CutStep& s) {
  if (s.kind == CutKind::kRemove) {
    return "remove " + s.name + " (" + std::to_string(s.from_bytes) + " bytes, never durable)";
  }
  std::string text = s.rename_to.empty() ? "cut " + s.name
                                         : "rename " + s.name + " back to " + s.rename_to + ", cut";
  text += ": " + std::to_string(s.from_bytes) + " -> " + std::to_string(s.to_bytes) + " bytes";
  if (s.torn_bytes > 0) text += " (" + std::to_string(s.torn_bytes) + " of them a torn record)";
  return text;
}

}  // namespace raftlab::lab
