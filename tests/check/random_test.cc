// Randomized: simulated linearizable histories pass; the same histories with one certainly
// stale read planted fail. Bounded: small histories, a few hundred seeds.
#include <catch2/catch.hpp>
#include <chrono>

#include "cmd/checker/linearize.h"
#include "tests/check/gen.h"

using raftlab::check::check;
using raftlab::check::CheckOptions;
using raftlab::check::parse_history;
using raftlab::check::Verdict;
using raftlab::check::testing::GenOptions;
using raftlab::check::testing::plant_stale_read;
using raftlab::check::testing::simulate;
using raftlab::check::testing::to_jsonl;

TEST_CASE("random linearizable histories pass, planted stale reads are caught", "[random]") {
#ifdef NDEBUG
  constexpr uint64_t kSeeds = 400;
#else
  constexpr uint64_t kSeeds = 150;  // unoptimized (sanitizer) builds: keep CI time modest
#endif
  size_t planted = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    GenOptions g;
    g.seed = seed;
    g.clients = 2 + seed % 9;
    g.keys = 1 + seed % 3;
    g.ops = 20 + seed % 130;
    g.info = 0.08;
    g.latency_min_ns = 100;
    g.latency_max_ns = 2000;
    g.think_max_ns = 300;
    g.timeout_ns = 3000;
    auto ops = simulate(g);
    INFO("seed " << seed);
    CheckOptions o;
    o.time_limit_ms = 10000;
    const auto good = check(parse_history(to_jsonl(ops)), o);
    REQUIRE(good.verdict == Verdict::kLinearizable);
    if (plant_stale_read(ops, seed)) {
      ++planted;
      const auto bad = check(parse_history(to_jsonl(ops)), o);
      REQUIRE(bad.verdict == Verdict::kNotLinearizable);
      // Two threads or one: the same verdicts per key.
      o.threads = 1;
      const auto bad1 = check(parse_history(to_jsonl(ops)), o);
      for (size_t k = 0; k < bad.keys.size(); ++k)
        CHECK(bad.keys[k].verdict == bad1.keys[k].verdict);
    }
  }
  CHECK(planted > kSeeds / 2);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN("random test: " << planted << " planted bugs, " << s << " s");
}

TEST_CASE("a bigger random history with many info ops and fresh process ids", "[random]") {
  GenOptions g;
  g.seed = 77;
  g.clients = 12;
  g.keys = 2;
  g.ops = 3000;
  g.info = 0.05;
  auto ops = simulate(g);
  const auto h = parse_history(to_jsonl(ops));
  CHECK(h.processes > 12);
  CHECK(check(h).verdict == Verdict::kLinearizable);
  REQUIRE(plant_stale_read(ops, 77));
  CHECK(check(parse_history(to_jsonl(ops))).verdict == Verdict::kNotLinearizable);
}
