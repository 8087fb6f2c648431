// Unit tests of the fault filter: reachability rules, the statistics of its verdicts, and
// replay from a seed.
#include "net/fault_filter.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <stdexcept>
#include <vector>

namespace raftlab {
namespace {

constexpr int kDraws = 100'000;

NodeId n(uint64_t id) { return NodeId(id); }

std::set<NodeId> nodes(std::initializer_list<uint64_t> ids) {
  std::set<NodeId> out;
  for (uint64_t id : ids) out.insert(NodeId(id));
  return out;
}

LinkRule link_to_all(LinkFault fault) { return LinkRule{{}, {}, fault}; }

// Bounded tolerance for a ratio over kDraws draws: five standard deviations of a binomial, so
// a correct filter fails with probability below one in a million (and never, for a fixed seed).
double tolerance(double p) { return 5 * std::sqrt(p * (1 - p) / kDraws); }

TEST_CASE("partition: groups talk only inside themselves; unnamed nodes form one group") {
  FaultFilter filter(1);
  filter.partition({nodes({1, 2}), nodes({3})});
  CHECK(filter.reachable(n(1), n(2)));
  CHECK(filter.reachable(n(2), n(1)));
  CHECK_FALSE(filter.reachable(n(1), n(3)));
  CHECK_FALSE(filter.reachable(n(3), n(2)));
  // 4 and 5 are named nowhere: together, and apart from every named group.
  CHECK(filter.reachable(n(4), n(5)));
  CHECK_FALSE(filter.reachable(n(4), n(1)));
  CHECK_FALSE(filter.reachable(n(3), n(5)));
  // A node always reaches itself.
  CHECK(filter.reachable(n(3), n(3)));
  CHECK(filter.decide(n(1), n(3)).dropped());
  CHECK_FALSE(filter.decide(n(1), n(2)).dropped());
}

TEST_CASE("partition replaces the previous partition; a node in two groups is refused") {
  FaultFilter filter(1);
  filter.partition({nodes({1, 2}), nodes({3, 4, 5})});
  filter.partition({nodes({1, 3})});
  CHECK(filter.reachable(n(1), n(3)));
  CHECK(filter.reachable(n(2), n(4)));
  CHECK_FALSE(filter.reachable(n(1), n(2)));
  CHECK_THROWS_AS(filter.partition({nodes({1, 2}), nodes({2, 3})}), std::invalid_argument);
}

TEST_CASE("isolate: the node alone, every other node together, replacing any partition") {
  FaultFilter filter(1);
  filter.partition({nodes({1, 2}), nodes({3, 4, 5})});
  filter.isolate(n(3));
  CHECK(filter.rules().partition == std::vector<std::set<NodeId>>{nodes({3})});
  for (uint64_t other : {1, 2, 4, 5}) {
    CHECK_FALSE(filter.reachable(n(3), n(other)));
    CHECK_FALSE(filter.reachable(n(other), n(3)));
  }
  CHECK(filter.reachable(n(1), n(5)));
  CHECK(filter.reachable(n(2), n(4)));
  CHECK(filter.decide(n(3), n(3)).delays_ms == std::vector<uint32_t>{0});
}

TEST_CASE("a one-way cut drops one direction; a two-way cut drops both") {
  FaultFilter one_way(1);
  one_way.cut(n(1), n(2), /*one_way=*/true);
  CHECK_FALSE(one_way.reachable(n(1), n(2)));
  CHECK(one_way.reachable(n(2), n(1)));
  CHECK(one_way.decide(n(1), n(2)).dropped());
  CHECK_FALSE(one_way.decide(n(2), n(1)).dropped());

  FaultFilter two_way(1);
  two_way.cut(n(1), n(2), /*one_way=*/false);
  CHECK_FALSE(two_way.reachable(n(1), n(2)));
  CHECK_FALSE(two_way.reachable(n(2), n(1)));
  CHECK(two_way.reachable(n(1), n(3)));
  CHECK(two_way.reachable(n(3), n(2)));
}

TEST_CASE("heal removes partitions and cuts but keeps link rules; heal_all removes all") {
  FaultFilter filter(1);
  filter.partition({nodes({1})});
  filter.cut(n(2), n(3), false);
  filter.set_link(LinkRule{{}, nodes({2}), LinkFault{.loss = 0.1}});
  filter.heal();
  CHECK(filter.rules().partition.empty());
  CHECK(filter.rules().cuts.empty());
  CHECK(filter.rules().links.size() == 1);
  CHECK(filter.reachable(n(1), n(2)));
  CHECK(filter.reachable(n(2), n(3)));
  filter.heal_all();
  CHECK(filter.rules().empty());
  CHECK(filter.describe() == "none");
}

TEST_CASE("a message to oneself is delivered at once whatever the rules") {
  FaultFilter filter(1);
  filter.isolate(n(1));
  filter.cut(n(1), n(1), true);
  filter.set_link(link_to_all(LinkFault{.loss = 1, .delay_ms = 50}));
  CHECK(filter.decide(n(1), n(1)).delays_ms == std::vector<uint32_t>{0});
  CHECK(filter.decide(n(2), n(3)).dropped());
}

TEST_CASE("link rules: the later matching rule wins; unmatched links are perfect") {
  FaultFilter filter(1);
  filter.set_link(LinkRule{{}, nodes({2}), LinkFault{.loss = 1}});
  filter.set_link(LinkRule{nodes({1}), nodes({2}), LinkFault{.delay_ms = 7}});
  CHECK(filter.decide(n(1), n(2)).delays_ms == std::vector<uint32_t>{7});
  CHECK(filter.decide(n(3), n(2)).dropped());
  CHECK(filter.decide(n(2), n(3)).delays_ms == std::vector<uint32_t>{0});
  CHECK_THROWS_AS(filter.set_link(link_to_all(LinkFault{.loss = 1.5})), std::invalid_argument);
}

TEST_CASE("loss drops about the given ratio of messages") {
  for (double p : {0.01, 0.1, 0.5, 0.9}) {
    FaultFilter filter(42);
    filter.set_link(link_to_all(LinkFault{.loss = p}));
    int dropped = 0;
    for (int i = 0; i < kDraws; ++i) dropped += filter.decide(n(1), n(2)).dropped() ? 1 : 0;
    INFO("loss " << p << ", dropped " << dropped << " of " << kDraws);
    CHECK(std::abs(static_cast<double>(dropped) / kDraws - p) < tolerance(p));
  }
  FaultFilter all(42);
  all.set_link(link_to_all(LinkFault{.loss = 1}));
  for (int i = 0; i < 1000; ++i) REQUIRE(all.decide(n(1), n(2)).dropped());
}

TEST_CASE("delay lies in [delay, delay + jitter] and reaches both ends") {
  FaultFilter filter(7);
  filter.set_link(link_to_all(LinkFault{.delay_ms = 20, .jitter_ms = 5}));
  std::set<uint32_t> seen;
  for (int i = 0; i < 10'000; ++i) {
    const Verdict verdict = filter.decide(n(1), n(2));
    REQUIRE(verdict.delays_ms.size() == 1);
    REQUIRE(verdict.delays_ms[0] >= 20);
    REQUIRE(verdict.delays_ms[0] <= 25);
    seen.insert(verdict.delays_ms[0]);
  }
  CHECK(seen == std::set<uint32_t>{20, 21, 22, 23, 24, 25});
}

TEST_CASE("duplicate delivers a second, later copy at about the given rate") {
  const double p = 0.2;
  FaultFilter filter(9);
  filter.set_link(link_to_all(LinkFault{.delay_ms = 10, .jitter_ms = 30, .duplicate = p}));
  int doubled = 0;
  bool copy_delay_differs = false;
  for (int i = 0; i < kDraws; ++i) {
    const Verdict verdict = filter.decide(n(1), n(2));
    REQUIRE((verdict.delays_ms.size() == 1 || verdict.delays_ms.size() == 2));
    for (uint32_t delay : verdict.delays_ms) REQUIRE((delay >= 10 && delay <= 40));
    if (verdict.delays_ms.size() == 2) {
      ++doubled;
      REQUIRE(verdict.delays_ms[1] >= verdict.delays_ms[0]);
      copy_delay_differs |= verdict.delays_ms[1] != verdict.delays_ms[0];
    }
  }
  INFO("duplicated " << doubled << " of " << kDraws);
  CHECK(std::abs(static_cast<double>(doubled) / kDraws - p) < tolerance(p));
  CHECK(copy_delay_differs);  // the copy's delay is drawn on its own
}

TEST_CASE("reorder holds a message back behind later ones") {
  SECTION("default hold: 2 * delay + jitter + 1") {
    const double p = 0.3;
    FaultFilter filter(11);
    filter.set_link(link_to_all(LinkFault{.delay_ms = 10, .jitter_ms = 4, .reorder = p}));
    int held = 0;
    for (int i = 0; i < kDraws; ++i) {
      const uint32_t delay = filter.decide(n(1), n(2)).delays_ms.at(0);
      if (delay > 14) {
        // Held: 10..14 plus a hold of 25, so later than any message sent up to 10ms after.
        REQUIRE((delay >= 35 && delay <= 39));
        ++held;
      } else {
        REQUIRE(delay >= 10);
      }
    }
    INFO("held " << held << " of " << kDraws);
    CHECK(std::abs(static_cast<double>(held) / kDraws - p) < tolerance(p));
  }
  SECTION("explicit hold") {
    FaultFilter filter(11);
    filter.set_link(link_to_all(LinkFault{.delay_ms = 5, .reorder = 1, .reorder_ms = 100}));
    CHECK(filter.decide(n(1), n(2)).delays_ms == std::vector<uint32_t>{105});
  }
}

std::vector<std::vector<uint32_t>> run(uint64_t seed) {
  FaultFilter filter(seed);
  filter.set_link(link_to_all(
      LinkFault{.loss = 0.2, .delay_ms = 5, .jitter_ms = 50, .duplicate = 0.1, .reorder = 0.1}));
  std::vector<std::vector<uint32_t>> verdicts;
  for (int i = 0; i < 1000; ++i) verdicts.push_back(filter.decide(n(1 + i % 3), n(4)).delays_ms);
  return verdicts;
}

TEST_CASE("the same seed gives the same verdicts; different seeds differ") {
  CHECK(run(1234) == run(1234));
  CHECK(run(1234) != run(1235));
}

TEST_CASE("describe gives one stable line") {
  FaultFilter filter(1);
  CHECK(filter.describe() == "none");
  filter.partition({nodes({1, 2}), nodes({3, 4, 5})});
  filter.cut(n(3), n(1), false);
  filter.set_link(LinkRule{{}, nodes({2}), LinkFault{.loss = 0.1, .delay_ms = 20, .jitter_ms = 5}});
  CHECK(filter.describe() ==
        "partition 1,2 | 3,4,5; cut 1->3, 3->1; link *->2 loss=10% delay=20ms jitter=5ms");

  filter.heal_all();
  filter.isolate(n(4));
  filter.set_link(LinkRule{nodes({1, 3}), {}, LinkFault{.duplicate = 0.005, .reorder = 0.25}});
  filter.set_link(LinkRule{nodes({2}), nodes({5}), LinkFault{.reorder = 1, .reorder_ms = 40}});
  filter.set_link(LinkRule{{}, {}, LinkFault{}});
  CHECK(filter.describe() ==
        "partition 4; link 1,3->* duplicate=0.5% reorder=25%; link 2->5 reorder=100% hold=40ms; "
        "link *->* perfect");
}

// The trace names the rule behind each drop, delay and copy (docs/trace.md).
TEST_CASE("a verdict names the rule that acted: cut, partition, or the matching link rule") {
  FaultFilter filter(1);
  filter.cut(n(1), n(2), true);
  Verdict cut = filter.decide(n(1), n(2));
  CHECK(cut.dropped_by == DropCause::kCut);
  CHECK(filter.describe_drop(cut, n(1), n(2)) == "cut 1->2");
  // The other direction of a one-way cut passes untouched.
  const Verdict back = filter.decide(n(2), n(1));
  CHECK(back.dropped_by == DropCause::kNone);
  CHECK(back.link == -1);

  filter.heal();
  filter.partition({nodes({1, 2}), nodes({3})});
  const Verdict split = filter.decide(n(3), n(1));
  CHECK(split.dropped_by == DropCause::kPartition);
  CHECK(filter.describe_drop(split, n(3), n(1)) == "partition 1,2 | 3");

  filter.heal();
  filter.set_link(LinkRule{{}, {}, LinkFault{.delay_ms = 50}});
  filter.set_link(LinkRule{nodes({1}), nodes({2}), LinkFault{.loss = 1}});
  const Verdict lost = filter.decide(n(1), n(2));
  CHECK(lost.dropped_by == DropCause::kLoss);
  CHECK(lost.link == 1);  // the later matching rule
  CHECK(filter.describe_drop(lost, n(1), n(2)) == "loss 1->2 100%");
  const Verdict slow = filter.decide(n(2), n(1));
  CHECK(slow.link == 0);
  CHECK(slow.delays_ms == std::vector<uint32_t>{50});
  CHECK(filter.describe_delay(slow) == "delay *->* 50ms");
}

TEST_CASE("a verdict says when a copy was added or held back, and by which rule") {
  FaultFilter filter(1);
  filter.set_link(LinkRule{nodes({1}), {}, LinkFault{.jitter_ms = 5, .duplicate = 1}});
  const Verdict twice = filter.decide(n(1), n(3));
  CHECK(twice.duplicated);
  CHECK(twice.delays_ms.size() == 2);
  CHECK_FALSE(twice.reordered);
  CHECK(filter.describe_dup(twice) == "dup 1->* 100%");
  CHECK(filter.describe_delay(twice) == "delay 1->* 0ms jitter 5ms");

  filter.set_link(LinkRule{{}, nodes({2}), LinkFault{.reorder = 1, .reorder_ms = 40}});
  const Verdict held = filter.decide(n(1), n(2));
  CHECK(held.reordered);
  CHECK_FALSE(held.duplicated);
  CHECK(held.delays_ms == std::vector<uint32_t>{40});
  CHECK(filter.describe_delay(held) == "reorder *->2 100%");
}

}  // namespace
}  // namespace raftlab
