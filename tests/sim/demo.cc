// raftlab_sim_demo: a narrated simulated run of a 5-node cluster (plus a spare). Elections, a
// partition that isolates the leader, proposals on both sides, healing and convergence; then a
// follower brought back by InstallSnapshot, a leadership transfer and a membership change
// that adds the spare; then the final state hash. The same --seed always prints the same story.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/sim/sim.h"
#include "tests/sim/soak.h"

namespace raftlab::sim {
namespace {

constexpr uint64_t kWaitMs = 10'000;  // bound on every wait in the story
constexpr int kVoters = 5;
constexpr uint64_t kSnapshotEvery = 5;

class Demo {
 public:
  explicit Demo(uint64_t seed) : cluster_(make_config(seed)) {
    cluster_.narrate = [this](const std::string& what) { say(what); };
  }

  int run() {
    std::printf(
        "raftlab simulator demo: 5 nodes and a spare, seed %llu, tick 10 ms, heartbeat 100 ms, "
        "election timeout 300-600 ms\n",
        static_cast<unsigned long long>(cluster_.seed()));
    say("cluster starts; every node is a follower with an empty log");
    const int leader1 = wait_leader();
    if (leader1 < 0) return fail("no leader elected");

    for (int k = 1; k <= 3; ++k) {
      if (!propose_and_commit(leader1, "x=" + std::to_string(k), 5)) return fail("no commit");
    }

    const NodeId old = Cluster::node_id(leader1);
    cluster_.faults().isolate(old);
    say("PARTITION: leader " + name(leader1) + " is isolated (" + cluster_.faults().describe() +
        ")");
    const Outcome stale = cluster_.propose(old, {"lost=1"});
    if (stale.accepted) {
      say("old leader " + name(leader1) + " still accepts \"lost=1\" at index " +
          std::to_string(stale.first_index.get()) + ": it cannot reach a majority to commit it");
    }
    const int leader2 = wait_leader_other_than(leader1);
    if (leader2 < 0) return fail("the majority elected no leader");
    for (int k = 4; k <= 5; ++k) {
      if (!propose_and_commit(leader2, "x=" + std::to_string(k), 4)) return fail("no commit");
    }
    cluster_.run_until([&] { return cluster_.core(old)->role() != Role::kLeader; }, kWaitMs);
    say("old leader " + name(leader1) + " is now " + to_string(cluster_.core(old)->role()) +
        " in term " + std::to_string(cluster_.core(old)->term().get()) +
        " (CheckQuorum: it lost touch with a majority)");

    const int follower = (leader2 + 1) % kVoters == leader1 ? (leader2 + 2) % 5 : (leader2 + 1) % 5;
    cluster_.crash(Cluster::node_id(follower));
    if (!propose_and_commit(leader2, "x=6", 3)) return fail("no commit with one node down");
    cluster_.restart(Cluster::node_id(follower));

    cluster_.faults().heal_all();
    say("HEAL: every link is back");
    const bool converged = cluster_.run_until([&] { return all_applied_same(); }, kWaitMs);
    if (!converged) return fail("the cluster did not converge");
    const NodeId l2 = Cluster::node_id(leader2);
    say("converged: all 5 nodes applied the same " + std::to_string(cluster_.applied(l2).size()) +
        " entries; \"lost=1\" was " +
        (contains(cluster_.applied(l2), "lost=1") ? "kept (!)" : "discarded everywhere"));
    std::string log;
    for (const Entry& e : cluster_.applied(l2)) {
      log += " " + std::to_string(e.index.get()) + "/" + std::to_string(e.term.get()) + ":" +
             (e.type == EntryType::kNoop ? "noop" : e.data);
    }
    say("log (index/term:command):" + log);

    if (int rc = snapshot_act(); rc != 0) return rc;
    if (int rc = transfer_act(); rc != 0) return rc;
    if (int rc = membership_act(); rc != 0) return rc;
    cluster_.check_committed_durable(true);
    if (!cluster_.ok()) return fail("checker");
    const Stats& st = cluster_.stats();
    say("done: " + std::to_string(st.messages_sent) + " messages, " + std::to_string(st.syncs) +
        " disk syncs, 0 safety violations");
    std::printf("final state hash %016llx\n",
                static_cast<unsigned long long>(cluster_.state_hash()));
    return 0;
  }

 private:
  static SimConfig make_config(uint64_t seed) {
    SimConfig sc;
    sc.nodes_count = kVoters + 1;  // one spare, added in the membership act
    sc.voters_count = kVoters;
    sc.snapshot_every = kSnapshotEvery;
    sc.core.snapshot_trailing_entries = 2;
    sc.seed = seed;
    sc.core.heartbeat_ticks = 10;
    sc.core.election_ticks_min = 30;
    sc.core.election_ticks_max = 60;
    sc.replay_test_name = "(raftlab_sim_demo --seed " + std::to_string(seed) + ")";
    return sc;
  }

  static std::string name(int i) {
    std::string out = "n";  // appended: GCC 12's -Wrestrict misfires on "n" + std::string
    out += std::to_string(i + 1);
    return out;
  }

  void say(const std::string& what) {
    const uint64_t t = cluster_.now_ms();
    std::printf("[%3llu.%03llus] %s\n", static_cast<unsigned long long>(t / 1000),
                static_cast<unsigned long long>(t % 1000), what.c_str());
  }

  int fail(const std::string& what) {
    std::printf("demo failed: %s\n%s\n", what.c_str(), cluster_.report().c_str());
    return 1;
  }

  int wait_leader() {
    cluster_.run_until([&] { return cluster_.single_leader() != -1; }, kWaitMs);
    return cluster_.single_leader();
  }

  int wait_leader_other_than(int old) {
    const auto other = [&] {
      for (int i = 0; i < cluster_.size(); ++i) {
        const Core* c = cluster_.core(Cluster::node_id(i));
        if (i != old && c != nullptr && c->role() == Role::kLeader) return i;
      }
      return -1;
    };
    cluster_.run_until([&] { return other() != -1; }, kWaitMs);
    return other();
  }

  static bool contains(const std::vector<Entry>& applied, const std::string& command) {
    for (const Entry& e : applied) {
      if (e.data == command) return true;
    }
    return false;
  }

  bool propose_and_commit(int leader, const std::string& command, int nodes) {
    const Outcome out = cluster_.propose(Cluster::node_id(leader), {command});
    if (!out.accepted) return false;
    const uint64_t index = out.first_index.get();
    say("client proposes \"" + command + "\" to " + name(leader) + ": index " +
        std::to_string(index) + ", term " + std::to_string(out.term.get()));
    const auto applied_on = [&] {
      int count = 0;
      for (int i = 0; i < cluster_.size(); ++i) {
        const std::vector<Entry>& a = cluster_.applied(Cluster::node_id(i));
        if (a.size() >= index && a[index - 1].data == command) ++count;
      }
      return count;
    };
    if (!cluster_.run_until([&] { return applied_on() >= nodes; }, kWaitMs)) return false;
    say("  \"" + command + "\" committed and applied on " + std::to_string(applied_on()) +
        " nodes");
    return true;
  }

  // A follower misses enough writes that the leader compacted them: it gets a snapshot.
  int snapshot_act() {
    const int leader = wait_leader();
    if (leader < 0) return fail("no leader");
    const int lagging = (leader + 1) % kVoters;
    cluster_.disconnect(Cluster::node_id(lagging));
    say("SNAPSHOTS: every node snapshots every " + std::to_string(kSnapshotEvery) + " entries; " +
        name(lagging) + " is cut off while 12 writes commit");
    for (int k = 0; k < 12; ++k) {
      const Outcome out = cluster_.propose(Cluster::node_id(leader), {"y=" + std::to_string(k)});
      if (!out.accepted) return fail("write refused");
      cluster_.run_for(30);
    }
    const Core* lc = cluster_.core(Cluster::node_id(leader));
    say(name(leader) + "'s log now starts at index " +
        std::to_string(lc->log().first_index().get()) + " (snapshot at " +
        std::to_string(lc->status().snapshot_index.get()) + ")");
    cluster_.connect(Cluster::node_id(lagging));
    const uint64_t target = cluster_.committed().size();
    if (!cluster_.run_until(
            [&] { return cluster_.kv(Cluster::node_id(lagging)).applied() >= target; }, kWaitMs)) {
      return fail("the lagging follower did not catch up");
    }
    say(name(lagging) + " caught up to index " + std::to_string(target));
    return 0;
  }

  int transfer_act() {
    const int leader = wait_leader();
    if (leader < 0) return fail("no leader");
    const int target = (leader + 2) % kVoters;
    say("TRANSFER: " + name(leader) + " hands leadership to " + name(target));
    const uint64_t start = cluster_.now_ms();
    if (!cluster_.transfer_leader(Cluster::node_id(leader), Cluster::node_id(target)).accepted) {
      return fail("transfer refused");
    }
    if (!cluster_.run_until([&] { return cluster_.single_leader() == target; }, kWaitMs)) {
      return fail("the transfer did not complete");
    }
    say(name(target) + " leads after " + std::to_string(cluster_.now_ms() - start) + " ms");
    return 0;
  }

  int membership_act() {
    const int leader = wait_leader();
    if (leader < 0) return fail("no leader");
    const NodeId spare = Cluster::node_id(kVoters);
    // A new leader changes membership only once it has committed in its term.
    if (!propose_and_commit(leader, "z=5 voters", kVoters)) return fail("no commit");
    say("MEMBERSHIP: " + name(leader) + " adds spare " + name(kVoters) +
        " (a learner until it catches up, then promoted)");
    if (!cluster_.change_membership(Cluster::node_id(leader), MembershipOp::kAddServer, spare)
             .accepted) {
      return fail("add refused");
    }
    const Outcome again =
        cluster_.change_membership(Cluster::node_id(leader), MembershipOp::kRemoveServer, spare);
    say("a second change at once is refused: " + std::string(to_string(again.refusal)));
    if (!cluster_.run_until(
            [&] {
              const int l = cluster_.single_leader();
              return l != -1 && is_voter(cluster_.core(Cluster::node_id(l))->membership(), spare);
            },
            kWaitMs)) {
      return fail("the spare was not promoted");
    }
    if (!propose_and_commit(cluster_.single_leader(), "z=6 voters", kVoters + 1)) {
      return fail("no commit with six voters");
    }
    return 0;
  }

  bool all_applied_same() const {
    const std::vector<Entry>& first = cluster_.applied(Cluster::node_id(0));
    if (first.size() != cluster_.committed().size()) return false;
    for (int i = 1; i < kVoters; ++i) {
      if (cluster_.applied(Cluster::node_id(i)) != first) return false;
    }
    return true;
  }

  Cluster cluster_;
};

}  // namespace
}  // namespace raftlab::sim

int main(int argc, char** argv) {
  uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: %s [--seed N]\n", argv[0]);
      return 2;
    }
  }
  raftlab::sim::Demo demo(seed);
  return demo.run();
}
