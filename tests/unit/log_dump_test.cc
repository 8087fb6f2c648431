// Log entries in words for `raftlab log dump` (node/kv/describe.h): each KV command with its
// session, configuration entries as their members, no-ops, values shown readably (quoted,
// escaped, cut with their length), and payloads that do not decode described, never thrown.
#include "node/kv/describe.h"

#include <catch2/catch.hpp>
#include <string>

#include "node/kv/kv.h"
#include "node/types.h"

namespace raftlab::kv {
namespace {

EntryDescription normal(Op op, std::string key, std::string value = "", std::string expected = "") {
  const std::string bytes =
      encode(Command{op, 77, 5, std::move(key), std::move(value), std::move(expected)});
  return describe_entry(EntryType::kNormal, bytes);
}

TEST_CASE("each KV command reads as its op, key, values and session", "[log_dump]") {
  const EntryDescription put = normal(Op::kPut, "k1", "hello");
  CHECK(put.kind == EntryKind::kCommand);
  REQUIRE(put.command);
  CHECK(put.command->client == 77);
  CHECK(put.text == R"(put "k1" "hello" client 77 seq 5)");
  CHECK(normal(Op::kAppend, "k1", ", world").text == R"(append "k1" ", world" client 77 seq 5)");
  CHECK(normal(Op::kCas, "k1", "new", "old").text == R"(cas "k1" "old" -> "new" client 77 seq 5)");
  CHECK(normal(Op::kDelete, "k1").text == R"(delete "k1" client 77 seq 5)");
  CHECK(normal(Op::kPut, "empty", "").text == R"(put "empty" "" client 77 seq 5)");
}

TEST_CASE("values are shown readably: escaped, quoted, cut with their length", "[log_dump]") {
  CHECK(normal(Op::kPut, "k", std::string("a\x01\xff\"\\b", 6)).text ==
        R"(put "k" "a\x01\xff\"\\b" client 77 seq 5)");
  const std::string long_value(1000, 'x');
  CHECK(normal(Op::kPut, "k", long_value).text ==
        "put \"k\" \"" + std::string(kShownBytesMax, 'x') + "...\" (1000 B) client 77 seq 5");
  // --raw keeps the form log dump printed before decoding: '"' as is, '\' as \x5c.
  CHECK(escape_bytes("a\"\\", kShownBytesMax, false) == R"(a"\x5c)");
  CHECK(escape_bytes("abcdef", 3, false) == "abc...");
}

TEST_CASE("configuration entries read as their members, no-ops as such", "[log_dump]") {
  const Membership m{{NodeId(1), NodeId(2), NodeId(3)}, {NodeId(4)}};
  const EntryDescription config = describe_entry(EntryType::kConfig, encode_membership(m));
  CHECK(config.kind == EntryKind::kConfig);
  CHECK(config.membership == m);
  CHECK(config.text == "config voters 1,2,3 learners 4");
  const EntryDescription noop = describe_entry(EntryType::kNoop, "");
  CHECK(noop.kind == EntryKind::kNoop);
  CHECK(noop.text == "noop");
}

TEST_CASE("a payload that does not decode is described with its bytes", "[log_dump]") {
  std::string bytes = encode(Command{Op::kPut, 1, 1, "k", "v", ""});
  bytes[1] = 9;  // no such op
  const EntryDescription bad = describe_entry(EntryType::kNormal, bytes);
  CHECK(bad.kind == EntryKind::kUndecodable);
  CHECK_FALSE(bad.problem.empty());
  CHECK(bad.text.rfind("undecodable command (" + bad.problem + "): \"\\x01\\x09", 0) == 0);
  CHECK(bad.text.find("(" + std::to_string(bytes.size()) + " B)") != std::string::npos);
  const EntryDescription config = describe_entry(EntryType::kConfig, "voters=1,x");
  CHECK(config.kind == EntryKind::kUndecodable);
  CHECK(config.text.rfind("undecodable config", 0) == 0);
  CHECK(describe_entry(EntryType::kNormal, "").kind == EntryKind::kUndecodable);
}

}  // namespace
}  // namespace raftlab::kv
