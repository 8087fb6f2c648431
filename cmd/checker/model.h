// The sequential model the checker linearizes against: one register per key (docs/design.md §8),
// with put (set), append (concatenate; on an absent key it creates it), delete (absent), get
// (read; absent reads as null, and "" is not absent) and cas (if the value equals old, set new).
//
// States are small integers so that the checker's memo table hashes and compares them in O(1):
//   - every distinct string of a key's operations (written, read, cas old/new) is interned into
//     a value id;
//   - a state is the absent state (kAbsent), a "root" state whose content is one value, or an
//     append node (parent state, appended value id). An append chain of n values costs n small
//     nodes, never n copies of an ever longer string;
//   - states are canonical by content: each state carries the length and a polynomial hash
//     (mod 2^61-1) of its content, and a new state whose (length, hash) matches an existing one
//     is compared byte by byte (materialized once) and merged with it if equal. On a hash
//     collision between different contents both states are kept apart, which stays correct
//     (only less sharing in the memo table);
//   - each state knows the value id equal to its content (match()), computed once when the
//     state or the value is created, so a get or a cas compares in O(1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace raftlab::check {

// An open-addressing map from a 64-bit key to a 32-bit value, for the hot tables.
class FlatMap64 {
 public:
  static constexpr uint32_t kMissing = UINT32_MAX;

  uint32_t find(uint64_t key) const;
  /// Inserts or overwrites.
  void put(uint64_t key, uint32_t value);
  size_t size() const { return size_; }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t key;
    uint32_t value;  // kMissing: empty slot
  };
  void grow();

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

class RegisterModel {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;  // no value / no state
  static constexpr uint32_t kAbsent = 0;         // the state of a key that does not exist

  RegisterModel();

  /// The id of `text` (the same id for the same bytes); the model keeps its own copy. Values
  /// may be interned at any time, also after states exist.
  uint32_t intern(std::string_view text);
  /// The id of `text`, or kNone if it was never interned.
  uint32_t find(std::string_view text) const;
  std::string_view value(uint32_t id) const { return values_[id].text; }
  size_t value_count() const { return values_.size(); }

  /// The state whose content is value `v`.
  uint32_t put(uint32_t v);
  /// The state `state` with value `v` appended (put(v) when `state` is absent).
  uint32_t append(uint32_t state, uint32_t v);
  /// The junk state: it stands for every content that contains a value no read observes (the
  /// checker merges those, see linearize.cc), so it has no content of its own. It matches no
  /// value, is no prefix of any, and must not be appended to. Created on first use.
  uint32_t junk();
  bool is_junk(uint32_t state) const { return state == junk_; }

  /// The value id whose text equals the state's content; kNone for absent or no such value.
  uint32_t match(uint32_t state) const { return states_[state].match; }
  /// The content of a state ("" for absent: ask absent() to tell them apart; a placeholder for
  /// the junk state).
  std::string content(uint32_t state) const;
  bool absent(uint32_t state) const { return state == kAbsent; }
  uint64_t length(uint32_t state) const { return states_[state].length; }
  /// The structure of a state: kNone for the absent state and for a root (content: piece);
  /// else the state it appends `piece` to.
  uint32_t parent(uint32_t state) const { return states_[state].parent; }
  uint32_t piece(uint32_t state) const { return states_[state].value; }

  size_t state_count() const { return states_.size(); }
  /// Bytes held by the model's tables and value copies.
  size_t memory_bytes() const;

 private:
  struct Value {
    std::string_view text;
    uint64_t hash;          // polynomial hash of text
    uint64_t power;         // base^len mod p
    uint32_t next_same;     // next value with the same content key, or kNone
    uint32_t root = kNone;  // the state put(v), created lazily
  };
  struct State {
    uint32_t parent;  // kNone for absent and root states
    uint32_t value;   // root: its content; append: the appended value; absent: kNone
    uint32_t match;   // see match()
    uint64_t length;
    uint64_t hash;
  };

  uint32_t make_state(uint32_t parent, uint32_t v, uint64_t length, uint64_t hash);
  bool content_equals(uint32_t state, std::string_view text) const;
  void materialize(uint32_t state, std::string& out) const;

  std::vector<Value> values_;
  std::unordered_map<std::string_view, uint32_t> value_ids_;  // views into blocks_
  FlatMap64 values_by_content_;  // content key -> first value id with it
  std::vector<State> states_;
  FlatMap64 states_by_content_;                  // content key -> canonical state
  FlatMap64 appends_;                            // (state << 32 | value) -> state
  std::vector<std::unique_ptr<char[]>> blocks_;  // copies of the values' bytes
  size_t block_used_ = 0;                        // bytes used in blocks_.back()
  size_t block_bytes_ = 0;                       // bytes allocated in blocks_
  uint32_t junk_ = kNone;                        // the junk state, once created
};

}  // namespace raftlab::check
