// Driving the election timer by hand (issue 14): FreezeTimer and an operator's Campaign
// (node/ready.h), and Config::fast_backup off (§5.3's basic rule) against the conflict hint.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/unit/harness.h"

namespace raftlab::testing {
namespace {

constexpr int kFrozenTimeouts = 20;  // election timeouts a frozen node sits through
constexpr int kRepairRoundsMax = 200;

Config one_of_three(bool pre_vote) {
  Config c = Harness::default_config();
  c.id = NodeId(1);
  c.voters = {NodeId(1), NodeId(2), NodeId(3)};
  c.pre_vote = pre_vote;
  c.trace = true;
  return c;
}

// Ticks `core` `count` times; true if any tick made it leave the follower role.
bool ticked_out_of_follower(Core& core, int count) {
  for (int k = 0; k < count; ++k) {
    core.step(Tick{});
    if (core.role() != Role::kFollower) return true;
  }
  return false;
}

std::vector<TraceEvent> timer_events(const Ready& r) {
  std::vector<TraceEvent> out;
  std::copy_if(r.trace.begin(), r.trace.end(), std::back_inserter(out),
               [](const TraceEvent& e) { return e.kind == TraceKind::kTimer; });
  return out;
}

TEST_CASE("a frozen follower never campaigns; thawed, it waits a whole timeout, then does",
          "[timers]") {
  Core core(one_of_three(true));
  const uint32_t max = core.config().election_ticks_max;
  const uint32_t min = core.config().election_ticks_min;
  const Ready frozen = core.step(FreezeTimer{true});
  CHECK(core.status().timer_frozen);
  REQUIRE(timer_events(frozen).size() == 1);
  CHECK(timer_events(frozen)[0].text == "freeze");

  CHECK_FALSE(ticked_out_of_follower(core, kFrozenTimeouts * static_cast<int>(max)));
  CHECK(core.term() == Term(0));

  const Ready thawed = core.step(FreezeTimer{false});
  CHECK_FALSE(core.status().timer_frozen);
  REQUIRE(timer_events(thawed).size() == 1);
  CHECK(timer_events(thawed)[0].text == "thaw");
  // A fresh timeout from the thaw, not the ticks counted while frozen.
  CHECK_FALSE(ticked_out_of_follower(core, static_cast<int>(min) - 1));
  CHECK(ticked_out_of_follower(core, static_cast<int>(max - min) + 1));
  CHECK(core.role() == Role::kPreCandidate);
}

TEST_CASE("freezing twice is one freeze; an unfrozen core's ticks are unchanged", "[timers]") {
  Core core(one_of_three(true));
  core.step(FreezeTimer{true});
  CHECK(timer_events(core.step(FreezeTimer{true})).empty());
  Core thawed(one_of_three(true));
  CHECK(timer_events(thawed.step(FreezeTimer{false})).empty());
  CHECK(ticked_out_of_follower(thawed, static_cast<int>(thawed.config().election_ticks_max)));
}

TEST_CASE("an operator's campaign works on a frozen timer and is traced", "[timers]") {
  Core core(one_of_three(false));
  core.step(FreezeTimer{true});
  const Ready r = core.step(Campaign{.by_operator = true});
  CHECK(core.role() == Role::kCandidate);
  CHECK(core.term() == Term(1));
  REQUIRE(timer_events(r).size() == 1);
  CHECK(timer_events(r)[0].text == "campaign");
  // A frozen candidate that hears nothing stays in its term: it never starts another round.
  for (int k = 0; k < kFrozenTimeouts * static_cast<int>(core.config().election_ticks_max); ++k) {
    core.step(Tick{});
  }
  CHECK(core.role() == Role::kCandidate);
  CHECK(core.term() == Term(1));

  // The tests' own Campaign{} (transcripts, the simulator) traces no timer record.
  Core plain(one_of_three(false));
  CHECK(timer_events(plain.step(Campaign{})).empty());
  CHECK(plain.role() == Role::kCandidate);
}

TEST_CASE("campaign with PreVote off skips the pre-candidate step", "[timers]") {
  Core with(one_of_three(true));
  const Ready a = with.step(Campaign{.by_operator = true});
  CHECK(with.role() == Role::kPreCandidate);
  CHECK(std::any_of(a.messages.begin(), a.messages.end(),
                    [](const Message& m) { return m.type == MessageType::kPreVote; }));
  Core without(one_of_three(false));
  without.step(Campaign{.by_operator = true});
  CHECK(without.role() == Role::kCandidate);
}

TEST_CASE("frozen followers elect nobody; a campaign by hand elects the node asked", "[timers]") {
  Harness h(3);
  REQUIRE(h.elect(1));
  h.step(2, FreezeTimer{true});
  h.step(3, FreezeTimer{true});
  h.crash(1);
  for (int k = 0; k < kFrozenTimeouts * 20; ++k) {
    h.tick(2);
    h.tick(3);
    h.stabilize();
  }
  CHECK(h.core(2).role() == Role::kFollower);
  CHECK(h.core(3).role() == Role::kFollower);
  h.step(2, Campaign{.by_operator = true});
  h.stabilize();
  CHECK(h.core(2).role() == Role::kLeader);
  CHECK(h.core(3).leader() == NodeId(2));
}

TEST_CASE("a frozen leader still steps down by CheckQuorum (its own timer)", "[timers]") {
  Harness h(3);
  REQUIRE(h.elect(1));
  h.step(1, FreezeTimer{true});
  h.isolate(1);
  for (int k = 0; k < 3 * 20 && h.core(1).role() == Role::kLeader; ++k) {
    h.tick(1);
    h.stabilize();
  }
  CHECK(h.core(1).role() == Role::kFollower);
}

// Node 1 leads term 1 and, cut off, appends `divergent` entries nobody else has; node 2 leads
// term 2 with node 3 and appends `newer` entries, then is re-elected in term 3, so it starts
// with nextIndex past its whole log for node 1 (§5.3). After the heal node 2 repairs node 1's
// log. Returns the AppendEntries rejections that took.
uint64_t repair_rejections(bool fast_backup, int divergent, int newer) {
  Config c = Harness::plain_config();
  c.fast_backup = fast_backup;
  Harness h(3, c);
  REQUIRE(h.elect(1));
  REQUIRE(h.propose(1, "common").accepted);
  h.stabilize();
  h.isolate(1);
  for (int k = 0; k < divergent; ++k) REQUIRE(h.propose(1, "lost" + std::to_string(k)).accepted);
  REQUIRE(h.elect(2));
  for (int k = 0; k < newer; ++k) REQUIRE(h.propose(2, "new" + std::to_string(k)).accepted);
  h.stabilize();
  h.crash(2);
  h.restart(2);
  REQUIRE(h.elect(2));
  h.heal();
  const uint64_t before = h.rejections_delivered();
  for (int k = 0;
       k < kRepairRoundsMax && h.core(1).log().last_index() != h.core(2).log().last_index(); ++k) {
    h.tick(2);
    h.stabilize();
  }
  REQUIRE(h.core(1).log().last_index() == h.core(2).log().last_index());
  REQUIRE(h.core(1).log().last_term() == h.core(2).log().last_term());
  return h.rejections_delivered() - before;
}

TEST_CASE("without fast backup, repair takes one round trip per entry back to the match (§5.3)",
          "[timers][backup]") {
  constexpr int kDivergent = 20;
  constexpr int kNewer = 30;
  const uint64_t fast = repair_rejections(true, kDivergent, kNewer);
  const uint64_t basic = repair_rejections(false, kDivergent, kNewer);
  INFO("rejections: fast backup " << fast << ", basic " << basic);
  // Fast: one past the follower's short log, one for its whole run of term 1.
  CHECK(fast == 2);
  // Basic: one per entry of node 2's log between the common prefix [noop 1, common] and its
  // end when it won term 3 (nextIndex starts there, before its own noop): the noop of term 2
  // and the newer entries.
  CHECK(basic == static_cast<uint64_t>(kNewer + 1));
}

}  // namespace
}  // namespace raftlab::testing
