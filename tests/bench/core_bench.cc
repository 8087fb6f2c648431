// Cost of one core step that appends a 64-entry batch and replicates it to two followers.
// Usage: raftlab_core_bench [runs=5] [steps_per_run=2000]. Prints each run and the median.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "node/core.h"

namespace {

using raftlab::Config;
using raftlab::Core;
using raftlab::Index;
using raftlab::Message;
using raftlab::MessageType;
using raftlab::NodeId;
using raftlab::Term;

constexpr size_t kBatchEntries = 64;
constexpr size_t kEntryBytes = 256;

// A three-node leader with both followers in the replicate state.
Core make_leader() {
  Config c;
  c.id = NodeId(1);
  c.voters = {NodeId(1), NodeId(2), NodeId(3)};
  c.check_invariants = false;
  Core core(c);
  raftlab::Ready r = core.step(raftlab::Campaign{});
  r = core.step(raftlab::Receive{[] {
    Message m;  // PreVote grant
    m.type = MessageType::kPreVoteResponse;
    m.from = NodeId(2);
    m.to = NodeId(1);
    m.term = Term(1);
    return m;
  }()});
  r = core.step(raftlab::Persisted{r.persist_id});
  Message grant;
  grant.type = MessageType::kRequestVoteResponse;
  grant.from = NodeId(2);
  grant.to = NodeId(1);
  grant.term = Term(1);
  r = core.step(raftlab::Receive{grant});
  if (core.role() != raftlab::Role::kLeader) {
    std::fprintf(stderr, "bench setup: no leader\n");
    std::exit(1);
  }
  core.step(raftlab::Persisted{r.persist_id});
  for (uint64_t peer : {2, 3}) {
    Message ack;
    ack.type = MessageType::kAppendEntriesResponse;
    ack.from = NodeId(peer);
    ack.to = NodeId(1);
    ack.term = Term(1);
    ack.match_index = Index(1);
    core.step(raftlab::Receive{ack});
  }
  return core;
}

double run_once(size_t steps) {
  Core core = make_leader();
  std::chrono::nanoseconds timed{0};
  for (size_t i = 0; i < steps; ++i) {
    // Untimed: the host turns 64 distinct client commands into payloads.
    std::vector<raftlab::Payload> commands;
    commands.reserve(kBatchEntries);
    for (size_t k = 0; k < kBatchEntries; ++k) {
      std::string bytes(kEntryBytes, 'v');
      bytes[0] = static_cast<char>('a' + k % 26);
      commands.emplace_back(std::move(bytes));
    }
    const raftlab::Propose batch(std::move(commands));
    const auto start = std::chrono::steady_clock::now();
    raftlab::Ready r = core.step(batch);
    timed += std::chrono::steady_clock::now() - start;
    if (r.messages.size() != 2 || r.entries.size() != kBatchEntries) {
      std::fprintf(stderr, "bench: unexpected ready (%zu messages)\n", r.messages.size());
      std::exit(1);
    }
    // Untimed: the write is durable and both followers acknowledge, keeping the pipeline open.
    core.step(raftlab::Persisted{r.persist_id});
    for (uint64_t peer : {2, 3}) {
      Message ack;
      ack.type = MessageType::kAppendEntriesResponse;
      ack.from = NodeId(peer);
      ack.to = NodeId(1);
      ack.term = Term(1);
      ack.match_index = core.log().last_index();
      core.step(raftlab::Receive{ack});
    }
  }
  return static_cast<double>(timed.count()) / 1000.0 / static_cast<double>(steps);
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 5;
  const size_t steps = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 2000;
  std::vector<double> us;
  for (int i = 0; i < runs; ++i) {
    us.push_back(run_once(steps));
    std::printf("run %d: %.2f us per step (append %zu x %zu B, replicate to 2)\n", i + 1, us.back(),
                kBatchEntries, kEntryBytes);
  }
  std::sort(us.begin(), us.end());
  std::printf("median: %.2f us per step\n", us[us.size() / 2]);
  return 0;
}
