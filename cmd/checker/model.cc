// The register model (see model.h).
#include "cmd/checker/model.h"

#include <algorithm>
#include <cstring>

namespace raftlab::check {

namespace {

constexpr uint64_t kMod = (1ull << 61) - 1;  // a Mersenne prime: cheap reduction
constexpr uint64_t kBase = 0x1F3D5B79A1C3E5ull % kMod;
constexpr size_t kBlockBytes = 1 << 16;

__extension__ typedef unsigned __int128 Uint128;

uint64_t mul_mod(uint64_t a, uint64_t b) {
  const Uint128 p = static_cast<Uint128>(a) * b;
  uint64_t r = static_cast<uint64_t>(p & kMod) + static_cast<uint64_t>(p >> 61);
  if (r >= kMod) r -= kMod;
  return r;
}

uint64_t add_mod(uint64_t a, uint64_t b) {
  uint64_t r = a + b;
  if (r >= kMod) r -= kMod;
  return r;
}

uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

uint64_t content_key(uint64_t length, uint64_t hash) {
  return mix64(hash ^ (length * 0x9E3779B97F4A7C15ull));
}

}  // namespace

uint32_t FlatMap64::find(uint64_t key) const {
  if (slots_.empty()) return kMissing;
  const size_t mask = slots_.size() - 1;
  for (size_t i = mix64(key) & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.value == kMissing) return kMissing;
    if (s.key == key) return s.value;
  }
}

void FlatMap64::put(uint64_t key, uint32_t value) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const size_t mask = slots_.size() - 1;
  for (size_t i = mix64(key) & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.value == kMissing) {
      s.key = key;
      s.value = value;
      ++size_;
      return;
    }
    if (s.key == key) {
      s.value = value;
      return;
    }
  }
}

void FlatMap64::grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(std::max<size_t>(16, old.size() * 2), Slot{0, kMissing});
  size_ = 0;
  for (const Slot& s : old) {
    if (s.value != kMissing) put(s.key, s.value);
  }
}

RegisterModel::RegisterModel() {
  states_.push_back(State{kNone, kNone, kNone, 0, 0});  // kAbsent
}

uint32_t RegisterModel::find(std::string_view text) const {
  const auto it = value_ids_.find(text);
  return it == value_ids_.end() ? kNone : it->second;
}

uint32_t RegisterModel::intern(std::string_view text) {
  const auto it = value_ids_.find(text);
  if (it != value_ids_.end()) return it->second;

  // Copy the bytes into a block.
  char* copy = nullptr;
  if (!text.empty()) {
    if (text.size() > kBlockBytes / 4) {
      blocks_.push_back(std::make_unique<char[]>(text.size()));
      block_bytes_ += text.size();
      copy = blocks_.back().get();
      // Keep filling the previous small block: move the big one before it.
      if (blocks_.size() >= 2) std::swap(blocks_[blocks_.size() - 1], blocks_[blocks_.size() - 2]);
    } else {
      if (blocks_.empty() || block_used_ + text.size() > kBlockBytes) {
        blocks_.push_back(std::make_unique<char[]>(kBlockBytes));
        block_bytes_ += kBlockBytes;
        block_used_ = 0;
      }
      copy = blocks_.back().get() + block_used_;
      block_used_ += text.size();
    }
    std::memcpy(copy, text.data(), text.size());
  }
  const std::string_view stored(copy ? copy : "", text.size());

  Value v;
  v.text = stored;
  v.hash = 0;
  v.power = 1;
  for (char c : stored) {
    v.hash = add_mod(mul_mod(v.hash, kBase), static_cast<unsigned char>(c) + 1u);
    v.power = mul_mod(v.power, kBase);
  }
  const uint64_t key = content_key(stored.size(), v.hash);
  const auto id = static_cast<uint32_t>(values_.size());
  v.next_same = values_by_content_.find(key);
  if (v.next_same == FlatMap64::kMissing) v.next_same = kNone;
  values_.push_back(v);
  values_by_content_.put(key, id);
  value_ids_.emplace(stored, id);

  // A state with this content may exist already (built by appends): it matches the new value.
  const uint32_t s = states_by_content_.find(key);
  if (s != FlatMap64::kMissing && states_[s].match == kNone && states_[s].length == stored.size() &&
      states_[s].hash == v.hash && content_equals(s, stored)) {
    states_[s].match = id;
  }
  return id;
}

void RegisterModel::materialize(uint32_t state, std::string& out) const {
  out.clear();
  if (state == kAbsent) return;
  std::vector<uint32_t> chain;
  for (uint32_t s = state;; s = states_[s].parent) {
    chain.push_back(states_[s].value);
    if (states_[s].parent == kNone) break;
  }
  out.reserve(states_[state].length);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) out += values_[*it].text;
}

uint32_t RegisterModel::junk() {
  if (junk_ == kNone) {
    // Not registered by content: no put or append can ever produce it, and it matches nothing.
    junk_ = static_cast<uint32_t>(states_.size());
    states_.push_back(State{kNone, kNone, kNone, 0, 0});
  }
  return junk_;
}

std::string RegisterModel::content(uint32_t state) const {
  if (is_junk(state)) return "<a value no read observed>";
  std::string out;
  materialize(state, out);
  return out;
}

bool RegisterModel::content_equals(uint32_t state, std::string_view text) const {
  if (state == kAbsent || states_[state].length != text.size()) return false;
  // Compare from the end, value by value, without building the string.
  size_t end = text.size();
  for (uint32_t s = state;; s = states_[s].parent) {
    const std::string_view part = values_[states_[s].value].text;
    if (part.size() > end || text.substr(end - part.size(), part.size()) != part) return false;
    end -= part.size();
    if (states_[s].parent == kNone) break;
  }
  return end == 0;
}

uint32_t RegisterModel::make_state(uint32_t parent, uint32_t v, uint64_t length, uint64_t hash) {
  const auto id = static_cast<uint32_t>(states_.size());
  states_.push_back(State{parent, v, kNone, length, hash});
  const uint64_t key = content_key(length, hash);
  if (parent == kNone) {
    states_[id].match = v;  // a root's content is exactly value v
  } else {
    for (uint32_t c = values_by_content_.find(key); c != FlatMap64::kMissing && c != kNone;
         c = values_[c].next_same) {
      if (values_[c].text.size() == length && values_[c].hash == hash &&
          content_equals(id, values_[c].text)) {
        states_[id].match = c;
        break;
      }
    }
  }
  if (states_by_content_.find(key) == FlatMap64::kMissing) states_by_content_.put(key, id);
  return id;
}

uint32_t RegisterModel::put(uint32_t v) {
  Value& val = values_[v];
  if (val.root != kNone) return val.root;
  const uint64_t key = content_key(val.text.size(), val.hash);
  const uint32_t s = states_by_content_.find(key);
  uint32_t result;
  if (s != FlatMap64::kMissing && states_[s].length == val.text.size() &&
      states_[s].hash == val.hash && content_equals(s, val.text)) {
    result = s;  // the same content was built by appends before
  } else {
    result = make_state(kNone, v, val.text.size(), val.hash);
  }
  values_[v].root = result;
  return result;
}

uint32_t RegisterModel::append(uint32_t state, uint32_t v) {
  if (state == kAbsent) return put(v);
  const uint64_t edge = (static_cast<uint64_t>(state) << 32) | v;
  const uint32_t cached = appends_.find(edge);
  if (cached != FlatMap64::kMissing) return cached;

  const State& from = states_[state];
  const Value& val = values_[v];
  const uint64_t length = from.length + val.text.size();
  const uint64_t hash = add_mod(mul_mod(from.hash, val.power), val.hash);
  const uint64_t key = content_key(length, hash);
  uint32_t result = FlatMap64::kMissing;
  const uint32_t s = states_by_content_.find(key);
  if (s != FlatMap64::kMissing && states_[s].length == length && states_[s].hash == hash) {
    // Probably the same content reached another way (or appending ""): compare the bytes.
    std::string mine;
    materialize(state, mine);
    mine += val.text;
    if (content_equals(s, mine)) result = s;
  }
  if (result == FlatMap64::kMissing) result = make_state(state, v, length, hash);
  appends_.put(edge, result);
  return result;
}

size_t RegisterModel::memory_bytes() const {
  return values_.capacity() * sizeof(Value) + value_ids_.size() * 64 +
         value_ids_.bucket_count() * sizeof(void*) + values_by_content_.memory_bytes() +
         states_.capacity() * sizeof(State) + states_by_content_.memory_bytes() +
         appends_.memory_bytes() + block_bytes_;
}

}  // namespace raftlab::check
