// The history parser and writer: every malformed kind names its line.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "cmd/checker/history.h"

namespace {

using raftlab::check::EventType;
using raftlab::check::Fn;
using raftlab::check::History;
using raftlab::check::HistoryError;
using raftlab::check::HistoryFileError;
using raftlab::check::Outcome;
using raftlab::check::parse_history;

// The line number and message of the error parsing `text` throws.
std::pair<size_t, std::string> error_of(const std::string& text) {
  try {
    parse_history(text);
  } catch (const HistoryError& e) {
    return {e.line(), e.what()};
  }
  FAIL("no error for: " << text);
  return {0, ""};
}

const std::string kPutA =
    R"({"process": 1, "type": "invoke", "f": "put", "key": "x", "value": "a", "time": 0})"
    "\n";
const std::string kPutOk = R"({"process": 1, "type": "ok", "f": "put", "key": "x", "time": 10})"
                           "\n";

}  // namespace

TEST_CASE("parses the docs/history-format.md example", "[history]") {
  const History h = parse_history(
      R"({"process":3,"type":"invoke","f":"append","key":"k1","value":"x","time":1234567}
{"process":3,"type":"ok","f":"append","key":"k1","value":"x","time":1299999}
{"process":1,"type":"invoke","f":"get","key":"k1","value":null,"time":1300000}
{"process":1,"type":"ok","f":"get","key":"k1","value":"yx","time":1300001}
{"process":"nemesis","type":"info","f":"partition","value":"1,2 | 3,4,5","time":1300002}
)");
  REQUIRE(h.ops.size() == 2);
  REQUIRE(h.keys == std::vector<std::string>{"k1"});
  CHECK(h.ops[0].f == Fn::kAppend);
  CHECK(h.ops[0].value == "x");
  CHECK(h.ops[0].outcome == Outcome::kOk);
  CHECK(h.ops[0].call_line == 1);
  CHECK(h.ops[0].return_line == 2);
  CHECK(h.ops[1].value == "yx");
  CHECK(h.ops[1].call_time == 1300000);
  CHECK(h.ops[1].return_time == 1300001);
  REQUIRE(h.nemesis.size() == 1);
  CHECK(h.nemesis[0].f == "partition");
  CHECK(h.nemesis[0].value == "1,2 | 3,4,5");
  CHECK(h.nemesis[0].line == 5);
  CHECK(h.processes == 2);
  CHECK(h.lines == 5);
}

TEST_CASE("values: null, empty, escapes, surrogate pairs, cas pairs", "[history]") {
  const History h = parse_history(
      R"({"process":0,"type":"invoke","f":"get","key":"k","time":1}
{"process":0,"type":"ok","f":"get","key":"k","value":null,"time":2}
{"process":0,"type":"invoke","f":"get","key":"k","value":null,"time":3}
{"process":0,"type":"ok","f":"get","key":"k","value":"","time":4}
{"process":0,"type":"invoke","f":"put","key":"k","value":"a\"b\\c\/\n\t\u00e9\ud83d\ude00","time":5}
{"process":0,"type":"ok","f":"put","key":"k","time":6}
{"process":0,"type":"invoke","f":"cas","key":"k","value":["old","new"],"time":7}
{"process":0,"type":"fail","f":"cas","key":"k","time":8}
{"process":0,"type":"invoke","f":"cas","key":"k","value":[null,"n2"],"time":9}
)");
  REQUIRE(h.ops.size() == 5);
  CHECK_FALSE(h.ops[0].value.has_value());
  CHECK(h.ops[1].value == "");
  CHECK(h.ops[2].value == "a\"b\\c/\n\t\xC3\xA9\xF0\x9F\x98\x80");
  CHECK(h.ops[3].expected == "old");
  CHECK(h.ops[3].value == "new");
  CHECK(h.ops[3].outcome == Outcome::kFail);
  CHECK_FALSE(h.ops[4].expected.has_value());
  CHECK(h.ops[4].outcome == Outcome::kPending);
  CHECK(h.ops[4].return_line == 0);
}

TEST_CASE("blank lines, unknown fields and nested nemesis values are fine", "[history]") {
  const History h = parse_history(
      "\n   \n" + kPutA +
      R"({"process": 1, "type": "ok", "f": "put", "key": "x", "time": 10, "extra": {"a": [1, 2.5e3, {"b": "}"}], "t": true}, "n": null}
{"process": "nemesis", "type": "info", "f": "kill", "value": {"nodes": [1, 2], "why": "]}"}, "time": 11}
{"process": "nemesis", "type": "info", "f": "heal", "value": null, "time": 12}
)" + "\r\n");
  REQUIRE(h.ops.size() == 1);
  CHECK(h.ops[0].call_line == 3);
  CHECK(h.ops[0].return_line == 4);
  REQUIRE(h.nemesis.size() == 2);
  CHECK(h.nemesis[0].value == R"({"nodes": [1, 2], "why": "]}"})");
  CHECK(h.nemesis[1].value.empty());
}

TEST_CASE("same time: completion and invocation", "[history]") {
  // The same process may invoke again at its completion's time.
  const History h = parse_history(
      kPutA + kPutOk +
      R"({"process": 1, "type": "invoke", "f": "get", "key": "x", "value": null, "time": 10})");
  REQUIRE(h.ops.size() == 2);
  CHECK(h.ops[1].outcome == Outcome::kPending);
}

TEST_CASE("malformed lines name their line", "[history]") {
  struct Case {
    std::string text;
    size_t line;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {kPutA + R"({"process": 1, "type": "ok", "f": "put", "key": "x", "time": 10.5})", 2,
       "\"time\" must be an integer (got 10.5)"},
      {kPutA + R"({"process": 1, "type": "ok", "f": "put", "key": "x", "time": 1e3})", 2,
       "must be an integer"},
      {kPutA + R"({"process": 1, "type": "ok", "f": "put", "key": "x", "time": "10"})", 2,
       "must be an integer"},
      {kPutA + R"({"process": 1, "type": "ok", "f": "put", "key": "x"})", 2,
       "missing field \"time\""},
      {kPutA + R"({"process": 1, "type": "ok", "f": "put", "key": "x", "time": -1})", 2,
       "must not be negative"},
      {kPutA +
           R"({"process": 1, "type": "ok", "f": "put", "key": "x", "time": 99999999999999999999})",
       2, "out of range"},
      {kPutA + R"({"process": 1, "type": "ok", "f": "put", "key": "x", "time": 10)", 2,
       "unterminated JSON object"},
      {kPutA + R"({"process": 1, "type": "ok", "f": "put", "key": "x", "time": 10} x)", 2,
       "unexpected text after"},
      {kPutA + R"({"process": 1 "type": "ok"})", 2, "expected ','"},
      {kPutA + R"({"process": 1, "type": "ok", "f": "put", "key": "x", "time": 010})", 2,
       "expected ','"},
      {R"([1, 2])", 1, "expected a JSON object"},
      {R"({"process": 1, "type": "ok", "f": "put", "key": "x", "time": 10})", 1, "orphan"},
      {kPutA + R"({"process": 1, "type": "invoke", "f": "get", "key": "x", "time": 5})", 2,
       "still open"},
      {kPutA + R"({"process": 1, "type": "timeout", "f": "put", "key": "x", "time": 10})", 2,
       "unknown \"type\" \"timeout\""},
      {kPutA + R"({"process": 1, "type": "ok", "f": "get", "key": "x", "time": 10})", 2,
       "has \"f\" \"get\" but its invoke on line 1"},
      {kPutA + R"({"process": 1, "type": "ok", "f": "put", "key": "y", "time": 10})", 2,
       "has \"key\" \"y\""},
      {kPutA +
           R"({"process": 2, "type": "invoke", "f": "put", "key": "x", "value": "b", "time": 5})"
           "\n" +
           R"({"process": 3, "type": "invoke", "f": "get", "key": "x", "time": 4})",
       3, "smaller than the previous line's (5)"},
      {R"({"process": -1, "type": "invoke", "f": "get", "key": "x", "time": 0})", 1,
       "must not be negative"},
      {R"({"process": "client", "type": "invoke", "f": "get", "key": "x", "time": 0})", 1,
       "\"process\" must be a non-negative integer or \"nemesis\""},
      {R"({"process": 1.5, "type": "invoke", "f": "get", "key": "x", "time": 0})", 1,
       "must be an integer"},
      {R"({"process": 1, "type": "invoke", "f": "read", "key": "x", "time": 0})", 1,
       "unknown \"f\" \"read\""},
      {R"({"process": 1, "type": "invoke", "f": "get", "time": 0})", 1, "missing field \"key\""},
      {R"({"process": 1, "type": "invoke", "f": "get", "key": 7, "time": 0})", 1,
       "\"key\" must be a string"},
      {R"({"type": "invoke", "f": "get", "key": "x", "time": 0})", 1, "missing field \"process\""},
      {R"({"process": 1, "f": "get", "key": "x", "time": 0})", 1, "missing field \"type\""},
      {R"({"process": 1, "type": "invoke", "key": "x", "time": 0})", 1, "missing field \"f\""},
      {R"({"process": 1, "type": "invoke", "f": "put", "key": "x", "time": 0})", 1,
       "put invoke needs \"value\": a string"},
      {R"({"process": 1, "type": "invoke", "f": "append", "key": "x", "value": 3, "time": 0})", 1,
       "append invoke needs"},
      {R"({"process": 1, "type": "invoke", "f": "cas", "key": "x", "value": "a", "time": 0})", 1,
       "cas invoke needs"},
      {R"({"process": 1, "type": "invoke", "f": "cas", "key": "x", "value": ["a"], "time": 0})", 1,
       "cas invoke needs"},
      {R"({"process": 1, "type": "invoke", "f": "cas", "key": "x", "value": ["a", null], "time": 0})",
       1, "cas invoke needs"},
      {"\n\n" + kPutA + R"({"process": 1, "type": "ok", "f": "get", "key": "x", "time": 10})", 4,
       "has \"f\""},
      {R"({"process": 1, "type": "invoke", "f": "get", "key": "x", "time": 0})"
       "\n"
       R"({"process": 1, "type": "ok", "f": "get", "key": "x", "time": 1})",
       2, "get completion with type ok needs \"value\""},
      {R"({"process": 1, "process": 2, "type": "invoke", "f": "get", "key": "x", "time": 0})", 1,
       "duplicate field \"process\""},
      {R"({"process": 1, "type": "invoke", "f": "get", "key": "x\u12", "time": 0})", 1,
       "invalid \\u escape"},
      {R"({"process": 1, "type": "invoke", "f": "get", "key": "x\ud800", "time": 0})", 1,
       "lone high surrogate"},
      {R"({"process": 1, "type": "invoke", "f": "get", "key": "x\udc00", "time": 0})", 1,
       "lone low surrogate"},
      {R"({"process": 1, "type": "invoke", "f": "get", "key": "x\q", "time": 0})", 1,
       "invalid escape"},
      {"{\"process\": 1, \"type\": \"invoke\", \"f\": \"get\", \"key\": \"a\tb\", \"time\": 0}", 1,
       "raw control character"},
      {R"({"process": 1, "type": "invoke", "f": "get", "key": "x", "time": 0, "z": tru})", 1,
       "invalid JSON value"},
      {R"({"process": 1, "type": "invoke", "f": "get", "key": "x", "time": 0, "z": [1,]})", 1,
       "invalid JSON value"},
      {R"({"process": 1, "type": "invoke", "f": "get", "key": "x", "time": 0, "z": "abc})", 1,
       "unterminated string"},
      {R"({"process": "nemesis", "type": "info", "f": "kill", "value": 1})", 1,
       "missing field \"time\""},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    const auto [line, message] = error_of(c.text);
    CHECK(line == c.line);
    CHECK_THAT(message, Catch::Contains(c.needle));
    CHECK_THAT(message, Catch::StartsWith("line " + std::to_string(c.line) + ": "));
  }
}

TEST_CASE("load_history: missing file and directory are file errors", "[history]") {
  CHECK_THROWS_AS(raftlab::check::load_history("/nonexistent/history.jsonl"), HistoryFileError);
  CHECK_THROWS_AS(raftlab::check::load_history("/tmp"), HistoryFileError);
}

TEST_CASE("writer: every line parses back to what was written", "[history]") {
  using raftlab::check::ClientEvent;
  using raftlab::check::format_event;
  using raftlab::check::format_nemesis;
  std::string weird;
  for (int b = 0; b < 256; ++b) weird += static_cast<char>(b);
  std::string text;
  ClientEvent e;
  e.process = 7;
  e.key = "k\"1";
  e.f = Fn::kPut;
  e.value = std::string_view(weird);
  e.time = 5;
  text += format_event(e);
  e.type = EventType::kOk;
  e.value.reset();
  e.time = 6;
  text += format_event(e);
  e.f = Fn::kCas;
  e.type = EventType::kInvoke;
  e.expected.reset();
  e.value = "new";
  e.time = 7;
  text += format_event(e);
  e.type = EventType::kInfo;
  e.time = 8;
  text += format_event(e);
  e.f = Fn::kGet;
  e.type = EventType::kInvoke;
  e.value.reset();
  e.time = 9;
  text += format_event(e);
  e.type = EventType::kOk;
  e.value = "\xC3\xA9";
  e.time = 10;
  text += format_event(e);
  text += format_nemesis("partition", "1,2 | 3\n", 11);

  const History h = parse_history(text);
  REQUIRE(h.ops.size() == 3);
  CHECK(h.keys[0] == "k\"1");
  // Bytes >= 0x80 are written as \u00XX (Latin-1): injective, and ASCII stays as is.
  std::string expected;
  for (int b = 0; b < 256; ++b) {
    if (b < 0x80) {
      expected += static_cast<char>(b);
    } else {
      expected += static_cast<char>(0xC0 | (b >> 6));
      expected += static_cast<char>(0x80 | (b & 0x3F));
    }
  }
  CHECK(h.ops[0].value == expected);
  CHECK(h.ops[1].f == Fn::kCas);
  CHECK_FALSE(h.ops[1].expected.has_value());
  CHECK(h.ops[1].value == "new");
  CHECK(h.ops[1].outcome == Outcome::kInfo);
  CHECK(h.ops[2].value == "\xC3\x83\xC2\xA9");
  REQUIRE(h.nemesis.size() == 1);
  CHECK(h.nemesis[0].value == "1,2 | 3\n");
  // The JSON is valid for a strict parser too (no raw control or non-ASCII bytes).
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    CHECK((c == '\n' || (u >= 0x20 && u < 0x7f)));
  }
}

TEST_CASE("HistoryWriter writes a file load_history reads", "[history]") {
  const std::string path = "/tmp/raftlab_check_writer_test.jsonl";
  {
    raftlab::check::HistoryWriter w(path);
    raftlab::check::ClientEvent e;
    e.process = 1;
    e.f = Fn::kAppend;
    e.key = "k";
    e.value = "v";
    e.time = 1;
    w.write(e);
    e.type = EventType::kOk;
    e.time = 2;
    w.write(e);
    w.write_nemesis("pause", "2", 3);
    w.close();
    CHECK(w.lines_written() == 3);
  }
  const History h = raftlab::check::load_history(path);
  REQUIRE(h.ops.size() == 1);
  CHECK(h.ops[0].value == "v");
  CHECK(h.nemesis.size() == 1);
  std::remove(path.c_str());
  CHECK_THROWS_AS(raftlab::check::HistoryWriter("/nonexistent/dir/h.jsonl"), HistoryFileError);
}
