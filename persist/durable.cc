// The durable table (see durable.h).
#include "persist/durable.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "persist/io.h"
#include "persist/layout.h"

namespace raftlab::persist {
namespace {

// Slot field offsets, from kDurableSlotBytes's parts.
constexpr size_t kUsedOffset = 0;
constexpr size_t kInodeOffset = 4 + 4;
constexpr size_t kLengthOffset = kInodeOffset + 8;
constexpr size_t kNameOffset = kLengthOffset + 8;
static_assert(kNameOffset + kDurableNameBytes == kDurableSlotBytes);
constexpr size_t kOverflowOffset = 8 + 4 + 4;

uint32_t load_u32(const char* p) {
  uint32_t v = 0;
  std::memcpy(&v, p, sizeof v);
  return v;
}
uint64_t load_u64(const char* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Single aligned stores: a node killed between two instructions leaves each field whole.
void store_u32(char* p, uint32_t v) {
  __atomic_store_n(reinterpret_cast<uint32_t*>(p), v, __ATOMIC_RELEASE);
}
void store_u64(char* p, uint64_t v) {
  __atomic_store_n(reinterpret_cast<uint64_t*>(p), v, __ATOMIC_RELEASE);
}

std::string table_bytes() {
  std::string bytes(kDurableFileBytes, '\0');
  std::memcpy(bytes.data(), kDurableMagic, sizeof kDurableMagic);
  const uint32_t version = kDurableVersion;
  const uint32_t slots = kDurableSlotsCount;
  std::memcpy(bytes.data() + 8, &version, 4);
  std::memcpy(bytes.data() + 12, &slots, 4);
  return bytes;
}

// Makes every file in node_dir/sub durable, with the directory, and lists it.
std::vector<DurableFile> sync_existing(const std::string& node_dir, std::string_view sub) {
  std::vector<DurableFile> files;
  const std::string dir = join_path(node_dir, std::string(sub));
  if (!is_directory(dir)) return files;
  for (const std::string& name : list_directory(dir)) {
    const std::string path = join_path(dir, name);
    const int fd = open_file(path, O_RDONLY);
    struct stat st {};
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (regular) sync_file(fd, path);
    close_file(fd, path);
    if (!regular) continue;
    files.push_back({std::string(sub) + "/" + name, static_cast<uint64_t>(st.st_ino),
                     static_cast<uint64_t>(st.st_size)});
  }
  sync_directory(dir);
  return files;
}

}  // namespace

std::string decode_durable_table(std::string_view bytes, std::vector<DurableFile>* out) {
  if (bytes.size() < kDurableHeaderBytes ||
      std::memcmp(bytes.data(), kDurableMagic, sizeof kDurableMagic) != 0) {
    return "not a durable table (bad magic)";
  }
  if (load_u32(bytes.data() + 8) != kDurableVersion) return "unknown durable table version";
  const uint32_t slots = load_u32(bytes.data() + 12);
  if (slots > kDurableSlotsCount ||
      bytes.size() < kDurableHeaderBytes + slots * kDurableSlotBytes) {
    return "durable table truncated";
  }
  if (load_u32(bytes.data() + kOverflowOffset) != 0) {
    return "the node had more files than the durable table holds: it is incomplete";
  }
  out->clear();
  for (uint32_t k = 0; k < slots; ++k) {
    const char* s = bytes.data() + kDurableHeaderBytes + k * kDurableSlotBytes;
    if (load_u32(s + kUsedOffset) == 0) continue;
    const char* name = s + kNameOffset;
    out->push_back({std::string(name, strnlen(name, kDurableNameBytes)), load_u64(s + kInodeOffset),
                    load_u64(s + kLengthOffset)});
  }
  return {};
}

std::shared_ptr<DurableTable> DurableTable::create(const std::string& node_dir) {
  std::vector<DurableFile> files = sync_existing(node_dir, kWalDir);
  for (DurableFile& f : sync_existing(node_dir, kSnapDir)) files.push_back(std::move(f));
  // The new table is complete before it replaces the old one.
  write_file_atomic(node_dir, kDurableTmpName, kDurableFileName, table_bytes(), false);
  const std::string path = join_path(node_dir, kDurableFileName);
  const int fd = open_file(path, O_RDWR);
  void* map = ::mmap(nullptr, kDurableFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    ::close(fd);
    throw IoError(path, std::string("mmap: ") + std::strerror(errno));
  }
  std::shared_ptr<DurableTable> table(new DurableTable(node_dir, fd, static_cast<char*>(map)));
  for (const DurableFile& f : files) table->publish(f.name, f.inode, f.length);
  return table;
}

DurableTable::DurableTable(std::string node_dir, int fd, char* map)
    : node_dir_(std::move(node_dir)), fd_(fd), map_(map) {}

DurableTable::~DurableTable() {
  ::munmap(map_, kDurableFileBytes);
  ::close(fd_);
}

char* DurableTable::slot(uint32_t k) const {
  return map_ + kDurableHeaderBytes + k * kDurableSlotBytes;
}

int DurableTable::find(std::string_view name) const {
  for (uint32_t k = 0; k < kDurableSlotsCount; ++k) {
    const char* s = slot(k);
    if (load_u32(s + kUsedOffset) == 0) continue;
    const char* n = s + kNameOffset;
    if (std::string_view(n, strnlen(n, kDurableNameBytes)) == name) return static_cast<int>(k);
  }
  return -1;
}

void DurableTable::take_slot(std::string_view name, uint64_t inode, uint64_t length) {
  for (uint32_t k = 0; k < kDurableSlotsCount; ++k) {
    char* s = slot(k);
    if (load_u32(s + kUsedOffset) != 0) continue;
    std::memset(s + kNameOffset, 0, kDurableNameBytes);
    std::memcpy(s + kNameOffset, name.data(), std::min(name.size(), kDurableNameBytes));
    store_u64(s + kInodeOffset, inode);
    store_u64(s + kLengthOffset, length);
    store_u32(s + kUsedOffset, 1);  // last: the slot is whole before it counts
    return;
  }
  store_u32(map_ + kOverflowOffset, 1);
}

void DurableTable::publish(std::string_view name, uint64_t inode, uint64_t length) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int k = find(name);
  if (k >= 0 && load_u64(slot(static_cast<uint32_t>(k)) + kInodeOffset) == inode) {
    store_u64(slot(static_cast<uint32_t>(k)) + kLengthOffset, length);
    return;
  }
  // A new file under a published name (MANIFEST renamed over): the new slot first, then the
  // old one freed, so a kill in between leaves the name published either way.
  take_slot(name, inode, length);
  if (k >= 0) store_u32(slot(static_cast<uint32_t>(k)) + kUsedOffset, 0);
}

void DurableTable::publish_whole(std::string_view name) {
  const std::string path = join_path(node_dir_, std::string(name));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw IoError(path, std::string("stat: ") + std::strerror(errno));
  publish(name, static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size));
}

void DurableTable::forget(std::string_view name) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int k = find(name);
  if (k >= 0) store_u32(slot(static_cast<uint32_t>(k)) + kUsedOffset, 0);
}

void DurableTable::forget_missing(std::string_view prefix) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (uint32_t k = 0; k < kDurableSlotsCount; ++k) {
    char* s = slot(k);
    if (load_u32(s + kUsedOffset) == 0) continue;
    const std::string name(s + kNameOffset, strnlen(s + kNameOffset, kDurableNameBytes));
    if (name.rfind(prefix, 0) == 0 && !path_exists(join_path(node_dir_, name))) {
      store_u32(s + kUsedOffset, 0);
    }
  }
}

}  // namespace raftlab::persist
