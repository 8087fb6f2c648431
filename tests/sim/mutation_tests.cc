// Mutation tests: each UnsafeSwitch breaks one rule of Raft, and the simulator must catch it.
// A green soak proves something only if these fail loudly when the core is wrong.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "tests/sim/soak.h"

namespace raftlab::sim {
namespace {

constexpr uint64_t kMutationSeedsMax = 300;

struct Mutation {
  const char* name;
  void (*enable)(UnsafeSwitches&);
  Profile profile;
  int nodes_count;
  uint32_t fault_ticks;
  bool check_persist_before_send = true;
};

// Runs seeds until a safety checker (not liveness, which a broken core may also fail) reports.
void expect_caught(const Mutation& m) {
  const std::string test_name = std::string("mutation: ") + m.name;
  uint64_t first = 1;
  uint64_t last = kMutationSeedsMax + 1;
  if (const std::optional<uint64_t> seed = env_seed()) {
    first = *seed;
    last = *seed + 1;
  }
  for (uint64_t seed = first; seed < last; ++seed) {
    SoakOptions o;
    o.nodes_count = m.nodes_count;
    o.seed = seed;
    o.fault_ticks = m.fault_ticks;
    o.profile = m.profile;
    o.test_name = test_name;
    o.check_persist_before_send = m.check_persist_before_send;
    m.enable(o.unsafe);
    const SoakResult r = run_soak(o);
    if (!r.ok && r.checker != "liveness") {
      std::printf("%s: caught by %s at seed %llu (%s profile)\n%s\n", m.name, r.checker.c_str(),
                  static_cast<unsigned long long>(seed), to_string(m.profile), r.report.c_str());
      std::fflush(stdout);
      // The control: the same schedules with the switch off are clean, so what was caught is
      // the switch and not a false alarm of the checkers or a bug of the core.
      for (uint64_t control = first; control <= seed; ++control) {
        o.seed = control;
        o.unsafe = UnsafeSwitches{};
        const SoakResult clean = run_soak(o);
        if (!clean.ok) FAIL("control run without the switch failed:\n" << clean.report);
      }
      SUCCEED();
      return;
    }
  }
  FAIL("unsafe switch " << m.name << " was not caught in seeds " << first << ".." << last - 1);
}

}  // namespace

TEST_CASE("mutation: commit_previous_term_by_counting", "[mutation]") {
  expect_caught({"commit_previous_term_by_counting",
                 [](UnsafeSwitches& u) { u.commit_previous_term_by_counting = true; },
                 Profile::kFigure8, 5, 2000});
}

TEST_CASE("mutation: vote_without_log_check", "[mutation]") {
  expect_caught({"vote_without_log_check",
                 [](UnsafeSwitches& u) { u.vote_without_log_check = true; }, Profile::kMixed, 5,
                 2000});
}

TEST_CASE("mutation: vote_before_persist", "[mutation]") {
  expect_caught({"vote_before_persist", [](UnsafeSwitches& u) { u.vote_before_persist = true; },
                 Profile::kSlowDisk, 5, 2000});
}

// The same bug with the send-time check off: a vote lost in a crash lets a node vote twice in
// one term, and two leaders of one term follow.
TEST_CASE("mutation: vote_before_persist (consequence)", "[mutation]") {
  expect_caught({"vote_before_persist (consequence)",
                 [](UnsafeSwitches& u) { u.vote_before_persist = true; }, Profile::kSlowDisk, 3,
                 2000, false});
}

TEST_CASE("mutation: apply_twice", "[mutation]") {
  expect_caught(
      {"apply_twice", [](UnsafeSwitches& u) { u.apply_twice = true; }, Profile::kMixed, 3, 2000});
}

TEST_CASE("mutation: skip_consistency_check", "[mutation]") {
  expect_caught({"skip_consistency_check",
                 [](UnsafeSwitches& u) { u.skip_consistency_check = true; }, Profile::kChurn, 5,
                 2000});
}

// Issue #3's switches. A ReadIndex answered without the heartbeat round lets a leader that
// was deposed behind a partition serve a value the new leader has overwritten: caught by the
// read linearizability checker.
TEST_CASE("mutation: read_without_heartbeat", "[mutation][issue3]") {
  expect_caught({"read_without_heartbeat",
                 [](UnsafeSwitches& u) { u.read_without_heartbeat = true; }, Profile::kReads, 5,
                 2000});
}

// Configurations that take effect only on commit: nodes disagree on who votes while a change
// is in flight, and rapid changes with partitions and leader crashes let two majorities
// decide apart.
TEST_CASE("mutation: config_on_commit", "[mutation][issue3]") {
  expect_caught({"config_on_commit", [](UnsafeSwitches& u) { u.config_on_commit = true; },
                 Profile::kMembership, 5, 2000});
}

// Two changes in flight at once: removing two of three voters makes the one left a majority
// of the new configuration, disjoint from the other two, a majority of the old one.
TEST_CASE("mutation: concurrent_config_changes", "[mutation][issue3]") {
  expect_caught({"concurrent_config_changes",
                 [](UnsafeSwitches& u) { u.concurrent_config_changes = true; },
                 Profile::kMembership, 3, 2000});
}

// Issue 12's switch, inside the host pipeline (node/pipeline.h) rather than the core: votes
// and acknowledgements leave before the sync that makes them durable. The simulator runs the
// node's own pipeline, so its send-time check must see it.
TEST_CASE("mutation: release_before_persist", "[mutation][issue12]") {
  expect_caught({"release_before_persist",
                 [](UnsafeSwitches& u) { u.release_before_persist = true; }, Profile::kSlowDisk, 5,
                 2000});
}

}  // namespace raftlab::sim
