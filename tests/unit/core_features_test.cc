// Unit tests of snapshots, ReadIndex reads, leadership transfer and membership changes in the
// core, named after the section of the paper (§) or of Ongaro's thesis they test.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "tests/unit/harness.h"

namespace raftlab::testing {
namespace {

// Heartbeat rounds until `done` holds, bounded.
template <typename Pred>
void settle(Harness& h, int leader, Pred done, int rounds_max = 20) {
  for (int round = 0; round < rounds_max && !done(); ++round) {
    h.tick(leader);
    h.stabilize();
  }
}

// Node 1 leads three nodes; node 3, cut off, misses five writes, which node 1 then compacts
// into a snapshot of `state` sent in chunks of `chunk_bytes`: node 3 can catch up only by
// InstallSnapshot (Figure 13) once the test heals the cut.
std::unique_ptr<Harness> behind_a_snapshot(uint64_t chunk_bytes, const std::string& state,
                                           uint32_t inflight_max = 16) {
  Config c = Harness::plain_config();
  c.snapshot_trailing_entries = 0;
  c.snapshot_chunk_bytes_max = chunk_bytes;
  c.inflight_msgs_max = inflight_max;
  auto h = std::make_unique<Harness>(3, c);
  REQUIRE(h->elect(1));
  h->isolate(3);
  for (int i = 0; i < 5; ++i) h->propose(1, "v" + std::to_string(i));
  h->stabilize();
  h->snapshot(1, state);
  return h;
}

}  // namespace

TEST_CASE("a snapshot compacts the log but keeps the trailing entries (§7)") {
  Config c = Harness::plain_config();
  c.snapshot_trailing_entries = 3;
  Harness h(3, c);
  REQUIRE(h.elect(1));
  for (int i = 0; i < 10; ++i) h.propose(1, "v" + std::to_string(i));
  h.stabilize();
  REQUIRE(h.core(1).applied() == Index(11));
  h.snapshot(1);
  CHECK(h.core(1).snapshot()->meta.index == Index(11));
  CHECK(h.core(1).snapshot()->meta.term == Term(1));
  CHECK(h.core(1).log().first_index() == Index(9));  // 11 - 3 compacted, 9..11 kept
  CHECK(h.node(1).entries.front().index == Index(9));
  CHECK(h.node(1).snapshot->data == "state@11");
}

TEST_CASE("InstallSnapshot sends a lagging follower the snapshot in chunks (Figure 13)") {
  const std::string state(95, 's');  // ten chunks of at most 10 bytes
  const auto hp = behind_a_snapshot(10, state);
  Harness& h = *hp;
  h.heal();
  settle(h, 1, [&] { return h.core(3).applied() >= Index(6); });
  CHECK(h.delivered_count(MessageType::kInstallSnapshot) >= 10);
  CHECK(h.node(3).snapshot->data == state);
  CHECK(h.node(3).restored_index == Index(6));
  CHECK(h.core(3).applied() == Index(6));
  CHECK(h.core(3).log().base_index() == Index(6));

  SECTION("and then the entries after it") {
    h.propose(1, "after");
    h.stabilize();
    settle(h, 1, [&] { return h.core(3).applied() == Index(7); });
    REQUIRE(h.node(3).applied.size() == 1);
    CHECK(h.node(3).applied[0].data == "after");
  }
}

TEST_CASE("a lost snapshot chunk is resent from the follower's offset (Figure 13)") {
  const auto hp = behind_a_snapshot(8, std::string(40, 'x'), 2);
  Harness& h = *hp;
  h.heal();
  // Drop the second chunk once; the third then arrives out of order.
  bool dropped = false;
  h.drop_if = [&](const Message& m) {
    if (dropped || m.type != MessageType::kInstallSnapshot || m.offset != 8) return false;
    dropped = true;
    return true;
  };
  settle(
      h, 1, [&] { return h.core(3).applied() >= Index(6); }, 30);
  CHECK(dropped);
  CHECK(h.core(3).applied() == Index(6));
  CHECK(h.node(3).snapshot->data == std::string(40, 'x'));
}

TEST_CASE("answers to heartbeats queued for an unreachable follower are one round, not many") {
  const auto hp = behind_a_snapshot(10, std::string(95, 's'), 4);
  Harness& h = *hp;
  h.heal();
  // Node 3's answer to a heartbeat, kept to be stepped into the leader by hand.
  h.tick(1);
  h.deliver_once(3);
  Message answer;
  for (const Message& m : h.take_mailbox()) {
    if (m.type == MessageType::kHeartbeatResponse && m.from == NodeId(3)) answer = m;
  }
  REQUIRE(answer.type == MessageType::kHeartbeatResponse);
  auto chunks_sent = [&] {
    uint64_t n = 0;
    for (const Message& m : h.take_mailbox()) n += m.type == MessageType::kInstallSnapshot;
    return n;
  };
  // Two rounds without progress: the lost AppendEntries are given up, and what node 3 needs
  // was compacted away, so the leader sends a window of snapshot chunks.
  for (int round = 0; round < 2; ++round) {
    h.tick(1);
    h.step(1, Receive{answer});
  }
  REQUIRE(chunks_sent() == 4);
  // Twenty answers arrive together (the heartbeats queued while node 3 was away): within one
  // heartbeat interval the unacknowledged window is resent at most once, not once per answer.
  h.tick(1);
  for (int i = 0; i < 20; ++i) h.step(1, Receive{answer});
  CHECK(chunks_sent() <= 4);
}

TEST_CASE("a snapshot window nobody acknowledges is resent after 1, 2, 4, then 8 rounds") {
  const auto hp = behind_a_snapshot(10, std::string(95, 's'), 4);
  Harness& h = *hp;
  h.heal();
  h.tick(1);
  h.deliver_once(3);
  Message answer;  // node 3's answer to a heartbeat; node 3 then stays silent (slow)
  for (const Message& m : h.take_mailbox()) {
    if (m.type == MessageType::kHeartbeatResponse && m.from == NodeId(3)) answer = m;
  }
  REQUIRE(answer.type == MessageType::kHeartbeatResponse);
  auto chunks_sent = [&] {
    uint64_t n = 0;
    for (const Message& m : h.take_mailbox()) n += m.type == MessageType::kInstallSnapshot;
    return n;
  };
  int round = 0;
  while (chunks_sent() == 0 && round < 10) {  // the rounds that give up on AppendEntries
    h.tick(1);
    h.step(1, Receive{answer});
    ++round;
  }
  REQUIRE(round < 10);
  const uint64_t interval = h.core(1).config().heartbeat_ticks;
  std::vector<int> resent_at;
  for (int r = 1; r <= 16; ++r) {
    h.tick(1, static_cast<int>(interval));
    h.step(1, Receive{answer});
    if (chunks_sent() > 0) resent_at.push_back(r);
  }
  CHECK(resent_at == std::vector<int>{1, 3, 7, 15});

  SECTION("and starts over with a newer snapshot after five resends without progress") {
    h.isolate(3);
    h.propose(1, "newer");
    h.stabilize();
    h.snapshot(1, std::string(95, 'n'));
    const Index newer = h.core(1).snapshot()->meta.index;
    REQUIRE(newer > Index(6));
    h.take_mailbox();
    std::vector<Index> resent;  // the snapshot of each resend (its first chunk)
    for (int r = 0; r < 16; ++r) {
      h.tick(1, static_cast<int>(interval));
      h.step(1, Receive{answer});
      for (const Message& m : h.take_mailbox()) {
        if (m.type == MessageType::kInstallSnapshot && m.offset == 0) {
          resent.push_back(m.snapshot.index);
        }
      }
    }
    // Four resends of the old one happened above (rounds 1, 3, 7, 15); the fifth, 8 rounds
    // later, is the newer snapshot, and so is the next.
    REQUIRE(resent.size() == 2);
    CHECK(resent[0] == newer);
    CHECK(resent[1] == newer);
  }
}

TEST_CASE("the log lets go of old applied commands; a follower behind gets them from storage") {
  Config c = Harness::plain_config();
  c.log_payload_bytes_max = 10;  // two of the four-byte commands below
  Harness h(3, c);
  REQUIRE(h.elect(1));
  h.isolate(3);
  for (int i = 0; i < 20; ++i) h.propose(1, "c" + std::to_string(1000 + i).substr(1));
  h.stabilize();
  REQUIRE(h.core(1).applied() == Index(21));
  CHECK(h.core(1).log().payload_bytes_held() <= 10);
  size_t released = 0;
  for (const Entry& e : h.core(1).log().entries()) released += e.data_released() ? 1 : 0;
  CHECK(released >= 17);
  CHECK(h.core(1).log().at(Index(21)).data == "c019");  // the newest keep their bytes

  h.heal();
  settle(h, 1, [&] { return h.core(3).applied() == Index(21); });
  REQUIRE(h.core(3).applied() == Index(21));
  for (size_t k = 0; k < 21; ++k) {  // node 3's disk holds the commands node 1's log let go
    CHECK(h.node(3).entries.at(k).data == h.node(1).entries.at(k).data);
  }
  CHECK(h.node(3).entries.at(5).data == "c004");
  CHECK(h.node(1).notices.empty());

  SECTION("with nothing kept, every applied command is released and still replicated") {
    Config none = Harness::plain_config();
    none.log_payload_bytes_max = 0;
    Harness z(3, none);
    REQUIRE(z.elect(1));
    z.isolate(2);
    for (int i = 0; i < 5; ++i) z.propose(1, "z" + std::to_string(i));
    z.stabilize();
    CHECK(z.core(1).log().payload_bytes_held() == 0);
    z.heal();
    settle(z, 1, [&] { return z.core(2).applied() == Index(6); });
    CHECK(z.node(2).entries.back().data == "z4");
  }
}

TEST_CASE("a follower keeps the log suffix that continues a snapshot (Figure 13, step 6)") {
  Config c;
  c.id = NodeId(2);
  c.voters = {NodeId(1), NodeId(2), NodeId(3)};
  c.pre_vote = false;
  c.check_quorum = false;
  Restored r;
  r.hard_state.term = Term(1);
  for (uint64_t i = 1; i <= 6; ++i) {
    r.entries.push_back(Entry{.term = Term(1),
                              .index = Index(i),
                              .type = EntryType::kNormal,
                              .data = "e" + std::to_string(i)});
  }
  Core f(c, r);
  Message m;
  m.type = MessageType::kInstallSnapshot;
  m.from = NodeId(1);
  m.to = NodeId(2);
  m.term = Term(1);
  m.snapshot = SnapshotMeta{Index(4), Term(1), {c.voters, {}}};
  m.chunk = Payload("s4");
  m.done = true;
  const Ready ready = f.step(Receive{m});
  CHECK(ready.restore_snapshot);
  CHECK_FALSE(ready.truncate_from.has_value());
  CHECK(ready.compacted_through == Index(4));
  CHECK(f.log().last_index() == Index(6));  // 5 and 6 kept
  CHECK(f.log().first_index() == Index(5));
  CHECK(f.applied() == Index(4));

  SECTION("a snapshot the follower already covers changes nothing") {
    m.snapshot.index = Index(3);
    const Ready again = f.step(Receive{m});
    CHECK_FALSE(again.restore_snapshot);
    CHECK(f.applied() == Index(4));
  }
}

TEST_CASE("a restart from snapshot plus log neither rewinds nor repeats applied entries (§7)") {
  Config c = Harness::plain_config();
  c.snapshot_trailing_entries = 2;
  Harness h(3, c);
  REQUIRE(h.elect(1));
  for (int i = 0; i < 8; ++i) h.propose(1, "v" + std::to_string(i));
  h.stabilize();
  h.tick(1);
  h.stabilize();
  h.snapshot(2);  // at 9
  h.propose(1, "late");
  h.stabilize();
  h.tick(1);
  h.stabilize();
  REQUIRE(h.core(2).applied() == Index(10));
  h.crash(2);
  h.restart(2);
  CHECK(h.core(2).applied() == Index(9));  // the snapshot
  h.tick(2);
  REQUIRE(h.node(2).applied.size() == 1);  // only what follows the snapshot
  CHECK(h.node(2).applied[0].data == "late");
}

TEST_CASE(
    "ReadIndex: a read is served only after a heartbeat round confirms leadership (thesis §6.4)") {
  Harness h(3, Harness::plain_config());
  REQUIRE(h.elect(1));
  h.read(1, 7);
  CHECK(h.node(1).reads.empty());  // not before the round
  h.deliver_once();                // heartbeats out
  CHECK(h.node(1).reads.empty());
  h.deliver_once();  // answers back
  REQUIRE(h.node(1).reads.size() == 1);
  CHECK(h.node(1).reads[0].id == 7);
  CHECK(h.node(1).reads[0].index == h.core(1).commit());

  SECTION("a deposed leader that cannot reach a majority never serves it") {
    h.isolate(1);
    h.read(1, 8);
    for (int i = 0; i < 60; ++i) {
      h.tick(1);
      h.stabilize();
    }
    CHECK(h.node(1).reads.size() == 1);
    REQUIRE(h.node(1).reads_failed.size() == 1);
    CHECK(h.node(1).reads_failed[0].refusal == Refusal::kTimedOut);
  }

  SECTION("the unsafe switch serves it at once") {
    Config c = Harness::plain_config();
    c.unsafe.read_without_heartbeat = true;
    Harness g(3, c);
    REQUIRE(g.elect(1));
    g.isolate(1);
    g.read(1, 9);
    CHECK(g.node(1).reads.size() == 1);
  }
}

TEST_CASE("ReadIndex waits until the new leader has committed an entry of its term (thesis §6.4)") {
  Harness h(3, Harness::plain_config());
  h.campaign(1);
  h.deliver_once();   // vote requests
  h.deliver_once(1);  // grants: node 1 leads, its no-op is not committed yet
  REQUIRE(h.core(1).role() == Role::kLeader);
  REQUIRE(h.core(1).commit() == Index(0));
  h.read(1, 1);
  h.stabilize();
  REQUIRE(h.node(1).reads.size() == 1);
  CHECK(h.node(1).reads[0].index == Index(1));  // the no-op's index, not the stale 0
}

TEST_CASE("a follower read asks the leader for the index and waits to apply it (thesis §6.4.1)") {
  Harness h(3, Harness::plain_config());
  REQUIRE(h.elect(1));
  h.propose(1, "x");
  h.deliver_once();  // the entry reaches the followers, not yet their commit
  h.read(2, 5);
  h.stabilize();
  // The read index is the leader's commit (2); node 2 serves it once it has applied 2.
  CHECK(h.node(2).reads.empty() == (h.core(2).applied() < Index(2)));
  h.tick(1);
  h.stabilize();
  REQUIRE(h.node(2).reads.size() == 1);
  CHECK(h.node(2).reads[0].index == Index(2));
  CHECK(h.core(2).applied() >= Index(2));
}

TEST_CASE("leadership transfer: the target campaigns at once, past the leases (thesis §3.10)") {
  Harness h(3);  // PreVote and CheckQuorum on
  REQUIRE(h.elect(1));
  const Outcome o = h.transfer(1, 2);
  CHECK(o.accepted);
  CHECK(h.propose(1, "held").refusal == Refusal::kTransferring);
  h.stabilize();
  CHECK(h.core(2).role() == Role::kLeader);
  CHECK(h.core(2).term() == Term(2));
  CHECK(h.core(1).role() == Role::kFollower);
}

TEST_CASE("a transfer to a dead node times out and the leader takes writes again (braft#264)") {
  Harness h(3);
  REQUIRE(h.elect(1));
  h.crash(3);
  CHECK(h.transfer(1, 3).accepted);
  CHECK_FALSE(h.propose(1, "held").accepted);
  int ticks = 0;
  while (h.core(1).status().transfer_target && ticks < 100) {
    h.tick(1);
    h.stabilize();
    ++ticks;
  }
  CHECK(ticks <= static_cast<int>(Harness::default_config().election_ticks_min));
  CHECK(h.core(1).role() == Role::kLeader);
  CHECK(h.propose(1, "resumed").accepted);
}

TEST_CASE("a new server joins as a learner and is promoted once caught up (thesis §4.2.1)") {
  Harness h(3, Harness::plain_config());
  REQUIRE(h.elect(1));
  for (int i = 0; i < 30; ++i) h.propose(1, "v" + std::to_string(i));
  h.stabilize();
  h.add_spare(4);
  const Outcome o = h.change(1, MembershipOp::kAddServer, 4);
  REQUIRE(o.accepted);
  CHECK(h.core(1).membership().learners == std::vector<NodeId>{NodeId(4)});
  // Configuration takes effect on append (§4.1): the leader counts it at once.
  CHECK(h.core(1).progress(NodeId(4)) != nullptr);
  settle(h, 1, [&] { return is_voter(h.core(1).membership(), NodeId(4)); });
  CHECK(is_voter(h.core(1).membership(), NodeId(4)));
  CHECK(h.core(1).membership().learners.empty());
  settle(h, 1, [&] { return h.core(4).status().voter; });
  CHECK(h.core(4).log().last_index() == h.core(1).log().last_index());
}

TEST_CASE("one membership change at a time; a second is refused with a reason (thesis §4.1)") {
  Harness h(3, Harness::plain_config());
  REQUIRE(h.elect(1));
  h.add_spare(4);
  REQUIRE(h.change(1, MembershipOp::kAddServer, 4).accepted);
  const Outcome second = h.change(1, MembershipOp::kRemoveServer, 2);
  CHECK_FALSE(second.accepted);
  CHECK(second.refusal == Refusal::kChangeInProgress);
  CHECK(h.change(1, MembershipOp::kAddServer, 1).refusal != Refusal::kNone);

  SECTION("the unsafe switch lets it through") {
    Config c = Harness::plain_config();
    c.unsafe.concurrent_config_changes = true;
    Harness g(3, c);
    REQUIRE(g.elect(1));
    g.add_spare(4);
    REQUIRE(g.change(1, MembershipOp::kAddServer, 4).accepted);
    CHECK(g.change(1, MembershipOp::kRemoveServer, 2).accepted);
  }
}

TEST_CASE("a removed leader leads until the change commits, then steps down (thesis §4.2.2)") {
  Harness h(3, Harness::plain_config());
  REQUIRE(h.elect(1));
  REQUIRE(h.change(1, MembershipOp::kRemoveServer, 1).accepted);
  CHECK(h.core(1).role() == Role::kLeader);
  CHECK_FALSE(is_voter(h.core(1).membership(), NodeId(1)));
  h.stabilize();
  CHECK(h.core(1).role() == Role::kFollower);
  // The remaining two elect a leader among themselves; node 1 never campaigns again.
  h.fire_election_timeout(2);
  h.stabilize();
  h.tick(1, 100);
  h.stabilize();
  CHECK(h.core(2).role() == Role::kLeader);
  CHECK(h.core(1).term() <= h.core(2).term());
}

TEST_CASE("config changes are undone when the entry carrying them is truncated (§4.1)") {
  Harness h(3, Harness::plain_config());
  REQUIRE(h.elect(1));
  h.add_spare(4);
  h.isolate(1);
  REQUIRE(h.change(1, MembershipOp::kAddServer, 4).accepted);  // never leaves node 1
  h.stabilize();
  h.crash(1);
  h.heal();
  h.fire_election_timeout(2);
  h.stabilize();
  REQUIRE(h.core(2).role() == Role::kLeader);
  h.propose(2, "x");
  h.stabilize();
  h.restart(1);
  CHECK(is_member(h.core(1).membership(), NodeId(4)));
  settle(h, 2, [&] { return h.core(1).log().last_index() == h.core(2).log().last_index(); });
  CHECK_FALSE(is_member(h.core(1).membership(), NodeId(4)));
}

TEST_CASE("membership text round-trips and rejects garbage") {
  Membership m{{NodeId(1), NodeId(2)}, {NodeId(7)}};
  Membership back;
  REQUIRE(decode_membership(encode_membership(m), back));
  CHECK(back == m);
  for (const char* bad : {"", "voters=", "voters=1,;learners=", "voters=a;learners=",
                          "voters=0;learners=", "learners=1;voters=2"}) {
    Membership out;
    CHECK_FALSE(decode_membership(bad, out));
  }
  Membership empty_learners;
  REQUIRE(decode_membership("voters=3;learners=", empty_learners));
  CHECK(empty_learners.voters == std::vector<NodeId>{NodeId(3)});
}

}  // namespace raftlab::testing
