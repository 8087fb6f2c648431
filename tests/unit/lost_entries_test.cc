// Issue 10: a follower that lost entries it had acknowledged (a WAL tail cut by hand) must be
// repaired at once, while reordered or duplicated old answers must not move match back. The
// leader tells them apart by which AppendEntries an answer is for (Message::context): only an
// answer to one sent after the leader learned match says anything about the follower's log now.
// The whole story, from the cut to the repair, is tests/transcripts/lost_entries.txt.
#include <catch2/catch.hpp>
#include <vector>

#include "tests/unit/harness.h"

namespace raftlab::testing {
namespace {

// The AppendEntries to `to` now in the mailbox (the test has just made the leader send one).
Message append_to(const Harness& h, int to) {
  for (const Message& m : h.mailbox()) {
    if (m.type == MessageType::kAppendEntries && m.to == NodeId(static_cast<uint64_t>(to))) {
      return m;
    }
  }
  FAIL("no AppendEntries to " << to << " in the mailbox");
  return {};
}

// The rejection a follower whose log ends at `last` sends for `append` (as handle_append_entries
// writes it for a log that is too short).
Message too_short_answer(const Message& append, Index last) {
  Message r;
  r.type = MessageType::kAppendEntriesResponse;
  r.from = append.to;
  r.to = append.from;
  r.term = append.term;
  r.reject = true;
  r.rejected_index = append.prev_log_index;
  r.conflict_index = last + 1;
  r.last_index = last;
  r.context = append.context;
  return r;
}

}  // namespace

TEST_CASE("a rejection below match is news only if it answers an append sent after match") {
  Harness h(3);
  REQUIRE(h.elect(1));
  h.propose(1, "a");
  const Message old_append = append_to(h, 3);  // sent before node 3 acknowledged "a"
  h.stabilize();
  REQUIRE(h.core(1).progress(NodeId(3))->match == Index(2));

  // A late or duplicated answer to that older request, written when node 3 held only 1:
  // it proves nothing about node 3's log now, so the leader ignores it.
  h.step(1, Receive{too_short_answer(old_append, Index(1))});
  CHECK(h.core(1).progress(NodeId(3))->match == Index(2));
  CHECK(h.node(1).notices.empty());
  CHECK(h.mailbox().empty());

  // The same words in answer to a request sent after the leader learned match 2: node 3 lost
  // entry 2. The leader says so once, drops match to what node 3 holds and probes from there.
  h.propose(1, "b");
  const Message new_append = append_to(h, 3);
  h.take_mailbox();
  const Message news = too_short_answer(new_append, Index(1));
  h.step(1, Receive{news});
  REQUIRE(h.node(1).notices.size() == 1);
  const Notice& n = h.node(1).notices.front();
  CHECK(n.kind == NoticeKind::kFollowerLostEntries);
  CHECK(n.peer == NodeId(3));
  CHECK(n.acknowledged == Index(2));
  CHECK(n.holds == Index(1));
  const Progress* pr = h.core(1).progress(NodeId(3));
  CHECK(pr->match == Index(1));
  CHECK(pr->state == ProgressState::kProbe);
  const Message repair = append_to(h, 3);
  CHECK(repair.prev_log_index == Index(1));
  CHECK(repair.entries.size() == 2);  // "a" and "b"

  // A duplicate of that rejection changes nothing and is not reported again.
  h.take_mailbox();
  h.step(1, Receive{news});
  CHECK(h.node(1).notices.size() == 1);
  CHECK(h.core(1).progress(NodeId(3))->match == Index(1));
}

TEST_CASE("a late heartbeat answer below match costs one probe, not a reset") {
  Harness h(3);
  REQUIRE(h.elect(1));
  h.propose(1, "a");
  h.stabilize();
  REQUIRE(h.core(1).progress(NodeId(3))->match == Index(2));
  // Node 3 answered a heartbeat when it held only 1, and that answer arrives last.
  Message late;
  late.type = MessageType::kHeartbeatResponse;
  late.from = NodeId(3);
  late.to = NodeId(1);
  late.term = h.core(1).term();
  late.last_index = Index(1);
  h.step(1, Receive{late});
  const Message probe = append_to(h, 3);
  CHECK(probe.prev_log_index == Index(2));
  CHECK(probe.entries.empty());
  h.stabilize();  // node 3 holds 2 and accepts the probe
  CHECK(h.node(1).notices.empty());
  const Progress* pr = h.core(1).progress(NodeId(3));
  CHECK(pr->match == Index(2));
  CHECK(pr->state == ProgressState::kReplicate);
}

}  // namespace raftlab::testing
