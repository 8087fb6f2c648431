// The compact KV store: one malloc'd block per key, indexed by a linear-probing hash table.
#include "node/kv/store.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <utility>

namespace raftlab::kv {
namespace {

constexpr size_t kHeaderBytes = 4 + 4;  // key_len, value_len
constexpr size_t kSlotsMin = 16;
// The table grows when more than kLoadNum / kLoadDen of its slots would be full: linear probing
// stays short up to about 0.8, and 100,000 keys still fit in 2^17 slots.
constexpr size_t kLoadNum = 4;
constexpr size_t kLoadDen = 5;

uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>{}(key); }

uint32_t read_u32(const char* at) {
  uint32_t v = 0;
  std::memcpy(&v, at, sizeof v);
  return v;
}

void write_u32(char* at, size_t v) {
  const auto narrow = static_cast<uint32_t>(v);
  std::memcpy(at, &narrow, sizeof narrow);
}

char* allocate(char* old, size_t bytes) {
  void* block = std::realloc(old, bytes);
  if (block == nullptr) throw std::bad_alloc();
  return static_cast<char*>(block);
}

// A new block holding `key` and `value`.
char* make_block(std::string_view key, std::string_view value) {
  char* block = allocate(nullptr, kHeaderBytes + key.size() + value.size());
  write_u32(block, key.size());
  write_u32(block + 4, value.size());
  std::memcpy(block + kHeaderBytes, key.data(), key.size());
  if (!value.empty()) std::memcpy(block + kHeaderBytes + key.size(), value.data(), value.size());
  return block;
}

char* copy_block(const char* block) {
  const Store::Entry e = Store::entry(block);
  return make_block(e.key, e.value);
}

// Resizes `block` to hold a value of `value_len` bytes (keeping the key and the value's first
// bytes) and returns where the value starts.
char* resize_value(char*& block, size_t value_len) {
  const size_t key_len = read_u32(block);
  block = allocate(block, kHeaderBytes + key_len + value_len);
  write_u32(block + 4, value_len);
  return block + kHeaderBytes + key_len;
}

// A key's first kSortPrefixBytes bytes as two big-endian integers (zero-padded), so that most
// comparisons in a sort touch only this array, not the blocks spread over the heap. Comparing
// the padded prefixes orders keys as comparing the bytes as unsigned chars does (std::map's
// order): where the prefixes differ at a byte, either both keys have that byte, or the shorter
// key ended with zeros equal to the other's bytes and is a proper prefix of it. Equal prefixes
// fall back to the whole keys.
constexpr size_t kSortPrefixBytes = 16;

struct SortKey {
  uint64_t high = 0;
  uint64_t low = 0;
  const char* block = nullptr;

  friend bool operator<(const SortKey& a, const SortKey& b) {
    if (a.high != b.high) return a.high < b.high;
    if (a.low != b.low) return a.low < b.low;
    return Store::entry(a.block).key < Store::entry(b.block).key;
  }
};

uint64_t big_endian(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) {
    v = (v << 8) | (i < bytes.size() ? static_cast<uint8_t>(bytes[i]) : 0);
  }
  return v;
}

SortKey sort_key(const char* block) {
  const std::string_view key = Store::entry(block).key;
  const std::string_view first = key.substr(0, kSortPrefixBytes / 2);
  const std::string_view second =
      key.size() > first.size() ? key.substr(first.size(), kSortPrefixBytes / 2) : "";
  return SortKey{big_endian(first), big_endian(second), block};
}

}  // namespace

Store::Entry Store::entry(const char* block) {
  const size_t key_len = read_u32(block);
  const size_t value_len = read_u32(block + 4);
  return Entry{std::string_view(block + kHeaderBytes, key_len),
               std::string_view(block + kHeaderBytes + key_len, value_len)};
}

Store::Store(const Store& other)
    : slots_(other.slots_.size()), size_(other.size_), bytes_(other.bytes_) {
  try {
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (other.slots_[i].block == nullptr) continue;
      slots_[i].block = copy_block(other.slots_[i].block);
      slots_[i].hash = other.slots_[i].hash;
    }
  } catch (...) {
    clear();
    throw;
  }
}

Store& Store::operator=(const Store& other) {
  if (this != &other) *this = Store(other);
  return *this;
}

Store::Store(Store&& other) noexcept
    : slots_(std::move(other.slots_)),
      size_(std::exchange(other.size_, 0)),
      bytes_(std::exchange(other.bytes_, 0)) {
  other.slots_.clear();
}

Store& Store::operator=(Store&& other) noexcept {
  if (this != &other) {
    clear();
    slots_ = std::move(other.slots_);
    other.slots_.clear();
    size_ = std::exchange(other.size_, 0);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

Store::~Store() { clear(); }

void Store::clear() {
  for (Slot& slot : slots_) std::free(slot.block);
  slots_.clear();
  size_ = 0;
  bytes_ = 0;
}

size_t Store::locate(std::string_view key, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  // The load stays below 1, so an empty slot ends every probe within one lap.
  for (size_t probes = 0; probes < slots_.size(); ++probes, i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.block == nullptr) return i;
    if (slot.hash == hash && entry(slot.block).key == key) return i;
  }
  std::abort();  // unreachable while size_ < slots_.size()
}

void Store::grow() {
  const size_t capacity = std::max(kSlotsMin, slots_.size() * 2);
  std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity));
  const size_t mask = capacity - 1;
  for (const Slot& slot : old) {
    if (slot.block == nullptr) continue;
    size_t i = slot.hash & mask;
    while (slots_[i].block != nullptr) i = (i + 1) & mask;  // a free slot exists: load < 1
    slots_[i] = slot;
  }
}

void Store::insert(size_t at, uint64_t hash, char* block) {
  if ((size_ + 1) * kLoadDen > slots_.size() * kLoadNum) {
    try {
      grow();
    } catch (...) {
      std::free(block);
      throw;
    }
    at = locate(entry(block).key, hash);
  }
  slots_[at] = Slot{hash, block};
  ++size_;
  const Entry e = entry(block);
  bytes_ += e.key.size() + e.value.size();
}

void Store::remove_slot(size_t at) {
  const size_t mask = slots_.size() - 1;
  size_t hole = at;
  // Each later slot of the run moves back into the hole unless its home lies between the hole
  // and it (cyclically): then it would move before its home and lookups would miss it.
  for (size_t j = (at + 1) & mask; slots_[j].block != nullptr; j = (j + 1) & mask) {
    const size_t home = slots_[j].hash & mask;
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
  --size_;
}

std::optional<std::string_view> Store::find(std::string_view key) const {
  if (size_ == 0) return std::nullopt;
  const Slot& slot = slots_[locate(key, hash_of(key))];
  if (slot.block == nullptr) return std::nullopt;
  return entry(slot.block).value;
}

void Store::set(std::string_view key, std::string_view value) {
  if (slots_.empty()) grow();
  const uint64_t hash = hash_of(key);
  const size_t at = locate(key, hash);
  char*& block = slots_[at].block;
  if (block == nullptr) {
    insert(at, hash, make_block(key, value));
    return;
  }
  const size_t old_len = read_u32(block + 4);
  // The same length (the common overwrite): rewrite in place, no allocation.
  char* to = old_len == value.size() ? block + kHeaderBytes + key.size()
                                     : resize_value(block, value.size());
  if (!value.empty()) std::memcpy(to, value.data(), value.size());
  bytes_ = bytes_ - old_len + value.size();
}

std::optional<std::string_view> Store::append(std::string_view key, std::string_view tail,
                                              size_t value_bytes_max) {
  if (slots_.empty()) grow();
  const uint64_t hash = hash_of(key);
  size_t at = locate(key, hash);
  if (slots_[at].block == nullptr) {
    if (tail.size() > value_bytes_max) return std::nullopt;
    char* block = make_block(key, tail);
    insert(at, hash, block);
    return entry(block).value;
  }
  char*& block = slots_[at].block;
  const size_t old_len = read_u32(block + 4);
  if (old_len + tail.size() > value_bytes_max) return std::nullopt;
  char* value = resize_value(block, old_len + tail.size());
  if (!tail.empty()) std::memcpy(value + old_len, tail.data(), tail.size());
  bytes_ += tail.size();
  return entry(block).value;
}

std::optional<std::string> Store::erase(std::string_view key) {
  if (size_ == 0) return std::nullopt;
  const size_t at = locate(key, hash_of(key));
  char* block = slots_[at].block;
  if (block == nullptr) return std::nullopt;
  const Entry e = entry(block);
  std::optional<std::string> value(e.value);
  bytes_ -= e.key.size() + e.value.size();
  std::free(block);
  remove_slot(at);
  return value;
}

std::vector<const char*> Store::sorted() const {
  std::vector<SortKey> keys;
  keys.reserve(size_);
  // The blocks lie scattered over the heap in the table's order: fetching a few slots ahead
  // overlaps the cache misses (a third of the time of a 100,000-key sort without it).
  constexpr size_t kPrefetchAhead = 8;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (i + kPrefetchAhead < slots_.size() && slots_[i + kPrefetchAhead].block != nullptr) {
      prefetch(slots_[i + kPrefetchAhead].block);
    }
    if (slots_[i].block != nullptr) keys.push_back(sort_key(slots_[i].block));
  }
  std::sort(keys.begin(), keys.end());
  std::vector<const char*> blocks;
  blocks.reserve(keys.size());
  for (const SortKey& k : keys) blocks.push_back(k.block);
  return blocks;
}

bool operator==(const Store& a, const Store& b) {
  if (a.size_ != b.size_ || a.bytes_ != b.bytes_) return false;
  for (const Store::Slot& slot : a.slots_) {
    if (slot.block == nullptr) continue;
    const Store::Entry e = Store::entry(slot.block);
    if (b.find(e.key) != e.value) return false;
  }
  return true;
}

}  // namespace raftlab::kv
