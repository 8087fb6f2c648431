// The messages Raft nodes exchange. One flat struct, as in the paper's RPC tables: each field
// names the message types that use it; the others leave it at its default.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/types.h"

namespace raftlab {

enum class MessageType : uint8_t {
  kAppendEntries = 1,          // §5.3, Figure 2; also carries no entries to probe a follower
  kAppendEntriesResponse = 2,  //
  kRequestVote = 3,            // §5.2, §5.4.1
  kRequestVoteResponse = 4,    //
  kPreVote = 5,                // thesis §9.6: "would you vote for me?", changes no state
  kPreVoteResponse = 6,        //
  kHeartbeat = 7,              // leader liveness and commit propagation; no log check
  kHeartbeatResponse = 8,      //
  kInstallSnapshot = 9,        // §7, Figure 13: one chunk of the leader's snapshot
  kInstallSnapshotResponse = 10,
  kTimeoutNow = 11,         // thesis §3.10: leadership transfer, "campaign now"
  kReadIndex = 12,          // thesis §6.4: a follower asks the leader for a read index
  kReadIndexResponse = 13,  //
};

/// Number of distinct message types; keep in step with MessageType.
constexpr int kMessageTypeCount = 13;

const char* to_string(MessageType type);

/// True for the message types that ask something of the receiver (the "RPC" half).
bool is_request(MessageType type);

struct Message {
  MessageType type = MessageType::kAppendEntries;
  NodeId from;
  NodeId to;
  Term term;  // sender's term; for kPreVote the term the sender would campaign in

  // kAppendEntries: the entry before `entries` (§5.3 consistency check).
  Index prev_log_index;
  Term prev_log_term;
  std::vector<Entry> entries;  // kAppendEntries
  Index commit;                // kAppendEntries, kHeartbeat: leader's commit index

  // kRequestVote, kPreVote: candidate's last log position (§5.4.1).
  Index last_log_index;
  Term last_log_term;

  // Responses.
  bool reject = false;  // kAppendEntriesResponse, k*VoteResponse
  // kAppendEntriesResponse, accepted: the follower's log matches the leader's up to here.
  Index match_index;
  // kAppendEntriesResponse, rejected: fast backup (§5.3 end; thesis §5.3 "conflict term").
  // conflict_term == 0: the follower's log is too short; conflict_index is its last index + 1.
  // Otherwise conflict_term is the follower's term at prev_log_index and conflict_index the
  // first index the follower holds with that term.
  Term conflict_term;
  Index conflict_index;
  // kAppendEntriesResponse, rejected: the prev_log_index that did not match, so the leader can
  // tell the answer to its latest probe from a stale one.
  Index rejected_index;
  // kAppendEntriesResponse, kHeartbeatResponse: the follower's last log index.
  Index last_index;

  // kInstallSnapshot: the snapshot being sent, and this chunk of its bytes at `offset`;
  // `done` marks the last chunk. kInstallSnapshotResponse: `offset` is how many bytes of
  // snapshot.index the follower holds (where the leader resumes); `done` says it installed it
  // (or already had everything it covers), and then match_index is what it now holds.
  SnapshotMeta snapshot;
  uint64_t offset = 0;
  Payload chunk;
  // kInstallSnapshot from the core: the chunk's length. The core holds no snapshot bytes; the
  // pipeline reads [offset, offset + chunk_length) from the host's copy into `chunk` as the
  // message leaves (Storage::read_snapshot). Not on the wire: the receiver has chunk.size().
  uint64_t chunk_length = 0;
  bool done = false;

  // kHeartbeat/kHeartbeatResponse: the leader's read round being confirmed (thesis §6.4).
  // kReadIndex/kReadIndexResponse: the follower's request id.
  uint64_t context = 0;
  Index read_index;  // kReadIndexResponse: the index the follower must apply before reading

  bool transfer = false;  // kRequestVote: started by TimeoutNow, so it may override a lease

  // k*VoteResponse, rejected: why (a VoteWhy, node/trace.h), so the trace can say it.
  uint8_t vote_why = 0;
  // Stamped by the sender's Tracer (node/trace.h), per sender; 0 when untraced. The core
  // ignores it; the wire carries it so the receiver's trace names the same message.
  uint64_t trace_seq = 0;

  friend bool operator==(const Message&, const Message&) = default;
};

/// One line describing a message, stable for transcripts: "1->2 AppendEntries t3 ...".
std::string describe(const Message& m);
/// One line describing an entry: "3/2 normal \"x\"" (index/term).
std::string describe(const Entry& e);

}  // namespace raftlab
