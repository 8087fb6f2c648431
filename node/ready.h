// The contract between the Raft core and its host: what goes in (Input) and what the host must
// do with what comes out (Ready). This is the only place the contract is written down.
//
// The host feeds one Input at a time to Core::step and handles the returned Ready in this order:
//
//   1. PERSIST. Write `hard_state` (if set) and `entries` (an entry at index i discards every
//      stored entry >= i) to stable storage. Writes of successive Readys are made durable in
//      the order they were returned; the host may batch many Readys into one sync (group
//      commit) and may go on stepping while a sync is in flight.
//      When the writes of every Ready up to and including one with `persist_id` = P are
//      durable, the host steps `Persisted{P}`.
//   2. SEND. `messages` may be sent at once, in parallel with the disk write: they are the
//      leader's AppendEntries and heartbeats and PreVote traffic, which depend on nothing
//      this node has not yet made durable (thesis §10.2.1; the leader counts itself towards
//      a commit only once `Persisted` says its entries are durable).
//      `messages_after_persist` may be sent only once everything up to `persist_id` is
//      durable: votes, a candidate's vote requests and every response that reports log
//      state. If the node crashes first, they are never sent.
//   3. APPLY. Apply `committed` to the state machine in order. Each committed entry appears
//      in exactly one Ready, once, in index order; entries are handed out only once they are
//      durable on this node.
//
// Nothing else in the core has side effects: it does no I/O, reads no clock, starts no thread
// and draws randomness only from the seed in its Config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "node/message.h"
#include "node/types.h"

namespace raftlab {

/// One unit of logical time (the host calls it every tick_ms).
struct Tick {};

/// A message from a peer.
struct Receive {
  Message message;
};

/// Client commands to append to the log; accepted only by a leader.
struct Propose {
  Propose() = default;
  explicit Propose(std::vector<Payload> c) : commands(std::move(c)) {}
  explicit Propose(const std::vector<std::string>& c) : commands(c.begin(), c.end()) {}

  std::vector<Payload> commands;
};

/// The writes of every Ready up to `persist_id` are durable.
struct Persisted {
  uint64_t persist_id = 0;
};

/// Start an election now, as if the election timeout had passed (for tests and tools).
struct Campaign {};

using Input = std::variant<Tick, Receive, Propose, Persisted, Campaign>;

/// The answer to a Propose.
struct ProposeOutcome {
  bool accepted = false;
  Index first_index;   // accepted: index of the first command
  Index last_index;    // accepted: index of the last command
  Term term;           // accepted: the term they were appended in
  NodeId leader_hint;  // refused: who this node believes is leader (or none)
};

struct Ready {
  std::optional<HardState> hard_state;  // 1. persist, if set
  std::vector<Entry> entries;           // 1. persist (append, truncating from entries[0].index)
  // The id of the newest write issued so far. A Ready that writes something gets a new id;
  // one that writes nothing repeats the newest id, so its messages_after_persist still wait
  // for every earlier write. 0 means nothing has ever been written.
  uint64_t persist_id = 0;
  std::vector<Message> messages;                // 2. send now
  std::vector<Message> messages_after_persist;  // 2. send once persist_id is durable
  std::vector<Entry> committed;                 // 3. apply in order
  std::optional<ProposeOutcome> propose_outcome;

  bool has_writes() const { return hard_state.has_value() || !entries.empty(); }
  bool empty() const {
    return !has_writes() && messages.empty() && messages_after_persist.empty() &&
           committed.empty() && !propose_outcome.has_value();
  }
};

}  // namespace raftlab
