// The power cut of `raftlab crash --lose-unsynced [--tear]`: given what a killed node had
// published as durable (persist/durable.h) and what its wal/ and snap/ hold now, the steps
// that leave the files as a power cut at that moment could have:
//   - a file whose inode is published is cut back to its published length; when it was
//     renamed since (a closed segment whose rename was not yet fsynced in its directory), it
//     gets its published name back;
//   - a file under a published name but with another inode was renamed over it whole after
//     an fdatasync (MANIFEST): kept;
//   - any other file was never durable under its name: removed.
// With `tear`, a cut WAL segment keeps some bytes of its first non-durable record (at least
// one, never the whole record), as a write torn by the cut would: recovery must treat that
// tail as never written (persist/wal.h, policy 1).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "persist/durable.h"

namespace raftlab::lab {

struct FileOnDisk {
  std::string name;  // under the node directory: "wal/open-..."
  uint64_t inode = 0;
  uint64_t size_bytes = 0;
};

enum class CutKind { kRemove, kTruncate };

struct CutStep {
  CutKind kind = CutKind::kTruncate;
  std::string name;         // the file as found
  std::string rename_to;    // non-empty: give it back this published name (before truncating)
  uint64_t from_bytes = 0;  // its size now
  uint64_t to_bytes = 0;    // kTruncate: its size after
  uint64_t torn_bytes = 0;  // of to_bytes, bytes past the durable length (--tear)
};

/// The size of the WAL record at `offset` of file `name`, when it can be read.
using RecordSizeAt = std::function<std::optional<uint64_t>(const std::string&, uint64_t)>;

/// The steps, removals first. Files that need nothing have no step.
std::vector<CutStep> plan_power_cut(const std::vector<persist::DurableFile>& published,
                                    const std::vector<FileOnDisk>& on_disk, bool tear,
                                    const RecordSizeAt& record_size_at);

/// The regular files of node_dir/wal and node_dir/snap.
std::vector<FileOnDisk> list_node_files(const std::string& node_dir);
/// Reads a record header in node_dir/name at offset (persist/format.h).
std::optional<uint64_t> read_record_size(const std::string& node_dir, const std::string& name,
                                         uint64_t offset);
/// Carries the steps out. Throws persist::IoError.
void apply_power_cut(const std::string& node_dir, const std::vector<CutStep>& steps);
/// One line per step: "truncate wal/open-...: 9000 -> 8200 bytes (+17 torn)".
std::string describe_step(const CutStep& step);

}  // namespace raftlab::lab
