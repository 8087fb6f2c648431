// The text and JSON reports and the HTML timeline.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cmd/checker/html.h"
#include "cmd/checker/linearize.h"
#include "cmd/checker/report.h"
#include "tests/check/dsl.h"

using raftlab::check::check;
using raftlab::check::History;
using raftlab::check::report_json;
using raftlab::check::report_text;
using raftlab::check::testing::dsl;

namespace {

History stale_read() {
  History h = dsl({"1 put x 1 0 10 ok", "1 put x 2 20 30 ok", "2 get x 1 40 50 ok",
                   "3 put y <b>&\"' 0 10 fail", "4 get y - 20 30 info"});
  raftlab::check::NemesisEvent e;
  e.time = 15;
  e.f = "partition";
  e.value = "1,2 | <3>";
  h.nemesis.push_back(e);
  e.time = 35;
  e.f = "heal";
  e.value = "";
  h.nemesis.push_back(e);
  return h;
}

}  // namespace

TEST_CASE("text report", "[report]") {
  const History h = stale_read();
  const std::string text = report_text(h, check(h));
  INFO(text);
  CHECK_THAT(text, Catch::StartsWith("raftlab check: NOT LINEARIZABLE\n"));
  CHECK_THAT(text, Catch::Contains("put     ok 2  fail 1  info 0"));
  CHECK_THAT(text, Catch::Contains("get     ok 1  fail 0  info 1"));
  CHECK_THAT(text, Catch::Contains("nemesis: 2 events (heal 1, partition 1)"));
  CHECK_THAT(text, Catch::Contains("key \"x\": NOT LINEARIZABLE"));
  CHECK_THAT(text, Catch::Contains("violation on key \"x\""));
  CHECK_THAT(text, Catch::Contains("* p2 get -> \"1\""));
  CHECK_THAT(text, Catch::Contains("cannot take effect, register \"2\""));
  CHECK_THAT(text, Catch::Contains("line 9-10"));  // the DSL interleaves key y's lines

  const History ok = dsl({"1 put x 1 0 10 ok"});
  const std::string ok_text = report_text(ok, check(ok));
  CHECK_THAT(ok_text, Catch::Contains("keys: 1 checked, all linearizable"));
  CHECK_THAT(ok_text, Catch::Contains("checker: "));
}

TEST_CASE("JSON report", "[report]") {
  const History h = stale_read();
  const nlohmann::json j = report_json(h, check(h));
  CHECK(j["verdict"] == "not_linearizable");
  CHECK(j["ops"]["total"] == 5);
  CHECK(j["ops"]["by_f"]["put"]["fail"] == 1);
  CHECK(j["ops"]["by_f"]["get"]["info"] == 1);
  CHECK(j["nemesis"]["events"] == 2);
  REQUIRE(j["keys"].size() == 2);
  CHECK(j["keys"][0]["key"] == "x");
  CHECK(j["keys"][0]["verdict"] == "not_linearizable");
  CHECK(j["keys"][1]["verdict"] == "linearizable");
  CHECK(j["checker_ms"].is_number());
  const auto& v = j["violation"];
  CHECK(v["key"] == "x");
  CHECK(v["state"] == "2");
  REQUIRE(v["window"].size() == 1);
  CHECK(v["window"][0]["f"] == "get");
  CHECK(v["window"][0]["value"] == "1");
  CHECK(v["window"][0]["call_line"] == 9);
  CHECK(v["window"][0]["return_line"] == 10);
  CHECK(v["stuck"]["index"] == 4);
  CHECK(h.ops[4].f == raftlab::check::Fn::kGet);
}

namespace {

// The JSON document the page draws (html.h), read back from its <script> block.
nlohmann::json page_data(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"raftlab-data\">";
  const size_t from = html.find(open);
  REQUIRE(from != std::string::npos);
  const size_t begin = from + open.size();
  const size_t end = html.find("</script>", begin);
  REQUIRE(end != std::string::npos);
  return nlohmann::json::parse(html.substr(begin, end - begin));
}

}  // namespace

TEST_CASE("HTML timeline", "[html]") {
  const History h = stale_read();
  const std::string html = raftlab::check::render_html(h, check(h));
  CHECK_THAT(html, Catch::StartsWith("<!DOCTYPE html>"));
  CHECK_THAT(html, Catch::Contains("</html>"));
  // No external resources.
  CHECK_THAT(html, !Catch::Contains("src=\"http"));
  CHECK_THAT(html, !Catch::Contains("href=\"http"));
  CHECK_THAT(html, !Catch::Contains("<script src"));
  // Text is escaped: in HTML as entities, in the data as \u003c (no value can end the script).
  CHECK_THAT(html, !Catch::Contains("<b>&\"'"));
  CHECK_THAT(html, Catch::Contains("put \\u003cb>&\\\"'"));
  CHECK_THAT(html, Catch::Contains("1,2 | \\u003c3>"));
  // The window is listed.
  CHECK_THAT(html, Catch::Contains("<tr class=\"stuck\">"));
  // The data: every key (the violating one first), the partition as a band, the violation.
  const nlohmann::json d = page_data(html);
  REQUIRE(d["keys"].size() == 2);
  CHECK(d["keys"][0]["name"] == "\"x\"");
  CHECK(d["keys"][0]["verdict"] == "not_linearizable");
  CHECK(d["t1"] == 50);
  REQUIRE(d["bands"].size() == 1);
  CHECK(d["bands"][0]["family"] == "net");
  CHECK(d["bands"][0]["from"] == 15);
  CHECK(d["bands"][0]["to"] == 35);
  CHECK(d["marks"].size() == 2);
  REQUIRE(d["ops"]["k"].size() == h.ops.size());
  REQUIRE(d["violation"].is_object());
  CHECK(d["violation"]["key"] == 0);
  CHECK(d["violation"]["stuck"] == 4);
  CHECK(d["violation"]["from"] == 0);  // the put of "1" that the stale get read
  CHECK(d["violation"]["to"] == 50);
  CHECK(d["ops"]["m"][4] == 3);  // stuck
  CHECK(d["ops"]["k"][4] == 0);  // on the violating key, drawn first
  for (size_t i = 0; i < h.ops.size(); ++i) {
    const auto& op = h.ops[i];
    INFO("op " << i);
    // fail: code 1; info: open-ended (to the end of the run), code 2.
    if (op.outcome == raftlab::check::Outcome::kFail) CHECK(d["ops"]["o"][i] == 1);
    if (op.unknown()) {
      CHECK(d["ops"]["o"][i] == 2);
      CHECK(d["ops"]["e"][i] == 50);
    }
  }
  CHECK(raftlab::check::html_escape("<a href='x'>&\"") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
}

TEST_CASE("HTML stays bounded for a big history", "[html]") {
  std::vector<std::string> ops;
  for (int i = 0; i < 10000; ++i) {
    ops.push_back(std::to_string(i % 8) + " put k" + std::to_string(i % 20) + " v" +
                  std::to_string(i) + " " + std::to_string(i * 1000) + " " +
                  std::to_string(i * 1000 + 900) + " ok");
  }
  const History h = dsl(ops);
  const std::string html = raftlab::check::render_html(h, check(h));
  CHECK(html.size() < 10000 * 600);
}
