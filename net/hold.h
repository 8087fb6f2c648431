// Held messages (`raftlab net hold`, `msgs`, `deliver`, `drop`): the messages a node sends that
// match a hold rule wait at the sender, in the order they were sent, until someone delivers or
// drops them by hand, or the rule that held them is released. Pure (no clock, no I/O), so it is
// unit-tested alone; net::Transport owns one and calls it before the fault filter.
//
// Why before the fault filter: a held message is a message not yet sent. When it is delivered it
// goes through the fault rules in force then, exactly as if the core had sent it at that moment
// (a partition made while it waited drops it; a delay delays it).
//
// A message is named "FROM.SEQ" by its Message::trace_seq, the number the trace's `send` record
// gives it, so an id printed by `msgs` is the one the timeline shows. With tracing off nothing
// stamps trace_seq; the queue then numbers the messages it holds itself (from 1, per process).
//
// Bounds: at most `held_max` (kHeldMessagesMax) messages; holding one more drops the OLDEST
// (the message most likely superseded by what the core sent since), counted in cap_dropped and
// returned so the caller traces it. A killed node loses what it held, as a real network would.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "node/message.h"
#include "node/types.h"

namespace raftlab::net {

// Per node. Far more than any by-hand scenario holds (a few dozen), small enough that a rule left
// on a busy leader costs at most a few MiB of entries before the oldest go.
constexpr size_t kHeldMessagesMax = 1024;

/// Holds the messages from a node in `from` to a node in `to` of a type in `types` (an empty set
/// means every node, or every type). Also used as the filter of a by-hand selection.
struct HoldRule {
  std::set<NodeId> from;
  std::set<NodeId> to;
  std::set<MessageType> types;

  bool matches(const Message& m) const;
  friend bool operator==(const HoldRule&, const HoldRule&) = default;
};

/// "hold 1->2 AppendEntries,Heartbeat", "hold *->3 *": the rule as `faults` and the trace word it.
std::string describe(const HoldRule& rule);
/// "AppendEntries" -> kAppendEntries (the names of to_string(MessageType)); nullopt otherwise.
std::optional<MessageType> parse_message_type(std::string_view name);
/// "FROM.SEQ".
std::string held_id(const Message& m);

/// Which held messages a deliver or drop takes: the ones named in `ids` if any, else the first
/// `count_max` that match `filter` (an empty filter: all), always in the order they were held.
struct HoldSelection {
  std::vector<std::string> ids;
  HoldRule filter;
  size_t count_max = SIZE_MAX;
};

struct HoldCounters {
  uint64_t held = 0;         // messages held (ever)
  uint64_t delivered = 0;    // sent on by hand or because their rule was released
  uint64_t discarded = 0;    // dropped by hand
  uint64_t cap_dropped = 0;  // dropped as the oldest beyond held_max
};

class HoldQueue {
 public:
  explicit HoldQueue(size_t held_max = kHeldMessagesMax)
      : held_max_(std::max<size_t>(1, held_max)) {}
  /// Test-only: a smaller cap, so a scenario reaches it at once. At least 1.
  void set_held_max(size_t held_max) { held_max_ = std::max<size_t>(1, held_max); }

  /// Replaces the rules; returns the held messages no rule matches any more, in order (to be
  /// sent now).
  std::vector<Message> set_rules(std::vector<HoldRule> rules);
  const std::vector<HoldRule>& rules() const { return rules_; }
  /// True if a rule holds this message. Cheap when there are no rules (the normal case).
  bool holds(const Message& m) const;

  /// Holds `m` (stamping trace_seq if it has none); returns the oldest message if the queue was
  /// full and it was dropped for this one.
  std::optional<Message> hold(Message m);
  /// Removes and returns the selected messages in the order they were held; ids not held are
  /// appended to `unknown`.
  std::vector<Message> take(const HoldSelection& selection, std::vector<std::string>& unknown);
  /// Counts what take() returned, for the counters.
  void count_delivered(size_t n) { counters_.delivered += n; }
  void count_discarded(size_t n) { counters_.discarded += n; }
  /// Forgets every held message (the process stops).
  void clear() { queue_.clear(); }

  const std::deque<Message>& messages() const { return queue_; }
  const HoldCounters& counters() const { return counters_; }

 private:
  size_t held_max_;
  std::vector<HoldRule> rules_;
  std::deque<Message> queue_;  // oldest first; size() <= held_max_
  uint64_t next_seq_ = 1;      // trace_seq for messages nothing stamped (tracing off)
  HoldCounters counters_;
};

}  // namespace raftlab::net
