// The peer transport (see transport.h for the connection model and the limits).
#include "net/transport.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <utility>

namespace raftlab::net {

// The frame being received on one inbound connection (frames: net/wire.h). Unlike
// FrameDecoder it holds at most one frame and gives it away whole: the payload grows with the
// bytes that arrived (capacity at most twice those, and never beyond the declared length), so
// a sender that declares 16 MiB and sends little costs little, and an idle connection holds
// nothing (see kInboundBufferedBytesMax).
class FrameReader {
 public:
  enum class Status : uint8_t { kNeedMore, kFrame, kError };

  /// Takes bytes from the front of `in` until a frame is complete (kFrame: `payload` holds it
  /// and the reader is empty again), `in` is used up (kNeedMore), or the header declares more
  /// than `length_max` bytes (kError, `error` says why; the stream is not to be trusted).
  Status take(std::string_view& in, uint32_t length_max, std::string& payload, std::string& error) {
    while (header_bytes_ < kFrameHeaderBytes) {
      if (in.empty()) return Status::kNeedMore;
      length_ = (length_ << 8) | static_cast<unsigned char>(in.front());
      in.remove_prefix(1);
      ++header_bytes_;
    }
    if (length_ > length_max) {
      error = "frame length " + std::to_string(length_) + " exceeds the maximum " +
              std::to_string(length_max);
      return Status::kError;
    }
    const size_t want = std::min<size_t>(in.size(), length_ - body_.size());
    if (body_.size() + want > body_.capacity()) {
      body_.reserve(std::min<size_t>(length_, std::max(body_.size() + want, 2 * body_.capacity())));
    }
    body_.append(in.substr(0, want));
    in.remove_prefix(want);
    if (body_.size() < length_) return Status::kNeedMore;
    payload = std::move(body_);
    clear();
    return Status::kFrame;
  }
  /// Bytes of the frame in progress (header included): what the connection costs us now.
  size_t buffered() const { return header_bytes_ + body_.size(); }
  void clear() {
    body_ = std::string();  // gives the memory back, not just the length
    header_bytes_ = 0;
    length_ = 0;
  }

 private:
  std::string body_;         // payload bytes received so far (<= length_)
  size_t header_bytes_ = 0;  // of kFrameHeaderBytes
  uint32_t length_ = 0;      // declared payload length, valid once the header is complete
};

// One TCP connection, either direction. Freed in its close callback (conn_close_cb).
struct Transport::Conn {
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  Transport* owner = nullptr;
  bool outgoing = false;    // send-only (ours) or receive-only (accepted)
  Peer* peer = nullptr;     // outgoing: the peer it serves; cleared when the transport closes
  bool up = false;          // outgoing: connected and hello queued
  bool pending = false;     // incoming: in pending_ (accepted, no hello yet)
  bool writing = false;     // a uv_write is in flight (at most one)
  bool closing = false;     // uv_close called
  bool hello_done = false;  // incoming: a valid hello arrived
  PeerKind kind = PeerKind::kPeer;
  NodeId remote;                 // incoming: who said hello; outgoing: the peer
  uint64_t client_conn = 0;      // incoming client connections: their id in clients_
  std::string client_out;        // client connections: responses not yet handed to uv_write
  uint64_t connected_at_ms = 0;  // outgoing: connected; incoming: accepted
  std::list<Conn*>::iterator pending_it;  // valid while `pending`
  FrameReader reader;                     // incoming: the frame being received
};

// A peer we send to. Freed in its reconnect timer's close callback (peer_close_cb).
struct Transport::Peer {
  uv_timer_t timer{};  // reconnect backoff
  Transport* owner = nullptr;
  NodeId id;
  uint16_t port = 0;
  Conn* conn = nullptr;  // the outgoing connection, connecting or up
  uint32_t backoff_ms = kReconnectBackoffMinMs;
  std::deque<std::string> queue;  // frames not yet handed to uv_write
  size_t queue_bytes = 0;
};

// One copy of a message held back by a fault-filter delay. Freed in its close callback.
struct Transport::Delayed {
  uv_timer_t timer{};
  Transport* owner = nullptr;
  NodeId to;
  std::string frame;
};

namespace {

struct WriteReq {
  uv_write_t req{};  // req.data points to this WriteReq
  Transport::Conn* conn = nullptr;
  std::string data;  // kept alive until the write callback
};

std::string uv_error(int code) { return uv_strerror(code); }

}  // namespace

// The libuv callbacks, as static members of a friend so they can reach the internals.
struct TransportCallbacks {
  static void conn_close_cb(uv_handle_t* h) {
    auto* conn = static_cast<Transport::Conn*>(h->data);
    conn->owner->on_conn_closed(conn);
  }
  static void peer_close_cb(uv_handle_t* h) { delete static_cast<Transport::Peer*>(h->data); }
  static void delayed_close_cb(uv_handle_t* h) { delete static_cast<Transport::Delayed*>(h->data); }
  static void listener_close_cb(uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); }
  static void timer_close_cb(uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); }
  // One buffer serves every connection: libuv calls read_cb right after each alloc_cb, and
  // on_read copies what it keeps, so no connection pins a read buffer of its own.
  static void alloc_cb(uv_handle_t* h, size_t /*suggested*/, uv_buf_t* buf) {
    auto* conn = static_cast<Transport::Conn*>(h->data);
    *buf = uv_buf_init(conn->owner->read_buf_.get(), static_cast<unsigned>(kReadChunkBytes));
  }
  static void hello_timer_cb(uv_timer_t* timer) {
    static_cast<Transport*>(timer->data)->on_hello_timer();
  }
  static void read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* conn = static_cast<Transport::Conn*>(s->data);
    Transport* t = conn->owner;
    if (nread > 0) {
      t->on_read(conn, buf->base, static_cast<size_t>(nread));
    } else if (nread < 0) {
      // EOF is the normal end of a connection; anything else is worth a line.
      t->close_conn(conn,
                    nread == UV_EOF ? "" : "read failed: " + uv_error(static_cast<int>(nread)));
    }
  }
  static void write_cb(uv_write_t* req, int status) {
    auto* w = static_cast<WriteReq*>(req->data);
    Transport::Conn* conn = w->conn;
    delete w;
    conn->writing = false;
    if (status < 0) {
      if (status != UV_ECANCELED)
        conn->owner->close_conn(conn, "write failed: " + uv_error(status));
      return;
    }
    conn->owner->flush(conn);
  }
  static void connect_cb(uv_connect_t* req, int status) {
    auto* conn = static_cast<Transport::Conn*>(req->data);
    if (status == UV_ECANCELED) return;  // closed while connecting; the close callback follows
    conn->owner->on_connected(conn, status);
  }
  static void connection_cb(uv_stream_t* server, int status) {
    auto* t = static_cast<Transport*>(server->data);
    if (status < 0) {
      t->log("accept failed: " + uv_error(status));
      return;
    }
    t->on_accept();
  }
  static void reconnect_cb(uv_timer_t* timer) {
    auto* peer = static_cast<Transport::Peer*>(timer->data);
    peer->owner->connect_peer(peer);
  }
  static void delay_cb(uv_timer_t* timer) {
    auto* d = static_cast<Transport::Delayed*>(timer->data);
    d->owner->on_delay_fired(d);
  }
};

Transport::Transport(uv_loop_t* loop, TransportOptions options, Callbacks callbacks)
    : loop_(loop),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      filter_(options_.fault_seed),
      read_buf_(new char[kReadChunkBytes]) {}

Transport::~Transport() {
  // The owner must close() and run the loop until the close callbacks ran; what is left here
  // would be a leak or a use after free, so say so loudly.
  if (!closed_ && (listener_ != nullptr || !peers_.empty())) {
    std::fprintf(stderr, "%s: destroyed without close()\n", options_.log_prefix.c_str());
  }
}

void Transport::log(const std::string& line) const {
  std::fprintf(stderr, "%s: %s\n", options_.log_prefix.c_str(), line.c_str());
}

std::string Transport::start() {
  listener_ = new uv_tcp_t;
  uv_tcp_init(loop_, listener_);
  listener_->data = this;
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", options_.port, &addr);
  int rc = uv_tcp_bind(listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), kListenBacklog,
                   TransportCallbacks::connection_cb);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_), TransportCallbacks::listener_close_cb);
    listener_ = nullptr;
    return "cannot listen on 127.0.0.1:" + std::to_string(options_.port) + ": " + uv_error(rc);
  }
  sockaddr_storage bound{};
  int len = sizeof(bound);
  uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  bound_port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  hello_timer_ = new uv_timer_t;
  uv_timer_init(loop_, hello_timer_);
  hello_timer_->data = this;
  for (const auto& [id, port] : options_.peers) add_peer(id, port);
  return {};
}

void Transport::close() {
  if (closed_) return;
  closed_ = true;
  hold_.clear();  // what a stopped node held is lost, as on a real network
  if (listener_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_), TransportCallbacks::listener_close_cb);
    listener_ = nullptr;
  }
  if (hello_timer_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(hello_timer_), TransportCallbacks::timer_close_cb);
    hello_timer_ = nullptr;
  }
  // Close callbacks may run in any order: a connection must not reach its peer afterwards.
  for (Conn* c : std::set<Conn*>(conns_)) {
    c->peer = nullptr;
    close_conn(c, "");
  }
  for (auto& [id, peer] : peers_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&peer->timer), TransportCallbacks::peer_close_cb);
  }
  peers_.clear();
  for (Delayed* d : delayed_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&d->timer), TransportCallbacks::delayed_close_cb);
  }
  delayed_.clear();
}

void Transport::add_peer(NodeId id, uint16_t port) {
  if (closed_ || id == options_.self) return;
  auto it = peers_.find(id);
  if (it != peers_.end()) {
    if (it->second->port != port) {
      it->second->port = port;  // takes effect at the next connect
      if (it->second->conn != nullptr) close_conn(it->second->conn, "peer port changed");
    }
    return;
  }
  auto* peer = new Peer;
  peer->owner = this;
  peer->id = id;
  peer->port = port;
  uv_timer_init(loop_, &peer->timer);
  peer->timer.data = peer;
  peers_[id] = peer;
  options_.peers[id] = port;
  if (listener_ != nullptr) connect_peer(peer);
}

std::set<NodeId> Transport::connected_peers() const {
  std::set<NodeId> out;
  for (const auto& [id, peer] : peers_) {
    if (peer->conn != nullptr && peer->conn->up) out.insert(id);
  }
  return out;
}

void Transport::connect_peer(Peer* peer) {
  if (closed_ || peer->conn != nullptr) return;
  auto* conn = new Conn;
  conn->owner = this;
  conn->outgoing = true;
  conn->peer = peer;
  conn->remote = peer->id;
  uv_tcp_init(loop_, &conn->tcp);
  conn->tcp.data = conn;
  conn->connect_req.data = conn;
  conns_.insert(conn);
  peer->conn = conn;
  uv_tcp_nodelay(&conn->tcp, 1);  // Raft messages are small and latency-bound
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", peer->port, &addr);
  const int rc =
      uv_tcp_connect(&conn->connect_req, &conn->tcp, reinterpret_cast<const sockaddr*>(&addr),
                     TransportCallbacks::connect_cb);
  if (rc != 0) {
    ++counters_.connects_failed;
    close_conn(conn, "");  // the close callback schedules the retry
  }
}

void Transport::schedule_reconnect(Peer* peer) {
  if (closed_ || uv_is_active(reinterpret_cast<uv_handle_t*>(&peer->timer))) return;
  uv_timer_start(&peer->timer, TransportCallbacks::reconnect_cb, peer->backoff_ms, 0);
  peer->backoff_ms = std::min(peer->backoff_ms * 2, kReconnectBackoffMaxMs);
}

void Transport::on_connected(Conn* conn, int status) {
  if (conn->closing) return;
  if (status < 0) {
    // A peer that is down is normal in a lab: count it, retry quietly.
    ++counters_.connects_failed;
    close_conn(conn, "");
    return;
  }
  conn->up = true;
  conn->connected_at_ms = uv_now(loop_);
  // The hello goes first, ahead of anything queued.
  std::string hello;
  append_frame(hello, encode(Hello{PeerKind::kPeer, options_.cluster_id, options_.self}));
  if (!start_write(conn, std::move(hello))) return;
  // Read only to notice the peer closing; a peer never sends on our send-only connection.
  uv_read_start(reinterpret_cast<uv_stream_t*>(&conn->tcp), TransportCallbacks::alloc_cb,
                TransportCallbacks::read_cb);
  if (callbacks_.on_event) callbacks_.on_event("peer_connected", conn->remote, "out");
}

void Transport::on_accept() {
  auto* conn = new Conn;
  conn->owner = this;
  uv_tcp_init(loop_, &conn->tcp);
  conn->tcp.data = conn;
  conns_.insert(conn);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_),
                reinterpret_cast<uv_stream_t*>(&conn->tcp)) != 0) {
    close_conn(conn, "accept failed");
    return;
  }
  ++counters_.connections_accepted;
  if (pending_.size() >= kPendingConnectionsMax) {
    shed(pending_.front(), Shed::kPendingEvicted,
         "no hello yet, and " + std::to_string(kPendingConnectionsMax) +
             " newer connections are waiting for theirs");
  }
  conn->pending = true;
  conn->connected_at_ms = uv_now(loop_);
  conn->pending_it = pending_.insert(pending_.end(), conn);
  arm_hello_timer();
  uv_tcp_nodelay(&conn->tcp, 1);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&conn->tcp), TransportCallbacks::alloc_cb,
                TransportCallbacks::read_cb);
}

void Transport::arm_hello_timer() {
  if (hello_timer_ == nullptr || pending_.empty() ||
      uv_is_active(reinterpret_cast<uv_handle_t*>(hello_timer_)))
    return;
  const uint64_t deadline_ms = pending_.front()->connected_at_ms + kHelloDeadlineMs;
  const uint64_t now_ms = uv_now(loop_);
  uv_timer_start(hello_timer_, TransportCallbacks::hello_timer_cb,
                 deadline_ms > now_ms ? deadline_ms - now_ms : 0, 0);
}

void Transport::on_hello_timer() {
  // pending_ is in accept order, so it is in deadline order too.
  const uint64_t now_ms = uv_now(loop_);
  while (!pending_.empty() && pending_.front()->connected_at_ms + kHelloDeadlineMs <= now_ms) {
    shed(pending_.front(), Shed::kHelloTimeout,
         "no hello within " + std::to_string(kHelloDeadlineMs) + " ms of connecting");
  }
  arm_hello_timer();
}

void Transport::enforce_buffered_bound() {
  while (buffered_bytes_ > kInboundBufferedBytesMax) {
    Conn* largest = nullptr;
    for (Conn* c : conns_) {
      if (c->outgoing || c->closing) continue;
      const bool configured_peer =
          c->hello_done && c->kind == PeerKind::kPeer && options_.peers.count(c->remote) > 0;
      if (configured_peer) continue;  // exempt: see the header
      if (largest == nullptr || c->reader.buffered() > largest->reader.buffered()) largest = c;
    }
    if (largest == nullptr || largest->reader.buffered() == 0) return;
    shed(largest, Shed::kBufferEvicted,
         "holds the most (" + std::to_string(largest->reader.buffered()) +
             " bytes of a partial frame) while inbound connections hold more than " +
             std::to_string(kInboundBufferedBytesMax) + " bytes");
  }
}

InboundGauges Transport::inbound() const {
  InboundGauges g;
  g.pending = pending_.size();
  g.peers = inbound_peers_.size();
  g.clients = clients_.size();
  g.buffered_bytes = buffered_bytes_;
  return g;
}

std::string Transport::describe(const Conn* conn) const {
  return (conn->outgoing ? "connection to " : "connection from ") +
         (conn->remote ? "node " + std::to_string(conn->remote.get()) : std::string("unknown"));
}

void Transport::shed(Conn* conn, Shed why, const std::string& detail) {
  uint64_t* counter[] = {&counters_.pending_evicted, &counters_.hello_timeouts,
                         &counters_.buffer_evicted, &counters_.connections_refused};
  static_assert(std::size(counter) == static_cast<size_t>(Shed::kCount));
  ++*counter[static_cast<size_t>(why)];
  ShedLog& l = shed_log_[static_cast<size_t>(why)];
  const uint64_t now_ms = uv_now(loop_);
  if (l.ever && now_ms - l.logged_at_ms < kShedLogIntervalMs) {
    ++l.unlogged;
  } else {
    log(describe(conn) + " closed: " + detail +
        (l.unlogged > 0 ? " (and " + std::to_string(l.unlogged) + " more since the last such line)"
                        : std::string()));
    l = ShedLog{now_ms, 0, true};
  }
  close_conn(conn, "");
}

void Transport::close_conn(Conn* conn, const std::string& why) {
  if (conn->closing) return;
  conn->closing = true;
  // Leave the pools and give the buffered bytes back now: the close callback comes later,
  // and the pools' limits and the byte bound must see this connection gone at once.
  if (conn->pending) {
    pending_.erase(conn->pending_it);
    conn->pending = false;
  }
  if (!conn->outgoing && conn->hello_done && conn->kind == PeerKind::kPeer) {
    auto it = inbound_peers_.find(conn->remote);
    if (it != inbound_peers_.end() && it->second == conn) inbound_peers_.erase(it);
  }
  buffered_bytes_ -= conn->reader.buffered();
  conn->reader.clear();
  if (!why.empty()) {
    log(describe(conn) + " closed: " + why);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp), TransportCallbacks::conn_close_cb);
}

void Transport::on_conn_closed(Conn* conn) {
  conns_.erase(conn);
  if (conn->client_conn != 0) {
    clients_.erase(conn->client_conn);
    if (!closed_ && callbacks_.on_client_closed) callbacks_.on_client_closed(conn->client_conn);
  }
  if (!closed_) {
    if (conn->outgoing && conn->peer != nullptr) {
      Peer* peer = conn->peer;
      peer->conn = nullptr;
      if (conn->up) {
        if (callbacks_.on_event) callbacks_.on_event("peer_lost", peer->id, "out");
        // A connection that lived a while was a success: start the backoff over.
        if (uv_now(loop_) - conn->connected_at_ms >= kConnectionStableMs) {
          peer->backoff_ms = kReconnectBackoffMinMs;
        }
      }
      schedule_reconnect(peer);
    } else if (!conn->outgoing && conn->hello_done && conn->kind == PeerKind::kPeer) {
      if (callbacks_.on_event) callbacks_.on_event("peer_lost", conn->remote, "in");
    }
  }
  delete conn;
}

void Transport::send(const Message& message) {
  if (closed_) return;
  if (hold_.holds(message)) {
    hold_message(message);
    return;
  }
  send_now(message);
}

void Transport::hold_message(const Message& message) {
  const std::optional<Message> dropped = hold_.hold(message);
  note_hold(HoldAct::kHold, hold_.messages().back(), "");
  if (dropped) note_hold(HoldAct::kDiscard, *dropped, "cap");
}

void Transport::note_hold(HoldAct act, const Message& message, const char* why) const {
  if (hold_hook_) hold_hook_(act, message, why);
}

void Transport::set_hold_rules(std::vector<HoldRule> rules) {
  for (const Message& m : hold_.set_rules(std::move(rules))) {
    note_hold(HoldAct::kDeliver, m, "released");
    if (!closed_) send_now(m);
  }
}

size_t Transport::deliver_held(const HoldSelection& selection, std::vector<std::string>& unknown) {
  const std::vector<Message> taken = hold_.take(selection, unknown);
  hold_.count_delivered(taken.size());
  for (const Message& m : taken) {
    note_hold(HoldAct::kDeliver, m, "hand");
    if (!closed_) send_now(m);
  }
  return taken.size();
}

size_t Transport::discard_held(const HoldSelection& selection, std::vector<std::string>& unknown) {
  const std::vector<Message> taken = hold_.take(selection, unknown);
  hold_.count_discarded(taken.size());
  for (const Message& m : taken) note_hold(HoldAct::kDiscard, m, "hand");
  return taken.size();
}

void Transport::send_now(const Message& message) {
  const Verdict verdict = filter_.decide(options_.self, message.to);
  if (callbacks_.on_fault) report_faults(message, verdict);
  if (verdict.dropped()) {
    ++counters_.fault_dropped;
    return;
  }
  const std::string payload = encode(message);
  if (payload.size() > kFrameBytesMax) {
    // The core bounds messages well below this; a bigger one is a bug, not a reason to crash.
    ++counters_.queue_dropped;
    log("message to node " + std::to_string(message.to.get()) + " of " +
        std::to_string(payload.size()) + " bytes exceeds kFrameBytesMax; dropped");
    return;
  }
  std::string frame;
  append_frame(frame, payload);
  for (uint32_t delay_ms : verdict.delays_ms) {
    if (delay_ms == 0) {
      enqueue(message.to, frame);
      continue;
    }
    ++counters_.fault_delayed;
    if (delayed_.size() >= kDelayedFramesMax) {
      ++counters_.delay_dropped;
      continue;
    }
    auto* d = new Delayed;
    d->owner = this;
    d->to = message.to;
    d->frame = frame;
    uv_timer_init(loop_, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, TransportCallbacks::delay_cb, delay_ms, 0);
    delayed_.insert(d);
  }
}

// The rule is described only here, for a hook that wants it: decide() itself builds no string.
void Transport::report_faults(const Message& message, const Verdict& verdict) const {
  if (verdict.dropped()) {
    if (verdict.dropped_by != DropCause::kNone) {
      callbacks_.on_fault(FaultAct::kDrop, message,
                          filter_.describe_drop(verdict, options_.self, message.to), 0);
    }
    return;
  }
  for (uint32_t delay_ms : verdict.delays_ms) {
    if (delay_ms > 0) {
      callbacks_.on_fault(FaultAct::kDelay, message, filter_.describe_delay(verdict), delay_ms);
    }
  }
  if (verdict.duplicated)
    callbacks_.on_fault(FaultAct::kDup, message, filter_.describe_dup(verdict), 0);
}

void Transport::on_delay_fired(Delayed* d) {
  delayed_.erase(d);
  enqueue(d->to, std::move(d->frame));
  uv_close(reinterpret_cast<uv_handle_t*>(&d->timer), TransportCallbacks::delayed_close_cb);
}

void Transport::enqueue(NodeId to, std::string frame) {
  if (closed_) return;
  auto it = peers_.find(to);
  if (it == peers_.end()) {
    ++counters_.unknown_peer_dropped;
    if (callbacks_.on_unknown_peer) callbacks_.on_unknown_peer(to);
    return;
  }
  Peer* peer = it->second;
  // Drop the oldest: a newer heartbeat or append supersedes it, and Raft retries what matters.
  while (!peer->queue.empty() && (peer->queue.size() >= kSendQueueFramesMax ||
                                  peer->queue_bytes + frame.size() > kSendQueueBytesMax)) {
    peer->queue_bytes -= peer->queue.front().size();
    peer->queue.pop_front();
    ++counters_.queue_dropped;
  }
  peer->queue_bytes += frame.size();
  peer->queue.push_back(std::move(frame));
  ++counters_.messages_sent;
  if (peer->conn != nullptr) flush(peer->conn);
}

bool Transport::send_client(uint64_t client_conn, const ClientResponse& response) {
  auto it = clients_.find(client_conn);
  if (it == clients_.end() || it->second->closing) return false;
  Conn* conn = it->second;
  append_frame(conn->client_out, response);
  ++counters_.client_responses;
  if (conn->client_out.size() > kClientOutputBytesMax) {
    close_conn(conn, "client reads too slowly: more than " + std::to_string(kClientOutputBytesMax) +
                         " bytes of unread responses");
    return false;
  }
  flush(conn);
  return true;
}

void Transport::flush(Conn* conn) {
  if (conn->client_conn != 0) {
    if (conn->closing || conn->writing || conn->client_out.empty()) return;
    std::string batch;
    batch.swap(conn->client_out);
    start_write(conn, std::move(batch));
    return;
  }
  if (conn->closing || conn->writing || !conn->up || conn->peer == nullptr) return;
  Peer* peer = conn->peer;
  if (peer->queue.empty()) return;
  // Join queued frames into one write: one syscall for a burst of messages.
  std::string batch;
  while (!peer->queue.empty() &&
         (batch.empty() || batch.size() + peer->queue.front().size() <= kWriteBatchBytesMax)) {
    batch += peer->queue.front();
    peer->queue_bytes -= peer->queue.front().size();
    peer->queue.pop_front();
  }
  start_write(conn, std::move(batch));
}

bool Transport::start_write(Conn* conn, std::string data) {
  auto* req = new WriteReq;
  req->data = std::move(data);
  req->req.data = req;
  req->conn = conn;
  uv_buf_t buf = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
  conn->writing = true;
  const int rc = uv_write(&req->req, reinterpret_cast<uv_stream_t*>(&conn->tcp), &buf, 1,
                          TransportCallbacks::write_cb);
  if (rc == 0) return true;
  delete req;
  conn->writing = false;
  close_conn(conn, "write failed: " + uv_error(rc));
  return false;
}

void Transport::on_read(Conn* conn, const char* data, size_t size) {
  if (conn->closing || closed_) return;
  if (conn->outgoing) {
    ++counters_.frames_bad;
    if (callbacks_.on_event)
      callbacks_.on_event("bad_frame", conn->remote, "data on a send-only connection");
    close_conn(conn, "unexpected data on a send-only connection");
    return;
  }
  std::string_view in(data, size);
  while (!conn->closing && !closed_) {
    // Before the hello only a hello-sized frame is believed: a stream that declares more is
    // not one of ours, and a pending connection never holds more than kHelloBytesMax.
    const uint32_t length_max =
        conn->hello_done ? kFrameBytesMax : static_cast<uint32_t>(kHelloBytesMax);
    std::string payload;
    std::string error;
    const size_t held_before = conn->reader.buffered();
    const FrameReader::Status st = conn->reader.take(in, length_max, payload, error);
    buffered_bytes_ = buffered_bytes_ - held_before + conn->reader.buffered();
    if (st == FrameReader::Status::kNeedMore) break;
    if (st == FrameReader::Status::kError) {
      ++counters_.frames_bad;
      if (!conn->hello_done) error = "hello too long: " + error;
      if (callbacks_.on_event) callbacks_.on_event("bad_frame", conn->remote, error);
      close_conn(conn, "bad frame: " + error);
      return;
    }
    if (!on_frame(conn, payload)) return;
  }
  enforce_buffered_bound();
}

bool Transport::admit(Conn* conn, const Hello& hello) {
  pending_.erase(conn->pending_it);
  conn->pending = false;
  if (hello.kind == PeerKind::kClient) {
    if (clients_.size() >= kClientConnectionsMax) {
      shed(conn, Shed::kRefused,
           "client refused: " + std::to_string(kClientConnectionsMax) + " clients are connected");
      return false;
    }
    conn->hello_done = true;
    conn->kind = PeerKind::kClient;
    ++counters_.clients_connected;
    conn->client_conn = next_client_conn_++;
    clients_[conn->client_conn] = conn;
    return true;
  }
  const bool configured = options_.peers.count(hello.node) > 0;
  auto it = inbound_peers_.find(hello.node);
  if (it != inbound_peers_.end()) {
    // A node has one connection to us; a second one means the first is dead (its FIN lost).
    ++counters_.peers_replaced;
    close_conn(it->second, "replaced by a newer connection from the same node");
  }
  if (!configured) {
    const size_t strangers = static_cast<size_t>(
        std::count_if(inbound_peers_.begin(), inbound_peers_.end(),
                      [&](const auto& kv) { return options_.peers.count(kv.first) == 0; }));
    if (strangers >= kStrangerPeerConnectionsMax) {
      shed(conn, Shed::kRefused,
           "peer refused: node " + std::to_string(hello.node.get()) + " is not configured and " +
               std::to_string(kStrangerPeerConnectionsMax) + " such are connected");
      return false;
    }
  }
  conn->hello_done = true;
  conn->kind = PeerKind::kPeer;
  conn->remote = hello.node;
  inbound_peers_[hello.node] = conn;
  if (callbacks_.on_event) callbacks_.on_event("peer_connected", conn->remote, "in");
  return true;
}

bool Transport::on_frame(Conn* conn, const std::string& payload) {
  Decoded d = decode(payload);
  if (!d.ok()) {
    ++counters_.messages_bad;
    if (callbacks_.on_event) callbacks_.on_event("bad_frame", conn->remote, d.error);
    close_conn(conn, "bad message: " + d.error);
    return false;
  }
  if (!conn->hello_done) {
    std::string refusal;
    const Hello* hello = std::get_if<Hello>(&d.value);
    if (hello == nullptr) {
      refusal = "first frame is not a hello";
    } else if (hello->cluster_id != options_.cluster_id) {
      refusal = "hello from cluster '" + hello->cluster_id.substr(0, kClusterIdBytesMax) +
                "', we are '" + options_.cluster_id + "'";
    } else if (hello->kind == PeerKind::kPeer && (!hello->node || hello->node == options_.self)) {
      refusal = "hello from peer id " + std::to_string(hello->node.get());
    }
    if (!refusal.empty()) {
      ++counters_.hello_refused;
      if (callbacks_.on_event) {
        callbacks_.on_event("hello_refused", hello ? hello->node : NodeId(), refusal);
      }
      close_conn(conn, "hello refused: " + refusal);
      return false;
    }
    return admit(conn, *hello);
  }
  if (conn->kind == PeerKind::kClient) {
    ClientRequest* q = std::get_if<ClientRequest>(&d.value);
    if (q == nullptr) {
      ++counters_.messages_bad;
      if (callbacks_.on_event) callbacks_.on_event("bad_frame", NodeId(), "not a client request");
      close_conn(conn, "bad message: a client sent something other than a request");
      return false;
    }
    ++counters_.client_requests;
    if (callbacks_.on_client_request)
      callbacks_.on_client_request(conn->client_conn, std::move(*q));
    return !conn->closing;
  }
  Message* m = std::get_if<Message>(&d.value);
  if (m == nullptr || m->from != conn->remote || m->to != options_.self) {
    ++counters_.messages_bad;
    const std::string why = m == nullptr
                                ? "a second hello"
                                : "message " + std::to_string(m->from.get()) + "->" +
                                      std::to_string(m->to.get()) + " on a connection from " +
                                      std::to_string(conn->remote.get());
    if (callbacks_.on_event) callbacks_.on_event("bad_frame", conn->remote, why);
    close_conn(conn, "bad message: " + why);
    return false;
  }
  ++counters_.messages_received;
  if (callbacks_.on_message) callbacks_.on_message(std::move(*m));
  return true;
}

}  // namespace raftlab::net
