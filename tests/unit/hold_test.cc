// Unit tests of held messages (net/hold.h): which messages a rule holds, the order they come out
// in, the cap, selection by id and by filter, and release when a rule goes.
#include "net/hold.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace raftlab::net {
namespace {

Message msg(uint64_t from, uint64_t to, MessageType type, uint64_t seq) {
  Message m;
  m.type = type;
  m.from = NodeId(from);
  m.to = NodeId(to);
  m.term = Term(1);
  m.trace_seq = seq;
  return m;
}

HoldRule rule(std::set<NodeId> from, std::set<NodeId> to, std::set<MessageType> types) {
  return HoldRule{std::move(from), std::move(to), std::move(types)};
}

std::vector<std::string> ids(const std::vector<Message>& ms) {
  std::vector<std::string> out;
  for (const Message& m : ms) out.push_back(held_id(m));
  return out;
}

std::vector<std::string> ids(const std::deque<Message>& ms) {
  return ids(std::vector<Message>(ms.begin(), ms.end()));
}

constexpr auto kAE = MessageType::kAppendEntries;
constexpr auto kHB = MessageType::kHeartbeat;
constexpr auto kRV = MessageType::kRequestVote;

TEST_CASE("hold: a rule matches by sender, receiver and type; empty sets match all") {
  const HoldRule r = rule({NodeId(1)}, {NodeId(2)}, {kAE});
  CHECK(r.matches(msg(1, 2, kAE, 1)));
  CHECK_FALSE(r.matches(msg(1, 3, kAE, 1)));
  CHECK_FALSE(r.matches(msg(3, 2, kAE, 1)));
  CHECK_FALSE(r.matches(msg(1, 2, kHB, 1)));
  const HoldRule any{};
  CHECK(any.matches(msg(5, 4, kRV, 1)));
  CHECK(describe(r) == "hold 1->2 AppendEntries");
  CHECK(describe(any) == "hold *->* *");
  CHECK(parse_message_type("PreVoteResponse") == MessageType::kPreVoteResponse);
  CHECK_FALSE(parse_message_type("Vote").has_value());
}

TEST_CASE("hold: no rules hold nothing; any rule in force holds its messages") {
  HoldQueue q;
  CHECK_FALSE(q.holds(msg(1, 2, kAE, 1)));
  CHECK(q.set_rules({rule({}, {NodeId(2)}, {kAE}), rule({}, {}, {kRV})}).empty());
  CHECK(q.holds(msg(1, 2, kAE, 1)));
  CHECK(q.holds(msg(1, 3, kRV, 1)));
  CHECK_FALSE(q.holds(msg(1, 3, kAE, 1)));
}

TEST_CASE("hold: messages come out in the order they were held, per selection") {
  HoldQueue q;
  q.set_rules({HoldRule{}});
  for (uint64_t seq = 1; seq <= 4; ++seq) q.hold(msg(1, seq % 2 == 0 ? 2 : 3, kAE, seq));
  std::vector<std::string> unknown;
  HoldSelection to2;
  to2.filter.to = {NodeId(2)};
  CHECK(ids(q.take(to2, unknown)) == std::vector<std::string>{"1.2", "1.4"});
  CHECK(ids(q.messages()) == std::vector<std::string>{"1.1", "1.3"});
  // By id: in held order whatever the order asked, and an id not held is reported.
  HoldSelection by_id;
  by_id.ids = {"1.3", "1.9", "1.1"};
  CHECK(ids(q.take(by_id, unknown)) == std::vector<std::string>{"1.1", "1.3"});
  CHECK(unknown == std::vector<std::string>{"1.9"});
  CHECK(q.messages().empty());
}

TEST_CASE("hold: --count takes the oldest matches only") {
  HoldQueue q;
  q.set_rules({HoldRule{}});
  for (uint64_t seq = 1; seq <= 5; ++seq) q.hold(msg(2, 1, seq == 3 ? kHB : kAE, seq));
  HoldSelection s;
  s.filter.types = {kAE};
  s.count_max = 2;
  std::vector<std::string> unknown;
  CHECK(ids(q.take(s, unknown)) == std::vector<std::string>{"2.1", "2.2"});
  CHECK(ids(q.messages()) == std::vector<std::string>{"2.3", "2.4", "2.5"});
}

TEST_CASE("hold: beyond the cap the oldest is dropped, returned and counted") {
  constexpr size_t kCap = 3;
  HoldQueue q(kCap);
  q.set_rules({HoldRule{}});
  for (uint64_t seq = 1; seq <= kCap; ++seq) CHECK_FALSE(q.hold(msg(1, 2, kAE, seq)).has_value());
  const std::optional<Message> dropped = q.hold(msg(1, 2, kAE, 4));
  REQUIRE(dropped);
  CHECK(held_id(*dropped) == "1.1");
  CHECK(q.messages().size() == kCap);
  CHECK(ids(q.messages()) == std::vector<std::string>{"1.2", "1.3", "1.4"});
  CHECK(q.counters().cap_dropped == 1);
  CHECK(q.counters().held == 4);
}

TEST_CASE("hold: removing a rule releases its messages, in order; others stay held") {
  HoldQueue q;
  q.set_rules({rule({}, {NodeId(2)}, {}), rule({}, {NodeId(3)}, {})});
  q.hold(msg(1, 2, kAE, 1));
  q.hold(msg(1, 3, kAE, 2));
  q.hold(msg(1, 2, kHB, 3));
  const std::vector<Message> released = q.set_rules({rule({}, {NodeId(3)}, {})});
  CHECK(ids(released) == std::vector<std::string>{"1.1", "1.3"});
  CHECK(ids(q.messages()) == std::vector<std::string>{"1.2"});
  CHECK(ids(q.set_rules({})) == std::vector<std::string>{"1.2"});
  CHECK(q.counters().delivered == 3);
}

TEST_CASE("hold: a message without a trace seq (tracing off) gets one, so it has an id") {
  HoldQueue q;
  q.set_rules({HoldRule{}});
  q.hold(msg(4, 1, kAE, 0));
  q.hold(msg(4, 1, kAE, 0));
  CHECK(ids(q.messages()) == std::vector<std::string>{"4.1", "4.2"});
}

}  // namespace
}  // namespace raftlab::net
