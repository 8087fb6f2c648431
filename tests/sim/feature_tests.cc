// Scenarios for issue #3's features on the simulator: the snapshot livelock, ReadIndex reads,
// leadership transfer and membership changes. Every run is also checked after every event by
// the cluster's safety checkers (including read linearizability and snapshot state); these
// tests add what must happen (liveness, bounds, refusals).
//
// Timing as in the MIT tests: tick 10 ms, heartbeat 100 ms, election timeout 300-600 ms.
// RAFTLAB_SEED=S replays a scenario with seed S (default 1).
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/sim/sim.h"
#include "tests/sim/soak.h"

namespace raftlab::sim {
namespace {

constexpr uint64_t kElectionMs = 600;            // the election timeout's upper end
constexpr uint64_t kLeaderWaitMs = 5'000;        // a leader within this (MIT's bound)
constexpr uint64_t kCommitWaitMs = 10'000;       // a command applied within this (MIT's one())
constexpr uint64_t kLivelockCatchupMs = 30'000;  // the lagging follower catches up within this

SimConfig scenario_config(int nodes, int voters, const std::string& name) {
  SimConfig sc;
  sc.nodes_count = nodes;
  sc.voters_count = voters;
  sc.seed = env_seed().value_or(1);
  sc.tick_ms = 10;
  sc.core.heartbeat_ticks = 10;
  sc.core.election_ticks_min = 30;
  sc.core.election_ticks_max = 60;
  sc.commands_unique = true;
  sc.replay_test_name = name;
  return sc;
}

void require_ok(const Cluster& c) {
  if (!c.ok()) FAIL(c.report());
}

// The single live leader, waiting up to kLeaderWaitMs; fails the test if none.
NodeId leader_of(Cluster& c) {
  c.run_until([&] { return c.single_leader() != -1; }, kLeaderWaitMs);
  require_ok(c);
  if (c.single_leader() == -1) FAIL("no single leader within " << kLeaderWaitMs << " ms");
  return Cluster::node_id(c.single_leader());
}

bool applied_on(const Cluster& c, NodeId id, uint64_t index, const std::string& command) {
  const std::vector<Entry>& a = c.applied(id);
  return a.size() >= index && a[index - 1].data == command;
}

// Proposes `command` at the current leader and waits until every node in `nodes` applied it.
uint64_t commit(Cluster& c, const std::string& command, const std::vector<NodeId>& nodes) {
  const uint64_t deadline = c.now_ms() + kCommitWaitMs;
  while (c.now_ms() < deadline) {
    const NodeId leader = leader_of(c);
    const Outcome out = c.propose(leader, {command});
    require_ok(c);
    if (!out.accepted) {
      c.run_for(50);
      continue;
    }
    const uint64_t index = out.first_index.get();
    const auto done = [&] {
      for (NodeId id : nodes) {
        if (!applied_on(c, id, index, command)) return false;
      }
      return true;
    };
    if (c.run_until(done, 2'000)) return index;
    require_ok(c);
  }
  FAIL("\"" << command << "\" not applied on every expected node within " << kCommitWaitMs
            << " ms\n"
            << c.report());
  return 0;
}

std::vector<NodeId> ids(std::initializer_list<int> numbers) {
  std::vector<NodeId> out;
  for (int n : numbers) out.push_back(NodeId(static_cast<uint64_t>(n)));
  return out;
}

// Waits for the read to finish; returns its result (fails the test if it never finishes).
ReadResult wait_read(Cluster& c, uint64_t read_id, uint64_t timeout_ms) {
  if (read_id == 0) FAIL("read on a node that is down");
  c.run_until(
      [&] {
        const ReadResult* r = c.read_result(read_id);
        return r != nullptr && r->done;
      },
      timeout_ms);
  require_ok(c);
  const ReadResult* r = c.read_result(read_id);
  REQUIRE(r != nullptr);
  return *r;
}

void finish(Cluster& c) {
  c.check_committed_durable(true);
  require_ok(c);
  const Stats& st = c.stats();
  std::printf(
      "%s: seed %llu, %.1f s simulated, %llu messages, %zu committed, %llu snapshot installs, "
      "%llu reads served, final state hash %016llx\n",
      c.config().replay_test_name.c_str(), static_cast<unsigned long long>(c.seed()),
      static_cast<double>(c.now_ms()) / 1000, static_cast<unsigned long long>(st.messages_sent),
      c.committed().size(), static_cast<unsigned long long>(st.snapshots_installed),
      static_cast<unsigned long long>(st.reads_served),
      static_cast<unsigned long long>(c.state_hash()));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Snapshots: the livelock of hashicorp/raft#704 and braft#423. A follower far behind needs a
// snapshot that takes several election timeouts to send (big bytes, small chunks, a slow link)
// while the leader keeps taking writes and snapshotting. A leader that restarted the transfer
// with each new snapshot, or compacted away what the transfer needs next, would never finish.

TEST_CASE("snapshot livelock: a lagging follower catches up under a big snapshot",
          "[feature][snapshot][livelock]") {
  SimConfig sc = scenario_config(3, 3,
                                 "snapshot livelock: a lagging follower catches up under a "
                                 "big snapshot");
  sc.snapshot_every = 20;
  sc.snapshot_padding_bytes = 256 * 1024;
  sc.core.snapshot_chunk_bytes_max = 1024;  // 257 chunks per snapshot
  sc.core.inflight_msgs_max = 4;
  sc.core.snapshot_trailing_entries = 5;
  Cluster c(sc);
  const NodeId victim(3);
  commit(c, "x=0", ids({1, 2, 3}));
  c.disconnect(victim);
  uint64_t counter = 1;
  for (int k = 0; k < 60; ++k) commit(c, "x=" + std::to_string(counter++), ids({1, 2}));
  // Reconnect over a slow link: 40 ms each way, so one round of 4 chunks takes ~80 ms and the
  // whole snapshot ~5 s, about ten election timeouts.
  c.connect(victim);
  LinkRule slow_in;
  slow_in.to = {victim};
  slow_in.fault.delay_ms = 40;
  c.faults().set_link(slow_in);
  LinkRule slow_out;
  slow_out.from = {victim};
  slow_out.fault.delay_ms = 40;
  c.faults().set_link(slow_out);
  const uint64_t start_ms = c.now_ms();
  const uint64_t installs_before = c.stats().snapshots_installed;
  // Keep writing (a command every 50 ms, a snapshot every 20 entries) until the victim has
  // applied everything committed before it came back, within the bound.
  const uint64_t target = c.committed().size();
  while (c.kv(victim).applied() < target && c.now_ms() - start_ms < kLivelockCatchupMs) {
    const int leader = c.single_leader();
    if (leader != -1) c.propose(Cluster::node_id(leader), {"x=" + std::to_string(counter++)});
    c.run_for(50);
    require_ok(c);
  }
  INFO("victim applied " << c.kv(victim).applied() << " of " << target << " after "
                         << c.now_ms() - start_ms << " ms");
  REQUIRE(c.kv(victim).applied() >= target);
  REQUIRE(c.stats().snapshots_installed > installs_before);
  REQUIRE(c.now_ms() - start_ms > kElectionMs);  // it really was longer than a timeout
  std::printf("livelock: caught up in %llu ms, %llu snapshots taken meanwhile\n",
              static_cast<unsigned long long>(c.now_ms() - start_ms),
              static_cast<unsigned long long>(c.stats().snapshots_taken));
  c.faults().heal_all();
  commit(c, "x=end", ids({1, 2, 3}));
  finish(c);
}

// ---------------------------------------------------------------------------------------------
// ReadIndex (thesis §6.4). Every served read is checked for linearizability by the cluster.

TEST_CASE("ReadIndex: leader and follower reads return the latest committed write",
          "[feature][read]") {
  Cluster c(scenario_config(3, 3,
                            "ReadIndex: leader and follower reads return the latest "
                            "committed write"));
  commit(c, "x=1", ids({1, 2, 3}));
  const NodeId leader = leader_of(c);
  const NodeId follower = Cluster::node_id((static_cast<int>(leader.get()) % 3));
  ReadResult r = wait_read(c, c.read(leader, "x"), 2'000);
  REQUIRE(r.served);
  REQUIRE(r.value == "1");
  const uint64_t index = commit(c, "x=2", ids({1, 2, 3}));
  r = wait_read(c, c.read(follower, "x"), 2'000);
  REQUIRE(r.served);
  REQUIRE(r.value == "2");
  REQUIRE(r.value_index == index);
  // A read right after a write is acknowledged by the leader alone: the follower must wait
  // for its apply before answering, and still see the write.
  const Outcome out = c.propose(leader, {"x=3"});
  REQUIRE(out.accepted);
  c.run_until([&] { return c.kv(leader).applied() >= out.first_index.get(); }, 2'000);
  r = wait_read(c, c.read(follower, "x"), 2'000);
  REQUIRE(r.served);
  REQUIRE(r.value == "3");
  finish(c);
}

TEST_CASE("ReadIndex: a deposed leader cannot serve a read", "[feature][read]") {
  SimConfig sc = scenario_config(5, 5, "ReadIndex: a deposed leader cannot serve a read");
  sc.core.check_quorum = false;  // so the isolated leader keeps believing it leads
  Cluster c(sc);
  commit(c, "x=1", ids({1, 2, 3, 4, 5}));
  const NodeId old = leader_of(c);
  c.faults().isolate(old);
  // The majority elects a new leader and commits a newer value.
  const bool elected = c.run_until(
      [&] {
        for (int i = 0; i < c.size(); ++i) {
          const Core* core = c.core(Cluster::node_id(i));
          if (Cluster::node_id(i) != old && core && core->role() == Role::kLeader) return true;
        }
        return false;
      },
      kLeaderWaitMs);
  REQUIRE(elected);
  REQUIRE(c.core(old)->role() == Role::kLeader);
  NodeId fresh;
  for (int i = 0; i < c.size(); ++i) {
    const Core* core = c.core(Cluster::node_id(i));
    if (Cluster::node_id(i) != old && core->role() == Role::kLeader) fresh = Cluster::node_id(i);
  }
  const Outcome out = c.propose(fresh, {"x=2"});
  REQUIRE(out.accepted);
  c.run_until([&] { return c.committed().size() >= out.first_index.get(); }, 2'000);
  // The old leader cannot confirm its leadership: its read fails (times out), never served.
  const ReadResult stale = wait_read(c, c.read(old, "x"), 5 * kElectionMs);
  REQUIRE(stale.done);
  REQUIRE_FALSE(stale.served);
  const ReadResult r = wait_read(c, c.read(fresh, "x"), 2'000);
  REQUIRE(r.served);
  REQUIRE(r.value == "2");
  c.faults().heal_all();
  commit(c, "x=3", ids({1, 2, 3, 4, 5}));
  finish(c);
}

TEST_CASE("ReadIndex: reads under message loss, partitions and leader crashes", "[feature][read]") {
  SimConfig sc = scenario_config(5, 5,
                                 "ReadIndex: reads under message loss, partitions and "
                                 "leader crashes");
  sc.snapshot_every = 15;
  sc.core.snapshot_trailing_entries = 3;
  Cluster c(sc);
  Prng rng(derive_seed(sc.seed, 77));
  LinkRule lossy;
  lossy.fault.loss = 0.15;
  lossy.fault.jitter_ms = 20;
  c.faults().set_link(lossy);
  uint64_t counter = 0;
  for (int round = 0; round < 400 && c.ok(); ++round) {
    const int leader = c.single_leader();
    const std::string key = "k" + std::to_string(rng.uniform(0, 3));
    if (leader != -1) {
      c.propose(Cluster::node_id(leader), {key + "=v" + std::to_string(counter++)});
    }
    const NodeId reader = Cluster::node_id(static_cast<int>(rng.uniform(0, 5)));
    c.read(reader, key);
    c.run_for(rng.uniform(10, 60));
    if (rng.chance(0.03) && leader != -1) c.crash(Cluster::node_id(leader));
    if (rng.chance(0.03) && leader != -1) c.faults().isolate(Cluster::node_id(leader));
    if (rng.chance(0.05)) {
      c.faults().heal();
      for (int i = 0; i < 5; ++i) c.restart(Cluster::node_id(i));
    }
  }
  require_ok(c);
  c.faults().heal_all();
  for (int i = 0; i < 5; ++i) c.restart(Cluster::node_id(i));
  commit(c, "k0=final", ids({1, 2, 3, 4, 5}));
  INFO("reads served " << c.stats().reads_served << ", failed " << c.stats().reads_failed);
  REQUIRE(c.stats().reads_served > 100);
  finish(c);
}

// ---------------------------------------------------------------------------------------------
// Leadership transfer (thesis §3.10).

TEST_CASE("transfer: to a live node succeeds within an election timeout", "[feature][transfer]") {
  Cluster c(scenario_config(3, 3, "transfer: to a live node succeeds within an election timeout"));
  commit(c, "x=1", ids({1, 2, 3}));
  const NodeId old = leader_of(c);
  const NodeId target = Cluster::node_id(static_cast<int>(old.get()) % 3);
  const uint64_t start_ms = c.now_ms();
  REQUIRE(c.transfer_leader(old, target).accepted);
  // Writes are held while handing over.
  const Outcome held = c.propose(old, {"x=held"});
  REQUIRE_FALSE(held.accepted);
  REQUIRE(held.refusal == Refusal::kTransferring);
  const bool moved = c.run_until(
      [&] { return c.core(target)->role() == Role::kLeader && c.single_leader() != -1; },
      kElectionMs);
  REQUIRE(moved);
  std::printf("transfer to live node %llu took %llu ms\n",
              static_cast<unsigned long long>(target.get()),
              static_cast<unsigned long long>(c.now_ms() - start_ms));
  commit(c, "x=2", ids({1, 2, 3}));
  REQUIRE(leader_of(c) == target);
  finish(c);
}

TEST_CASE("transfer: to a dead or unreachable lagging node times out and the leader resumes",
          "[feature][transfer]") {
  Cluster c(scenario_config(3, 3,
                            "transfer: to a dead or unreachable lagging node times out and "
                            "the leader resumes"));
  commit(c, "x=1", ids({1, 2, 3}));
  for (const bool dead : {true, false}) {
    const NodeId leader = leader_of(c);
    const NodeId target = Cluster::node_id(static_cast<int>(leader.get()) % 3);
    const NodeId other = Cluster::node_id((static_cast<int>(leader.get()) + 1) % 3);
    if (dead) {
      c.crash(target);
    } else {
      c.disconnect(target);
      commit(c, "x=lag", {leader, other});  // the target falls behind
    }
    const uint64_t start_ms = c.now_ms();
    REQUIRE(c.transfer_leader(leader, target).accepted);
    REQUIRE(c.propose(leader, {"x=held"}).refusal == Refusal::kTransferring);
    // braft#264: the transfer must give up after about an election timeout.
    const bool resumed = c.run_until(
        [&] {
          const Core* core = c.core(leader);
          return core->role() == Role::kLeader && core->status().transfer_target == kNoNode;
        },
        2 * kElectionMs);
    REQUIRE(resumed);
    REQUIRE(c.core(leader)->role() == Role::kLeader);
    std::printf("transfer to %s node gave up after %llu ms\n", dead ? "dead" : "unreachable",
                static_cast<unsigned long long>(c.now_ms() - start_ms));
    const std::string after = dead ? "x=after-dead" : "x=after-lag";
    const Outcome out = c.propose(leader, {after});
    REQUIRE(out.accepted);
    c.run_until([&] { return applied_on(c, other, out.first_index.get(), after); }, 2'000);
    REQUIRE(applied_on(c, other, out.first_index.get(), after));
    c.restart(target);
    c.connect(target);
    commit(c, dead ? "x=healed-dead" : "x=healed-lag", ids({1, 2, 3}));
  }
  finish(c);
}

// ---------------------------------------------------------------------------------------------
// Membership changes (thesis chapter 4): 3 voters and 2 spares.

TEST_CASE("membership: an added spare catches up as a learner and is promoted",
          "[feature][membership]") {
  SimConfig sc = scenario_config(5, 3,
                                 "membership: an added spare catches up as a learner and "
                                 "is promoted");
  sc.snapshot_every = 10;
  sc.core.snapshot_trailing_entries = 2;
  Cluster c(sc);
  for (int k = 0; k < 30; ++k) commit(c, "x=" + std::to_string(k), ids({1, 2, 3}));
  const NodeId leader = leader_of(c);
  const Outcome add = c.change_membership(leader, MembershipOp::kAddServer, NodeId(4));
  REQUIRE(add.accepted);
  // A second change while the first is pending is refused (one at a time, §4.1).
  const Outcome second = c.change_membership(leader, MembershipOp::kAddServer, NodeId(5));
  REQUIRE_FALSE(second.accepted);
  REQUIRE(second.refusal == Refusal::kChangeInProgress);
  REQUIRE(is_member(c.core(leader)->membership(), NodeId(4)));
  REQUIRE_FALSE(is_voter(c.core(leader)->membership(), NodeId(4)));
  const bool promoted = c.run_until(
      [&] {
        const int l = c.single_leader();
        return l != -1 && is_voter(c.core(Cluster::node_id(l))->membership(), NodeId(4)) &&
               c.committed().size() >= add.first_index.get() + 1;
      },
      10 * kElectionMs);
  if (!promoted) {
    for (int i = 0; i < c.size(); ++i) {
      const Core* core = c.core(Cluster::node_id(i));
      if (core == nullptr) continue;
      const Status st = core->status();
      UNSCOPED_INFO("n" << i + 1 << " " << to_string(st.role) << " t" << st.term.get() << " commit "
                        << st.commit.get() << " last " << st.last_index.get() << " ["
                        << describe(st.membership) << "]");
      if (const Progress* pr = core->progress(NodeId(4))) {
        UNSCOPED_INFO("  progress of 4: match " << pr->match.get() << " next " << pr->next.get()
                                                << " state " << to_string(pr->state));
      }
    }
  }
  REQUIRE(promoted);
  REQUIRE(c.stats().snapshots_installed > 0);  // the log it needed was compacted away
  commit(c, "x=with-4", ids({1, 2, 3, 4}));
  // Now node 5 can be added too.
  REQUIRE(c.change_membership(leader_of(c), MembershipOp::kAddServer, NodeId(5)).accepted);
  commit(c, "x=with-5", ids({1, 2, 3, 4, 5}));
  finish(c);
}

TEST_CASE("membership: remove a follower, then the leader", "[feature][membership]") {
  Cluster c(scenario_config(5, 5, "membership: remove a follower, then the leader"));
  commit(c, "x=1", ids({1, 2, 3, 4, 5}));
  NodeId leader = leader_of(c);
  const NodeId follower = Cluster::node_id(static_cast<int>(leader.get()) % 5);
  REQUIRE(c.change_membership(leader, MembershipOp::kRemoveServer, follower).accepted);
  std::vector<NodeId> rest;
  for (int i = 0; i < 5; ++i) {
    if (Cluster::node_id(i) != follower) rest.push_back(Cluster::node_id(i));
  }
  commit(c, "x=2", rest);
  REQUIRE_FALSE(is_member(c.core(leader_of(c))->membership(), follower));
  // The leader removes itself: it keeps leading until the change commits, then steps down.
  leader = leader_of(c);
  const Outcome out = c.change_membership(leader, MembershipOp::kRemoveServer, leader);
  REQUIRE(out.accepted);
  const bool stepped_down = c.run_until(
      [&] {
        return c.core(leader)->role() != Role::kLeader &&
               c.committed().size() >= out.first_index.get();
      },
      5 * kElectionMs);
  REQUIRE(stepped_down);
  std::erase(rest, leader);
  commit(c, "x=3", rest);
  const NodeId next = leader_of(c);
  REQUIRE(next != leader);
  REQUIRE(c.core(next)->membership().voters.size() == 3);
  finish(c);
}

TEST_CASE("membership: a removed server does not disrupt the cluster", "[feature][membership]") {
  Cluster c(scenario_config(3, 3, "membership: a removed server does not disrupt the cluster"));
  commit(c, "x=1", ids({1, 2, 3}));
  const NodeId leader = leader_of(c);
  const NodeId removed = Cluster::node_id(static_cast<int>(leader.get()) % 3);
  // Removed while cut off: it never learns, keeps its old configuration and times out.
  c.disconnect(removed);
  REQUIRE(c.change_membership(leader, MembershipOp::kRemoveServer, removed).accepted);
  std::vector<NodeId> rest;
  for (int i = 0; i < 3; ++i) {
    if (Cluster::node_id(i) != removed) rest.push_back(Cluster::node_id(i));
  }
  commit(c, "x=2", rest);
  c.run_for(3 * kElectionMs);  // it campaigns (PreVote) in vain
  c.connect(removed);
  const NodeId l = leader_of(c);
  const Term term = c.core(l)->term();
  for (int k = 0; k < 20; ++k) commit(c, "x=r" + std::to_string(k), rest);
  c.run_for(5 * kElectionMs);
  REQUIRE(c.single_leader() != -1);
  REQUIRE(Cluster::node_id(c.single_leader()) == l);
  REQUIRE(c.core(l)->term() == term);  // PreVote and CheckQuorum kept the term still
  finish(c);
}

// ---------------------------------------------------------------------------------------------
// A follower that lost entries it had acknowledged (issue 10): its WAL tail cut by hand while it
// was stopped. Outside Raft's assumptions, so the test cuts the simulated disk deliberately
// (Cluster::lose_tail) and only once every other node holds everything. The leader used to drop
// the follower's rejections as stale (at or below the match index it knew) and left it behind
// until the leader changed; now it must repair it before even the shortest election timeout
// could pass, say so once, and keep its leadership and term.

constexpr uint64_t kHeartbeatMs = 100;
// One heartbeat to reach the restarted follower, then a few round trips (1-3 ms each way) and
// syncs (1-4 ms): well under the 300 ms shortest election timeout.
constexpr uint64_t kRepairMs = 2 * kHeartbeatMs;
constexpr int kLostTailEntries = 30;  // committed on every node before the cut

struct LostTailCase {
  const char* name;
  uint64_t cut_from;  // the follower keeps entries below this (1: its whole log)
  bool writing;       // the leader takes writes meanwhile (else it is idle)
};

void repair_lost_tail(const LostTailCase& lc) {
  const std::string test_name = "repair: a follower that lost acknowledged entries";
  Cluster c(scenario_config(3, 3, test_name));
  for (int k = 0; k < kLostTailEntries; ++k) {
    commit(c, "x=" + std::to_string(k), ids({1, 2, 3}));
  }
  const NodeId leader = leader_of(c);
  const Term term = c.core(leader)->term();
  const NodeId victim = Cluster::node_id(static_cast<int>(leader.get()) % 3);
  const Index acknowledged = c.core(leader)->progress(victim)->match;
  REQUIRE(acknowledged.get() > lc.cut_from);
  c.crash(victim);
  REQUIRE(c.lose_tail(victim, Index(lc.cut_from)));
  require_ok(c);  // the others still hold every committed entry
  REQUIRE(c.disk(victim).last_index() == Index(lc.cut_from - 1));
  c.restart(victim);
  require_ok(c);

  const uint64_t start_ms = c.now_ms();
  const uint64_t target = c.committed().size();  // everything committed before the cut
  int written = 0;
  const auto repaired = [&] { return c.kv(victim).applied() >= target; };
  while (!repaired() && c.now_ms() - start_ms < kRepairMs) {
    if (lc.writing) c.propose(leader, {"y=" + std::to_string(written++)});
    c.run_until(repaired, 10);
    require_ok(c);
  }
  const uint64_t took_ms = c.now_ms() - start_ms;
  INFO(lc.name << ": node " << victim.get() << " applied " << c.kv(victim).applied() << " of "
               << target << " after " << took_ms << " ms");
  REQUIRE(repaired());
  REQUIRE(took_ms <= kRepairMs);
  // Repaired by the same leader in the same term, not by an election.
  REQUIRE(c.core(leader)->role() == Role::kLeader);
  REQUIRE(c.core(leader)->term() == term);
  // Said once, by the leader, about the victim, with what it really holds.
  REQUIRE(c.notices().size() == 1);
  const auto& [from, notice] = c.notices().front();
  CHECK(from == leader);
  CHECK(notice.kind == NoticeKind::kFollowerLostEntries);
  CHECK(notice.peer == victim);
  CHECK(notice.holds == Index(lc.cut_from - 1));
  CHECK(notice.acknowledged >= acknowledged);
  std::printf("%s: node %llu repaired in %llu ms (%d writes meanwhile): %s\n", lc.name,
              static_cast<unsigned long long>(victim.get()),
              static_cast<unsigned long long>(took_ms), written, notice.text.c_str());
  commit(c, "x=after", ids({1, 2, 3}));
  finish(c);
}

TEST_CASE("repair: a follower that lost acknowledged entries is repaired at once",
          "[feature][repair]") {
  for (const LostTailCase& lc : {LostTailCase{"tail cut, idle leader", 11, false},
                                 LostTailCase{"tail cut, leader writing", 11, true},
                                 LostTailCase{"whole log lost, idle leader", 1, false},
                                 LostTailCase{"whole log lost, leader writing", 1, true}}) {
    repair_lost_tail(lc);
  }
}

// Random add/remove/transfer operations mixed with crashes and partitions: the membership
// schedule of the soak, on 3 and 5 voters with spares; every safety checker runs throughout.
TEST_CASE("membership: random changes, transfers, crashes and partitions",
          "[feature][membership][random]") {
  const uint64_t seeds = env_u64("RAFTLAB_SEEDS", 6000) / 30;  // 200 by default
  uint64_t first = 1;
  uint64_t last = first + seeds;
  if (const std::optional<uint64_t> seed = env_seed()) {
    first = *seed;
    last = *seed + 1;
  }
  uint64_t changes = 0;
  uint64_t transfers = 0;
  for (uint64_t seed = first; seed < last; ++seed) {
    SoakOptions o;
    o.nodes_count = seed % 2 == 0 ? 3 : 5;
    o.spares_count = 2;
    o.seed = seed;
    o.profile = Profile::kMembership;
    o.test_name = "membership: random changes, transfers, crashes and partitions";
    const SoakResult r = run_soak(o);
    if (!r.ok) FAIL(r.report);
    changes += r.stats.config_changes_accepted;
    transfers += r.stats.transfers_accepted;
  }
  std::printf("random membership: %llu seeds, %llu membership changes, %llu transfers\n",
              static_cast<unsigned long long>(last - first),
              static_cast<unsigned long long>(changes), static_cast<unsigned long long>(transfers));
  REQUIRE(changes > 0);
}

}  // namespace raftlab::sim
