// The replicated key/value state machine (node/kv/kv.h): operations, sessions, the command codec
// against malformed bytes, and snapshots that round-trip byte for byte and reject corruption.
#include "node/kv/kv.h"

#include <malloc.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "node/kv/store.h"
#include "node/prng.h"

namespace raftlab::kv {
namespace {

std::string command(Op op, uint64_t client, uint64_t seq, std::string key, std::string value = "",
                    std::string expected = "") {
  return encode(Command{op, client, seq, std::move(key), std::move(value), std::move(expected)});
}

Result ok(std::optional<std::string> value) { return Result{Status::kOk, std::move(value)}; }
Result mismatch(std::optional<std::string> value) {
  return Result{Status::kCasMismatch, std::move(value)};
}
Result only(Status status) { return Result{status, std::nullopt}; }

// Builds raw little-endian bytes, for commands and snapshots the encoder would never write.
class Bytes {
 public:
  Bytes& u8(uint8_t v) {
    out_.push_back(static_cast<char>(v));
    return *this;
  }
  Bytes& u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
    return *this;
  }
  Bytes& u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
    return *this;
  }
  Bytes& raw(std::string_view bytes) {
    out_.append(bytes);
    return *this;
  }
  Bytes& str(std::string_view bytes) { return u32(static_cast<uint32_t>(bytes.size())).raw(bytes); }
  const std::string& get() const { return out_; }

 private:
  std::string out_;
};

// A state machine and the next log index to apply at.
struct Replica {
  StateMachine sm;
  uint64_t next = 1;

  Result run(std::string_view bytes) { return sm.apply(Index(next++), bytes); }
  void skip() { sm.skip(Index(next++)); }
};

// Applies `bytes` and checks that it changed nothing but the applied index.
void require_no_change(Replica& r, std::string_view bytes, const Result& result) {
  StateMachine expected = r.sm;
  expected.skip(Index(r.next));
  REQUIRE(r.run(bytes) == result);
  REQUIRE(r.sm == expected);
}
void require_no_change(Replica& r, std::string_view bytes, Status status) {
  require_no_change(r, bytes, only(status));
}

// Restores `bytes` into a machine with some state and checks it is rejected and unchanged.
void require_rejected(std::string_view bytes) {
  Replica r;
  r.run(command(Op::kPut, 99, 1, "keep", "me"));
  const StateMachine before = r.sm;
  const std::string error = r.sm.restore(bytes);
  INFO("snapshot of " << bytes.size() << " bytes");
  REQUIRE(!error.empty());
  REQUIRE(r.sm == before);
}

}  // namespace

TEST_CASE("kv: op and status names", "[kv]") {
  CHECK(std::string(to_string(Op::kPut)) == "put");
  CHECK(std::string(to_string(Op::kAppend)) == "append");
  CHECK(std::string(to_string(Op::kDelete)) == "delete");
  CHECK(std::string(to_string(Op::kCas)) == "cas");
  CHECK(std::string(to_string(static_cast<Op>(9))) == "?");
  CHECK(std::string(to_string(Status::kOk)) == "ok");
  CHECK(std::string(to_string(Status::kCasMismatch)) == "cas-mismatch");
  CHECK(std::string(to_string(Status::kSessionExpired)) == "session-expired");
  CHECK(std::string(to_string(Status::kStaleSeq)) == "stale-seq");
  CHECK(std::string(to_string(Status::kInvalid)) == "invalid");
  CHECK(std::string(to_string(static_cast<Status>(9))) == "?");
}

TEST_CASE("kv: commands round-trip through encode and decode", "[kv]") {
  const Command c{Op::kCas, 0xfedcba9876543210ULL, 0x0102030405060708ULL, "k", "new", "old"};
  const std::string bytes = encode(c);
  REQUIRE(bytes.size() == 1 + 1 + 8 + 8 + 4 + 1 + 4 + 3 + 4 + 3);
  CHECK(bytes == Bytes()
                     .u8(1)
                     .u8(4)
                     .u64(0xfedcba9876543210ULL)
                     .u64(0x0102030405060708ULL)
                     .str("k")
                     .str("new")
                     .str("old")
                     .get());
  std::string error = "stale";
  REQUIRE(decode(bytes, &error) == c);
  CHECK(error.empty());
  for (Op op : {Op::kPut, Op::kAppend, Op::kDelete}) {
    const Command d{op, 1, 1, std::string("\0x\xff", 3), op == Op::kDelete ? "" : "v", ""};
    CHECK(decode(encode(d)) == d);
  }
  // The bounds themselves are accepted.
  const Command big{Op::kPut,
                    1,
                    1,
                    std::string(kKeyBytesMax, 'k'),
                    std::string(kValueBytesMax, 'v'),
                    std::string(kValueBytesMax, 'e')};
  CHECK(decode(encode(big)) == big);
}

TEST_CASE("kv: put, append, delete and cas", "[kv]") {
  Replica r;
  SECTION("put") {
    CHECK(r.run(command(Op::kPut, 1, 1, "a", "x")) == ok("x"));
    CHECK(r.run(command(Op::kPut, 1, 2, "a", "yz")) == ok("yz"));
    CHECK(r.run(command(Op::kPut, 1, 3, "b", "")) == ok(""));
    CHECK(r.sm.get("a") == "yz");
    CHECK(r.sm.get("b") == "");  // "" is a value, not absence
    CHECK(r.sm.get("c") == std::nullopt);
    CHECK(r.sm.size() == 2);
    CHECK(r.sm.data_bytes() == 1 + 2 + 1 + 0);
  }
  SECTION("the empty key is a key") {
    CHECK(r.run(command(Op::kPut, 1, 1, "", "v")) == ok("v"));
    CHECK(r.sm.get("") == "v");
    CHECK(r.sm.data_bytes() == 1);
  }
  SECTION("append") {
    CHECK(r.run(command(Op::kAppend, 1, 1, "a", "x")) == ok("x"));  // absent: starts from ""
    CHECK(r.run(command(Op::kAppend, 1, 2, "a", "yz")) == ok("xyz"));
    CHECK(r.run(command(Op::kAppend, 1, 3, "a", "")) == ok("xyz"));
    CHECK(r.run(command(Op::kAppend, 1, 4, "e", "")) == ok(""));  // creates an empty value
    CHECK(r.sm.get("e") == "");
    CHECK(r.sm.data_bytes() == 1 + 3 + 1);
  }
  SECTION("delete") {
    r.run(command(Op::kPut, 1, 1, "a", "x"));
    r.run(command(Op::kPut, 1, 2, "e", ""));
    CHECK(r.run(command(Op::kDelete, 1, 3, "a")) == ok("x"));
    CHECK(r.sm.get("a") == std::nullopt);
    CHECK(r.run(command(Op::kDelete, 1, 4, "a")) == ok(std::nullopt));  // absent
    CHECK(r.run(command(Op::kDelete, 1, 5, "e")) == ok(""));            // "" is not absent
    CHECK(r.sm.size() == 0);
    CHECK(r.sm.data_bytes() == 0);
  }
  SECTION("cas") {
    r.run(command(Op::kPut, 1, 1, "a", "old"));
    CHECK(r.run(command(Op::kCas, 1, 2, "a", "new", "nope")) == mismatch("old"));
    CHECK(r.sm.get("a") == "old");
    CHECK(r.run(command(Op::kCas, 1, 3, "a", "new", "old")) == ok("new"));
    CHECK(r.sm.get("a") == "new");
    CHECK(r.sm.data_bytes() == 1 + 3);
    // Absent keys never match, not even "".
    CHECK(r.run(command(Op::kCas, 1, 4, "b", "v", "")) == mismatch(std::nullopt));
    CHECK(r.sm.get("b") == std::nullopt);
    r.run(command(Op::kPut, 1, 5, "e", ""));
    CHECK(r.run(command(Op::kCas, 1, 6, "e", "full", "")) == ok("full"));
    CHECK(r.run(command(Op::kCas, 1, 7, "e", "", "full")) == ok(""));
    CHECK(r.sm.data_bytes() == 1 + 3 + 1);
  }
  SECTION("an append past kValueBytesMax is invalid and changes nothing") {
    r.run(command(Op::kPut, 1, 1, "a", std::string(kValueBytesMax - 1, 'v')));
    require_no_change(r, command(Op::kAppend, 1, 2, "a", "xy"), Status::kInvalid);
    // The session did not record it, so a retry is judged again, not answered from a cache.
    require_no_change(r, command(Op::kAppend, 1, 2, "a", "xy"), Status::kInvalid);
    CHECK(r.run(command(Op::kAppend, 1, 2, "a", "x")) ==
          ok(std::string(kValueBytesMax - 1, 'v') + "x"));
    CHECK(r.sm.data_bytes() == 1 + kValueBytesMax);
  }
}

TEST_CASE("kv: a retried write applies once", "[kv]") {
  Replica r;
  const std::string first = command(Op::kPut, 1, 1, "x", "1");
  CHECK(r.run(first) == ok("1"));
  CHECK(r.run(command(Op::kPut, 2, 1, "x", "2")) == ok("2"));
  r.skip();
  // The retry returns the first result although the key has changed since, and changes nothing.
  require_no_change(r, first, ok("1"));
  require_no_change(r, first, ok("1"));
  CHECK(r.sm.get("x") == "2");

  // An append retried is not appended twice; a cas mismatch is replayed as a mismatch.
  CHECK(r.run(command(Op::kAppend, 1, 2, "x", "+")) == ok("2+"));
  CHECK(r.run(command(Op::kAppend, 1, 2, "x", "+")) == ok("2+"));
  CHECK(r.sm.get("x") == "2+");
  CHECK(r.run(command(Op::kCas, 2, 2, "x", "v", "2")) == mismatch("2+"));
  CHECK(r.run(command(Op::kPut, 1, 3, "x", "2")) == ok("2"));
  CHECK(r.run(command(Op::kCas, 2, 2, "x", "v", "2")) == mismatch("2+"));
  CHECK(r.sm.get("x") == "2");
  // A delete retried after the key came back does not delete it again.
  CHECK(r.run(command(Op::kDelete, 2, 3, "x")) == ok("2"));
  CHECK(r.run(command(Op::kPut, 1, 4, "x", "back")) == ok("back"));
  CHECK(r.run(command(Op::kDelete, 2, 3, "x")) == ok("2"));
  CHECK(r.sm.get("x") == "back");
  CHECK(r.sm.sessions() == 2);
}

TEST_CASE("kv: an old retry gets kStaleSeq and changes nothing", "[kv]") {
  Replica r;
  CHECK(r.run(command(Op::kPut, 1, 1, "k", "a")) == ok("a"));
  CHECK(r.run(command(Op::kAppend, 1, 2, "k", "b")) == ok("ab"));
  CHECK(r.run(command(Op::kAppend, 1, 5, "k", "c")) == ok("abc"));  // seq may skip ahead
  require_no_change(r, command(Op::kAppend, 1, 2, "k", "b"), Status::kStaleSeq);
  require_no_change(r, command(Op::kAppend, 1, 4, "k", "z"), Status::kStaleSeq);
  require_no_change(r, command(Op::kPut, 1, 1, "other", "z"), Status::kStaleSeq);
  CHECK(r.sm.get("k") == "abc");
  CHECK(r.sm.get("other") == std::nullopt);
}

TEST_CASE("kv: a session never seen or expired gets kSessionExpired", "[kv]") {
  Replica r;
  require_no_change(r, command(Op::kPut, 7, 2, "k", "v"), Status::kSessionExpired);
  CHECK(r.sm.sessions() == 0);
  CHECK(r.run(command(Op::kPut, 7, 1, "k", "v")) == ok("v"));
  CHECK(r.sm.sessions() == 1);
}

TEST_CASE("kv: the least recently applied session is evicted", "[kv]") {
  Replica r;
  // Clients 1..kSessionsMax, each applying seq 1 then seq 2: client c last applied at 2c.
  for (uint64_t c = 1; c <= kSessionsMax; ++c) {
    REQUIRE(r.run(command(Op::kPut, c, 1, "k" + std::to_string(c), "a")) == ok("a"));
    REQUIRE(r.run(command(Op::kAppend, c, 2, "k" + std::to_string(c), "b")) == ok("ab"));
  }
  REQUIRE(r.sm.sessions() == kSessionsMax);
  // Client 1 applies again, so client 2 is now the least recent. A duplicate from client 2
  // does not refresh it: duplicates change nothing.
  REQUIRE(r.run(command(Op::kPut, 1, 3, "k1", "c")) == ok("c"));
  REQUIRE(r.run(command(Op::kAppend, 2, 2, "k2", "b")) == ok("ab"));

  const uint64_t newcomer = kSessionsMax + 1;
  REQUIRE(r.run(command(Op::kPut, newcomer, 1, "n", "1")) == ok("1"));
  CHECK(r.sm.sessions() == kSessionsMax);

  // Client 2 is gone: its retry has an unknown outcome, and so does its next operation.
  require_no_change(r, command(Op::kAppend, 2, 2, "k2", "b"), Status::kSessionExpired);
  require_no_change(r, command(Op::kAppend, 2, 3, "k2", "c"), Status::kSessionExpired);
  CHECK(r.sm.get("k2") == "ab");
  // Everyone else kept their session.
  CHECK(r.run(command(Op::kPut, 1, 3, "k1", "c")) == ok("c"));
  CHECK(r.run(command(Op::kAppend, 3, 3, "k3", "c")) == ok("abc"));
  require_no_change(r, command(Op::kPut, newcomer, 1, "n", "1"), ok("1"));

  // The table survives a snapshot, and the restored copy evicts the same session next.
  Replica copy;
  REQUIRE(copy.sm.restore(r.sm.snapshot()).empty());
  copy.next = r.next;
  REQUIRE(copy.sm == r.sm);
  // Now client 4 (last applied at 8) is the least recent: client 3 just applied again.
  const std::string second = command(Op::kPut, newcomer + 1, 1, "m", "2");
  CHECK(r.run(second) == ok("2"));
  CHECK(copy.run(second) == ok("2"));
  CHECK(copy.sm == r.sm);
  CHECK(r.run(command(Op::kAppend, 4, 3, "k4", "c")) == only(Status::kSessionExpired));
  CHECK(r.run(command(Op::kAppend, 5, 3, "k5", "c")) == ok("abc"));
  // A client that starts over with seq 1 gets a new session.
  CHECK(r.run(command(Op::kPut, 2, 1, "k2", "fresh")) == ok("fresh"));
  CHECK(r.sm.sessions() == kSessionsMax);
}

TEST_CASE("kv: malformed command bytes apply as kInvalid and change nothing", "[kv]") {
  Replica r;
  r.run(command(Op::kPut, 1, 1, "k", "v"));
  r.run(command(Op::kPut, 2, 1, "x", "y"));
  std::string error;

  SECTION("every truncation of a valid command") {
    for (const std::string& valid :
         {command(Op::kCas, 1, 2, "k", "new", "v"), command(Op::kPut, 3, 1, "key", "value"),
          command(Op::kDelete, 2, 2, "x")}) {
      for (size_t len = 0; len < valid.size(); ++len) {
        INFO("length " << len);
        REQUIRE(!decode(std::string_view(valid).substr(0, len), &error));
        REQUIRE(!error.empty());
        require_no_change(r, std::string_view(valid).substr(0, len), Status::kInvalid);
      }
      REQUIRE(decode(valid, &error));
    }
  }
  SECTION("trailing bytes") {
    require_no_change(r, command(Op::kPut, 1, 2, "k", "w") + '\0', Status::kInvalid);
    require_no_change(r, command(Op::kPut, 1, 2, "k", "w") + "junk", Status::kInvalid);
  }
  SECTION("bad format or op") {
    for (uint8_t format : {0, 2, 255}) {
      const std::string bytes =
          Bytes().u8(format).u8(1).u64(1).u64(2).str("k").str("w").str("").get();
      REQUIRE(!decode(bytes));
      require_no_change(r, bytes, Status::kInvalid);
    }
    for (uint8_t op : {0, 5, 255}) {
      const std::string bytes = Bytes().u8(1).u8(op).u64(1).u64(2).str("k").str("w").str("").get();
      REQUIRE(!decode(bytes, &error));
      CHECK(error.find("op") != std::string::npos);
      require_no_change(r, bytes, Status::kInvalid);
    }
  }
  SECTION("lengths over the bounds or over the bytes left") {
    const std::string long_key(kKeyBytesMax + 1, 'k');
    const std::string long_value(kValueBytesMax + 1, 'v');
    const std::vector<std::string> cases = {
        Bytes().u8(1).u8(1).u64(1).u64(2).str(long_key).str("w").str("").get(),
        Bytes().u8(1).u8(1).u64(1).u64(2).str("k").str(long_value).str("").get(),
        Bytes().u8(1).u8(4).u64(1).u64(2).str("k").str("w").str(long_value).get(),
        Bytes().u8(1).u8(1).u64(1).u64(2).u32(0xffffffff).raw("k").str("w").str("").get(),
        Bytes().u8(1).u8(1).u64(1).u64(2).str("k").u32(0xffffffff).raw("w").str("").get(),
        Bytes().u8(1).u8(1).u64(1).u64(2).str("k").str("w").u32(0xffffffff).get(),
        Bytes().u8(1).u8(1).u64(1).u64(2).str("k").u32(2).raw("w").str("").get(),
        Bytes().u8(1).u8(1).u64(1).u64(2).u32(5).raw("k").str("w").str("").get(),
    };
    for (size_t i = 0; i < cases.size(); ++i) {
      INFO("case " << i);
      REQUIRE(!decode(cases[i], &error));
      REQUIRE(!error.empty());
      require_no_change(r, cases[i], Status::kInvalid);
    }
  }
  SECTION("seq 0 and a delete with a value") {
    REQUIRE(!decode(command(Op::kPut, 1, 0, "k", "w")));
    require_no_change(r, command(Op::kPut, 1, 0, "k", "w"), Status::kInvalid);
    require_no_change(r, command(Op::kPut, 9, 0, "k", "w"), Status::kInvalid);
    REQUIRE(!decode(command(Op::kDelete, 1, 2, "k", "w")));
    require_no_change(r, command(Op::kDelete, 1, 2, "k", "w"), Status::kInvalid);
  }
  SECTION("random bytes") {
    Prng rng(42);
    for (int i = 0; i < 2000; ++i) {
      std::string bytes(rng.uniform(0, 60), '\0');
      for (char& c : bytes) c = static_cast<char>(rng.next());
      if (rng.chance(0.5) && !bytes.empty()) bytes[0] = 1;
      if (rng.chance(0.5) && bytes.size() > 1) bytes[1] = static_cast<char>(rng.uniform(1, 5));
      if (decode(bytes)) continue;  // a valid command by chance
      require_no_change(r, bytes, Status::kInvalid);
    }
  }
  CHECK(r.sm.get("k") == "v");
  CHECK(r.sm.get("x") == "y");
  // The sessions still work: nothing invalid was recorded in them.
  CHECK(r.run(command(Op::kPut, 1, 2, "k", "w")) == ok("w"));
}

TEST_CASE("kv: apply and skip require increasing indices", "[kv]") {
  StateMachine sm;
  CHECK_THROWS_AS(sm.apply(Index(0), command(Op::kPut, 1, 1, "k", "v")), std::logic_error);
  CHECK_THROWS_AS(sm.skip(Index(0)), std::logic_error);
  CHECK(sm.applied() == Index(0));
  sm.skip(Index(3));
  CHECK(sm.applied() == Index(3));
  CHECK(sm.apply(Index(5), command(Op::kPut, 1, 1, "k", "v")) == ok("v"));
  CHECK(sm.applied() == Index(5));
  const StateMachine before = sm;
  CHECK_THROWS_AS(sm.apply(Index(5), command(Op::kPut, 1, 2, "k", "w")), std::logic_error);
  CHECK_THROWS_AS(sm.apply(Index(4), "garbage"), std::logic_error);
  CHECK_THROWS_AS(sm.skip(Index(5)), std::logic_error);
  CHECK(sm == before);
  // Every applied entry advances the index, whatever its result.
  CHECK(sm.apply(Index(6), "garbage") == only(Status::kInvalid));
  CHECK(sm.apply(Index(7), command(Op::kPut, 1, 1, "k", "v")) == ok("v"));
  CHECK(sm.applied() == Index(7));
}

TEST_CASE("kv: snapshot bytes follow the documented layout", "[kv]") {
  Replica r;
  r.run(command(Op::kPut, 5, 1, "b", "2"));
  r.skip();
  r.run(command(Op::kDelete, 3, 1, "zz"));
  r.run(command(Op::kPut, 5, 2, "a", ""));
  r.run(command(Op::kCas, 0xffffffffffffffffULL, 1, "b", "3", "x"));
  const std::string expected = Bytes()
                                   .u8(1)
                                   .u64(5)
                                   .u64(2)
                                   .str("a")
                                   .str("")
                                   .str("b")
                                   .str("2")
                                   .u64(3)
                                   .u64(3)  // client 3: seq 1, index 3, ok, no value
                                   .u64(1)
                                   .u64(3)
                                   .u8(0)
                                   .u8(0)
                                   .str("")
                                   .u64(5)  // client 5: seq 2, index 4, a put: no value
                                   .u64(2)
                                   .u64(4)
                                   .u8(0)
                                   .u8(0)
                                   .str("")
                                   .u64(0xffffffffffffffffULL)  // seq 1, index 5, mismatch "2"
                                   .u64(1)
                                   .u64(5)
                                   .u8(1)
                                   .u8(1)
                                   .str("2")
                                   .get();
  CHECK(r.sm.snapshot() == expected);
  Replica copy;
  REQUIRE(copy.sm.restore(expected) == "");
  CHECK(copy.sm == r.sm);
  CHECK(copy.sm.data_bytes() == 1 + 0 + 1 + 1);

  StateMachine empty;
  CHECK(empty.snapshot() == Bytes().u8(1).u64(0).u64(0).u64(0).get());
  REQUIRE(copy.sm.restore(empty.snapshot()) == "");
  CHECK(copy.sm == empty);
}

TEST_CASE("kv: snapshot round trip", "[kv]") {
  Replica a;
  Prng rng(7);
  for (int i = 0; i < 300; ++i) {
    const uint64_t client = rng.uniform(1, 20);
    const std::string key = "k" + std::to_string(rng.uniform(0, 30));
    const Op op = static_cast<Op>(rng.uniform(1, 5));
    a.run(command(op, client, static_cast<uint64_t>(i) + 1, key,
                  op == Op::kDelete ? "" : std::to_string(i), std::to_string(rng.uniform(0, 300))));
  }
  Replica b;
  b.run(command(Op::kPut, 500, 1, "overwritten", "x"));  // restore replaces everything
  REQUIRE(b.sm.restore(a.sm.snapshot()) == "");
  b.next = a.next;
  REQUIRE(b.sm == a.sm);
  REQUIRE(b.sm.snapshot() == a.sm.snapshot());
  CHECK(b.sm.get("overwritten") == std::nullopt);
  CHECK(b.sm.applied() == a.sm.applied());
  CHECK(b.sm.data_bytes() == a.sm.data_bytes());
  CHECK(b.sm.sessions() == a.sm.sessions());

  // The same further commands, retries included, keep both identical.
  for (int i = 0; i < 300; ++i) {
    const uint64_t client = rng.uniform(1, 25);
    const uint64_t seq = 300 + static_cast<uint64_t>(i / 2) + (client > 20 ? 0 : 1);
    const std::string bytes =
        command(static_cast<Op>(rng.uniform(1, 5)), client, rng.chance(0.2) ? 1 : seq,
                "k" + std::to_string(rng.uniform(0, 30)), "v", std::to_string(i));
    if (rng.chance(0.1)) {
      a.skip();
      b.skip();
    }
    REQUIRE(a.run(bytes) == b.run(bytes));
  }
  CHECK(a.sm == b.sm);
  CHECK(a.sm.snapshot() == b.sm.snapshot());
}

TEST_CASE("kv: restore rejects malformed snapshots and leaves the state as it was", "[kv]") {
  // A valid snapshot: keys "a" and "b", sessions 3 and 5, applied index 9.
  const auto build = [](const std::function<void(Bytes&)>& keys,
                        const std::function<void(Bytes&)>& sessions, uint64_t applied = 9) {
    Bytes b;
    b.u8(1).u64(applied);
    keys(b);
    sessions(b);
    return b.get();
  };
  const auto two_keys = [](Bytes& b) { b.u64(2).str("a").str("1").str("b").str(""); };
  const auto two_sessions = [](Bytes& b) {
    b.u64(2);
    b.u64(3).u64(4).u64(7).u8(0).u8(1).str("1");
    b.u64(5).u64(1).u64(9).u8(1).u8(0).str("");
  };
  const std::string valid = build(two_keys, two_sessions);
  {
    StateMachine sm;
    REQUIRE(sm.restore(valid) == "");
    CHECK(sm.get("a") == "1");
    CHECK(sm.get("b") == "");
    CHECK(sm.sessions() == 2);
    CHECK(sm.applied() == Index(9));
    CHECK(sm.data_bytes() == 3);
    CHECK(sm.snapshot() == valid);
  }

  SECTION("every truncation") {
    for (size_t len = 0; len < valid.size(); ++len) {
      INFO("length " << len);
      require_rejected(std::string_view(valid).substr(0, len));
    }
  }
  SECTION("trailing bytes") { require_rejected(valid + '\0'); }
  SECTION("format") {
    std::string bad = valid;
    bad[0] = 2;
    require_rejected(bad);
  }
  SECTION("keys") {
    const auto keys = [&](std::function<void(Bytes&)> k) {
      require_rejected(build(k, two_sessions));
    };
    keys([](Bytes& b) { b.u64(2).str("b").str("1").str("a").str(""); });  // out of order
    keys([](Bytes& b) { b.u64(2).str("a").str("1").str("a").str(""); });  // duplicate
    keys([](Bytes& b) { b.u64(3).str("a").str("1").str("b").str(""); });  // count too high
    keys([](Bytes& b) { b.u64(~uint64_t{0}).str("a").str("1").str("b").str(""); });
    keys([](Bytes& b) { b.u64(1).str(std::string(kKeyBytesMax + 1, 'k')).str(""); });
    keys([](Bytes& b) { b.u64(1).str("k").str(std::string(kValueBytesMax + 1, 'v')); });
    keys([](Bytes& b) { b.u64(1).str("k").u32(0xffffffff).raw("v"); });
    // The bounds themselves are fine.
    StateMachine sm;
    CHECK(sm.restore(build(
              [](Bytes& b) {
                b.u64(1).str(std::string(kKeyBytesMax, 'k')).str(std::string(kValueBytesMax, 'v'));
              },
              two_sessions)) == "");
  }
  SECTION("sessions") {
    const auto sessions = [&](std::function<void(Bytes&)> s) {
      require_rejected(build(two_keys, s));
    };
    // Clients out of order, or twice.
    sessions([](Bytes& b) {
      b.u64(2).u64(5).u64(1).u64(9).u8(1).u8(0).str("");
      b.u64(3).u64(4).u64(7).u8(0).u8(1).str("1");
    });
    sessions([](Bytes& b) {
      b.u64(2).u64(3).u64(1).u64(9).u8(1).u8(0).str("");
      b.u64(3).u64(4).u64(7).u8(0).u8(1).str("1");
    });
    // Two sessions applied at the same index.
    sessions([](Bytes& b) {
      b.u64(2).u64(3).u64(4).u64(7).u8(0).u8(1).str("1");
      b.u64(5).u64(1).u64(7).u8(1).u8(0).str("");
    });
    // Last index 0, or past the applied index.
    sessions([](Bytes& b) { b.u64(1).u64(3).u64(4).u64(0).u8(0).u8(1).str("1"); });
    sessions([](Bytes& b) { b.u64(1).u64(3).u64(4).u64(10).u8(0).u8(1).str("1"); });
    // seq 0.
    sessions([](Bytes& b) { b.u64(1).u64(3).u64(0).u64(7).u8(0).u8(1).str("1"); });
    // A status never cached, or not a status at all.
    for (uint8_t status : {2, 3, 4, 5, 255}) {
      sessions([status](Bytes& b) { b.u64(1).u64(3).u64(4).u64(7).u8(status).u8(0).str(""); });
    }
    // has_value neither 0 nor 1, or 0 with a value.
    sessions([](Bytes& b) { b.u64(1).u64(3).u64(4).u64(7).u8(0).u8(2).str("1"); });
    sessions([](Bytes& b) { b.u64(1).u64(3).u64(4).u64(7).u8(0).u8(0).str("1"); });
    // A cached value over the bound.
    sessions([](Bytes& b) {
      b.u64(1).u64(3).u64(4).u64(7).u8(0).u8(1).str(std::string(kValueBytesMax + 1, 'v'));
    });
    // Counts: more than there are, more than kSessionsMax, absurd.
    sessions([](Bytes& b) {
      b.u64(3).u64(3).u64(4).u64(7).u8(0).u8(1).str("1");
      b.u64(5).u64(1).u64(9).u8(1).u8(0).str("");
    });
    sessions([](Bytes& b) { b.u64(kSessionsMax + 1); });
    sessions([](Bytes& b) { b.u64(~uint64_t{0}); });
  }
  SECTION("a full session table is fine, one more is not") {
    const auto table = [](size_t n) {
      return [n](Bytes& b) {
        b.u64(n);
        for (uint64_t c = 1; c <= n; ++c) b.u64(c).u64(1).u64(c).u8(0).u8(0).str("");
      };
    };
    StateMachine sm;
    CHECK(sm.restore(build(two_keys, table(kSessionsMax), kSessionsMax + 1)) == "");
    CHECK(sm.sessions() == kSessionsMax);
    require_rejected(build(two_keys, table(kSessionsMax + 1), kSessionsMax + 1));
  }
}

namespace {

// A plain reference model of the header's rules (no eviction: tests keep sessions few).
struct Model {
  struct Session {
    uint64_t seq = 0;
    Result last;
  };
  std::map<std::string, std::string> data;
  std::map<uint64_t, Session> sessions;

  Result apply(std::string_view bytes) {
    const std::optional<Command> c = decode(bytes);
    if (!c) return only(Status::kInvalid);
    const auto s = sessions.find(c->client);
    if (s != sessions.end() && c->seq == s->second.seq) return s->second.last;
    if (s != sessions.end() && c->seq < s->second.seq) return only(Status::kStaleSeq);
    if (s == sessions.end() && c->seq != 1) return only(Status::kSessionExpired);
    Result r;
    const auto it = data.find(c->key);
    switch (c->op) {
      case Op::kPut:
        r.value = data[c->key] = c->value;
        break;
      case Op::kAppend:
        if (it != data.end() && it->second.size() + c->value.size() > kValueBytesMax) {
          return only(Status::kInvalid);
        }
        r.value = data[c->key] += c->value;
        break;
      case Op::kDelete:
        if (it != data.end()) {
          r.value = it->second;
          data.erase(it);
        }
        break;
      case Op::kCas:
        if (it != data.end() && it->second == c->expected) {
          r.value = it->second = c->value;
        } else {
          r.status = Status::kCasMismatch;
          if (it != data.end()) r.value = it->second;
        }
        break;
    }
    sessions[c->client] = Session{c->seq, r};
    return r;
  }
};

// A random stream of command bytes with new clients, next operations, duplicates, late
// retries, unknown sessions and garbage; nullopt stands for a non-command entry.
class Stream {
 public:
  Stream(uint64_t seed, double new_client) : rng_(seed), new_client_(new_client) {}

  std::optional<std::string> next() {
    const double roll = static_cast<double>(rng_.uniform(0, 1000)) / 1000;
    if (roll < 0.05) return std::nullopt;
    if (roll < 0.08) {
      std::string garbage(rng_.uniform(0, 40), '\0');
      for (char& c : garbage) c = static_cast<char>(rng_.next());
      return garbage;
    }
    if (roll < 0.10) {  // a client the machine never saw, mid-sequence
      return command(Op::kPut, rng_.next() | 1, rng_.uniform(2, 10), key(), value());
    }
    if (clients_.empty() || rng_.chance(new_client_)) {
      clients_.push_back(Client{rng_.next(), 0, {}});
    }
    Client& c = rng_.chance(0.5) ? clients_.back() : clients_[rng_.uniform(0, clients_.size())];
    if (!c.sent.empty() && roll < 0.25) return c.sent.back();  // duplicate
    if (!c.sent.empty() && roll < 0.32) return c.sent[rng_.uniform(0, c.sent.size())];
    const Op op = static_cast<Op>(rng_.uniform(1, 5));
    c.seq += rng_.chance(0.1) ? 2 : 1;
    c.sent.push_back(command(op, c.id, c.seq, key(), op == Op::kDelete ? "" : value(),
                             rng_.chance(0.5) ? value() : ""));
    return c.sent.back();
  }

 private:
  struct Client {
    uint64_t id;
    uint64_t seq;
    std::vector<std::string> sent;
  };
  std::string key() { return rng_.chance(0.05) ? "" : "key" + std::to_string(rng_.uniform(0, 25)); }
  std::string value() {
    return rng_.chance(0.2)
               ? ""
               : std::string(rng_.uniform(1, 4), static_cast<char>('a' + rng_.uniform(0, 3)));
  }

  Prng rng_;
  double new_client_;
  std::vector<Client> clients_;
};

}  // namespace

TEST_CASE("kv: the state machine agrees with a reference model", "[kv]") {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Stream stream(seed, 0.02);
    Replica r;
    Model model;
    for (int i = 0; i < 2000; ++i) {
      const std::optional<std::string> bytes = stream.next();
      if (!bytes) {
        r.skip();
        continue;
      }
      INFO("seed " << seed << " step " << i);
      REQUIRE(r.run(*bytes) == model.apply(*bytes));
    }
    REQUIRE(r.sm.size() == model.data.size());
    REQUIRE(r.sm.sessions() == model.sessions.size());
    size_t bytes = 0;
    for (const auto& [key, value] : model.data) {
      REQUIRE(r.sm.get(key) == value);
      bytes += key.size() + value.size();
    }
    REQUIRE(r.sm.data_bytes() == bytes);
  }
}

TEST_CASE("kv: replicas applying the same stream agree byte for byte", "[kv]") {
  // Many new clients, so the session table fills and evicts along the way.
  Stream stream(2024, 0.5);
  Replica a;
  Replica b;
  Replica late;  // joins from a's snapshot part way
  bool joined = false;
  const int steps = 40000;
  for (int i = 0; i < steps; ++i) {
    const std::optional<std::string> bytes = stream.next();
    if (i == steps / 2) {
      REQUIRE(late.sm.restore(a.sm.snapshot()) == "");
      late.next = a.next;
      REQUIRE(late.sm == a.sm);
      joined = true;
    }
    if (!bytes) {
      a.skip();
      b.skip();
      if (joined) late.skip();
      continue;
    }
    const Result ra = a.run(*bytes);
    REQUIRE(b.run(*bytes) == ra);
    if (joined) REQUIRE(late.run(*bytes) == ra);
  }
  CHECK(a.sm.sessions() == kSessionsMax);
  const std::string snapshot = a.sm.snapshot();
  CHECK(b.sm.snapshot() == snapshot);
  CHECK(late.sm.snapshot() == snapshot);
  CHECK(a.sm == b.sm);
  CHECK(a.sm == late.sm);
}

TEST_CASE("kv: a duplicate put answers its own value, also after a restore", "[kv]") {
  Replica r;
  const std::string first = command(Op::kPut, 1, 1, "k", "mine");
  CHECK(r.run(first) == ok("mine"));
  CHECK(r.run(command(Op::kPut, 2, 1, "k", "theirs")) == ok("theirs"));
  require_no_change(r, first, ok("mine"));

  Replica copy;
  REQUIRE(copy.sm.restore(r.sm.snapshot()) == "");
  copy.next = r.next;
  require_no_change(copy, first, ok("mine"));
  CHECK(copy.sm.get("k") == "theirs");

  // A snapshot from before puts were cached without their value still restores, answers the
  // same, and keeps the cached value as it was given.
  const std::string older = Bytes()
                                .u8(1)
                                .u64(2)
                                .u64(1)
                                .str("k")
                                .str("theirs")
                                .u64(1)
                                .u64(1)
                                .u64(1)
                                .u64(1)
                                .u8(0)
                                .u8(1)
                                .str("mine")
                                .get();
  Replica old;
  REQUIRE(old.sm.restore(older) == "");
  CHECK(old.sm.snapshot() == older);
  old.next = 3;
  require_no_change(old, first, ok("mine"));
}

TEST_CASE("kv: write_snapshot hands over snapshot() in bounded pieces", "[kv]") {
  Replica r;
  const auto pieces_of = [](const StateMachine& sm) {
    std::vector<std::string> pieces;
    sm.write_snapshot([&pieces](std::string_view piece) { pieces.emplace_back(piece); });
    return pieces;
  };
  const auto joined = [](const std::vector<std::string>& pieces) {
    std::string all;
    for (const std::string& piece : pieces) all += piece;
    return all;
  };
  CHECK(joined(pieces_of(r.sm)) == r.sm.snapshot());
  CHECK(pieces_of(r.sm).size() == 1);

  // Over 3 MiB: many small keys, a value of the maximum size, and a cached append result.
  constexpr int kSmallKeys = 20000;
  for (int i = 0; i < kSmallKeys; ++i) {
    r.run(command(Op::kPut, 1, static_cast<uint64_t>(i) + 1, "small" + std::to_string(i),
                  std::string(100, static_cast<char>('a' + i % 26))));
  }
  r.run(command(Op::kPut, 2, 1, "big", std::string(kValueBytesMax, 'b')));
  r.run(command(Op::kAppend, 3, 1, "tail", std::string(kValueBytesMax, 't')));
  const std::vector<std::string> pieces = pieces_of(r.sm);
  CHECK(joined(pieces).size() == r.sm.snapshot_size());  // a file header states it first
  CHECK(pieces.size() >= 3);
  for (const std::string& piece : pieces) {
    CHECK(!piece.empty());
    CHECK(piece.size() <= kSnapshotPieceBytes);
  }
  CHECK(static_cast<bool>(joined(pieces) == r.sm.snapshot()));  // no 5 MB printout on failure
}

namespace {

// The snapshot bytes for `data` and one session that last applied a put, encoded the slow,
// obvious way from a std::map.
std::string reference_snapshot(uint64_t applied, const std::map<std::string, std::string>& data,
                               uint64_t client, uint64_t seq) {
  Bytes b;
  b.u8(1).u64(applied).u64(data.size());
  for (const auto& [key, value] : data) b.str(key).str(value);
  b.u64(1).u64(client).u64(seq).u64(applied).u8(0).u8(0).str("");
  return b.get();
}

// "bench/%08d", the bench's keys.
std::string bench_key(int i) {
  char key[32];
  std::snprintf(key, sizeof key, "bench/%08d", i);
  return key;
}

constexpr int kBenchKeys = 100000;
constexpr size_t kBenchValueBytes = 256;

}  // namespace

TEST_CASE("kv: a bench-sized store overwritten in place matches a std::map model", "[kv]") {
  Replica r;
  std::map<std::string, std::string> model;
  const uint64_t client = 42;
  uint64_t seq = 0;
  const auto put = [&](const std::string& key, const std::string& value) {
    REQUIRE(r.run(command(Op::kPut, client, ++seq, key, value)) == ok(value));
    model[key] = value;
  };
  // Keys in a scattered order, two rounds: the second overwrites every value, same length.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kBenchKeys; ++i) {
      const int k = static_cast<int>((static_cast<uint64_t>(i) * 7919) % kBenchKeys);
      put(bench_key(k), std::string(kBenchValueBytes, static_cast<char>('a' + (k + round) % 26)));
    }
  }
  // A delete, keys that sort by their bytes as unsigned chars and past a shared 16-byte prefix,
  // values of other lengths; a put comes last, as reference_snapshot's session expects.
  REQUIRE(r.run(command(Op::kDelete, client, ++seq, bench_key(7))) ==
          ok(std::string(kBenchValueBytes, static_cast<char>('a' + (7 + 1) % 26))));
  model.erase(bench_key(7));
  for (const std::string& key :
       {std::string("a"), std::string("a\0", 2), std::string("a\0b", 3), std::string("\xff"),
        std::string("\x7f"), std::string(""), std::string("bench/000000001234567"),
        std::string("bench/0000000")}) {
    put(key, key + "!");
  }
  put(bench_key(5), "shorter");
  put(bench_key(6), std::string(kBenchValueBytes * 3, 'L'));

  size_t bytes = 0;
  for (const auto& [key, value] : model) bytes += key.size() + value.size();
  CHECK(r.sm.size() == model.size());
  CHECK(r.sm.data_bytes() == bytes);
  CHECK(r.sm.get(bench_key(99999)) == model[bench_key(99999)]);
  // Compared as a bool: Catch would print both 27 MB strings on a mismatch.
  const std::string snapshot = r.sm.snapshot();
  const std::string expected = reference_snapshot(r.next - 1, model, client, seq);
  const auto [at, unused] =
      std::mismatch(snapshot.begin(), snapshot.end(), expected.begin(), expected.end());
  INFO("sizes " << snapshot.size() << " and " << expected.size() << ", first difference at "
                << (at - snapshot.begin()));
  CHECK(static_cast<bool>(snapshot == expected));
}

TEST_CASE("kv: an overwrite of the same length reuses the block in place", "[kv]") {
  Store store;
  std::vector<const char*> at;
  for (int i = 0; i < kBenchKeys; ++i) store.set(bench_key(i), std::string(kBenchValueBytes, 'x'));
  for (int i = 0; i < kBenchKeys; ++i) at.push_back(store.find(bench_key(i))->data());
  for (int i = 0; i < kBenchKeys; ++i) store.set(bench_key(i), std::string(kBenchValueBytes, 'y'));
  for (int i = 0; i < kBenchKeys; ++i) {
    const std::optional<std::string_view> value = store.find(bench_key(i));
    REQUIRE(value == std::string(kBenchValueBytes, 'y'));
    REQUIRE(value->data() == at[static_cast<size_t>(i)]);
  }
  CHECK(store.bytes() == kBenchKeys * (bench_key(0).size() + kBenchValueBytes));
}

TEST_CASE("kv: the store agrees with a std::map under random changes", "[kv]") {
  Prng rng(16);
  Store store;
  std::map<std::string, std::string> model;
  constexpr int kSteps = 20000;
  constexpr uint64_t kKeys = 3000;  // enough to grow the table and shift runs on erase
  for (int i = 0; i < kSteps; ++i) {
    const std::string key = "k" + std::to_string(rng.uniform(0, kKeys));
    const std::string value(rng.uniform(0, 20), static_cast<char>('a' + rng.uniform(0, 26)));
    const uint64_t roll = rng.uniform(0, 10);
    if (roll < 4) {
      store.set(key, value);
      model[key] = value;
    } else if (roll < 6) {
      const auto it = model.find(key);
      const bool fits = (it == model.end() ? 0 : it->second.size()) + value.size() <= 30;
      const std::optional<std::string_view> appended = store.append(key, value, 30);
      REQUIRE(appended.has_value() == fits);
      if (fits) REQUIRE(*appended == (model[key] += value));
    } else {
      const auto it = model.find(key);
      const std::optional<std::string> expected =
          it == model.end() ? std::nullopt : std::optional<std::string>(it->second);
      REQUIRE(store.erase(key) == expected);
      if (it != model.end()) model.erase(it);
    }
  }
  REQUIRE(store.size() == model.size());
  size_t bytes = 0;
  for (uint64_t k = 0; k <= kKeys; ++k) {
    const std::string key = "k" + std::to_string(k);
    const auto it = model.find(key);
    REQUIRE(store.find(key) ==
            (it == model.end() ? std::nullopt : std::optional<std::string_view>(it->second)));
    if (it != model.end()) bytes += key.size() + it->second.size();
  }
  CHECK(store.bytes() == bytes);
  std::vector<std::string> order;
  for (const char* block : store.sorted()) order.emplace_back(Store::entry(block).key);
  std::vector<std::string> expected_order;
  for (const auto& [key, value] : model) expected_order.push_back(key);
  CHECK(order == expected_order);
  const Store copy = store;
  CHECK(copy == store);
  Store other = copy;
  other.set("k0", "different");
  CHECK(!(other == store));
}

namespace {

// Bytes in use on the heap: small blocks plus mmap'd ones (the hash table's array).
[[maybe_unused]] size_t heap_in_use() {  // unused under ASan (below)
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

}  // namespace

TEST_CASE("kv: 100,000 bench keys cost at most 1.2x their bytes on the heap", "[kv]") {
#if defined(__SANITIZE_ADDRESS__)
  WARN("skipped under AddressSanitizer: its allocator does not report to mallinfo2");
#else
  constexpr double kOverheadMax = 1.2;
  const std::string value(kBenchValueBytes, 'v');
  std::vector<std::string> puts;
  puts.reserve(kBenchKeys);
  for (int i = 0; i < kBenchKeys; ++i) {
    puts.push_back(command(Op::kPut, 1, static_cast<uint64_t>(i) + 1, bench_key(i), value));
  }
  const size_t before = heap_in_use();
  Replica r;
  for (const std::string& bytes : puts) r.run(bytes);
  const size_t filled = heap_in_use() - before;
  const double raw = static_cast<double>(r.sm.data_bytes());
  INFO("heap " << filled << " bytes for " << r.sm.data_bytes() << " bytes of keys and values");
  CHECK(static_cast<double>(filled) <= kOverheadMax * raw);
  // Overwriting every key with a value of the same length costs nothing more per key (the
  // slack covers Catch's own INFO text and the like).
  constexpr size_t kSlackBytes = 64 * 1024;
  for (int i = 0; i < kBenchKeys; ++i) {
    r.run(command(Op::kPut, 1, r.next, bench_key(i), std::string(kBenchValueBytes, 'w')));
  }
  CHECK(heap_in_use() - before <= filled + kSlackBytes);
#endif
}

TEST_CASE("kv: time 1,000,000 puts over 100,000 keys", "[.][kv_bench]") {
  constexpr int kPuts = 1000000;
  const std::string value(kBenchValueBytes, 'v');
  std::vector<std::string> puts;
  puts.reserve(kPuts);
  for (int i = 0; i < kPuts; ++i) {
    puts.push_back(command(Op::kPut, static_cast<uint64_t>(i % 64) + 1,
                           static_cast<uint64_t>(i / 64) + 1, bench_key(i % kBenchKeys), value));
  }
  Replica r;
  const auto start = std::chrono::steady_clock::now();
  for (const std::string& bytes : puts) r.run(bytes);
  const auto applied = std::chrono::steady_clock::now();
  const std::string snapshot = r.sm.snapshot();
  const auto done = std::chrono::steady_clock::now();
  using Ms = std::chrono::duration<double, std::milli>;
  WARN(kPuts << " puts: " << Ms(applied - start).count() << " ms; snapshot of " << snapshot.size()
             << " bytes: " << Ms(done - applied).count() << " ms");
  CHECK(r.sm.size() == kBenchKeys);
}

}  // namespace raftlab::kv
