// The KV service of a node process (docs/design.md §8): the client protocol (net/wire.h, on
// the same port as peers) in front of the Ready pipeline, and the KV state machine
// (node/kv/kv.h) behind it.
//
// Writes are batched per loop turn into one Propose and answered by the pipeline when their
// index is applied (the entry must carry the term it was proposed in, else it was
// overwritten: "retry"); sessions (client, seq) make a retried write apply once. Gets take a
// ReadIndex round and are served from the state machine once it has applied the read index;
// stale gets are served at once from this node's applied state.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cmd/cluster/cluster_dir.h"
#include "cmd/node_process/event_log.h"
#include "net/transport.h"
#include "node/core.h"
#include "node/kv/kv.h"
#include "node/pipeline.h"

namespace raftlab::lab {

class KvService final : public StateMachine, public Clients {
 public:
  /// What the service reaches outside itself; set by connect() once the node is assembled.
  struct Context {
    NodeId id;
    uv_loop_t* loop = nullptr;  // its clock times requests out
    const Core* core = nullptr;
    const ClusterSpec* spec = nullptr;  // ports, for redirects
    net::Transport* transport = nullptr;
    Pipeline* pipeline = nullptr;
    EventLog* events = nullptr;
    std::function<std::optional<Outcome>(const Input&)> step;  // the host's step
  };
  void connect(Context context) { ctx_ = std::move(context); }

  /// At startup, before connect(): the state machine becomes the stored snapshot's.
  /// Returns why it cannot, or "".
  std::string restore_at_start(const std::string& data, Index index);

  void on_request(uint64_t conn, net::ClientRequest request);
  void flush_proposals();  // one Propose for the requests of this loop turn
  void expire();           // answers what waited longer than the node's bounds

  struct Counters {
    uint64_t writes_ok = 0;
    uint64_t reads_ok = 0;
    uint64_t refused = 0;  // not the leader, retry, invalid
    uint64_t unknown = 0;  // the outcome is unknown
  };
  const kv::StateMachine& kv() const { return kv_; }
  const Counters& counters() const { return counters_; }
  /// A snapshot of the state machine for SnapshotTaken.
  Payload snapshot() const { return Payload(kv_.snapshot()); }

  // StateMachine.
  Index applied() const override { return kv_.applied(); }
  std::optional<ApplyResult> apply(const Entry& entry) override;
  void restore(const Snapshot& snapshot) override;

  // Clients.
  void answer_write(const ClientRef& client, Index index, WriteFate fate,
                    const ApplyResult& result) override;
  void serve_read(const ClientRef& client, Index index) override;
  void fail_read(const ClientRef& client, const ReadFailure& failure) override;
  void read_timed_out(const ClientRef& client) override;

 private:
  struct Proposal {
    ClientRef client;
    Payload command;
  };
  void reply(uint64_t conn, net::ClientResponse response);
  net::ClientResponse redirect(uint64_t request_id, net::ClientStatus status,
                               const std::string& error, NodeId leader) const;
  void serve_stale(uint64_t conn, const net::ClientRequest& q);
  void queue_write(uint64_t conn, net::ClientRequest q);

  Context ctx_;
  kv::StateMachine kv_;                        // applied() <= the core's commit
  std::vector<Proposal> batch_;                // proposals of this loop turn
  std::map<uint64_t, std::string> read_keys_;  // the key of each read in flight, by read id
  uint64_t next_read_id_ = 1;
  Counters counters_;
};

}  // namespace raftlab::lab
