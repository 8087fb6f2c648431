// The register model: interned values, canonical states, O(1) matches.
#include <catch2/catch.hpp>

#include "cmd/checker/model.h"

using raftlab::check::FlatMap64;
using raftlab::check::RegisterModel;

TEST_CASE("values are interned once", "[model]") {
  RegisterModel m;
  const uint32_t a = m.intern("a");
  CHECK(m.intern("a") == a);
  CHECK(m.intern(std::string("a")) == a);
  CHECK(m.intern("") != a);
  CHECK(m.find("zz") == RegisterModel::kNone);
  CHECK(m.value(a) == "a");
}

TEST_CASE("put, append, match and content", "[model]") {
  RegisterModel m;
  const uint32_t a = m.intern("a");
  const uint32_t b = m.intern("b");
  const uint32_t ab = m.intern("ab");
  const uint32_t empty = m.intern("");

  CHECK(m.absent(RegisterModel::kAbsent));
  CHECK(m.match(RegisterModel::kAbsent) == RegisterModel::kNone);

  const uint32_t sa = m.put(a);
  CHECK(m.match(sa) == a);
  CHECK(m.content(sa) == "a");
  CHECK(m.put(a) == sa);

  // Append on absent creates the key.
  CHECK(m.append(RegisterModel::kAbsent, a) == sa);

  // "a" + "b" is the same state as put "ab", whichever comes first.
  const uint32_t sab = m.append(sa, b);
  CHECK(m.content(sab) == "ab");
  CHECK(m.match(sab) == ab);
  CHECK(m.put(ab) == sab);
  CHECK(m.append(sa, b) == sab);

  // Appending "" changes nothing; the empty string is a state, not absent.
  CHECK(m.append(sab, empty) == sab);
  const uint32_t se = m.put(empty);
  CHECK_FALSE(m.absent(se));
  CHECK(m.match(se) == empty);
  CHECK(m.content(se).empty());
  CHECK(m.append(se, a) == sa);
}

TEST_CASE("a value interned after its state exists still matches", "[model]") {
  RegisterModel m;
  const uint32_t x = m.intern("x");
  const uint32_t y = m.intern("y");
  uint32_t s = m.put(x);
  for (int i = 0; i < 100; ++i) s = m.append(s, y);
  CHECK(m.match(s) == RegisterModel::kNone);
  CHECK(m.length(s) == 101);
  const uint32_t late = m.intern("x" + std::string(100, 'y'));
  CHECK(m.match(s) == late);
  CHECK(m.put(late) == s);
}

TEST_CASE("append chains share structure", "[model]") {
  RegisterModel m;
  uint32_t s = RegisterModel::kAbsent;
  std::string expect;
  for (int i = 0; i < 2000; ++i) {
    const std::string v = "v" + std::to_string(i) + ",";
    s = m.append(s, m.intern(v));
    expect += v;
  }
  CHECK(m.content(s) == expect);
  CHECK(m.state_count() == 2001);
  // Each state is a node, not a copy of the string.
  CHECK(m.memory_bytes() < 2001 * 400 + (1 << 17));  // copies would take ~10 MB
}

TEST_CASE("FlatMap64", "[model]") {
  FlatMap64 map;
  CHECK(map.find(1) == FlatMap64::kMissing);
  for (uint64_t k = 0; k < 10000; ++k) map.put(k * 7919, static_cast<uint32_t>(k));
  for (uint64_t k = 0; k < 10000; ++k) CHECK(map.find(k * 7919) == k);
  CHECK(map.find(3) == FlatMap64::kMissing);
  map.put(7919, 42);
  CHECK(map.find(7919) == 42);
  CHECK(map.size() == 10000);
}
