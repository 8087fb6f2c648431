// The node process's composition root (internal to cmd/node_process/): one Host owns the loop
// and everything on it. Its jobs are in their own files:
//   node_host.cc       start and stop, the loop, timers, signals; step() and the Outbox
//   node_storage.cc    opening the WAL and snapshots; the pipeline's Storage over them
//   client_service.cc  the KV service: the pipeline's Clients and StateMachine
//   admin_handler.cc   the admin protocol (cmd/cluster/contract.h)
//   admin_timers.cc    its election-timer commands: timers freeze|thaw, campaign
//   admin_hold.cc      its held-message commands (net hold): held, hold_deliver, hold_drop
//   snapshots.cc       when to snapshot the state machine, and saving it
//   event_log.cc       events.jsonl and the node's log
//   trace_writer.cc    trace.jsonl (docs/trace.md): the pipeline's Tracer
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cmd/cluster/cluster_dir.h"
#include "cmd/cluster/dir_lock.h"
#include "cmd/node_process/client_service.h"
#include "cmd/node_process/event_log.h"
#include "cmd/node_process/node_storage.h"
#include "cmd/node_process/trace_writer.h"
#include "net/admin_server.h"
#include "net/transport.h"
#include "node/core.h"
#include "node/pipeline.h"

namespace raftlab::lab {

class Host final : public Outbox {
 public:
  Host(std::string dir, NodeId id) : dir_(std::move(dir)), id_(id) {}
  int run();

  // Outbox (node/pipeline.h).
  void send(Message message) override { transport_->send(message); }
  void persisted(uint64_t persist_id) override;
  void notice(const Notice& notice) override;

 private:
  std::optional<Outcome> step(const Input& input);
  void on_synced(uint64_t durable_seq);

  // Startup (node_host.cc).
  int prepare_node_dir(const NodeSpec& me);
  int lock_node_dir();
  int open_core();
  int open_trace();
  std::vector<NodeId> starting_voters(const persist::NodeStorage& storage);
  void note_membership_source();
  int start_network(const NodeSpec& me);
  void start_timers();
  void announce_start(const std::string& fault_error);
  int close_loop();
  void write_pid_file();
  void log(const std::string& line) const { log_line(id_, line); }
  // Logs "fatal: WHAT", records it in events.jsonl and exits 4. Every I/O error ends here:
  // nothing unsynced was acknowledged, so stopping loses nothing.
  [[noreturn]] void fatal(const std::string& what);
  void begin_shutdown(const std::string& reason);
  void finish_shutdown();
  void remove_pid_file();

  // Admin protocol (admin_handler.cc).
  std::string on_admin(std::string_view line);
  nlohmann::json dispatch_admin(const nlohmann::json& request);
  nlohmann::json admin_status();
  nlohmann::json admin_counters();
  nlohmann::json admin_reload_faults();
  nlohmann::json admin_snapshot();
  nlohmann::json admin_transfer(const nlohmann::json& request);
  nlohmann::json admin_member(const nlohmann::json& request);
  // Held messages (admin_hold.cc): held, hold_deliver|drop (reload_faults reloads hold rules too).
  nlohmann::json admin_hold(const std::string& cmd, const nlohmann::json& request);
  void attach_hold();
  // Election timer by hand (admin_timers.cc): `timers` freeze|thaw, `campaign`.
  nlohmann::json admin_timers(const nlohmann::json& request);
  nlohmann::json admin_campaign();
  void refresh_peers(const ClusterSpec& spec);
  void on_unknown_peer();

  // Snapshots (snapshots.cc).
  void maybe_snapshot();
  void take_snapshot(const char* by);
  bool fork_snapshot();
  void on_snapshot_saved(const SnapshotMeta& meta, const std::string& error);
  void on_snapshot_written(const SnapshotMeta& meta, uint64_t size, const std::string& error);

  std::string dir_;       // absolute cluster directory
  std::string node_dir_;  // absolute DIR/n<ID>; also the working directory
  NodeId id_;
  ClusterSpec spec_;

  uv_loop_t loop_{};
  uv_timer_t tick_timer_{};
  uv_timer_t flush_timer_{};
  uv_timer_t shutdown_timer_{};  // runs begin_shutdown outside the admin handler
  uv_check_t batch_check_{};     // after each poll: propose the batch, maybe snapshot
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};

  std::optional<persist::NodeStorage> opened_;  // from open_storage until the core has it
  std::unique_ptr<WalStorage> storage_;
  std::unique_ptr<Core> core_;
  KvService kv_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<net::Transport> transport_;
  std::unique_ptr<net::AdminServer> admin_;
  EventLog events_;
  std::unique_ptr<TraceWriter> trace_;  // null when cluster.json's trace level is off
  std::unique_ptr<CoreEvents> core_events_;
  DirLock node_lock_;  // DIR/n<ID>/lock, held for the life of the process

  uint64_t snapshots_taken_ = 0;
  uint64_t peer_reload_ms_ = 0;
  bool shutting_down_ = false;
  bool pid_written_ = false;
  int exit_code_ = 0;
};

}  // namespace raftlab::lab
