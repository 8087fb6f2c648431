// The node's trace file (docs/trace.md): DIR/n<ID>/trace.jsonl, one JSON object per line, for
// `raftlab timeline`. A Tracer (node/trace.h): the pipeline hands it every message sent and
// every decision, the host every message received and every fault rule that acted.
//
// Records are formatted by hand into a buffer (no JSON library on the hot path: a busy leader
// traces thousands of messages a second) and written at the end of a loop turn, at most every
// kTraceWriteIntervalNs, not synced: a kill -9 loses at most the last 10 ms of trace (the
// election a learner kills a leader just after stays on record), nothing the cluster needs.
//
// Bounds, all per node:
//  - `changes` level: a Heartbeat is written when its term or commit differs from the last one
//    written on its link (a HeartbeatResponse: term or last index); the others are counted and
//    written as one `heartbeats` record per link and second.
//  - kTraceBytesPerSecondMax: past it in one second, records that come in floods (messages,
//    faults, appends, commits, applies, timeouts drawn) are counted, not written, and one
//    `suppressed` record gives the count when the next second starts. Records that change a
//    role, term or vote, vote messages, truncations, snapshots, membership and transfer steps
//    are always written: they are rare, and a timeline without them would mislead.
//  - kTraceFileBytesMax: at it trace.jsonl becomes trace.1.jsonl (replacing an older one) and
//    a new trace.jsonl starts, so a node keeps at most twice that on disk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "cmd/cluster/cluster_dir.h"
#include "net/transport.h"
#include "node/message.h"
#include "node/trace.h"

namespace raftlab::lab {

// The 60 s, 64-client bench's trace must render to a page under 20 MB. At this cap three nodes
// write at most 3 x 60 s x 256 KiB = 45 MiB of JSONL (about 300k records of ~150 bytes), which
// the page stores columnar at ~30 bytes a record: ~9 MiB. An idle or electing cluster writes far
// less (a few KiB/s), so the cap bites only under load, where steady replication is what goes.
constexpr uint64_t kTraceBytesPerSecondMax = 256u << 10;
// Four minutes at the cap; with trace.1.jsonl a node holds at most 128 MiB of trace.
constexpr uint64_t kTraceFileBytesMax = 64u << 20;
constexpr size_t kTraceFlushBytes = 64u << 10;  // the buffer is written early at this size
constexpr uint64_t kTraceSummaryIntervalNs = 1'000'000'000;  // heartbeats, suppressed records
// At most 100 writes a second under load (cost: none measurable); 10 ms of trace at risk.
constexpr uint64_t kTraceWriteIntervalNs = 10'000'000;

/// The message's own fields as a JSON object, as its trace record has them ("lli", "prev", ...):
/// `raftlab msgs` shows a held message the way the timeline shows a sent one.
std::string trace_fields_json(const Message& m);

class TraceWriter final : public Tracer {
 public:
  /// tick_ms: the core's tick, so a timeout record gives its `ms`. is_learner: whether this node
  /// is a learner now (a follower role record then says "learner"); may be empty.
  TraceWriter(NodeId id, TraceLevel level, uint32_t tick_ms, std::function<bool()> is_learner);
  ~TraceWriter() override { close(); }
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  /// Opens node_dir/trace.jsonl for appending (a restarted node goes on in the same file) and
  /// writes the `trace` record. False (errno set) if it cannot; level off opens nothing.
  bool open(const std::string& node_dir);

  void sent(Message& m) override;
  void received(const Message& m) override;
  void decided(const TraceEvent& event) override;
  void applied(Index index) override;
  /// A fault rule acted on a message this node sent (net::Transport::Callbacks::on_fault).
  void fault(net::FaultAct act, const Message& m, const std::string& rule, uint32_t delay_ms);
  /// A message held, delivered or discarded at this sender (net::Transport::set_hold_hook).
  void hold(net::HoldAct act, const Message& m, const char* why);

  /// The 100 ms timer: the per-second summaries when due, then the buffer to the file.
  void flush();
  /// The end of a loop turn: the buffer to the file if kTraceWriteIntervalNs has passed.
  void write_if_due();
  void close();

  uint64_t suppressed_total() const { return suppressed_total_; }
  uint64_t write_errors() const { return write_errors_; }

 private:
  enum class Dir : uint8_t { kSent, kReceived };
  struct Beat {
    uint64_t term = 0;
    uint64_t value = 0;  // commit (Heartbeat) or last index (HeartbeatResponse)
    bool written = false;
  };
  using BeatKey = std::tuple<uint64_t, Dir, MessageType>;  // peer, direction, type
  using LinkKey = std::pair<uint64_t, Dir>;                // peer, direction

  // A record may be written now (false: counted as suppressed); rolls the rate window over.
  bool admit(uint64_t now_ns, bool always);
  // At `changes`: false when the heartbeat changes nothing on its link (then it is counted).
  bool heartbeat_worth_writing(const Message& m, Dir dir);
  void message(const Message& m, Dir dir);
  // Opens a record about one message (t, n, ev, type, from, to, term, seq); returns its start.
  size_t begin_message_record(uint64_t now_ns, const char* ev, const Message& m);
  void end_record(size_t start);
  void write_summaries(uint64_t now_ns, bool force);
  void write_suppressed(uint64_t now_ns);
  void write_out();
  void rotate();

  NodeId id_;
  TraceLevel level_;
  uint32_t tick_ms_;
  std::function<bool()> is_learner_;
  std::string path_;
  int fd_ = -1;
  std::string buffer_;
  uint64_t file_bytes_ = 0;  // trace.jsonl's size, for kTraceFileBytesMax
  uint64_t last_write_ns_ = 0;
  uint64_t next_seq_ = 1;  // Message::trace_seq of the next message sent

  uint64_t window_second_ = 0;  // the rate window: monotonic seconds
  uint64_t window_bytes_ = 0;   // bytes written in it
  uint64_t suppressed_ = 0;     // records not written in it
  uint64_t suppressed_total_ = 0;
  uint64_t write_errors_ = 0;

  std::map<BeatKey, Beat> beats_last_;         // the last heartbeat written, per link and type
  std::map<LinkKey, uint64_t> beats_counted_;  // heartbeats not written since the last summary
  uint64_t summary_ns_ = 0;                    // when the last heartbeats summary was written
};

}  // namespace raftlab::lab
