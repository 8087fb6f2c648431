// The contract between the Raft core and its host: what goes in (Input) and what the host must
// do with what comes out (Ready). This is the only place the contract is written down.
//
// The host feeds one Input at a time to Core::step and handles the returned Ready in this order:
//
//   1. PERSIST. In this order: save `snapshot` (if set) as the newest snapshot; discard stored
//      entries >= `truncate_from` (if set); discard stored entries <= `compacted_through` (if
//      set: a durable snapshot covers them); write `entries` (an entry at index i discards
//      every stored entry >= i); write `hard_state` (if set).
//      Writes of successive Readys are made durable in the order they were returned; the host
//      may batch many Readys into one sync (group commit) and may go on stepping while a sync
//      is in flight. When the writes of every Ready up to and including one with
//      `persist_id` = P are durable, the host steps `Persisted{P}`.
//   2. SEND. `messages` may be sent at once, in parallel with the disk write: they are the
//      leader's AppendEntries, heartbeats, snapshot chunks and TimeoutNow and PreVote
//      traffic, which depend on nothing this node has not yet made durable (thesis §10.2.1;
//      the leader counts itself towards a commit only once `Persisted` says its entries are
//      durable). `messages_after_persist` may be sent only once everything up to
//      `persist_id` is durable: votes, a candidate's vote requests and every response that
//      reports log state. If the node crashes first, they are never sent.
//   3. APPLY. If `restore_snapshot` is set, replace the state machine with `snapshot` first.
//      Then apply `committed` in order. Each committed entry appears in exactly one Ready,
//      once, in index order, never at or below a restored snapshot; entries are handed out
//      only once they are durable on this node. Then answer the reads in `reads` (each is
//      ready: the state machine has applied its read index) and fail those in
//      `reads_failed`.
//   4. LOG. Log every line of `notices` (the core does no I/O, so it cannot log them itself),
//      and trace `trace` (the core's decisions, when Config::trace is set) if tracing.
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
#include "node/trace.h"
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

/// Start an election now, as if the election timeout had passed (for tests and tools). Works
/// on a frozen timer too: that is how an operator makes a frozen follower campaign.
struct Campaign {
  bool by_operator = false;  // traced as `timer` "campaign" (`raftlab campaign`); tests: false
};

/// Freeze or thaw the election timer (`raftlab timers`). A frozen follower or candidate never
/// campaigns on its own; it still answers, votes and follows. Thawing draws a fresh timeout,
/// counted from the thaw. A leader's CheckQuorum round is its own timer and goes on (turn it
/// off with Config::check_quorum). Volatile: a restarted core starts thawed.
struct FreezeTimer {
  bool frozen = true;
};

/// The state machine has been snapshotted after applying every entry up to `index`
/// (<= applied). The core compacts its log and sends the snapshot to lagging followers,
/// reading its chunks from the host's copy. With `data`, the core hands the bytes back in
/// Ready::snapshot for the host to save; with `saved`, the host has already made them durable
/// itself (`size` bytes; Core::snapshot_meta_at gave it the meta to save them under), and
/// Ready::snapshot carries meta and size only, for the host to record.
struct SnapshotTaken {
  Index index;
  Payload data;
  bool saved = false;
  uint64_t size = 0;  // with `saved`: the saved bytes' length (else data.size())
};

/// A linearizable read without a log write (thesis §6.4). `id` is the host's; the read comes
/// back in Ready::reads once it may be served, or in Ready::reads_failed.
struct ReadIndex {
  uint64_t id = 0;
};

/// Leadership transfer to `target` (thesis §3.10).
struct TransferLeader {
  NodeId target;
};

/// A single-server membership change (thesis §4.1). Adding makes the node a learner until it
/// has caught up, then the leader promotes it to voter on its own.
enum class MembershipOp : uint8_t { kAddServer, kRemoveServer };
struct ChangeMembership {
  MembershipOp op = MembershipOp::kAddServer;
  NodeId node;
};

using Input = std::variant<Tick, Receive, Propose, Persisted, Campaign, SnapshotTaken, ReadIndex,
                           TransferLeader, ChangeMembership, FreezeTimer>;

/// Why a request was refused.
enum class Refusal : uint8_t {
  kNone,
  kNotLeader,         // ask leader_hint instead
  kTransferring,      // a leadership transfer is under way; retry shortly
  kChangeInProgress,  // a membership change is not finished yet (one at a time)
  kNoCommitInTerm,    // a new leader has not committed its first entry yet; retry shortly
  kInvalid,           // empty proposal, unknown node, already a member, ...
  kTimedOut,          // a read whose leadership round did not finish in time
  kLeadershipLost,    // the leader stepped down before the read could be served
};
const char* to_string(Refusal refusal);

/// The answer to a Propose, TransferLeader or ChangeMembership.
struct Outcome {
  bool accepted = false;
  Index first_index;   // accepted: index of the first entry appended (propose, change)
  Index last_index;    // accepted: index of the last entry appended
  Term term;           // accepted: the term they were appended in
  NodeId leader_hint;  // who this node believes is leader (or none)
  Refusal refusal = Refusal::kNone;
};

/// A read that may now be served: the state machine has applied `index`.
struct ReadState {
  uint64_t id = 0;
  Index index;
};

struct ReadFailure {
  uint64_t id = 0;
  Refusal refusal = Refusal::kNone;
  NodeId leader_hint;
};

/// Something an operator should hear about, though the core goes on without help.
enum class NoticeKind : uint8_t {
  // Leader: a follower rejected an AppendEntries it received after acknowledging `acknowledged`
  // and says it holds only up to `holds`: it lost entries it had made durable (a WAL tail cut
  // by hand, a wiped directory). Outside Raft's assumptions; the leader repairs it at once.
  kFollowerLostEntries,
  // Host: an InstallSnapshot chunk could not be read from the host's copy of the snapshot
  // (Storage::read_snapshot); it was not sent.
  kSnapshotUnreadable,
  // Host: an entry whose bytes the log released could not be read back from storage
  // (Storage::read_entry); the AppendEntries carrying it was not sent.
  kEntryUnreadable,
};

struct Notice {
  NoticeKind kind = NoticeKind::kFollowerLostEntries;
  NodeId peer;         // the node it is about
  Index acknowledged;  // kFollowerLostEntries: the match index the follower had acknowledged
  Index holds;         // kFollowerLostEntries: what it still holds, by its own answer
  std::string text;    // one line, ready to log
};

struct Ready {
  std::optional<Snapshot> snapshot;    // 1. persist as the newest snapshot; 3. see restore
  bool snapshot_saved = false;         // 1. the host saved `snapshot` itself (SnapshotTaken::saved)
  std::optional<Index> truncate_from;  // 1. discard stored entries >= this
  std::optional<Index> compacted_through;  // 1. stored entries <= this may be discarded
  std::optional<HardState> hard_state;     // 1. persist, if set
  std::vector<Entry> entries;              // 1. persist (append, truncating from entries[0].index)
  // The id of the newest write issued so far. A Ready that writes something gets a new id;
  // one that writes nothing repeats the newest id, so its messages_after_persist still wait
  // for every earlier write. 0 means nothing has ever been written.
  uint64_t persist_id = 0;
  std::vector<Message> messages;                // 2. send now
  std::vector<Message> messages_after_persist;  // 2. send once persist_id is durable
  bool restore_snapshot = false;                // 3. reset the state machine to `snapshot`
  std::vector<Entry> committed;                 // 3. apply in order
  std::vector<ReadState> reads;                 // 3. then serve these reads
  std::vector<ReadFailure> reads_failed;        // 3. and fail these
  std::optional<Outcome> outcome;               // the answer to this step's request, if any
  std::vector<Notice> notices;                  // 4. log each; the core says each thing once
  std::vector<TraceEvent> trace;                // 4. decisions (Config::trace only)

  bool has_writes() const {
    return snapshot.has_value() || truncate_from.has_value() || compacted_through.has_value() ||
           hard_state.has_value() || !entries.empty();
  }
  bool empty() const {
    return !has_writes() && messages.empty() && messages_after_persist.empty() &&
           committed.empty() && reads.empty() && reads_failed.empty() && !outcome.has_value() &&
           notices.empty() && trace.empty();
  }
};

}  // namespace raftlab
