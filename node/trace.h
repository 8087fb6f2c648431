// What a node did and why, for the trace (docs/trace.md). The core reports each decision as a
// TraceEvent in Ready::trace, and only when Config::trace is set, so an untraced node pays
// nothing for it. The pipeline hands those events, every message it sends (at the moment it
// leaves, so a vote held for its sync is traced when it goes) and every entry it applies to the
// host's Tracer; the host traces what it receives and what its fault rules do. Pure: the Tracer
// decides where records go and stamps them with the time.
#pragma once

#include <cstdint>
#include <string>

#include "node/message.h"
#include "node/types.h"

namespace raftlab {

enum class TraceKind : uint8_t {
  kTimeoutDrawn,       // value: the election timeout drawn, in ticks (§5.2); peer: the leader
                       // whose message reset the timer (none: a role change, a vote)
  kTimeoutFired,       // the election timer ran out after `value` ticks; a campaign follows
  kVote,               // peer: the candidate; term: the one it asks a vote in; granted;
                       // prevote; why, when refused
  kRole,               // role: the role now; term; peer: the leader known (a follower)
  kAppended,           // first..last appended in `term` (peer: the leader it came from, or none)
  kTruncated,          // entries from `first` to `last` cut; term: the cut entry's, value: the
                       // leader's term at `first` (the conflict)
  kCommit,             // commit moved from `first` to `last`
  kSnapshotTaken,      // last: the snapshot's index; term: its term
  kSnapshotInstalled,  // last, term: the snapshot installed; peer: the leader that sent it
  kSnapshotSent,       // peer: the follower; last, term: the snapshot; value: its bytes
  kMembership,         // last: the configuration entry's index; text: the members, the step
  kTransfer,           // peer: the target; text: the step ("start", "timeout now sent",
                       // "timeout now received", "abort: timed out")
  kStepDown,           // a leader stepped down; text: why (check quorum, higher term)
  kTimer,              // an operator's hand on the election timer; text: "freeze", "thaw",
                       // "campaign" (a campaign follows); value: ticks since the last reset
};
constexpr int kTraceKindCount = 14;

/// Why a vote (or pre-vote) was refused.
enum class VoteWhy : uint8_t {
  kNone,
  kStaleTerm,     // the candidate's term is below this node's
  kLogBehind,     // the candidate's log is not at least as up to date (§5.4.1)
  kLease,         // this node heard from a leader within the election timeout (thesis §4.2.3)
  kAlreadyVoted,  // this node voted for another candidate in this term (or knows a leader)
};
constexpr int kVoteWhyCount = 5;

const char* to_string(TraceKind kind);
const char* to_string(VoteWhy why);

// The core builds these with designated initializers naming only the fields its kind uses,
// so every member has a default.
struct TraceEvent {
  TraceKind kind = TraceKind::kRole;
  NodeId peer{};
  Term term{};
  Index first{};
  Index last{};
  uint64_t value = 0;
  Role role = Role::kFollower;   // kRole
  bool granted = false;          // kVote
  bool prevote = false;          // kVote
  VoteWhy why = VoteWhy::kNone;  // kVote, refused
  std::string text{};

  friend bool operator==(const TraceEvent&, const TraceEvent&) = default;
};

/// Where a node's trace goes (the node process: a file; tests: a vector). All calls are on the
/// thread that steps the core.
class Tracer {
 public:
  virtual ~Tracer() = default;
  /// A message leaving this node. The tracer may stamp m.trace_seq, which the wire carries, so
  /// the receiver's record names the same message.
  virtual void sent(Message& m) = 0;
  /// A message that arrived from a peer, before it is stepped.
  virtual void received(const Message& m) = 0;
  virtual void decided(const TraceEvent& event) = 0;
  /// The state machine applied everything up to `index`.
  virtual void applied(Index index) = 0;
};

}  // namespace raftlab
