// The peer transport of one node process: libuv TCP on 127.0.0.1, frames and messages of
// net/wire.h, the fault filter on the send side (docs/design.md §3-§5).
//
// Connections. Every node listens on one port. To send to a peer it opens its own outgoing
// connection (so each pair of nodes has two connections, one per direction: a connection is
// either send-only or receive-only, and there is never a race over who dials whom). The first
// frame on every connection is a Hello naming the kind (peer or client), the cluster id and the
// sender. A hello with another cluster id, from an unknown kind or from our own id is refused:
// the connection is closed, one line is logged and `hello_refused` is bumped.
//
// Inbound connections are held in three pools, so no kind of caller can starve another:
//  - pending: accepted, no hello yet (the kind is unknown). At most kPendingConnectionsMax;
//    a new connection beyond it closes the OLDEST pending one (`pending_evicted`) rather than
//    being refused, and each must complete its hello within kHelloDeadlineMs
//    (`hello_timeouts`). Refusing new ones would let anyone who keeps that many idle sockets
//    open lock every peer and client out (as 300 idle sockets once stopped all writes); with
//    eviction, a real caller, which sends its hello at once, is only displaced if that many
//    connections arrive between its connect and our reading its hello (see the constant).
//  - peers: at most one inbound connection per node id; a newer hello from the same id
//    replaces the older connection (`peers_replaced`: a reconnect after a lost FIN). Ids of
//    our configuration are never refused; other ids (a member being added, or a stranger) are
//    limited to kStrangerPeerConnectionsMax (`connections_refused`).
//  - clients: at most kClientConnectionsMax; beyond it a client hello is refused
//    (`connections_refused`). Clients can fill only their own pool, never the peers'.
//
// Inbound bytes. A frame is read as its bytes arrive, never allocated from its declared length
// (which the sender chooses), and handed off whole, so a connection between frames holds
// nothing. The bytes of partial frames across all inbound connections are bounded by
// kInboundBufferedBytesMax: beyond it the connection holding the most is closed
// (`buffer_evicted`), repeatedly, until the total fits. Closing, not pausing: a paused reader
// keeps its bytes, so slow senders that never finish would hold the whole budget and every
// newcomer would be paused behind them. Connections of configured peers are exempt (one per
// id, so they add at most peers x kFrameBytesMax): the cluster's own traffic always gets through.
//
// Bad input. A malformed frame (oversize length), an undecodable payload, a message that is not
// from the node that said hello or not for us closes that one connection, logs one line and
// bumps a counter. Nothing a remote process sends can crash the node.
//
// Sending. Transport::send first asks the HoldQueue (net/hold.h): a message a hold rule matches
// waits there, not yet sent, until it is delivered by hand or its rule released, and then goes
// on exactly as below. Then it asks the FaultFilter for a Verdict, then either drops the message,
// queues it on the peer's send queue now, or arms a uv timer per delayed copy. Each peer's send
// queue is bounded (kSendQueueBytesMax, kSendQueueFramesMax): when full the oldest frame is
// dropped (a Raft message superseded by newer ones is worth least) and `queue_dropped` counts
// it. Raft tolerates loss, so nothing is retried here. The queue survives a reconnect.
//
// Reconnects back off exponentially from kReconnectBackoffMinMs to kReconnectBackoffMaxMs.
//
// libuv discipline: one loop thread; every handle is embedded in a heap object whose
// handle.data points to it, and that object is freed only in the handle's close callback.
// close() closes everything; the owner then runs the loop until it has no handles left, and
// only then destroys the Transport.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "net/fault_filter.h"
#include "net/hold.h"
#include "net/wire.h"
#include "node/message.h"
#include "node/types.h"

namespace raftlab::net {

constexpr size_t kSendQueueBytesMax = 32u << 20;  // per peer, frames waiting to be written
constexpr size_t kSendQueueFramesMax = 8192;      // per peer
constexpr size_t kDelayedFramesMax = 16384;       // frames held by fault-filter delays
constexpr int kListenBacklog = 128;
constexpr size_t kHelloBytesMax = 4096;        // the longest first frame (the hello)
constexpr size_t kReadChunkBytes = 64u << 10;  // one read callback's buffer (shared)
constexpr uint64_t kHelloDeadlineMs = 1000;    // accepted -> hello complete, or closed
// Accepted, no hello yet; when full the oldest is closed. At least twice kListenBacklog: libuv
// accepts a whole backlog at once before reading from any of them, so a caller's hello (already
// sent) is read before two such batches could push it out.
constexpr size_t kPendingConnectionsMax = 256;
static_assert(kPendingConnectionsMax >= 2 * kListenBacklog);
constexpr size_t kClientConnectionsMax = 256;           // past a client hello; beyond: refused
constexpr size_t kStrangerPeerConnectionsMax = 16;      // peer hellos from ids not configured
constexpr uint64_t kShedLogIntervalMs = 1000;           // one log line per reason a flood is shed
constexpr size_t kInboundBufferedBytesMax = 64u << 20;  // partial frames, all inbound conns
constexpr size_t kWriteBatchBytesMax = 4u << 20;        // queued frames joined into one write
constexpr uint32_t kReconnectBackoffMinMs = 20;         // first retry after a failed connect
constexpr uint32_t kReconnectBackoffMaxMs = 1000;       // cap of the doubling
constexpr uint64_t kConnectionStableMs = 1000;          // up this long: backoff starts over
constexpr size_t kClientOutputBytesMax = 64u << 20;     // unread responses: the client is closed

/// Counters reported by `status` (admin protocol). Monotonic over the process's life.
struct TransportCounters {
  uint64_t frames_bad = 0;            // oversize length or a too-long hello: connection closed
  uint64_t messages_bad = 0;          // undecodable payload or misaddressed message: closed
  uint64_t hello_refused = 0;         // wrong cluster id, kind or node id: closed
  uint64_t queue_dropped = 0;         // frames dropped because a send queue was full
  uint64_t delay_dropped = 0;         // delayed copies dropped: kDelayedFramesMax reached
  uint64_t unknown_peer_dropped = 0;  // messages for a node we have no port for
  uint64_t fault_dropped = 0;         // messages the fault filter dropped
  uint64_t fault_delayed = 0;         // copies the fault filter delayed
  uint64_t messages_sent = 0;         // copies handed to a send queue
  uint64_t messages_received = 0;     // decoded and delivered to the host
  uint64_t connections_accepted = 0;  // incoming TCP connections
  uint64_t connections_refused = 0;   // hello over kClient/kStrangerPeerConnectionsMax
  uint64_t hello_timeouts = 0;        // no hello within kHelloDeadlineMs: closed
  uint64_t pending_evicted = 0;       // oldest pending closed: kPendingConnectionsMax reached
  uint64_t peers_replaced = 0;        // an inbound peer connection superseded by a newer one
  uint64_t buffer_evicted = 0;        // closed: kInboundBufferedBytesMax reached, largest first
  uint64_t clients_connected = 0;     // incoming connections whose hello said "client"
  uint64_t connects_failed = 0;       // outgoing connection attempts that failed
  uint64_t client_requests = 0;       // KV requests received
  uint64_t client_responses = 0;      // KV responses queued
};

/// Inbound connections open now, by pool, and the bytes of partial frames they hold.
struct InboundGauges {
  size_t pending = 0;         // no hello yet (<= kPendingConnectionsMax)
  size_t peers = 0;           // past a peer hello
  size_t clients = 0;         // past a client hello (<= kClientConnectionsMax)
  size_t buffered_bytes = 0;  // sum over inbound connections (see kInboundBufferedBytesMax)
};

/// What a fault rule did to a message (Transport::Callbacks::on_fault).
enum class FaultAct : uint8_t { kDrop, kDelay, kDup };

/// Told of every message a fault rule drops, delays or duplicates (Transport::Callbacks), with
/// the rule in the trace's words (FaultFilter::describe_drop...) and, for kDelay, the copy's
/// delay. Messages lost for
/// other reasons (no connection, a full queue) are not a rule's doing and are not reported.
using FaultHook = std::function<void(FaultAct act, const Message& message, const std::string& rule,
                                     uint32_t delay_ms)>;

/// What happened to a held message (Transport::set_hold_hook), for the trace.
enum class HoldAct : uint8_t { kHold, kDeliver, kDiscard };
/// `why` for kDeliver: "hand" or "released" (its rule was removed); for kDiscard: "hand" or
/// "cap" (the oldest beyond kHeldMessagesMax).
using HoldHook = std::function<void(HoldAct act, const Message& message, const char* why)>;

struct TransportOptions {
  std::string cluster_id;
  NodeId self;
  uint16_t port = 0;                     // 0: any free port (tests); see Transport::port()
  std::map<NodeId, uint16_t> peers;      // every other node's port on 127.0.0.1
  uint64_t fault_seed = 0;               // the FaultFilter's seed
  std::string log_prefix = "transport";  // starts every log line
};

class Transport {
 public:
  /// What the transport tells its owner. `on_message` is a decoded message addressed to us.
  struct Callbacks {
    std::function<void(Message)> on_message;
    /// "peer_connected", "peer_lost", "bad_frame", "hello_refused" with the peer (or 0) and
    /// a short detail; for events.jsonl.
    std::function<void(std::string_view event, NodeId peer, const std::string& detail)> on_event;
    /// A message was addressed to a node we have no port for (e.g. one just added).
    std::function<void(NodeId peer)> on_unknown_peer;
    /// A KV request on a client connection (net/wire.h). `client_conn` names the connection
    /// for send_client; it is never reused within the process.
    std::function<void(uint64_t client_conn, ClientRequest request)> on_client_request;
    /// A client connection closed: responses for it can no longer be delivered.
    std::function<void(uint64_t client_conn)> on_client_closed;
    /// Optional (the node's trace): a fault rule dropped, delayed or duplicated a message.
    FaultHook on_fault;
  };

  Transport(uv_loop_t* loop, TransportOptions options, Callbacks callbacks);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  /// Binds 127.0.0.1:port and listens. Returns "" or the error (e.g. "address already in use").
  std::string start();
  /// Closes the listener, every connection and timer. Callbacks stop at once.
  void close();
  /// The port actually bound (after start()).
  uint16_t port() const { return bound_port_; }

  /// Passes the message through the fault filter and queues what survives.
  void send(const Message& message);
  /// Queues a response on a client connection (written at once if the socket is idle, else
  /// with the next write). False if the connection is gone. Client traffic is not subject to
  /// the fault filter: faults are between nodes, clients reach every node (as in Jepsen).
  bool send_client(uint64_t client_conn, const ClientResponse& response);
  /// Adds a peer (or changes its port); connecting starts on the first message for it.
  void add_peer(NodeId id, uint16_t port);

  void set_fault_rules(FaultRules rules) { filter_.set_rules(std::move(rules)); }
  /// Replaces the hold rules; the held messages no rule matches any more are sent now, in order.
  void set_hold_rules(std::vector<HoldRule> rules);
  /// Optional (the node's trace): told of every message held, delivered or discarded.
  void set_hold_hook(HoldHook hook) { hold_hook_ = std::move(hook); }
  /// Sends the selected held messages on (through the fault filter, in the order they were
  /// held) or discards them; returns how many. Ids not held are appended to `unknown`.
  size_t deliver_held(const HoldSelection& selection, std::vector<std::string>& unknown);
  size_t discard_held(const HoldSelection& selection, std::vector<std::string>& unknown);
  const HoldQueue& held() const { return hold_; }
  void set_held_max(size_t held_max) { hold_.set_held_max(held_max); }  // test-only
  const FaultFilter& faults() const { return filter_; }
  const TransportCounters& counters() const { return counters_; }
  InboundGauges inbound() const;
  /// Peers with an outgoing connection up.
  std::set<NodeId> connected_peers() const;

  // Internals used by the libuv callbacks (defined in transport.cc).
  struct Conn;
  struct Peer;
  struct Delayed;

 private:
  friend struct TransportCallbacks;
  void log(const std::string& line) const;
  void report_faults(const Message& message, const Verdict& verdict) const;
  /// The send past the hold point: the fault filter, then the send queue or a delay timer.
  void send_now(const Message& message);
  void hold_message(const Message& message);
  void note_hold(HoldAct act, const Message& message, const char* why) const;
  void enqueue(NodeId to, std::string frame);
  void connect_peer(Peer* peer);
  void schedule_reconnect(Peer* peer);
  void flush(Conn* conn);
  void close_conn(Conn* conn, const std::string& why);
  /// Starts writing `data` on the connection; on failure closes it and returns false.
  bool start_write(Conn* conn, std::string data);
  void on_read(Conn* conn, const char* data, size_t size);
  bool on_frame(Conn* conn, const std::string& payload);
  /// Moves a connection from the pending pool to the peer or client pool after its hello;
  /// false (and closed) if that pool is full.
  bool admit(Conn* conn, const Hello& hello);
  /// Why a connection was closed to keep a bound; each has its counter and its log limit.
  enum class Shed : uint8_t { kPendingEvicted, kHelloTimeout, kBufferEvicted, kRefused, kCount };
  /// Closes a connection to keep a bound: counts it, and logs at most one line per reason per
  /// kShedLogIntervalMs (with how many went unlogged), as a flood sheds thousands a second.
  void shed(Conn* conn, Shed why, const std::string& detail);
  std::string describe(const Conn* conn) const;
  void arm_hello_timer();
  void on_hello_timer();
  void enforce_buffered_bound();
  void on_connected(Conn* conn, int status);
  void on_conn_closed(Conn* conn);
  void on_accept();
  void on_delay_fired(Delayed* d);

  uv_loop_t* loop_;
  TransportOptions options_;
  Callbacks callbacks_;
  FaultFilter filter_;
  HoldQueue hold_;      // messages held at this sender (net hold)
  HoldHook hold_hook_;  // may be empty
  TransportCounters counters_;
  uv_tcp_t* listener_ = nullptr;       // owned; freed in its close callback
  uv_timer_t* hello_timer_ = nullptr;  // owned; freed in its close callback; fires at the
                                       // oldest pending connection's hello deadline
  uint16_t bound_port_ = 0;
  bool closed_ = false;
  std::map<NodeId, Peer*> peers_;      // owned; each freed in its reconnect timer's close callback
  std::set<Conn*> conns_;              // every open connection, both directions
  std::set<Delayed*> delayed_;         // armed delay timers
  std::map<uint64_t, Conn*> clients_;  // client connections past their hello, by id
  uint64_t next_client_conn_ = 1;
  std::list<Conn*> pending_;               // accepted, no hello yet, oldest first
  std::map<NodeId, Conn*> inbound_peers_;  // past a peer hello, by the id it named
  size_t buffered_bytes_ = 0;              // partial frames held by inbound connections
  std::unique_ptr<char[]> read_buf_;       // kReadChunkBytes; every read lands here first
  struct ShedLog {
    uint64_t logged_at_ms = 0;
    uint64_t unlogged = 0;  // closed since the last line, without a line of their own
    bool ever = false;
  };
  ShedLog shed_log_[static_cast<size_t>(Shed::kCount)];
};

}  // namespace raftlab::net
