// The linearizability checker of `raftlab check`.
//
// Algorithm: Wing & Gong's search with Lowe's just-in-time linearization (the one porcupine
// implements). Each key is a separate register, and linearizability is compositional
// (P-compositionality, Herlihy & Wing §3.3), so each key is checked on its own, two at a time
// on two threads; every key's verdict is the same whatever the thread interleaving. Per key:
// the operations' invoke and return events sit in one time-ordered list (an invoke before a
// return at the same time, so those two operations are concurrent). A configuration is the
// set of operations linearized so far plus the model state; its candidates are the
// operations invoked before the first return still in the list. The depth-first search
// linearizes a candidate (the model must accept it), lifts its two events out of the list,
// and goes on; when no candidate works, the operation of that first return cannot be placed
// and the search backtracks. A memo of visited (set of linearized operations, model state)
// pairs means no configuration is explored twice. The set is a bitset stored compactly (the
// words between the first word not all ones and the last word not all zeros) and hashed
// incrementally (Zobrist); model states are small integers (model.h).
//
// Three refinements keep real histories (many clients, slow and unknown-outcome operations)
// from exploding; none changes a verdict (linearize.cc gives each argument):
//   - forced moves: a get that can read the current state now is linearized now, with no
//     alternative tried;
//   - the dead-value rule: a move that leaves a value some waiting get still needs, when
//     nothing left can write that value again, is not made;
//   - the order candidates are tried in: writes that give a waiting get its value first, then
//     the operation that returns first, then the rest by invoke time.
//
// Outcomes: `fail` operations did not happen and are removed. `info` and pending operations
// never return (a flag of their own, not a time: every time a history holds is a real one):
// they may take effect at any point after their invoke, or never; the
// search succeeds once every operation with a known return is linearized. An info `get` has
// no effect and no observed value, so it is dropped. An info write that no completed read can
// have observed is dropped too (see prune_unobserved in linearize.cc for why that is sound).
//
// Bounds: a key whose search passes its share of the time bound, or whose tables (memo,
// stacks, model states) would pass the memory bound, gets the verdict kUnknown; nothing
// guesses. The time is shared fairly: each key gets its share of what is left when it starts,
// and keys that ran out get a second round with what is left then (Scheduler in
// linearize.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cmd/checker/history.h"

namespace raftlab::check {

struct CheckOptions {
  uint64_t time_limit_ms = 60000;          // for the whole check; each key gets its share
  size_t memory_limit_bytes = 1ull << 30;  // for all the checker's tables together
  unsigned threads = 2;                    // keys checked in parallel (1: sequential)
};

/// The default memory bound of `raftlab check`: half of /proc/meminfo's MemAvailable, at
/// least 256 MiB (1 GiB when it cannot be read).
size_t default_memory_limit_bytes();

enum class Verdict : uint8_t { kLinearizable, kNotLinearizable, kUnknown };
/// "linearizable", "not_linearizable", "unknown".
const char* to_string(Verdict verdict);

/// Why a key is not linearizable, in a form a person reads in ten seconds.
///
/// The verdict comes from the exhaustive search; the window explains it. Take the deepest
/// partial linearization the search reached (searched again without the dead-value rules,
/// so it goes as far as operations can take effect; bounded in time) and cut it after some
/// operation: `before` is the end of that prefix and `state` the register it leaves. The
/// window is every operation not in the prefix that was invoked no later than the last one
/// listed, and from `state` those operations cannot be linearized in any order real time
/// allows (a window operation that returns after the invoke of an operation outside the
/// window may be left for later; an unknown-outcome one may never happen). The claim is
/// relative to one valid way of linearizing the prefix, which is enough to read the bug:
/// there is no linearization at all. The last 64 cuts are examined; chosen is a quiescent
/// cut if there is one (every prefix operation returned before the window's first one was
/// invoked: the prefix is simply what happened before), then the fewest operations, then
/// the earlier cut. `stuck` is the operation the window's own search could not get past;
/// `writers` are the operations that wrote the value it needed (often the whole story: a
/// failed write that was read, a value written long before and overwritten since).
struct Violation {
  uint32_t key = 0;                  // index into History::keys
  std::vector<size_t> before;        // History::ops indices, in linearization order (last few)
  std::optional<std::string> state;  // the register before the window (nullopt: absent)
  std::vector<size_t> window;        // History::ops indices, by call time
  size_t stuck = 0;                  // History::ops index, one of `window`
  std::optional<std::string> stuck_state;  // the register when `stuck` could not take effect
  std::vector<size_t> writers;  // History::ops that wrote the value `stuck` needed (a few;
                                // fail ones included)
  size_t deepest = 0;           // operations linearized by the deepest partial order
  bool shrunk = false;          // found by the window search (else: the stuck configuration's ops)
  bool verified = false;        // known to fail from `state` on its own (false only when the
                                // explaining searches ran out of their time budget)
};

struct KeyResult {
  uint32_t key = 0;  // index into History::keys
  Verdict verdict = Verdict::kUnknown;
  size_t ops_checked = 0;        // operations the search linearized or could leave out
  size_t ops_failed = 0;         // `fail` operations, removed
  size_t ops_dropped = 0;        // info gets and unobserved info writes, removed
  uint64_t states_explored = 0;  // configurations visited (memo entries)
  uint64_t reads_forced = 0;     // ops the read rule linearized at once (no alternative tried)
  size_t memory_bytes = 0;       // peak bytes of this key's tables
  double ms = 0;
  std::string unknown_reason;  // for kUnknown: "time limit", "memory limit"
  std::string unknown_bound;   // for kUnknown: the bound that stopped it ("120 ms, its share
                               // of the 60000 ms time bound", "1024 MiB memory bound")
  std::optional<Violation> violation;
};

struct CheckResult {
  Verdict verdict = Verdict::kLinearizable;
  std::vector<KeyResult> keys;  // in the order of History::keys
  double checker_ms = 0;
  size_t memory_peak_bytes = 0;  // the checker's accounted peak, all keys together
};

/// Checks every key. Never throws on a well-formed History (bad_alloc aside).
CheckResult check(const History& history, const CheckOptions& options = {});

}  // namespace raftlab::check
