// The fault filter: for each message from one node to another it decides whether the message is
// delivered, dropped, delayed or duplicated. Seeded and pure (no clock, no I/O), so the same
// class serves the real transport and the deterministic simulator.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "node/prng.h"
#include "node/types.h"

namespace raftlab {

/// Faults on a link (a set of directed pairs). All zero means a perfect link.
struct LinkFault {
  double loss = 0;          // probability a message is dropped, in [0, 1]
  uint32_t delay_ms = 0;    // added to every message
  uint32_t jitter_ms = 0;   // plus a uniform extra in [0, jitter_ms]
  double duplicate = 0;     // probability a message is delivered twice (second copy later)
  double reorder = 0;       // probability a message is held back behind later ones
  uint32_t reorder_ms = 0;  // how long a reordered message is held (default: 2*delay+jitter+1)

  friend bool operator==(const LinkFault&, const LinkFault&) = default;
};

/// A link rule: faults for messages from any node in `from` to any node in `to`
/// (an empty set means every node).
struct LinkRule {
  std::set<NodeId> from;
  std::set<NodeId> to;
  LinkFault fault;

  friend bool operator==(const LinkRule&, const LinkRule&) = default;
};

/// The rules in force. Partitions and cuts decide reachability; link rules shape what gets
/// through.
struct FaultRules {
  // Groups that can talk only inside themselves. Nodes not named in any group form one more
  // group together. Empty: no partition.
  std::vector<std::set<NodeId>> partition;
  // Directed cuts: a message from .first to .second is dropped.
  std::set<std::pair<NodeId, NodeId>> cuts;
  // Applied in order; when several rules match a message, the later one wins.
  std::vector<LinkRule> links;

  bool empty() const { return partition.empty() && cuts.empty() && links.empty(); }
  friend bool operator==(const FaultRules&, const FaultRules&) = default;
};

/// Which rule dropped a message (Verdict::dropped_by).
enum class DropCause : uint8_t { kNone, kPartition, kCut, kLoss };

/// What happens to one message: delivered once per element of `delays_ms` after that many
/// milliseconds. Empty means dropped. The rest says which rule acted, as plain numbers (no
/// string per message); FaultFilter::describe_drop and friends name it for the trace.
struct Verdict {
  std::vector<uint32_t> delays_ms;
  DropCause dropped_by = DropCause::kNone;  // set when dropped (by a rule, not a self-send)
  int32_t link = -1;        // the link rule that shaped it: its index in FaultRules::links
  bool reordered = false;   // the first copy was held back by the link's reorder ratio
  bool duplicated = false;  // delays_ms holds a second copy by the link's duplicate ratio
  bool dropped() const { return delays_ms.empty(); }
};

class FaultFilter {
 public:
  explicit FaultFilter(uint64_t seed);

  const FaultRules& rules() const { return rules_; }
  void set_rules(FaultRules rules);

  // Edits of the rules, each a small step a CLI command or a nemesis takes. set_rules, partition
  // and set_link throw std::invalid_argument for a node in two groups or a probability outside
  // [0, 1]; empty groups are dropped.
  void partition(std::vector<std::set<NodeId>> groups);  // replaces any partition
  void isolate(NodeId node);                             // node alone, everyone else together
  void cut(NodeId from, NodeId to, bool one_way);        // drop from->to (and to->from)
  void set_link(LinkRule rule);                          // appended to the link rules
  void heal();      // removes partitions and cuts; link rules stay
  void heal_all();  // removes every rule

  /// True if partitions and cuts let a message from `from` reach `to`.
  bool reachable(NodeId from, NodeId to) const;

  /// Decides the fate of one message. Consumes randomness only from this filter's seed.
  Verdict decide(NodeId from, NodeId to);

  /// A one-line description of the rules, e.g. "partition 1,2 | 3,4,5; cut 1->3; ...".
  std::string describe() const;

  // The rule behind one verdict of decide(from, to), in the trace's words (docs/trace.md):
  // "cut 1->2", "partition 1,2 | 3", "loss 1->2 30%"; "delay 1->* 50ms", "reorder 1->2 10%";
  // "dup 1->2 10%". Call them before the rules change (they index the rules in force).
  std::string describe_drop(const Verdict& verdict, NodeId from, NodeId to) const;
  std::string describe_delay(const Verdict& verdict) const;
  std::string describe_dup(const Verdict& verdict) const;

 private:
  Prng prng_;
  FaultRules rules_;
};

}  // namespace raftlab
