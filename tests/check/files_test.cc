// Every example history in docs/histories gets the verdict its name gives:
// ok-* exit 0, bad-* exit 1, malformed-* exit 2 with the line number on stderr.
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "cmd/checker/check_file.h"
#include "tests/check/capture.h"

#ifndef RAFTLAB_HISTORIES_DIR
#error "RAFTLAB_HISTORIES_DIR must name docs/histories"
#endif

namespace fs = std::filesystem;
using raftlab::check::check_history_file;
using raftlab::check::CheckFileOptions;
using raftlab::check::testing::Capture;

TEST_CASE("example histories get the verdict their name gives", "[files]") {
  const fs::path dir = RAFTLAB_HISTORIES_DIR;
  INFO("histories directory: " << dir);
  // A missing directory must fail the test, not pass it silently.
  REQUIRE(fs::is_directory(dir));
  // Known malformed files and their bad line.
  const std::map<std::string, int> malformed_line = {
      {"malformed-two-open-operations.jsonl", 2}, {"malformed-time-not-integer.jsonl", 1},
      {"malformed-garbage-line.jsonl", 2},        {"malformed-completion-without-invoke.jsonl", 1},
      {"malformed-unknown-event-type.jsonl", 2},
  };
  size_t checked = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".jsonl") continue;
    int expected = -1;
    if (name.rfind("ok-", 0) == 0) expected = 0;
    if (name.rfind("bad-", 0) == 0) expected = 1;
    if (name.rfind("malformed-", 0) == 0) expected = 2;
    if (expected < 0) continue;
    INFO(name);
    CheckFileOptions o;
    o.history_path = entry.path().string();
    int code = -1;
    std::string out;
    std::string err;
    {
      Capture c;
      code = check_history_file(o);
      out = c.out();
      err = c.err();
    }
    INFO("stdout: " << out << "\nstderr: " << err);
    CHECK(code == expected);
    if (expected == 2) {
      CHECK_THAT(err, Catch::StartsWith("raftlab check: " + o.history_path + " line "));
      const auto it = malformed_line.find(name);
      if (it != malformed_line.end()) {
        CHECK_THAT(err, Catch::Contains(" line " + std::to_string(it->second) + ": "));
      }
      CHECK(out.empty());
    } else {
      CHECK(err.empty());
      CHECK_THAT(out, Catch::StartsWith("raftlab check: "));
    }
    // JSON mode: exactly one document on stdout, with the same verdict.
    if (expected != 2) {
      o.json = true;
      Capture c;
      CHECK(check_history_file(o) == expected);
      const nlohmann::json j = nlohmann::json::parse(c.out());
      CHECK(j["verdict"] == (expected == 0 ? "linearizable" : "not_linearizable"));
      CHECK(j["violation"].is_null() == (expected == 0));
    }
    ++checked;
  }
  CHECK(checked >= 17);
}

TEST_CASE("check_history_file: a missing file is exit 4", "[files]") {
  CheckFileOptions o;
  o.history_path = "/nonexistent/history.jsonl";
  Capture c;
  CHECK(check_history_file(o) == 4);
  CHECK_THAT(c.err(), Catch::Contains("raftlab check: cannot open /nonexistent/history.jsonl"));
  CHECK(c.out().empty());
}

TEST_CASE("check_history_file writes the HTML, also when linearizable", "[files]") {
  const fs::path dir = RAFTLAB_HISTORIES_DIR;
  REQUIRE(fs::is_directory(dir));
  for (const char* name :
       {"ok-overlapping-writes-either-order.jsonl", "bad-read-after-newer-write.jsonl"}) {
    CheckFileOptions o;
    o.history_path = (dir / name).string();
    o.html_path = "/tmp/raftlab_check_files_test.html";
    std::error_code ec;
    fs::remove(o.html_path, ec);
    Capture c;
    const int code = check_history_file(o);
    CHECK(code == (name[0] == 'o' ? 0 : 1));
    CHECK(fs::file_size(o.html_path) > 1000);
    fs::remove(o.html_path, ec);
  }
}

TEST_CASE("check_history on an in-memory history", "[files]") {
  raftlab::check::History h = raftlab::check::parse_history(
      R"({"process": 1, "type": "invoke", "f": "put", "key": "x", "value": "a", "time": 0})"
      "\n"
      R"({"process": 1, "type": "ok", "f": "put", "key": "x", "time": 1})");
  CheckFileOptions o;
  o.history_path = "memory";
  o.json = true;
  Capture c;
  CHECK(raftlab::check::check_history(h, o) == 0);
  CHECK(nlohmann::json::parse(c.out())["keys"].size() == 1);
}
