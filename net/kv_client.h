// The KV client: finds the leader, retries, and says honestly what it knows (docs/design.md §8).
//
// One KvClient runs on one libuv loop and carries many sessions (logical clients) over one
// TCP connection per node, with requests pipelined and matched by request_id (net/wire.h).
// A session is a KV session (node/kv/kv.h): a random client id and a sequence number raised by
// one per write; a write is retried with the same seq, so the cluster applies it at most once.
// The client id comes from the OS, never from the seed: the cluster remembers sessions after
// their clients have gone, and a new client that reused an old id would see its writes taken
// for duplicates, answered "ok" and not applied.
//
// Routing. A write goes to the node believed to lead (a response's leader hint, else the
// session's preferred node, else the nodes in turn). kNotLeader with a hint goes to that node
// at once; without one, to the next node after kRetryBackoffMs. A get is served by any node
// (a follower asks the leader for a read index); a stale get by the node asked.
//
// Outcomes. Every operation ends with exactly one callback:
//   kOk       it took effect (a get: the value was read linearizably, or stale if asked);
//   kFail     it certainly did not take effect: every try was refused before reaching a log
//             (not leader, retry later, invalid), or a cas found another value;
//   kUnknown  some try may have reached a log (sent to a node that then went silent, the
//             connection lost after sending, the node could not learn the outcome, the session
//             expired) and no later try settled it before the operation's deadline.
// A get that never got an answer is kUnknown too: it had no effect, and a checker drops it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/wire.h"
#include "node/prng.h"
#include "node/types.h"

namespace raftlab::net {

constexpr uint64_t kRetryBackoffMs = 20;       // before a try after kRetry or no leader hint
constexpr uint64_t kReconnectIntervalMs = 50;  // at most one connect per node per interval
constexpr uint64_t kSweepIntervalMs = 5;       // deadlines are checked this often

struct KvClientOptions {
  std::string cluster_id;
  std::map<NodeId, uint16_t> nodes;  // every node's port on 127.0.0.1
  uint64_t op_timeout_ms = 5000;     // one operation, every try included
  uint64_t try_timeout_ms = 1000;    // one try on one node before the next node is tried
  uint64_t seed = 1;                 // node choice (session ids are random: see above)
};

enum class OpOutcome : uint8_t { kOk, kFail, kUnknown };
const char* to_string(OpOutcome outcome);

struct KvOp {
  ClientOp op = ClientOp::kGet;
  std::string key;
  std::string value;     // put, append; cas: the new value
  std::string expected;  // cas
  bool stale = false;    // get only
  NodeId node;           // ask this node first (0: the believed leader, else any)
};

struct OpResult {
  OpOutcome outcome = OpOutcome::kUnknown;
  ClientStatus status = ClientStatus::kUnknown;  // the last response's status, if any
  std::optional<std::string> value;              // get: the value; cas mismatch: what it held
  NodeId node;                                   // the node that gave the final answer
  Index index;                                   // its log index (writes) or read index (get)
  uint32_t tries = 0;
  std::string error;  // why, for kFail and kUnknown
};

class KvClient {
 public:
  using Done = std::function<void(const OpResult&)>;

  KvClient(uv_loop_t* loop, KvClientOptions options);
  ~KvClient();
  KvClient(const KvClient&) = delete;
  KvClient& operator=(const KvClient&) = delete;

  /// A new session (a fresh KV client id, random from the OS). Returns its handle.
  uint64_t new_session();
  /// Starts `op` on `session`; at most one operation per session at a time. `done` is called
  /// exactly once, from the loop (never from inside submit).
  void submit(uint64_t session, KvOp op, Done done);
  /// Operations started and not finished.
  size_t in_flight() const { return ops_.size(); }
  /// Fails every operation in flight as unknown, closes every connection and timer. The owner
  /// then runs the loop until it has no handles left.
  void close();

  NodeId leader_hint() const { return leader_; }
  void set_node_port(NodeId node, uint16_t port) { options_.nodes[node] = port; }

  // Internals used by the libuv callbacks (kv_client.cc).
  struct Conn;
  struct Operation;

 private:
  friend struct KvClientCallbacks;
  struct Session {
    uint64_t client = 0;
    uint64_t seq = 0;
    bool busy = false;
  };

  void start_try(Operation* op);
  void send_try(Operation* op, NodeId node);
  Conn* conn_for(NodeId node);
  void on_connected(Conn* conn, int status);
  void on_read(Conn* conn, const char* data, size_t size);
  void on_response(Conn* conn, ClientResponse response);
  void on_conn_closed(Conn* conn);
  void close_conn(Conn* conn, const std::string& why);
  void flush(Conn* conn);
  void lost_try(Operation* op, const std::string& why);  // the try's answer will never come
  void retry_later(Operation* op, uint64_t delay_ms);
  void finish(Operation* op, OpOutcome outcome, const std::string& error);
  void sweep();
  NodeId next_node(NodeId after) const;

  uv_loop_t* loop_;
  KvClientOptions options_;
  Prng prng_;
  uv_timer_t* sweep_timer_ = nullptr;  // owned; freed in its close callback
  bool closed_ = false;
  NodeId leader_;
  uint64_t next_request_id_ = 1;
  uint64_t next_session_ = 1;
  uint64_t next_op_ = 1;
  std::map<uint64_t, Session> sessions_;
  std::map<uint64_t, std::unique_ptr<Operation>> ops_;  // by operation number
  std::map<uint64_t, uint64_t> requests_;               // request id -> operation number
  std::map<NodeId, Conn*> conns_;                       // owned; freed in the close callback
};

/// Runs one operation on a private loop (for the CLI): new session, submit, wait.
OpResult run_one_op(const KvClientOptions& options, const KvOp& op);

}  // namespace raftlab::net
