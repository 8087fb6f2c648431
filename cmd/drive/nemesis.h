// The nemesis of `raftlab check`: from its own thread, injects one fault at a time into a
// running cluster on a seeded schedule and undoes it before the next, recording each injection
// and each undo as an event for the history (docs/history-format.md:
// {"process":"nemesis","type":"info","f":...,"value":...,"time":...}).
//
// It acts only through the public command line: it runs this very binary (`raftlab partition`,
// `kill`, `pause`, `net`, `transfer`, `member`, ... `--dir DIR --json`) as a child process with
// a bound on each call, so it is also a test of the CLI contract.
//
// Events: the injection has f = the kind and a value naming the nodes ("1,2 | 3,4,5",
// "kill -9 node 2 (leader)", "pause node 3", "loss 20% all links", "transfer 1 -> 3",
// "member remove 4", "power cut all"); its undo has f = "heal" (network faults), "restart" (kill,
// power), "resume" (pause), "transfer-done" (transfer) or "member-add" (member), and
// stop_and_heal() records a final "heal".
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "node/prng.h"

namespace CLI {
class App;
}  // namespace CLI

namespace raftlab::lab {

struct NemesisEvent {
  uint64_t time_ns;  // CLOCK_MONOTONIC
  std::string f;
  std::string value;
};

/// The kinds of fault the nemesis injects, one function each in nemesis.cc.
enum class FaultKind {
  kPartition,      // halves (cmd/lab/fault_shapes.h)
  kRing,           // majority ring, by `partition --random majority-ring`
  kBridge,         // two halves that hear one node
  kIsolateLeader,  // the leader alone
  kCut,            // a few one-way cuts
  kKill,           // kill -9 a node, the leader half the time; restarted as the undo
  kPause,          // SIGSTOP a node, the leader half the time; resumed as the undo
  kLoss,           // 20% loss on every link
  kDelay,          // 30 ms delay, 10 ms jitter on every link
  kTransfer,       // leadership to a follower
  kMember,         // a follower removed from the configuration; added back as the undo
  kPower,          // a power cut (`crash --lose-unsynced --tear`) of one node or of all; not in
                   // `all` (it rewrites the nodes' files): asked for by name; started as the undo
};
/// Its name in --nemesis and in the history's events: "partition", "isolate-leader", ...
const char* to_string(FaultKind kind);

struct NemesisOptions {
  std::string dir;               // the cluster directory (absolute)
  std::vector<FaultKind> kinds;  // empty = none
  uint64_t interval_ms = 3000;   // a new fault every interval (jittered +-25%), the previous one
                                 // healed first
  uint64_t seed = 1;
};

/// Parses "partition,kill,..."/"all"/"none" into kinds; throws LabError(2) naming an unknown kind.
std::vector<FaultKind> parse_nemesis_kinds(const std::string& text);

class Nemesis {
 public:
  /// `record` is called from the nemesis thread (and, for the final "heal", from the thread
  /// calling stop_and_heal); never from two threads at once.
  Nemesis(NemesisOptions options, std::function<void(const NemesisEvent&)> record);
  ~Nemesis();  // stops and joins (without healing)
  Nemesis(const Nemesis&) = delete;
  Nemesis& operator=(const Nemesis&) = delete;

  void start();  // starts the thread
  /// Stops injecting, undoes every fault still in force (heal --all, resume paused, restart
  /// killed, re-add a removed member), records a "heal" event, and waits (bounded by
  /// converge_timeout_ms) until a leader is agreed and every running node's applied index has
  /// reached the leader's commit. Returns false (with a reason in *why) if it did not converge
  /// in time.
  bool stop_and_heal(uint64_t converge_timeout_ms, std::string* why);
  size_t injected() const;  // faults injected so far

  /// A fault in force and how to undo it.
  struct Fault {
    FaultKind kind = FaultKind::kPartition;
    std::vector<std::string> undo_args;  // a raftlab command line (without --dir, --json)
    uint64_t undo_timeout_ms = 0;
    std::string undo_f;  // the undo's event
    std::string undo_value;
  };

 private:
  void run();
  /// Stops the thread (no healing); idempotent.
  void stop_thread();
  /// Injects one fault of `kind`; the fault to undo, or nullopt if it could not be injected.
  std::optional<Fault> inject(FaultKind kind);
  /// Undoes whatever is left, whoever left it; what failed is appended to `problems`.
  void heal_everything(std::vector<std::string>& problems);
  /// Undoes `fault`, records its undo event; false if the command failed (it stays in force).
  bool undo(const Fault& fault);
  void emit(const std::string& f, const std::string& value);

  NemesisOptions options_;
  std::function<void(const NemesisEvent&)> record_;
  std::string exe_;  // this binary
  Prng prng_;        // the nemesis thread's only (and stop_and_heal's, after the join)
  std::optional<Fault> in_force_;
  std::vector<uint64_t> removed_;  // members removed and not yet added back

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
  std::atomic<size_t> injected_{0};
};

/// The hidden `raftlab nemesis-run` test hook: the nemesis alone against a cluster, each event
/// printed as a JSON line; exits 0 if the cluster converged after the final heal, 1 if not.
void setup_nemesis_run(CLI::App& app);

}  // namespace raftlab::lab
