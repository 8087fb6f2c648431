// What a leader knows about each follower's log (§5.3 nextIndex/matchIndex), plus the
// flow-control state of batching and pipelining (thesis §10.2) and snapshot transfer (§7).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "node/types.h"

namespace raftlab {

enum class ProgressState : uint8_t {
  kProbe,      // next is a guess: one AppendEntries at a time until one is accepted
  kReplicate,  // next is known: stream entries, up to inflight_msgs_max unacknowledged
  kSnapshot,   // the entries it needs are compacted: stream a snapshot in chunks
};

const char* to_string(ProgressState state);

struct Progress {
  // Highest index known replicated on the follower. Never decreases in a term, unless the
  // follower proves it lost entries it had acknowledged (Core::reset_lost_follower).
  Index match;
  Index next;  // next index to send; invariant: match < next
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;     // kProbe: an AppendEntries is outstanding; wait for the answer
  bool recent_active = false;  // heard from since the last CheckQuorum round
  std::deque<Index> inflight;  // kReplicate: last index of each unacknowledged AppendEntries
  // match as of the previous heartbeat answer: no progress for a whole heartbeat round with
  // messages in flight means one was lost, so the leader falls back to probing.
  Index match_at_heartbeat;
  uint64_t round_judged_tick = 0;  // the leader's tick when a heartbeat round was last judged

  // kSnapshot: the snapshot being sent. It stays the same until the transfer ends, even if a
  // newer one is taken meanwhile, so a slow transfer is never restarted from scratch.
  std::optional<Snapshot> snapshot;
  uint64_t snapshot_sent = 0;             // bytes sent so far
  uint64_t snapshot_acked = 0;            // bytes the follower confirmed holding
  uint32_t snapshot_chunks_inflight = 0;  // unacknowledged chunks (<= inflight_msgs_max)
  uint64_t snapshot_acked_at_heartbeat = 0;
  // Heartbeat rounds without a chunk acknowledged, and resends of the window so far: the
  // window is resent after 1, 2, 4, then every 8 such rounds, so a follower that is merely
  // slow (a sanitizer build, a loaded machine) is not sent the same bytes again and again.
  uint32_t snapshot_stalled_rounds = 0;
  uint32_t snapshot_resends = 0;

  uint64_t read_round_acked = 0;  // newest leadership round (thesis §6.4) it answered
  // The leader's append_seq_ when match last rose: an answer to an AppendEntries with a larger
  // sequence number was written after the follower had made `match` durable.
  uint64_t match_seq = 0;
};

}  // namespace raftlab
