// The WAL manifest (layout and when it is written: manifest.h).
#include "persist/manifest.h"

#include <fcntl.h>

#include <cstring>
#include <stdexcept>

#include "persist/crc32c.h"
#include "persist/format.h"
#include "persist/io.h"
#include "persist/wal.h"

namespace raftlab::persist {
namespace {

constexpr uint64_t kManifestFileBytesMax = kManifestFixedBytes + kManifestNameBytesMax;

std::optional<std::string> check(const Manifest& m) {
  if (m.first_seq == 0 || m.last_seq < m.first_seq) return "segment range is empty";
  if (m.first_name.size() > kManifestNameBytesMax) return "first_name too long";
  return std::nullopt;
}

}  // namespace

std::string encode_manifest(const Manifest& m) {
  if (auto error = check(m)) throw std::logic_error("manifest: " + *error);
  std::string out(kManifestMagic, sizeof kManifestMagic);
  put_u32(out, kManifestVersion);
  put_u64(out, m.first_seq);
  put_u64(out, m.last_seq);
  put_u32(out, static_cast<uint32_t>(m.first_name.size()));
  out += m.first_name;
  put_u32(out, crc32c(out));
  return out;
}

std::optional<std::string> decode_manifest(std::string_view bytes, Manifest* out) {
  if (bytes.size() < kManifestFixedBytes) return "shorter than a manifest";
  if (bytes.size() > kManifestFileBytesMax) return "longer than a manifest";
  const size_t body_bytes = bytes.size() - 4;
  if (get_u32(bytes.data() + body_bytes) != crc32c(bytes.data(), body_bytes)) {
    return "checksum mismatch";
  }
  if (std::memcmp(bytes.data(), kManifestMagic, sizeof kManifestMagic) != 0) return "bad magic";
  if (get_u32(bytes.data() + 8) != kManifestVersion) return "unknown version";
  Manifest m;
  m.first_seq = get_u64(bytes.data() + 12);
  m.last_seq = get_u64(bytes.data() + 20);
  const uint32_t name_bytes = get_u32(bytes.data() + 28);
  if (kManifestFixedBytes + name_bytes != bytes.size()) return "length does not match the file";
  m.first_name.assign(bytes.data() + 32, name_bytes);
  if (auto error = check(m)) return error;
  *out = std::move(m);
  return std::nullopt;
}

std::optional<Manifest> read_manifest(const std::string& wal_dir) {
  const std::string path = join_path(wal_dir, kManifestName);
  if (!path_exists(path)) return std::nullopt;
  Manifest m;
  // A larger file is damage too: read one byte more than a manifest can hold, so it says so.
  if (auto error = decode_manifest(read_file(path, kManifestFileBytesMax + 1), &m)) {
    throw CorruptionError(path, 0, "manifest " + *error);
  }
  return m;
}

void write_manifest(const std::string& wal_dir, const Manifest& m, bool fsync) {
  const std::string bytes = encode_manifest(m);
  Manifest check_back;  // what we write must read back as what we meant
  if (decode_manifest(bytes, &check_back) || !(check_back == m)) {
    throw std::logic_error("manifest encoding does not round-trip");
  }
  write_file_atomic(wal_dir, std::string(kManifestTmpName), std::string(kManifestName), bytes,
                    fsync);
}

ManifestKeeper::ManifestKeeper(std::string wal_dir, bool fsync, Manifest on_disk)
    : wal_dir_(std::move(wal_dir)), fsync_(fsync), manifest_(std::move(on_disk)) {}

void ManifestKeeper::publish_durable_to(std::shared_ptr<DurableTable> table,
                                        std::string durable_name) {
  std::lock_guard<std::mutex> lock(mutex_);
  durable_ = std::move(table);
  durable_name_ = std::move(durable_name);
}

Manifest ManifestKeeper::get() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return manifest_;
}

}  // namespace raftlab::persist
