// The checker against a brute force on tiny random histories. Values are drawn from a tiny
// alphabet, so they collide (the checker must not rely on unique values), and outcomes mix
// ok, fail, info and pending: every pruning (info writes, forced moves, the dead-value rules)
// must leave the verdict exact.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cmd/checker/linearize.h"
#include "tests/check/dsl.h"
#include "tests/check/gen.h"

namespace {

using raftlab::check::Fn;
using raftlab::check::History;
using raftlab::check::Operation;
using raftlab::check::Outcome;
using raftlab::check::Verdict;

// Tries every order of every subset of the unknown-outcome ops that real time allows.
bool brute_linearizable(const History& h) {
  std::vector<const Operation*> ops;
  for (const Operation& op : h.ops) {
    if (op.outcome == Outcome::kFail) continue;
    if (op.f == Fn::kGet && op.unknown()) continue;
    ops.push_back(&op);
  }
  const size_t n = ops.size();
  auto ret = [&](size_t i) { return ops[i]->unknown() ? INT64_MAX : ops[i]->return_time; };
  std::vector<bool> done(n, false);
  std::function<bool(std::optional<std::string>, size_t)> go = [&](std::optional<std::string> state,
                                                                   size_t placed) -> bool {
    bool all_required = true;
    for (size_t i = 0; i < n; ++i) all_required &= done[i] || ops[i]->unknown();
    if (all_required) return true;
    for (size_t i = 0; i < n; ++i) {
      if (done[i]) continue;
      // Every op that returned before i's invoke must be placed already.
      bool allowed = true;
      for (size_t j = 0; j < n; ++j) allowed &= done[j] || ret(j) >= ops[i]->call_time;
      if (!allowed) continue;
      const Operation& op = *ops[i];
      std::optional<std::string> next = state;
      switch (op.f) {
        case Fn::kPut:
          next = *op.value;
          break;
        case Fn::kAppend:
          next = state.value_or("") + *op.value;
          break;
        case Fn::kDelete:
          next.reset();
          break;
        case Fn::kGet:
          if (state != op.value) continue;
          break;
        case Fn::kCas:
          if (state != op.expected) continue;
          next = *op.value;
          break;
      }
      done[i] = true;
      const bool ok = go(next, placed + 1);
      done[i] = false;
      if (ok) return true;
    }
    return false;
  };
  return go(std::nullopt, 0);
}

std::string random_history_dsl_op(raftlab::check::testing::Rng& rng, int process) {
  static const char* const kValues[] = {"a", "b", "ab", "\"\"", "ba", "aa", "b"};
  auto value = [&] { return std::string(kValues[rng.next() % 7]); };
  const int64_t call = rng.range(0, 20);
  const int64_t ret = call + rng.range(0, 8);
  std::string f;
  std::string v;
  switch (rng.next() % 9) {
    case 0:
    case 1:
      f = "put";
      v = value();
      break;
    case 2:
    case 3:
      f = "append";
      v = value();
      break;
    case 4:
      f = "cas";
      v = (rng.chance(0.2) ? std::string("-") : value()) + ":" + value();
      if (v.find("\"\"") != std::string::npos) v = "a:b";  // keep the DSL simple for cas
      break;
    case 5:
      f = "delete";
      v = "-";
      break;
    default:
      f = "get";
      v = rng.chance(0.2) ? std::string("-") : value();
      break;
  }
  const uint64_t o = rng.next() % 10;
  const char* outcome = o < 6 ? "ok" : o < 7 ? "fail" : o < 9 ? "info" : "pending";
  return std::to_string(process) + " " + f + " x " + v + " " + std::to_string(call) + " " +
         (o == 9 ? std::string("-") : std::to_string(ret)) + " " + outcome;
}

}  // namespace

TEST_CASE("the checker agrees with a brute force on tiny histories", "[brute]") {
  // RAFTLAB_CHECK_BRUTE_ROUNDS and RAFTLAB_CHECK_BRUTE_SEED run a longer soak by hand.
  const char* rounds_env = std::getenv("RAFTLAB_CHECK_BRUTE_ROUNDS");
  const char* seed_env = std::getenv("RAFTLAB_CHECK_BRUTE_SEED");
  const int rounds = rounds_env ? std::atoi(rounds_env) : 4000;
  raftlab::check::testing::Rng rng(seed_env ? std::strtoull(seed_env, nullptr, 10) : 2024);
  const int ops_max = rounds_env ? 9 : 7;
  size_t bad = 0;
  size_t good = 0;
  for (int round = 0; round < rounds; ++round) {
    const int n = 1 + static_cast<int>(rng.next() % ops_max);
    std::vector<std::string> ops;
    for (int i = 0; i < n; ++i) ops.push_back(random_history_dsl_op(rng, i));
    const History h = raftlab::check::testing::dsl(ops);
    const bool expected = brute_linearizable(h);
    raftlab::check::CheckOptions o;
    o.threads = 1;
    const auto result = raftlab::check::check(h, o);
    INFO("round " << round << "\n" << raftlab::check::testing::dsl_to_jsonl(ops));
    REQUIRE(result.verdict == (expected ? Verdict::kLinearizable : Verdict::kNotLinearizable));
    (expected ? good : bad) += 1;
    if (!expected) {
      REQUIRE(result.keys[0].violation);
      CHECK(result.keys[0].violation->verified);
    }
  }
  // Both verdicts are well represented.
  CHECK(good > static_cast<size_t>(rounds) / 8);
  CHECK(bad > static_cast<size_t>(rounds) / 8);
}

namespace {

// Ops biased so the read rule fires often: mostly gets of the few values the register can
// hold (absent included), deletes, and cas, a third of them from a value to itself (a cas
// that never changes the register, which the rule also moves at once).
std::string read_heavy_dsl_op(raftlab::check::testing::Rng& rng, int process) {
  static const char* const kValues[] = {"a", "b", "ab"};
  auto value = [&] { return std::string(kValues[rng.next() % 3]); };
  const int64_t call = rng.range(0, 16);
  const int64_t ret = call + rng.range(0, 10);
  std::string f;
  std::string v;
  const uint64_t dice = rng.next() % 20;
  if (dice < 9) {
    f = "get";
    v = rng.chance(0.25) ? std::string("-") : value();
  } else if (dice < 12) {
    f = "put";
    v = value();
  } else if (dice < 13) {
    f = "append";
    v = value();
  } else if (dice < 17) {
    f = "cas";
    const std::string old = rng.chance(0.15) ? std::string("-") : value();
    v = old + ":" + (old != "-" && rng.chance(0.35) ? old : value());
  } else {
    f = "delete";
    v = "-";
  }
  const uint64_t o = rng.next() % 10;
  const char* outcome = o < 7 ? "ok" : o < 8 ? "fail" : o < 9 ? "info" : "pending";
  return std::to_string(process) + " " + f + " x " + v + " " + std::to_string(call) + " " +
         (o == 9 ? std::string("-") : std::to_string(ret)) + " " + outcome;
}

}  // namespace

TEST_CASE("the read rule agrees with a brute force where it fires, cas and delete included",
          "[brute]") {
  raftlab::check::testing::Rng rng(1717);
  const int rounds = 10000;
  const int ops_max = 8;
  int fired = 0;        // rounds where the rule made at least one move
  int fired_mixed = 0;  // ... in a history that holds a cas and a delete
  int fired_bad = 0;    // ... in a history that is not linearizable
  for (int round = 0; round < rounds; ++round) {
    const int n = 2 + static_cast<int>(rng.next() % (ops_max - 1));
    std::vector<std::string> ops;
    for (int i = 0; i < n; ++i) ops.push_back(read_heavy_dsl_op(rng, i));
    const History h = raftlab::check::testing::dsl(ops);
    const bool expected = brute_linearizable(h);
    raftlab::check::CheckOptions o;
    o.threads = 1;
    const auto result = raftlab::check::check(h, o);
    INFO("round " << round << "\n" << raftlab::check::testing::dsl_to_jsonl(ops));
    REQUIRE(result.verdict == (expected ? Verdict::kLinearizable : Verdict::kNotLinearizable));
    if (result.keys[0].reads_forced == 0) continue;
    ++fired;
    bool has_cas = false;
    bool has_delete = false;
    for (const Operation& op : h.ops) {
      has_cas |= op.f == Fn::kCas && op.outcome != Outcome::kFail;
      has_delete |= op.f == Fn::kDelete && op.outcome != Outcome::kFail;
    }
    fired_mixed += has_cas && has_delete;
    fired_bad += expected ? 0 : 1;
  }
  // The rule is exercised on a good share of the rounds, in both verdicts and with cas and
  // delete in the history.
  INFO(fired << " rounds fired the rule, " << fired_mixed << " with cas and delete, " << fired_bad
             << " not linearizable");
  CHECK(fired > rounds / 5);
  CHECK(fired_mixed > rounds / 20);
  CHECK(fired_bad > rounds / 50);
}
