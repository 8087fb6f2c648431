// The checker on hand-made histories: every planted-bug kind, tricky-but-fine histories,
// the pruning of unknown writes, the violation window, and the time and memory bounds.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "cmd/checker/check_file.h"
#include "cmd/checker/linearize.h"
#include "tests/check/capture.h"
#include "tests/check/dsl.h"

namespace {

using raftlab::check::check;
using raftlab::check::CheckOptions;
using raftlab::check::CheckResult;
using raftlab::check::History;
using raftlab::check::Verdict;
using raftlab::check::testing::dsl;

Verdict verdict_of(const std::vector<std::string>& ops) { return check(dsl(ops)).verdict; }

}  // namespace

TEST_CASE("planted bugs are not linearizable", "[checker]") {
  SECTION("stale read") {
    CHECK(verdict_of({"1 put x 1 0 10 ok", "1 put x 2 20 30 ok", "2 get x 1 40 50 ok"}) ==
          Verdict::kNotLinearizable);
  }
  SECTION("lost write (put)") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 get x - 20 30 ok"}) == Verdict::kNotLinearizable);
  }
  SECTION("lost write (append)") {
    CHECK(verdict_of({"1 append x a 0 10 ok", "2 append x b 20 30 ok", "3 get x a 40 50 ok"}) ==
          Verdict::kNotLinearizable);
  }
  SECTION("doubled append") {
    CHECK(verdict_of({"1 append x a 0 10 ok", "2 get x aa 20 30 ok"}) == Verdict::kNotLinearizable);
    CHECK(verdict_of({"1 append x a 0 10 ok", "1 append x b 20 30 ok", "2 get x abb 40 50 ok"}) ==
          Verdict::kNotLinearizable);
  }
  SECTION("appends in an order real time forbids") {
    CHECK(verdict_of({"1 append x a 0 10 ok", "1 append x b 20 30 ok", "2 get x ba 40 50 ok"}) ==
          Verdict::kNotLinearizable);
  }
  SECTION("failed write visible") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 put x b 20 30 fail", "3 get x b 40 50 ok"}) ==
          Verdict::kNotLinearizable);
  }
  SECTION("read of a never-written value") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 get x zzz 20 30 ok"}) == Verdict::kNotLinearizable);
    CHECK(verdict_of({"2 get x zzz 20 30 ok"}) == Verdict::kNotLinearizable);
  }
  SECTION("cas that succeeded against the wrong value") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 cas x b:c 20 30 ok"}) == Verdict::kNotLinearizable);
    CHECK(verdict_of({"2 cas x b:c 20 30 ok"}) == Verdict::kNotLinearizable);
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 cas x a:c 20 30 ok", "3 get x a 40 50 ok"}) ==
          Verdict::kNotLinearizable);
  }
  SECTION("empty string is not absent") {
    CHECK(verdict_of({"1 put x \"\" 0 10 ok", "2 get x - 20 30 ok"}) == Verdict::kNotLinearizable);
    CHECK(verdict_of({"1 put x \"\" 0 10 ok", "2 get x \"\" 20 30 ok"}) == Verdict::kLinearizable);
  }
  SECTION("concurrent reads that disagree on the order of two puts") {
    CHECK(verdict_of({"1 put x a 0 100 ok", "2 put x b 0 100 ok", "3 get x a 10 20 ok",
                      "4 get x b 10 20 ok", "3 get x b 30 40 ok", "4 get x a 30 40 ok"}) ==
          Verdict::kNotLinearizable);
  }
  SECTION("delete then a stale read") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "1 delete x - 20 30 ok", "2 get x a 40 50 ok"}) ==
          Verdict::kNotLinearizable);
  }
  SECTION("one bad key among good ones") {
    const CheckResult r = check(dsl(
        {"1 put x a 0 10 ok", "2 get x a 20 30 ok", "3 put y b 0 10 ok", "4 get y c 20 30 ok"}));
    CHECK(r.verdict == Verdict::kNotLinearizable);
    REQUIRE(r.keys.size() == 2);
    CHECK(r.keys[0].verdict == Verdict::kLinearizable);
    CHECK(r.keys[1].verdict == Verdict::kNotLinearizable);
  }
}

TEST_CASE("tricky histories that are linearizable", "[checker]") {
  SECTION("concurrent overlap: a read may see either concurrent write") {
    CHECK(verdict_of({"1 put x a 0 100 ok", "2 put x b 10 90 ok", "3 get x b 20 30 ok",
                      "4 get x a 40 50 ok", "5 get x a 110 120 ok"}) == Verdict::kLinearizable);
  }
  SECTION("info write that takes effect late, after its info") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 put x b 20 30 info", "3 get x a 40 50 ok",
                      "3 get x b 60 70 ok", "3 get x b 80 90 ok"}) == Verdict::kLinearizable);
  }
  SECTION("info write that never takes effect") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 put x b 20 30 info", "3 get x a 40 50 ok",
                      "3 get x a 60 70 ok"}) == Verdict::kLinearizable);
  }
  SECTION("pending at end of file") {
    CHECK(verdict_of({"1 put z p 0 10 ok", "5 put z q 80 - pending", "6 get z q 90 100 ok",
                      "6 get z q 110 120 ok"}) == Verdict::kLinearizable);
    CHECK(verdict_of({"1 put z p 0 10 ok", "5 put z q 80 - pending", "6 get z p 90 100 ok"}) ==
          Verdict::kLinearizable);
  }
  SECTION("touching intervals: completion and invocation at the same time are concurrent") {
    CHECK(verdict_of({"1 put x y 1 2 ok", "2 get x - 2 3 ok"}) == Verdict::kLinearizable);
    CHECK(verdict_of({"1 get x - 2 3 ok", "2 put x y 1 2 ok"}) == Verdict::kLinearizable);
  }
  SECTION("one tick apart is ordered") {
    CHECK(verdict_of({"1 put x y 1 2 ok", "2 get x - 3 4 ok"}) == Verdict::kNotLinearizable);
  }
  SECTION("same process completes and invokes at the same time") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "1 put x b 10 20 ok", "2 get x a 15 25 ok"}) ==
          Verdict::kLinearizable);
  }
  SECTION("failed write is invisible, info get is ignored") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 put x b 20 30 fail", "3 get x a 40 50 ok",
                      "4 get x zzz 40 50 info"}) == Verdict::kLinearizable);
  }
  SECTION("append order decided by a concurrent read") {
    CHECK(verdict_of({"1 append y 1 200 300 ok", "2 append y 2 200 300 ok", "5 get y 2 250 260 ok",
                      "3 get y 21 310 320 ok"}) == Verdict::kLinearizable);
  }
  SECTION("cas from absent, cas chains, delete") {
    CHECK(verdict_of({"1 cas x -:a 0 10 ok", "2 cas x a:b 20 30 ok", "3 get x b 40 50 ok",
                      "1 delete x - 60 70 ok", "2 get x - 80 90 ok"}) == Verdict::kLinearizable);
  }
  SECTION("empty history and read-only absent key") {
    CHECK(check(History{}).verdict == Verdict::kLinearizable);
    CHECK(verdict_of({"1 get x - 0 1 ok"}) == Verdict::kLinearizable);
  }
}

TEST_CASE("unknown writes: pruning keeps what a read observed", "[pruning]") {
  SECTION("an info put observed by a read is kept") {
    const CheckResult r =
        check(dsl({"1 put x a 0 10 ok", "2 put x b 20 30 info", "3 get x b 40 50 ok"}));
    CHECK(r.verdict == Verdict::kLinearizable);
    CHECK(r.keys[0].ops_dropped == 0);
  }
  SECTION("an info put never observed is dropped") {
    const CheckResult r =
        check(dsl({"1 put x a 0 10 ok", "2 put x b 20 30 info", "3 get x a 40 50 ok"}));
    CHECK(r.verdict == Verdict::kLinearizable);
    CHECK(r.keys[0].ops_dropped == 1);
    CHECK(r.keys[0].ops_checked == 2);
  }
  SECTION("an info put observed only through a later append is kept") {
    // An exact-match rule would drop put "b" and report a false violation.
    const CheckResult r =
        check(dsl({"1 put x b 0 10 info", "2 append x y 20 30 ok", "3 get x by 40 50 ok"}));
    CHECK(r.verdict == Verdict::kLinearizable);
    CHECK(r.keys[0].ops_dropped == 0);
  }
  SECTION("an info append observed as a substring is kept") {
    CHECK(verdict_of({"1 append x a 0 10 ok", "2 append x b 20 30 info", "3 append x c 40 50 ok",
                      "4 get x abc 60 70 ok"}) == Verdict::kLinearizable);
  }
  SECTION("an info cas observed by a read is kept") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 cas x a:b 20 30 info", "3 get x b 40 50 ok"}) ==
          Verdict::kLinearizable);
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 cas x c:b 20 30 info", "3 get x b 40 50 ok"}) ==
          Verdict::kNotLinearizable);
  }
  SECTION("an info write observed by a cas is kept") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 put x b 20 30 info", "3 cas x b:c 40 50 ok",
                      "3 get x c 60 70 ok"}) == Verdict::kLinearizable);
  }
  SECTION("an info delete is kept") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 delete x - 20 30 info", "3 get x - 40 50 ok"}) ==
          Verdict::kLinearizable);
  }
  SECTION("dropping unobserved info writes does not hide a violation") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 put x b 20 30 info", "3 put x c 40 50 ok",
                      "4 get x a 60 70 ok"}) == Verdict::kNotLinearizable);
  }
}

TEST_CASE("an ok completion at the largest time is not an unknown outcome", "[checker]") {
  // Issue 17: the search once used INT64_MAX as "unknown outcome, may be left out", so an ok
  // op completing at exactly that time could be left out and these violations passed.
  const std::string t_max = "9223372036854775807";
  SECTION("a get returning a value nobody wrote") {
    const History h = raftlab::check::parse_history(
        "{\"process\":1,\"type\":\"invoke\",\"f\":\"put\",\"key\":\"x\",\"value\":\"a\","
        "\"time\":0}\n"
        "{\"process\":1,\"type\":\"ok\",\"f\":\"put\",\"key\":\"x\",\"time\":10}\n"
        "{\"process\":2,\"type\":\"invoke\",\"f\":\"get\",\"key\":\"x\",\"time\":20}\n"
        "{\"process\":2,\"type\":\"ok\",\"f\":\"get\",\"key\":\"x\",\"value\":\"zzz\","
        "\"time\":" +
        t_max + "}\n");
    REQUIRE(h.ops.size() == 2);
    CHECK(h.ops[1].return_time == INT64_MAX);
    const CheckResult r = check(h);
    CHECK(r.verdict == Verdict::kNotLinearizable);
    REQUIRE(r.keys[0].violation);
    CHECK(r.keys[0].violation->stuck == 1);
  }
  SECTION("a cas from a value the key never held") {
    const History h = raftlab::check::parse_history(
        "{\"process\":1,\"type\":\"invoke\",\"f\":\"put\",\"key\":\"x\",\"value\":\"a\","
        "\"time\":0}\n"
        "{\"process\":1,\"type\":\"ok\",\"f\":\"put\",\"key\":\"x\",\"time\":10}\n"
        "{\"process\":2,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"x\",\"value\":[\"b\","
        "\"c\"],\"time\":20}\n"
        "{\"process\":2,\"type\":\"ok\",\"f\":\"cas\",\"key\":\"x\",\"time\":" +
        t_max + "}\n");
    CHECK(check(h).verdict == Verdict::kNotLinearizable);
  }
  SECTION("the same time on both ends of an op, and an info op beside it") {
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 put x b 20 9223372036854775807 info",
                      "3 get x zzz 9223372036854775807 9223372036854775807 ok"}) ==
          Verdict::kNotLinearizable);
    CHECK(verdict_of({"1 put x a 0 10 ok", "2 put x b 20 9223372036854775807 info",
                      "3 get x b 9223372036854775807 9223372036854775807 ok"}) ==
          Verdict::kLinearizable);
  }
}

TEST_CASE("the violation window", "[checker]") {
  SECTION("stale read") {
    const History h = dsl({"1 put x 1 0 10 ok", "1 put x 2 20 30 ok", "2 get x 1 40 50 ok"});
    const CheckResult r = check(h);
    REQUIRE(r.keys[0].violation);
    const auto& v = *r.keys[0].violation;
    CHECK(v.shrunk);
    REQUIRE(v.window.size() == 1);
    CHECK(v.window[0] == 2);
    CHECK(v.stuck == 2);
    CHECK(v.state == "2");
    REQUIRE_FALSE(v.before.empty());
    CHECK(v.before.back() == 1);
  }
  SECTION("the window starts from the register's state") {
    const History h = dsl({"1 put x a 0 10 ok", "2 get x zzz 20 30 ok"});
    const CheckResult r = check(h);
    REQUIRE(r.keys[0].violation);
    const auto& v = *r.keys[0].violation;
    CHECK(v.state == "a");
    CHECK(v.window == std::vector<size_t>{1});
  }
  SECTION("disagreeing readers: the window holds the ops that matter") {
    const History h = dsl({"1 put x a 0 100 ok", "2 put x b 0 100 ok", "3 get x a 10 20 ok",
                           "4 get x b 10 20 ok", "3 get x b 30 40 ok", "4 get x a 30 40 ok"});
    const CheckResult r = check(h);
    REQUIRE(r.keys[0].violation);
    const auto& v = *r.keys[0].violation;
    CHECK(v.shrunk);
    CHECK(v.window.size() <= 6);
    CHECK(std::find(v.window.begin(), v.window.end(), v.stuck) != v.window.end());
  }
  SECTION("a long history: the window is small and at the bug") {
    std::vector<std::string> ops;
    int64_t t = 0;
    for (int i = 0; i < 500; ++i) {
      ops.push_back("1 put x v" + std::to_string(i) + " " + std::to_string(t) + " " +
                    std::to_string(t + 10) + " ok");
      ops.push_back("2 get x v" + std::to_string(i) + " " + std::to_string(t + 5) + " " +
                    std::to_string(t + 15) + " ok");
      t += 20;
    }
    ops.push_back("3 get x v100 " + std::to_string(t) + " " + std::to_string(t + 10) + " ok");
    const History h = dsl(ops);
    const CheckResult r = check(h);
    REQUIRE(r.verdict == Verdict::kNotLinearizable);
    const auto& v = *r.keys[0].violation;
    CHECK(v.window.size() <= 3);
    CHECK(v.stuck == h.ops.size() - 1);
    CHECK(v.state == "v499");
  }
}

namespace {

// n concurrent appends of "a", then a read of n+1 of them: every subset of the appends is
// a configuration to refute (2^n), and no pruning rule applies before the last one.
void add_hard_key(std::vector<std::string>& ops, int n, const std::string& key, int first = 0) {
  for (int i = 0; i < n; ++i) {
    ops.push_back(std::to_string(first + i) + " append " + key + " a 0 100 ok");
  }
  ops.push_back(std::to_string(first + n) + " get " + key + " " +
                std::string(static_cast<size_t>(n) + 1, 'a') + " 200 300 ok");
}

History hard_history(int n) {
  std::vector<std::string> ops;
  add_hard_key(ops, n, "x");
  return dsl(ops);
}

}  // namespace

TEST_CASE("bounds: time and memory give unknown, never a guess", "[bounds]") {
  SECTION("time") {
    CheckOptions o;
    o.time_limit_ms = 30;
    const CheckResult r = check(hard_history(26), o);
    CHECK(r.verdict == Verdict::kUnknown);
    CHECK(r.keys[0].unknown_reason == "time limit");
    CHECK(r.checker_ms < 2000);
  }
  SECTION("memory") {
    CheckOptions o;
    o.memory_limit_bytes = 2 << 20;
    const CheckResult r = check(hard_history(26), o);
    CHECK(r.verdict == Verdict::kUnknown);
    CHECK(r.keys[0].unknown_reason == "memory limit");
    CHECK(r.memory_peak_bytes <= o.memory_limit_bytes);
  }
  SECTION("a small hard case finishes within generous bounds") {
    const CheckResult r = check(hard_history(6));
    CHECK(r.verdict == Verdict::kNotLinearizable);
  }
}

TEST_CASE("bounds: the overall verdict combines the keys", "[bounds]") {
  // A hard key that runs out of time, and an easy key that is bad or fine.
  auto with = [](const std::string& easy_get) {
    std::vector<std::string> ops;
    for (int i = 0; i < 26; ++i) ops.push_back(std::to_string(i) + " append x a 0 100 ok");
    ops.push_back("99 get x " + std::string(27, 'a') + " 200 300 ok");
    ops.push_back("100 put y v 0 10 ok");
    ops.push_back("101 get y " + easy_get + " 20 30 ok");
    return dsl(ops);
  };
  CheckOptions o;
  o.time_limit_ms = 30;
  const CheckResult bad = check(with("w"), o);
  CHECK(bad.keys[0].verdict == Verdict::kUnknown);
  CHECK(bad.keys[1].verdict == Verdict::kNotLinearizable);
  CHECK(bad.verdict == Verdict::kNotLinearizable);
  const CheckResult unknown = check(with("v"), o);
  CHECK(unknown.keys[1].verdict == Verdict::kLinearizable);
  CHECK(unknown.verdict == Verdict::kUnknown);

  raftlab::check::CheckFileOptions fo;
  fo.history_path = "memory";
  fo.time_limit_ms = 30;
  raftlab::check::testing::Capture capture;
  CHECK(raftlab::check::check_history(with("v"), fo) == 3);
  // The undecided key is named, with the bound that stopped it.
  CHECK_THAT(capture.out(), Catch::Contains("key \"x\": UNKNOWN (time limit: "));
  CHECK_THAT(capture.out(), Catch::Contains("its share of the 30 ms time bound"));
}

TEST_CASE("bounds: every key gets its share of the time", "[bounds]") {
  // Issue 17: one shared deadline let the first (biggest) key use it all, and the keys after
  // it were stopped after a few thousand steps. Here the biggest key cannot be decided in any
  // reasonable time; each smaller key needs some 2^14 states, well within its share.
  std::vector<std::string> ops;
  add_hard_key(ops, 30, "big");
  const int small_keys = 4;
  for (int k = 0; k < small_keys; ++k)
    add_hard_key(ops, 14, "s" + std::to_string(k), 100 * (k + 1));
  CheckOptions o;
  o.time_limit_ms = 4000;  // each small key's share is ample even in a sanitizer build under load
  o.threads = 1;
  const CheckResult r = check(dsl(ops), o);
  REQUIRE(r.keys.size() == 1 + small_keys);
  CHECK(r.keys[0].verdict == Verdict::kUnknown);
  CHECK(r.keys[0].unknown_reason == "time limit");
  CHECK_THAT(r.keys[0].unknown_bound, Catch::Contains("its share of the 4000 ms time bound"));
  for (int k = 1; k <= small_keys; ++k) {
    INFO("key " << k << ": " << r.keys[k].states_explored << " states");
    CHECK(r.keys[k].verdict == Verdict::kNotLinearizable);
  }
  CHECK(r.verdict == Verdict::kNotLinearizable);
  CHECK(r.checker_ms < 8000);
}
