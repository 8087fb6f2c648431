// `raftlab timeline` (cmd/timeline/model.h): reading trace lines, pairing sends with receipts,
// the role and term derived at each record, the filters, and the text format (docs/trace.md).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "cmd/timeline/model.h"

namespace {

using raftlab::timeline::build;
using raftlab::timeline::Filter;
using raftlab::timeline::format_json;
using raftlab::timeline::format_text;
using raftlab::timeline::Input;
using raftlab::timeline::kNoTime;
using raftlab::timeline::parse_lines;
using raftlab::timeline::Timeline;
using raftlab::timeline::TraceError;

constexpr int64_t kStart = 1'000'000'000;

// Builds a timeline from per-node lines (node 0: actions.jsonl).
Timeline timeline_of(const std::vector<std::pair<uint32_t, std::string>>& files) {
  Input in;
  for (const auto& [node, text] : files) {
    parse_lines(text, "n" + std::to_string(node), node, in.records);
    if (node != 0) in.nodes.push_back(node);
  }
  return build(std::move(in));
}

// An election of term 2 won by n2 over n1 and n3, with one vote lost.
const char* const kN1 =
    R"({"t":1000000000,"n":1,"ev":"role","role":"follower","term":1}
{"t":1003000000,"n":1,"ev":"recv","type":"RequestVote","from":2,"to":1,"term":2,"seq":7,"lli":5,"llt":1}
{"t":1003001000,"n":1,"ev":"vote","cand":2,"term":2,"granted":true,"prevote":false}
{"t":1003001500,"n":1,"ev":"role","role":"follower","term":2}
{"t":1003002000,"n":1,"ev":"send","type":"RequestVoteResponse","from":1,"to":2,"term":2,"seq":3,"granted":true}
)";
const char* const kN2 =
    R"({"t":1000000001,"n":2,"ev":"role","role":"follower","term":1}
{"t":1002000000,"n":2,"ev":"fired","ticks":15}
{"t":1002500000,"n":2,"ev":"role","role":"candidate","term":2}
{"t":1002600000,"n":2,"ev":"send","type":"RequestVote","from":2,"to":1,"term":2,"seq":7,"lli":5,"llt":1}
{"t":1002600100,"n":2,"ev":"send","type":"RequestVote","from":2,"to":3,"term":2,"seq":8,"lli":5,"llt":1}
{"t":1002600200,"n":2,"ev":"drop","type":"RequestVote","from":2,"to":3,"term":2,"seq":8,"rule":"cut 2->3"}
{"t":1003500000,"n":2,"ev":"recv","type":"RequestVoteResponse","from":1,"to":2,"term":2,"seq":3,"granted":true}
{"t":1003600000,"n":2,"ev":"role","role":"leader","term":2}
)";
const char* const kActions = R"({"t":1001000000,"verb":"cut","nodes":[2,3],"text":"cut 2->3"}
)";

}  // namespace

TEST_CASE("timeline: a malformed line is an error naming the file and the line") {
  std::vector<raftlab::timeline::Record> out;
  const std::string text =
      "{\"t\":1,\"n\":1,\"ev\":\"role\"}\n{\"t\":2,\"n\":1,\"ev\":\n{\"t\":3}\n";
  try {
    parse_lines(text, "d/n1/trace.jsonl", 1, out);
    FAIL("no error");
  } catch (const TraceError& e) {
    CHECK(std::string(e.what()).find("d/n1/trace.jsonl line 2") == 0);
  }
  out.clear();
  CHECK_THROWS_WITH(parse_lines("{\"n\":1,\"ev\":\"x\"}\n", "f", 1, out),
                    Catch::Contains("f line 1") && Catch::Contains("\"t\""));
}

TEST_CASE("timeline: an unfinished last line (a crash mid-write) is skipped and counted") {
  std::vector<raftlab::timeline::Record> out;
  const std::string text = "{\"t\":1,\"n\":1,\"ev\":\"role\"}\n{\"t\":2,\"n\":1,\"ev\":\"comm";
  CHECK(parse_lines(text, "f", 1, out) == 1);
  CHECK(out.size() == 1);
  // The same line with its newline is malformed, not torn.
  CHECK_THROWS_AS(parse_lines(text + "\n", "f", 1, out), TraceError);
}

TEST_CASE("timeline: a receipt pairs with its send by (from, seq); a dropped send names its rule") {
  const Timeline tl = timeline_of({{1, kN1}, {2, kN2}, {0, kActions}});
  REQUIRE(tl.messages.size() == 3);
  const auto& vote_to_1 = tl.messages[0];
  CHECK(vote_to_1.type == "RequestVote");
  CHECK(vote_to_1.sent == 1002600000);
  CHECK(vote_to_1.recv == 1003000000);
  const auto& vote_to_3 = tl.messages[1];
  CHECK(vote_to_3.recv == kNoTime);
  CHECK(vote_to_3.fault == "drop cut 2->3");
  CHECK(tl.messages[2].type == "RequestVoteResponse");
  CHECK(tl.messages[2].recv == 1003500000);
}

TEST_CASE("timeline: seq restarts with a new process; a receipt pairs with the latest send") {
  const std::string n1 =
      R"({"t":10,"n":1,"ev":"send","type":"Heartbeat","from":1,"to":2,"term":1,"seq":1,"commit":0}
{"t":50,"n":1,"ev":"trace","level":"all","pid":9}
{"t":60,"n":1,"ev":"send","type":"Heartbeat","from":1,"to":2,"term":3,"seq":1,"commit":4}
)";
  const std::string n2 =
      R"({"t":20,"n":2,"ev":"recv","type":"Heartbeat","from":1,"to":2,"term":1,"seq":1,"commit":0}
{"t":70,"n":2,"ev":"recv","type":"Heartbeat","from":1,"to":2,"term":3,"seq":1,"commit":4}
{"t":80,"n":2,"ev":"recv","type":"Heartbeat","from":1,"to":2,"term":3,"seq":1,"commit":4}
)";
  const Timeline tl = timeline_of({{1, n1}, {2, n2}});
  REQUIRE(tl.messages.size() == 3);
  CHECK(tl.messages[0].recv == 20);
  CHECK(tl.messages[1].sent == 60);
  CHECK(tl.messages[1].recv == 70);
  CHECK(tl.messages[2].sent == kNoTime);  // a duplicate receipt stands alone
  CHECK(tl.messages[2].recv == 80);
}

TEST_CASE("timeline: a drop whose send was not written is the sender's line, an arrow out") {
  // At `changes`, a heartbeat's send is counted, not written; its drop record still is.
  const std::string n3 =
      R"({"t":10,"n":3,"ev":"role","role":"leader","term":3}
{"t":20,"n":3,"ev":"drop","type":"Heartbeat","from":3,"to":1,"term":3,"seq":7,"commit":4,"rule":"partition 2,3 | 1"}
)";
  const std::string text = format_text(timeline_of({{3, n3}}), Filter{});
  CHECK(text.find("n3  L t3   -> n1 Heartbeat commit=4  LOST  [drop partition 2,3 | 1]") !=
        std::string::npos);
  CHECK(text.find("<- n3") == std::string::npos);
}

TEST_CASE("timeline: the text of an election, one line per event, times from the first record") {
  const Timeline tl = timeline_of({{1, kN1}, {2, kN2}, {0, kActions}});
  const std::string want =
      "   0.000000 n1  F t1   becomes follower\n"
      "   0.000000 n2  F t1   becomes follower\n"
      "   0.001000 cli        cut 2->3\n"
      "   0.002000 n2  F t1   election timer fired (15 ticks)\n"
      "   0.002500 n2  C t2   becomes candidate\n"
      "   0.002600 n2  C t2   -> n1 RequestVote lli=5 llt=1  (0.400ms)\n"
      "   0.002600 n2  C t2   -> n3 RequestVote lli=5 llt=1  LOST  [drop cut 2->3]\n"
      "   0.003001 n1  F t1   grants vote to n2 t2\n"
      "   0.003001 n1  F t2   becomes follower\n"
      "   0.003002 n1  F t2   -> n2 RequestVoteResponse granted  (0.498ms)\n"
      "   0.003600 n2  L t2   becomes leader\n";
  CHECK(format_text(tl, Filter{}) == want);
  CHECK(format_text(tl, Filter{}) ==
        format_text(timeline_of({{2, kN2}, {0, kActions}, {1, kN1}}), Filter{}));
}

TEST_CASE("timeline: filters by node, type, sender, receiver and time") {
  const Timeline tl = timeline_of({{1, kN1}, {2, kN2}, {0, kActions}});
  Filter from1;
  from1.from = {1};
  CHECK(format_text(tl, from1) ==
        "   0.003002 n1  F t2   -> n2 RequestVoteResponse granted  (0.498ms)\n");
  Filter to3;
  to3.to = {3};
  const std::string to_3 = format_text(tl, to3);
  CHECK(to_3.find("-> n3 RequestVote") != std::string::npos);
  CHECK(std::count(to_3.begin(), to_3.end(), '\n') == 1);
  Filter votes;
  votes.types = {"vote", "role"};
  CHECK(format_text(tl, votes).find("RequestVote") == std::string::npos);
  CHECK(format_text(tl, votes).find("grants vote") != std::string::npos);
  Filter node3;
  node3.nodes = {3};
  const std::string n3 = format_text(tl, node3);  // its message and the action naming it
  CHECK(n3 ==
        "   0.001000 cli        cut 2->3\n"
        "   0.002600 n2  C t2   -> n3 RequestVote lli=5 llt=1  LOST  [drop cut 2->3]\n");
  Filter window;
  window.since_s = 0.0025;
  window.until_s = 0.003;
  CHECK(format_text(tl, window) ==
        "   0.002500 n2  C t2   becomes candidate\n"
        "   0.002600 n2  C t2   -> n1 RequestVote lli=5 llt=1  (0.400ms)\n"
        "   0.002600 n2  C t2   -> n3 RequestVote lli=5 llt=1  LOST  [drop cut 2->3]\n");
}

TEST_CASE("timeline: a kill forgets the node's role until its next role record") {
  const std::string n1 = R"({"t":10,"n":1,"ev":"role","role":"leader","term":3}
{"t":30,"n":1,"ev":"fired","ticks":1}
)";
  const Timeline tl =
      timeline_of({{1, n1}, {0, R"({"t":20,"verb":"kill","nodes":[1],"text":"kill 1"})"}});
  CHECK(format_text(tl, Filter{}) ==
        "   0.000000 n1  L t3   becomes leader\n"
        "   0.000000 cli        kill 1\n"
        "   0.000000 n1  - t-   election timer fired (1 ticks)\n");
}

TEST_CASE("timeline: --json pairs each message once and counts them") {
  const Timeline tl = timeline_of({{1, kN1}, {2, kN2}, {0, kActions}});
  const auto doc = nlohmann::json::parse(format_json(tl, Filter{}));
  CHECK(doc["counts"]["messages"] == 3);
  CHECK(doc["counts"]["paired"] == 2);
  CHECK(doc["counts"]["by_type"]["RequestVote"] == 2);
  size_t messages = 0;
  for (const auto& e : doc["events"]) {
    if (e["ev"] != "message") continue;
    ++messages;
    if (e["to"] == 1) CHECK(e["recv"] == 1003000000);
    if (e["to"] == 3) CHECK(e["recv"].is_null());
  }
  CHECK(messages == 3);
}
