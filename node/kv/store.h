// The KV data, compactly: each key and its value share one heap block, and an open-addressing
// hash table (linear probing, backward-shift deletion, no tombstones) indexes the blocks. Per
// key that is the block's 8-byte header, malloc's own 8 bytes and its rounding to 16, plus a
// 16-byte slot at a load factor of at most 0.8: for the bench's 100,000 keys of 14 + 256 bytes,
// 1.14x the key and value bytes where a std::map of std::string took 1.42x (a 48-byte node, two
// 32-byte strings and a second heap block for each value over 15 bytes). Issue 16, "Memory".
//
// Block layout (host byte order; the block never leaves the process):
//   u32 key_len | u32 value_len | key | value
// An overwrite with a value of the same length rewrites the value in place; any other change
// reallocates that one block. Iteration order is the table's, not the keys': sorted() gives key
// order for snapshots. Pure standard library, like the rest of node/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace raftlab::kv {

class Store {
 public:
  Store() = default;
  Store(const Store& other);
  Store& operator=(const Store& other);
  Store(Store&& other) noexcept;
  Store& operator=(Store&& other) noexcept;
  ~Store();

  size_t size() const { return size_; }
  /// Bytes held by keys and values.
  size_t bytes() const { return bytes_; }

  /// The value of `key`, or nullopt. The view lives until the key's next change.
  std::optional<std::string_view> find(std::string_view key) const;
  /// Sets `key` to `value`, inserting the key if absent.
  void set(std::string_view key, std::string_view value);
  /// Appends `tail` to the key's value (an absent key starts from ""), unless the result would
  /// exceed `value_bytes_max`: then nothing changes and it returns nullopt. Otherwise returns
  /// the new value (a view that lives until the key's next change).
  std::optional<std::string_view> append(std::string_view key, std::string_view tail,
                                         size_t value_bytes_max);
  /// Removes `key`; returns its value, or nullopt if it was absent.
  std::optional<std::string> erase(std::string_view key);

  /// One stored key and value: a view of a block.
  struct Entry {
    std::string_view key;
    std::string_view value;
  };
  /// Every block, in key order (a fresh index of pointers, sorted on each call).
  std::vector<const char*> sorted() const;
  static Entry entry(const char* block);
  /// Asks the CPU to start loading a block that will be read soon (a hint; no effect on
  /// results): for walks over blocks in key order, which visit the heap at random.
  static void prefetch(const char* block) { __builtin_prefetch(block); }

  /// Same keys with the same values, whatever the layout.
  friend bool operator==(const Store& a, const Store& b);

 private:
  struct Slot {
    uint64_t hash = 0;
    char* block = nullptr;  // nullptr: empty
  };

  // The slot holding `key`, or the empty slot where it would go (capacity must be > 0).
  size_t locate(std::string_view key, uint64_t hash) const;
  // Puts a new block into the empty slot `at`, growing first if the load would pass the max.
  void insert(size_t at, uint64_t hash, char* block);
  void grow();
  // Empties slot `at` and shifts the following run back so lookups need no tombstones.
  void remove_slot(size_t at);
  void clear();

  std::vector<Slot> slots_;  // capacity: 0 or a power of two
  size_t size_ = 0;          // occupied slots; size_ <= slots_.size() * kLoadMax
  size_t bytes_ = 0;         // sum of key and value lengths
};

}  // namespace raftlab::kv
