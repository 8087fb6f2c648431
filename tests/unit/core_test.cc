// Unit tests of the Raft core, named after the section of the paper (§) or of Ongaro's thesis
// they test. Each drives a hand-run Harness, so every message is delivered when the test says.
#include <catch2/catch.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/harness.h"

namespace raftlab::testing {
namespace {

Message vote_request(int from, int to, uint64_t term, uint64_t last_index, uint64_t last_term) {
  Message m;
  m.type = MessageType::kRequestVote;
  m.from = NodeId(from);
  m.to = NodeId(to);
  m.term = Term(term);
  m.last_log_index = Index(last_index);
  m.last_log_term = Term(last_term);
  return m;
}

std::vector<Message> sent_by(const Ready& r) {
  std::vector<Message> out = r.messages;
  out.insert(out.end(), r.messages_after_persist.begin(), r.messages_after_persist.end());
  return out;
}

Restored log_with_terms(const std::vector<uint64_t>& terms, uint64_t hard_term) {
  Restored r;
  for (size_t i = 0; i < terms.size(); ++i) {
    r.entries.push_back(Entry{.term = Term(terms[i]),
                              .index = Index(i + 1),
                              .type = EntryType::kNormal,
                              .data = "e" + std::to_string(i + 1)});
  }
  r.hard_state.term = Term(hard_term);
  return r;
}

Config config_for(int id, int count, Config c = Harness::plain_config()) {
  c.id = NodeId(id);
  c.voters.clear();
  for (int i = 1; i <= count; ++i) c.voters.push_back(NodeId(i));
  return c;
}

}  // namespace

TEST_CASE("election timeout is drawn anew in [min, max) at every reset (§5.2)") {
  std::set<int> timeouts;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    Config c = config_for(1, 3);
    c.seed = seed;
    Core core(c);
    int ticks = 0;
    while (core.role() == Role::kFollower && ticks < 100) {
      core.step(Tick{});
      ++ticks;
    }
    CHECK(ticks >= static_cast<int>(c.election_ticks_min));
    CHECK(ticks < static_cast<int>(c.election_ticks_max));
    timeouts.insert(ticks);
    // A second timeout after the reset is drawn again (a candidate retries).
    int again = 0;
    const Term first = core.term();
    while (core.term() == first && again < 100) {
      core.step(Tick{});
      ++again;
    }
    CHECK(again >= static_cast<int>(c.election_ticks_min));
    CHECK(again < static_cast<int>(c.election_ticks_max));
  }
  CHECK(timeouts.size() >= 5);  // randomized, not one fixed value
}

TEST_CASE("the same seed replays the same election timeouts (no global randomness)") {
  auto first_timeout = [](uint64_t seed) {
    Config c = config_for(2, 3);
    c.seed = seed;
    Core core(c);
    int ticks = 0;
    while (core.role() == Role::kFollower && ticks < 100) {
      core.step(Tick{});
      ++ticks;
    }
    return ticks;
  };
  for (uint64_t seed = 1; seed <= 10; ++seed) CHECK(first_timeout(seed) == first_timeout(seed));
}

TEST_CASE("a candidate that wins a majority becomes leader and appends a no-op (§5.2, §8)") {
  Harness h(3, Harness::plain_config());
  REQUIRE(h.elect(1));
  CHECK(h.core(1).term() == Term(1));
  CHECK(h.core(1).log().last_index() == Index(1));
  CHECK(h.core(1).log().at(Index(1)).type == EntryType::kNoop);
  CHECK(h.core(2).leader() == NodeId(1));
  CHECK(h.core(1).commit() == Index(1));
}

TEST_CASE("a node grants at most one vote per term (§5.2)") {
  Core core(config_for(1, 3));
  Ready r = core.step(Receive{vote_request(2, 1, 5, 0, 0)});
  REQUIRE(sent_by(r).size() == 1);
  CHECK_FALSE(sent_by(r)[0].reject);
  CHECK(core.status().vote == NodeId(2));
  r = core.step(Receive{vote_request(3, 1, 5, 0, 0)});
  REQUIRE(sent_by(r).size() == 1);
  CHECK(sent_by(r)[0].reject);
  // A repeat of the granted request is granted again (the answer may have been lost).
  r = core.step(Receive{vote_request(2, 1, 5, 0, 0)});
  CHECK_FALSE(sent_by(r)[0].reject);
}

TEST_CASE("a vote goes only to a candidate whose log is at least as up to date (§5.4.1)") {
  // Our log ends at index 3, term 2.
  auto fresh = [] { return Core(config_for(1, 3), log_with_terms({1, 2, 2}, 2)); };
  SECTION("lower last term: refused even if longer") {
    Core core = fresh();
    const Ready r = core.step(Receive{vote_request(2, 1, 3, 10, 1)});
    CHECK(sent_by(r)[0].reject);
  }
  SECTION("same last term, shorter: refused") {
    Core core = fresh();
    const Ready r = core.step(Receive{vote_request(2, 1, 3, 2, 2)});
    CHECK(sent_by(r)[0].reject);
  }
  SECTION("same last term, as long: granted") {
    Core core = fresh();
    const Ready r = core.step(Receive{vote_request(2, 1, 3, 3, 2)});
    CHECK_FALSE(sent_by(r)[0].reject);
  }
  SECTION("higher last term, shorter: granted") {
    Core core = fresh();
    const Ready r = core.step(Receive{vote_request(2, 1, 3, 1, 3)});
    CHECK_FALSE(sent_by(r)[0].reject);
  }
  SECTION("the unsafe switch skips the check (for the mutation tests only)") {
    Config c = config_for(1, 3);
    c.unsafe.vote_without_log_check = true;
    Core core(c, log_with_terms({1, 2, 2}, 2));
    const Ready r = core.step(Receive{vote_request(2, 1, 3, 10, 1)});
    CHECK_FALSE(sent_by(r)[0].reject);
  }
}

TEST_CASE("a message with a higher term makes any role a follower of that term (§5.1)") {
  Harness h(3, Harness::plain_config());
  REQUIRE(h.elect(1));
  Message m;
  m.type = MessageType::kHeartbeatResponse;
  m.from = NodeId(2);
  m.to = NodeId(1);
  m.term = Term(7);
  h.step(1, Receive{m});
  CHECK(h.core(1).role() == Role::kFollower);
  CHECK(h.core(1).term() == Term(7));
  CHECK(h.core(1).status().vote == kNoNode);
}

TEST_CASE("a message from an older term changes nothing (§5.1)") {
  Harness h(3, Harness::plain_config());
  REQUIRE(h.elect(1));
  h.campaign(2);  // term 2
  h.take_mailbox();
  Message m;
  m.type = MessageType::kAppendEntries;
  m.from = NodeId(1);
  m.to = NodeId(2);
  m.term = Term(1);
  h.step(2, Receive{m});
  CHECK(h.core(2).role() == Role::kCandidate);
  CHECK(h.core(2).term() == Term(2));
}

TEST_CASE(
    "votes and log answers wait for persistence; the leader's appends do not (thesis §10.2.1)") {
  Core follower(config_for(2, 3));
  Ready r = follower.step(Receive{vote_request(1, 2, 1, 0, 0)});
  REQUIRE(r.hard_state.has_value());
  CHECK(r.messages.empty());
  REQUIRE(r.messages_after_persist.size() == 1);
  CHECK(r.messages_after_persist[0].type == MessageType::kRequestVoteResponse);
  CHECK(r.persist_id == 1);

  SECTION("the unsafe switch sends the vote before it is durable") {
    Config c = config_for(2, 3);
    c.unsafe.vote_before_persist = true;
    Core unsafe(c);
    r = unsafe.step(Receive{vote_request(1, 2, 1, 0, 0)});
    CHECK(r.messages.size() == 1);
  }

  SECTION("a leader sends AppendEntries at once, but commits only after Persisted") {
    Config c = config_for(1, 3);
    Core leader(c);
    leader.step(Campaign{});
    Ready p = leader.step(Persisted{1});  // the self-vote is durable: counts now
    for (int peer : {2, 3}) {
      Message g;
      g.type = MessageType::kRequestVoteResponse;
      g.from = NodeId(peer);
      g.to = NodeId(1);
      g.term = Term(1);
      p = leader.step(Receive{g});
      if (leader.role() == Role::kLeader) break;
    }
    REQUIRE(leader.role() == Role::kLeader);
    REQUIRE(p.entries.size() == 1);  // the no-op, to persist
    CHECK(p.messages.size() == 2);   // sent in parallel with the write
    const uint64_t noop_write = p.persist_id;
    Message ack;
    ack.type = MessageType::kAppendEntriesResponse;
    ack.from = NodeId(2);
    ack.to = NodeId(1);
    ack.term = Term(1);
    ack.match_index = Index(1);
    Ready a = leader.step(Receive{ack});
    CHECK(leader.commit() == Index(0));  // one follower + a leader whose copy is not durable
    a = leader.step(Persisted{noop_write});
    CHECK(leader.commit() == Index(1));
    REQUIRE(a.committed.size() == 1);
  }
}

TEST_CASE("a candidate counts its own vote only once it is durable (thesis §10.2.1)") {
  Config c = config_for(1, 1);  // one node: its own vote is a majority
  Core core(c);
  Ready r = core.step(Campaign{});
  CHECK(core.role() == Role::kCandidate);
  r = core.step(Persisted{r.persist_id});
  CHECK(core.role() == Role::kLeader);
  r = core.step(Persisted{r.persist_id});
  CHECK(core.commit() == Index(1));
}

TEST_CASE("a follower rejects AppendEntries whose previous entry does not match (§5.3)") {
  Core f(config_for(2, 3), log_with_terms({1, 1, 2}, 3));
  Message m;
  m.type = MessageType::kAppendEntries;
  m.from = NodeId(1);
  m.to = NodeId(2);
  m.term = Term(3);
  m.prev_log_index = Index(3);
  m.prev_log_term = Term(3);
  Ready r = f.step(Receive{m});
  const std::vector<Message> sent = sent_by(r);
  REQUIRE(sent.size() == 1);
  const Message& resp = sent[0];
  CHECK(resp.reject);
  CHECK(resp.rejected_index == Index(3));
  CHECK(resp.conflict_term == Term(2));    // our term at index 3
  CHECK(resp.conflict_index == Index(3));  // where term 2 starts in our log

  m.prev_log_index = Index(9);  // beyond our log
  r = f.step(Receive{m});
  CHECK(sent_by(r)[0].conflict_term == Term(0));
  CHECK(sent_by(r)[0].conflict_index == Index(4));
}

TEST_CASE("a conflicting suffix is deleted and replaced by the leader's entries (§5.3)") {
  Core f(config_for(2, 3), log_with_terms({1, 1, 2, 2}, 3));
  Message m;
  m.type = MessageType::kAppendEntries;
  m.from = NodeId(1);
  m.to = NodeId(2);
  m.term = Term(3);
  m.prev_log_index = Index(2);
  m.prev_log_term = Term(1);
  m.entries = {Entry{.term = Term(3), .index = Index(3), .type = EntryType::kNormal, .data = "x"}};
  const Ready r = f.step(Receive{m});
  CHECK(f.log().last_index() == Index(3));
  CHECK(f.log().at(Index(3)).data == "x");
  REQUIRE(r.entries.size() == 1);
  CHECK(r.entries[0].index == Index(3));  // the host discards its stored 3 and 4
  CHECK(sent_by(r)[0].match_index == Index(3));

  SECTION("a stale, shorter AppendEntries does not truncate what follows") {
    m.entries = {};
    m.prev_log_index = Index(1);
    const Ready r2 = f.step(Receive{m});
    CHECK(f.log().last_index() == Index(3));
    CHECK(r2.entries.empty());
  }
}

TEST_CASE("a follower commits only as far as the message proved its log matches (Figure 2)") {
  // Our stale suffix (term 2 at 3..4) must not be committed on the word of a term-3 leader
  // whose commit is 4 but who only proved index 2.
  Core f(config_for(2, 3), log_with_terms({1, 1, 2, 2}, 3));
  Message m;
  m.type = MessageType::kAppendEntries;
  m.from = NodeId(1);
  m.to = NodeId(2);
  m.term = Term(3);
  m.prev_log_index = Index(2);
  m.prev_log_term = Term(1);
  m.commit = Index(4);
  f.step(Receive{m});
  CHECK(f.commit() == Index(2));
}

TEST_CASE("fast backup repairs 50 divergent entries in round trips per term (§5.3)") {
  Harness h(3, Harness::plain_config());
  REQUIRE(h.elect(1));  // term 1: no-op at 1, then 49 entries everyone holds
  for (int i = 0; i < 49; ++i) h.propose(1, "common" + std::to_string(i));
  h.stabilize();
  REQUIRE(h.core(2).log().last_index() == Index(50));

  // Node 2 wins term 2, then is cut off at once and appends 50 entries no one else will hold.
  h.campaign(2);
  h.deliver_once();   // the vote requests
  h.deliver_once(2);  // the grants
  REQUIRE(h.core(2).role() == Role::kLeader);
  h.isolate(2);
  for (int i = 0; i < 49; ++i) h.propose(2, "lost" + std::to_string(i));
  h.stabilize();  // all dropped
  h.heal();
  REQUIRE(h.core(2).log().last_index() == Index(100));
  h.crash(2);

  // Node 3 leads term 3 and appends 60 more; then node 1 leads term 4, so its guess of node
  // 2's next index starts far beyond node 2's divergent suffix.
  REQUIRE(h.elect(3));
  for (int i = 0; i < 60; ++i) h.propose(3, "new" + std::to_string(i));
  h.stabilize();
  REQUIRE(h.elect(1));
  h.restart(2);

  const uint64_t rejections_before = h.rejections_delivered();
  for (int round = 0; round < 10 && h.core(2).log().entries() != h.core(1).log().entries();
       ++round) {
    h.tick(1);
    h.stabilize();
  }
  CHECK(h.core(2).log().entries() == h.core(1).log().entries());
  // One rejection for "too short", one for the whole divergent term 2: not one per entry.
  CHECK(h.rejections_delivered() - rejections_before <= 3);
}

TEST_CASE("AppendEntries carry at most the named entries and bytes (batching, thesis §10.2)") {
  Config c = Harness::plain_config();
  c.entries_per_msg_max = 8;
  c.bytes_per_msg_max = 100;
  Harness h(3, c);
  REQUIRE(h.elect(1));
  h.isolate(2);
  for (int i = 0; i < 40; ++i) h.propose(1, std::string(10, 'a'));  // 10 bytes each
  h.take_mailbox();
  h.heal();
  // Two heartbeat rounds without progress tell the leader its pipeline to node 2 was lost;
  // it probes again and sends what node 2 lacks in bounded batches.
  for (int round = 0; round < 2; ++round) {
    h.tick(1);
    h.deliver_once();  // heartbeats
    h.deliver_once();  // answers
  }
  bool saw_batch = false;
  for (const Message& m : h.mailbox()) {
    if (m.type != MessageType::kAppendEntries) continue;
    CHECK(m.entries.size() <= 8);
    uint64_t bytes = 0;
    for (const Entry& e : m.entries) bytes += e.data.size();
    CHECK(bytes <= 100);
    saw_batch = saw_batch || m.entries.size() == 8;
  }
  CHECK(saw_batch);
  h.stabilize();
  CHECK(h.core(2).log().last_index() == h.core(1).log().last_index());

  SECTION("one entry larger than the byte bound still goes, alone") {
    h.propose(1, std::string(500, 'b'));
    bool alone = false;
    for (const Message& m : h.mailbox()) alone = alone || m.entries.size() == 1;
    CHECK(alone);
    h.stabilize();
    CHECK(h.core(3).log().last_index() == h.core(1).log().last_index());
  }
}

TEST_CASE(
    "pipelining: at most inflight_msgs_max unacknowledged messages per follower (thesis §10.2)") {
  Config c = Harness::plain_config();
  c.inflight_msgs_max = 4;
  c.entries_per_msg_max = 1;
  Harness h(3, c);
  REQUIRE(h.elect(1));
  h.take_mailbox();
  for (int i = 0; i < 10; ++i) h.propose(1, "p" + std::to_string(i));
  int to_2 = 0;
  for (const Message& m : h.mailbox())
    to_2 += m.type == MessageType::kAppendEntries && m.to == NodeId(2);
  CHECK(to_2 == 4);  // the window, not 10
  REQUIRE(h.core(1).progress(NodeId(2))->state == ProgressState::kReplicate);
  CHECK(h.core(1).progress(NodeId(2))->inflight.size() == 4);
  h.stabilize();
  CHECK(h.core(2).log().last_index() == Index(11));
  CHECK(h.core(1).progress(NodeId(2))->inflight.empty());

  SECTION("a rejection puts the follower back in the probe state") {
    h.crash(2);
    h.restart(2);
    for (int i = 0; i < 3; ++i) h.propose(1, "q" + std::to_string(i));
    h.take_mailbox();  // all lost
    // A heartbeat round with messages in flight and no progress means loss: probe again.
    h.tick(1);
    h.stabilize();
    h.tick(1);
    h.deliver_once();
    h.deliver_once();
    CHECK(h.core(1).progress(NodeId(2))->state == ProgressState::kProbe);
    h.stabilize();
    CHECK(h.core(2).log().last_index() == h.core(1).log().last_index());
  }
}

TEST_CASE("PreVote: a node that cannot win does not raise its term (thesis §9.6)") {
  Harness h(3);  // PreVote and CheckQuorum on: the defaults
  REQUIRE(h.elect(1));
  h.isolate(3);
  for (int i = 0; i < 5; ++i) {
    h.fire_election_timeout(3);
    h.stabilize();
  }
  CHECK(h.core(3).term() == Term(1));
  CHECK(h.core(3).role() == Role::kPreCandidate);
  h.heal();
  h.tick(1);
  h.stabilize();
  CHECK(h.core(1).role() == Role::kLeader);
  CHECK(h.core(1).term() == Term(1));
  CHECK(h.core(3).role() == Role::kFollower);

  SECTION("without PreVote the same partition forces a new election on return") {
    Config c = Harness::default_config();
    c.pre_vote = false;
    c.check_quorum = false;
    Harness g(3, c);
    REQUIRE(g.elect(1));
    g.isolate(3);
    g.fire_election_timeout(3);
    g.stabilize();
    CHECK(g.core(3).term() == Term(2));
    g.heal();
    g.tick(1);
    g.stabilize();  // the old leader hears term 2 and steps down
    CHECK(g.core(1).term() == Term(2));
  }
}

TEST_CASE("CheckQuorum: a leader cut off from a majority steps down within two timeouts") {
  Harness h(5);
  REQUIRE(h.elect(1));
  h.isolate(1);
  int ticks = 0;
  while (h.core(1).role() == Role::kLeader && ticks < 100) {
    h.tick(1);
    h.take_mailbox();
    ++ticks;
  }
  CHECK(h.core(1).role() == Role::kFollower);
  CHECK(ticks <= 2 * 10);

  SECTION("switched off, the cut-off leader stays leader") {
    Config c = Harness::default_config();
    c.check_quorum = false;
    Harness g(5, c);
    REQUIRE(g.elect(1));
    g.isolate(1);
    g.tick(1, 100);
    CHECK(g.core(1).role() == Role::kLeader);
  }
}

TEST_CASE(
    "CheckQuorum lease: a follower that hears its leader ignores a disruptive vote request "
    "(§4.2.3)") {
  Harness h(3);
  REQUIRE(h.elect(1));
  const Ready r = h.core(2).step(Receive{vote_request(3, 2, 9, 100, 9)});
  CHECK(sent_by(r).empty());
  CHECK(h.core(2).term() == Term(1));
}

TEST_CASE("committed entries are handed out once each, in order, only when durable (ready.h)") {
  Harness h(3, Harness::plain_config());
  REQUIRE(h.elect(1));
  for (int i = 0; i < 20; ++i) h.propose(1, "c" + std::to_string(i));
  h.stabilize();
  h.tick(1);
  h.stabilize();
  for (int id : {1, 2, 3}) {
    const auto& applied = h.node(id).applied;
    REQUIRE(applied.size() == 21);
    for (size_t i = 0; i < applied.size(); ++i) CHECK(applied[i].index == Index(i + 1));
  }
  SECTION("after a restart, the committed prefix is handed out again from the start") {
    h.crash(2);
    h.restart(2);
    h.tick(2);
    CHECK(h.node(2).applied.size() == 21);
  }
}

TEST_CASE("a core refuses a restored state that contradicts itself") {
  Restored r = log_with_terms({1, 1}, 1);
  r.hard_state.commit = Index(5);
  CHECK_THROWS_AS(Core(config_for(1, 3), r), std::invalid_argument);
  Restored future = log_with_terms({1, 4}, 2);
  CHECK_THROWS_AS(Core(config_for(1, 3), future), std::invalid_argument);
  Restored gap = log_with_terms({1, 1}, 1);
  gap.snapshot = Snapshot{SnapshotMeta{Index(5), Term(1), {}}, 0, {}};
  gap.entries.erase(gap.entries.begin());  // entries 2.. after a snapshot at 5: fine (trailing)
  CHECK_NOTHROW(Core(config_for(1, 3), gap));
  Restored hole;
  hole.hard_state.term = Term(1);
  hole.snapshot = Snapshot{SnapshotMeta{Index(5), Term(1), {}}, 0, {}};
  hole.entries.push_back(Entry{.term = Term(1),
                               .index = Index(8),
                               .type = EntryType::kNormal,
                               .data = "x"});  // 6, 7 missing
  CHECK_THROWS_AS(Core(config_for(1, 3), hole), std::invalid_argument);
}

TEST_CASE("a server outside the configuration never campaigns (thesis §4.2.1)") {
  Config joining = config_for(1, 3);
  joining.id = NodeId(9);  // a new server, waiting to be added
  Core core(joining);
  for (int i = 0; i < 200; ++i) core.step(Tick{});
  CHECK(core.role() == Role::kFollower);
  CHECK(core.term() == Term(0));
  core.step(Campaign{});
  CHECK(core.term() == Term(0));
}

TEST_CASE("a proposal to a non-leader is refused with a leader hint (§8)") {
  Harness h(3, Harness::plain_config());
  REQUIRE(h.elect(1));
  const Outcome o = h.propose(2, "x");
  CHECK_FALSE(o.accepted);
  CHECK(o.leader_hint == NodeId(1));
  const Outcome ok = h.propose(1, "x");
  CHECK(ok.accepted);
  CHECK(ok.first_index == Index(2));
  CHECK(ok.term == Term(1));
}

TEST_CASE("the unsafe apply_twice switch really hands an entry out twice") {
  Config c = Harness::plain_config();
  c.unsafe.apply_twice = true;
  Harness h(1, c);
  h.campaign(1);
  for (int i = 0; i < 6; ++i) h.propose(1, "d" + std::to_string(i));
  const auto& applied = h.node(1).applied;
  std::set<uint64_t> distinct;
  for (const Entry& e : applied) distinct.insert(e.index.get());
  CHECK(distinct.size() < applied.size());
}

}  // namespace raftlab::testing
