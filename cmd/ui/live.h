// `raftlab ui`'s live data: one thread polls the nodes' admin status every kUiStateIntervalMs
// and tails their traces and actions.jsonl, and publishes each round as a frame (the /api/state
// document and the trace lines read since the last round). The SSE clients each keep a cursor
// into the frames; frames are kept for kUiFramesKept rounds, so a slow client loses trace
// records (and is told how many), never blocks the poller.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cmd/cluster/cluster_dir.h"

namespace raftlab::ui {

constexpr uint32_t kUiStateIntervalMs = 50;  // a state event at least this often
constexpr size_t kUiTraceBatchMax =
    500;  // trace records in one `trace` event (10,000/s at 20 frames/s)
constexpr uint64_t kUiLogEntriesMax = 40;            // each node's last log entries in the state
constexpr uint32_t kUiAdminTimeoutMs = 100;          // one node's status answer per round
constexpr size_t kUiFramesKept = 200;                // rounds a slow client may lag (10 s)
constexpr size_t kUiTailBytesPerRoundMax = 1 << 20;  // read from one file per round
constexpr size_t kUiTailLineBytesMax = 1 << 20;      // a longer unfinished line is dropped

/// Follows one append-only file: the complete lines written since the last read. A rotation
/// (the file renamed to `rotated`, a new one started) first finishes the renamed file; a new
/// file (a restart after `up --fresh`) or a shorter one is read from its start.
class FileTail {
 public:
  FileTail(std::string path, std::string rotated, bool from_end);
  /// Appends the new complete lines (without '\n') to `lines`.
  void read(std::vector<std::string>& lines);

 private:
  void read_from(const std::string& path, bool to_end, std::vector<std::string>& lines);

  std::string path_;
  std::string rotated_;  // "" when the file is never rotated (actions.jsonl)
  ino_t inode_ = 0;      // 0: not opened yet
  uint64_t offset_ = 0;  // bytes of inode_ consumed
  std::string carry_;    // an unfinished last line
};

/// Where an SSE client is: the last frame it got and the trace records it was sent.
struct Cursor {
  uint64_t seq = 0;
  uint64_t records = 0;  // trace records up to seq, counted from the ui's start
};

class Live {
 public:
  /// Throws LabError(4) when DIR has no readable cluster.json.
  explicit Live(std::string dir);
  ~Live();
  Live(const Live&) = delete;
  Live& operator=(const Live&) = delete;

  /// One round at once (so /api/state has a document), then the polling thread.
  void start();
  void stop();
  /// A round now rather than at the next interval (after an action).
  void poke();
  bool stopping() const;

  /// The newest /api/state document.
  std::string state() const;
  /// The cluster's node ids (for checking actions).
  std::vector<uint64_t> node_ids() const;
  /// A cursor at the newest frame: a new client's trace starts now.
  Cursor cursor() const;
  /// Waits up to wait_ms for a frame after `c`. True with the newest state and, in `trace`, the
  /// `{"events": [...]}` batch since `c` ("" when no records); false when no frame came (or
  /// stopping).
  bool next(Cursor& c, std::string& state, std::string& trace, uint32_t wait_ms);

 private:
  struct Frame {
    uint64_t seq = 0;
    uint64_t records_before = 0;  // trace records in all frames before this one
    std::vector<std::string> trace;
  };

  void run();
  void round();
  nlohmann::json poll_nodes(const lab::ClusterSpec& spec);
  nlohmann::json poll_held(const lab::ClusterSpec& spec);
  std::vector<std::string> read_traces();
  std::string trace_batch(const Cursor& c, uint64_t* records_after) const;

  const std::string dir_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable poll_cv_;   // wakes the poller: stop or poke
  std::condition_variable frame_cv_;  // wakes the clients: a new frame or stop
  bool stopping_ = false;
  bool poke_ = false;
  std::string state_;
  std::vector<uint64_t> node_ids_;
  std::deque<Frame> frames_;
  uint64_t seq_ = 0;
  uint64_t records_total_ = 0;

  // The poller's own (no lock needed).
  std::map<std::string, std::unique_ptr<FileTail>> tails_;
  std::map<uint64_t, nlohmann::json> last_known_;  // a node's last answered numbers
  bool held_seen_ = false;                         // the last round found held messages: ask again
  bool started_ = false;
};

}  // namespace raftlab::ui
