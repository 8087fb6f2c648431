// Snapshot files (layout in snapshot.h).
#include "persist/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "persist/crc32c.h"

namespace raftlab::persist {
namespace {

// Reads little-endian integers from a bounded view; `ok` turns false on a short read.
struct Reader {
  std::string_view bytes;
  size_t pos = 0;
  bool ok = true;
  uint64_t get(size_t width) {
    if (bytes.size() - pos < width) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = width; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(bytes[pos + i]);
    pos += width;
    return v;
  }
};

bool decode_ids(Reader& r, std::vector<NodeId>* ids) {
  const uint64_t count = r.get(4);
  if (!r.ok || count > kMembersCountMax) return false;
  for (uint64_t k = 0; k < count; ++k) ids->push_back(NodeId(r.get(8)));
  return r.ok;
}

constexpr const char* kSnapPrefix = "snap-";

}  // namespace

std::string snapshot_file_name(Index index) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "snap-%020llu.snap", static_cast<unsigned long long>(index.get()));
  return buf;
}

namespace {

// Everything before the state machine's bytes, the crc field left 0.
std::string encode_head(const SnapshotMeta& meta, uint64_t data_length) {
  std::string m;
  put_u64(m, meta.index.get());
  put_u64(m, meta.term.get());
  put_u32(m, static_cast<uint32_t>(meta.membership.voters.size()));
  for (const NodeId id : meta.membership.voters) put_u64(m, id.get());
  put_u32(m, static_cast<uint32_t>(meta.membership.learners.size()));
  for (const NodeId id : meta.membership.learners) put_u64(m, id.get());
  std::string out(kSnapshotMagic, sizeof kSnapshotMagic);
  put_u32(out, kSnapshotVersion);
  put_u32(out, 0);  // crc, below
  put_u32(out, static_cast<uint32_t>(m.size()));
  put_u64(out, data_length);
  out += m;
  return out;
}

constexpr size_t kCrcOffset = 12;  // the crc covers everything after it, from kCrcOffset + 4

void put_crc(std::string& head, uint32_t crc) {
  for (size_t i = 0; i < 4; ++i) head[kCrcOffset + i] = static_cast<char>(crc >> (8 * i));
}

// Removes the snapshots older than `final_name` (sorted by index in their names).
void remove_older(const std::string& dir, const std::string& final_name, bool fsync) {
  bool removed = false;
  for (const std::string& name : list_directory(dir)) {
    if (name.rfind(kSnapPrefix, 0) == 0 && name < final_name) {
      remove_file(join_path(dir, name));
      removed = true;
    }
  }
  if (removed && fsync) sync_directory(dir);
}

}  // namespace

std::string encode_snapshot(const SnapshotMeta& meta, std::string_view data) {
  std::string out = encode_head(meta, data.size());
  out.append(data);
  put_crc(out, crc32c(out.data() + kCrcOffset + 4, out.size() - kCrcOffset - 4));
  return out;
}

std::optional<std::string> decode_snapshot(std::string_view bytes, Snapshot* out) {
  if (bytes.size() < kSnapshotHeaderBytes) return "file shorter than a snapshot header";
  if (std::memcmp(bytes.data(), kSnapshotMagic, sizeof kSnapshotMagic) != 0) return "bad magic";
  Reader r{bytes, 8};
  if (r.get(4) != kSnapshotVersion) return "unknown version";
  const auto crc = static_cast<uint32_t>(r.get(4));
  const uint64_t meta_length = r.get(4);
  const uint64_t data_length = r.get(8);
  if (meta_length > bytes.size() || data_length > bytes.size() ||
      kSnapshotHeaderBytes + meta_length + data_length != bytes.size()) {
    return "lengths do not match the file size";
  }
  if (crc32c(bytes.data() + 16, bytes.size() - 16) != crc) return "checksum mismatch";
  Reader m{bytes.substr(kSnapshotHeaderBytes, meta_length)};
  out->meta.index = Index(m.get(8));
  out->meta.term = Term(m.get(8));
  out->meta.membership = {};
  if (!m.ok || !decode_ids(m, &out->meta.membership.voters) ||
      !decode_ids(m, &out->meta.membership.learners) || m.pos != meta_length) {
    return "invalid metadata";
  }
  out->data = std::string(bytes.substr(kSnapshotHeaderBytes + meta_length));
  return std::nullopt;
}

void save_snapshot(const std::string& dir, const SnapshotMeta& meta, std::string_view data,
                   bool fsync) {
  make_directory(dir);
  const std::string bytes = encode_snapshot(meta, data);
  Snapshot check;  // read what we are about to write back, before it reaches the disk
  if (decode_snapshot(bytes, &check) || !(check.meta == meta)) {
    throw std::logic_error("snapshot encoding does not round-trip");
  }
  const std::string final_name = snapshot_file_name(meta.index);
  write_file_atomic(dir, final_name.substr(0, final_name.size() - 5) + ".tmp", final_name, bytes,
                    fsync);
  // Only now that the new snapshot is durable may the older ones go.
  remove_older(dir, final_name, fsync);
}

void save_snapshot_streamed(const std::string& dir, const SnapshotMeta& meta, uint64_t data_length,
                            const SnapshotProducer& produce, bool fsync) {
  make_directory(dir);
  const std::string final_name = snapshot_file_name(meta.index);
  const std::string tmp = join_path(dir, final_name.substr(0, final_name.size() - 5) + ".tmp");
  std::string head = encode_head(meta, data_length);
  uint32_t crc = crc32c(head.data() + kCrcOffset + 4, head.size() - kCrcOffset - 4);
  const int fd = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC);
  try {
    write_all(fd, head.data(), head.size(), tmp);
    uint64_t written = 0;
    uint64_t flushed = 0;  // bytes of data handed to writeback so far
    produce([&](std::string_view piece) {
      crc = crc32c_extend(crc, piece.data(), piece.size());
      write_all(fd, piece.data(), piece.size(), tmp);
      written += piece.size();
      if (fsync && written - flushed >= kSnapshotFlushBytes) {
        // Write back as we go, so the final fsync is short and the WAL's syncs do not queue
        // behind tens of megabytes of dirty pages.
        ::sync_file_range(
            fd, static_cast<off_t>(head.size() + flushed), static_cast<off_t>(written - flushed),
            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
        flushed = written;
      }
    });
    if (written != data_length) {
      throw std::logic_error("snapshot producer wrote " + std::to_string(written) + " bytes, not " +
                             std::to_string(data_length));
    }
    put_crc(head, crc);
    if (::pwrite(fd, head.data() + kCrcOffset, 4, kCrcOffset) != 4) {
      throw IoError(tmp, std::string("write: ") + std::strerror(errno));
    }
    if (fsync) sync_file(fd, tmp);
  } catch (...) {
    ::close(fd);
    throw;
  }
  close_file(fd, tmp);
  rename_file(tmp, join_path(dir, final_name));
  if (fsync) sync_directory(dir);
  remove_older(dir, final_name, fsync);
}

std::optional<Snapshot> load_newest_snapshot(const std::string& dir,
                                             std::vector<Warning>* warnings) {
  if (!is_directory(dir)) return std::nullopt;
  std::vector<std::string> names = list_directory(dir);
  // Newest first: names carry the index in 20 digits, so they sort by index.
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    const std::string path = join_path(dir, *it);
    const bool is_snap = it->rfind(kSnapPrefix, 0) == 0 && it->size() > 5 &&
                         it->compare(it->size() - 5, 5, ".snap") == 0;
    if (!is_snap) {
      warnings->push_back({path, 0, path + ": not a snapshot file, ignored"});
      continue;
    }
    Snapshot s;
    const std::optional<std::string> error =
        decode_snapshot(read_file(path, kSnapshotBytesMax), &s);
    if (error) {
      warnings->push_back({path, 0, path + ": invalid snapshot skipped: " + *error});
      continue;
    }
    if (*it != snapshot_file_name(s.meta.index)) {
      warnings->push_back({path, 0, path + ": snapshot index does not match the name, skipped"});
      continue;
    }
    return s;
  }
  return std::nullopt;
}

SnapshotFile::SnapshotFile(const std::string& path) : path_(path) {
  fd_ = open_file(path, O_RDONLY);
  try {
    std::string header(kSnapshotHeaderBytes + 16, '\0');  // + meta's index and term
    const ssize_t n = ::pread(fd_, header.data(), header.size(), 0);
    if (n != static_cast<ssize_t>(header.size()) ||
        std::memcmp(header.data(), kSnapshotMagic, sizeof kSnapshotMagic) != 0) {
      throw CorruptionError(path, 0, "not a snapshot file (bad magic or too short)");
    }
    Reader r{header, 8};
    if (r.get(4) != kSnapshotVersion) throw CorruptionError(path, 8, "unknown snapshot version");
    r.get(4);  // crc
    const uint64_t meta_length = r.get(4);
    data_length_ = r.get(8);
    index_ = Index(r.get(8));
    data_offset_ = kSnapshotHeaderBytes + meta_length;
    if (data_offset_ + data_length_ != file_size(path)) {
      throw CorruptionError(path, 0, "lengths do not match the file size");
    }
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

SnapshotFile::~SnapshotFile() { ::close(fd_); }

std::string SnapshotFile::read(uint64_t offset, uint64_t length) const {
  if (offset > data_length_ || length > data_length_ - offset) {
    throw IoError(path_, "read of " + std::to_string(length) + " bytes at " +
                             std::to_string(offset) + " past the snapshot's " +
                             std::to_string(data_length_));
  }
  std::string out(length, '\0');
  read_all_at(fd_, out.data(), length, data_offset_ + offset, path_);
  return out;
}

NodeStorage open_node_storage(const std::string& data_dir, const WalOptions& options) {
  make_directory(data_dir);
  NodeStorage storage;
  std::vector<Warning> warnings;
  std::optional<Snapshot> snap =
      load_newest_snapshot(join_path(data_dir, std::string(kSnapDir)), &warnings);
  std::optional<SnapshotMeta> meta;
  if (snap) meta = snap->meta;
  storage.wal =
      Wal::open(join_path(data_dir, std::string(kWalDir)), options, meta, &storage.recovered);
  if (snap) {
    storage.snapshot_data = std::move(snap->data);
    // Segments wholly below the snapshot may still be there if we crashed before removing them.
    storage.wal->remove_segments_below(snap->meta.index);
  }
  storage.recovered.warnings.insert(storage.recovered.warnings.begin(), warnings.begin(),
                                    warnings.end());
  return storage;
}

}  // namespace raftlab::persist
