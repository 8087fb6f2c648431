// The KV client (see kv_client.h for routing and outcomes).
#include "net/kv_client.h"

#include <random>
#include <set>
#include <utility>

namespace raftlab::net {

struct KvClient::Conn {
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  KvClient* owner = nullptr;
  NodeId node;
  bool up = false;       // connected; bytes handed to uv_write may reach the node
  bool writing = false;  // a uv_write is in flight (at most one)
  bool closing = false;
  std::string out;              // frames not yet handed to uv_write (the hello first)
  std::set<uint64_t> requests;  // request ids sent or queued on this connection
  std::set<uint64_t> sent;      // of those, the ones handed to uv_write once up
  FrameDecoder decoder;
  char read_buf[64u << 10];
};

struct KvClient::Operation {
  uint64_t number = 0;
  uint64_t session = 0;
  KvOp op;
  uint64_t client = 0;
  uint64_t seq = 0;  // writes
  Done done;
  uint64_t deadline_ms = 0;
  uint64_t try_deadline_ms = 0;       // 0: no try in flight
  uint64_t retry_at_ms = 0;           // 0: no retry scheduled
  uint64_t request_id = 0;            // the try in flight
  NodeId node;                        // its node, or the last node tried
  std::vector<uint64_t> request_ids;  // every try's request id (a late answer still counts)
  bool maybe_applied = false;         // a write try may have reached a log
  OpResult result;
  std::string last_error;
};

namespace {

struct WriteReq {
  uv_write_t req{};
  KvClient::Conn* conn = nullptr;
  std::string data;
};

bool is_write(ClientOp op) { return op != ClientOp::kGet; }

// A KV client id that no other client, in this process or any other, before or after, will
// draw. The cluster keeps a session and its last result long after its client has gone
// (node/kv/kv.h), so a new session on an old id would have its first write (seq 1) taken for a
// retry of the old session's and answered with that old result, "ok", without being applied.
// Hence 64 bits from the OS, and not from the seed: two runs of `check --seed S`, or two CLI
// calls that drew the same 32-bit seed, would otherwise open the same sessions.
uint64_t random_client_id() {
  std::random_device entropy;
  const uint64_t high = entropy();  // 32 bits each
  const uint64_t low = entropy();
  const uint64_t id = (high << 32) | low;
  return id == 0 ? 1 : id;  // 0 is "no session" on the wire
}

}  // namespace

struct KvClientCallbacks {
  static void alloc_cb(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* c = static_cast<KvClient::Conn*>(h->data);
    *buf = uv_buf_init(c->read_buf, sizeof(c->read_buf));
  }
  static void read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<KvClient::Conn*>(s->data);
    if (nread > 0) {
      c->owner->on_read(c, buf->base, static_cast<size_t>(nread));
    } else if (nread < 0) {
      c->owner->close_conn(c, nread == UV_EOF ? "the node closed the connection"
                                              : uv_strerror(static_cast<int>(nread)));
    }
  }
  static void write_cb(uv_write_t* req, int status) {
    auto* w = static_cast<WriteReq*>(req->data);
    KvClient::Conn* c = w->conn;
    delete w;
    c->writing = false;
    if (status < 0) {
      if (status != UV_ECANCELED) c->owner->close_conn(c, uv_strerror(status));
      return;
    }
    c->owner->flush(c);
  }
  static void connect_cb(uv_connect_t* req, int status) {
    auto* c = static_cast<KvClient::Conn*>(req->data);
    if (status == UV_ECANCELED) return;
    c->owner->on_connected(c, status);
  }
  static void close_cb(uv_handle_t* h) {
    auto* c = static_cast<KvClient::Conn*>(h->data);
    KvClient* owner = c->owner;
    owner->on_conn_closed(c);
  }
  static void sweep_cb(uv_timer_t* t) { static_cast<KvClient*>(t->data)->sweep(); }
};

const char* to_string(OpOutcome outcome) {
  switch (outcome) {
    case OpOutcome::kOk:
      return "ok";
    case OpOutcome::kFail:
      return "fail";
    case OpOutcome::kUnknown:
      return "unknown";
  }
  return "?";
}

KvClient::KvClient(uv_loop_t* loop, KvClientOptions options)
    : loop_(loop), options_(std::move(options)), prng_(options_.seed) {
  sweep_timer_ = new uv_timer_t;
  uv_timer_init(loop_, sweep_timer_);
  sweep_timer_->data = this;
  uv_timer_start(sweep_timer_, KvClientCallbacks::sweep_cb, kSweepIntervalMs, kSweepIntervalMs);
  uv_unref(reinterpret_cast<uv_handle_t*>(sweep_timer_));  // idle clients do not keep the loop
}

KvClient::~KvClient() { close(); }

uint64_t KvClient::new_session() {
  const uint64_t handle = next_session_++;
  sessions_[handle] = Session{random_client_id(), 0, false};
  return handle;
}

void KvClient::submit(uint64_t session, KvOp kvop, Done done) {
  auto it = sessions_.find(session);
  auto op = std::make_unique<Operation>();
  op->number = next_op_++;
  op->session = session;
  op->op = std::move(kvop);
  op->done = std::move(done);
  const uint64_t now = uv_now(loop_);
  op->deadline_ms = now + options_.op_timeout_ms;
  Operation* raw = op.get();
  ops_[raw->number] = std::move(op);
  if (closed_ || it == sessions_.end() || it->second.busy) {
    raw->last_error = closed_ ? "the client is closed"
                              : (it == sessions_.end() ? "no such session"
                                                       : "the session has an operation in flight");
    raw->session = 0;  // not this session's operation: finishing it must not free the session
    raw->retry_at_ms = 0;
    raw->deadline_ms = now;  // the sweep fails it (done is never called from submit)
    uv_ref(reinterpret_cast<uv_handle_t*>(sweep_timer_));
    return;
  }
  it->second.busy = true;
  raw->client = it->second.client;
  if (is_write(raw->op.op)) raw->seq = ++it->second.seq;
  uv_ref(reinterpret_cast<uv_handle_t*>(sweep_timer_));
  start_try(raw);
}

NodeId KvClient::next_node(NodeId after) const {
  if (options_.nodes.empty()) return NodeId();
  auto it = options_.nodes.upper_bound(after);
  if (it == options_.nodes.end()) it = options_.nodes.begin();
  return it->first;
}

void KvClient::start_try(Operation* op) {
  op->retry_at_ms = 0;
  NodeId node;
  if (op->result.tries == 0 && op->op.node) {
    node = op->op.node;
  } else if (op->op.stale && op->op.node) {
    node = op->op.node;  // a stale read asks the node it names, or nobody
  } else if (leader_ && leader_ != op->node) {
    node = leader_;  // (op->node is none before the first try)
  } else if (op->result.tries == 0) {
    // No leader known yet: start anywhere (random), then go round.
    auto it = options_.nodes.begin();
    if (!options_.nodes.empty())
      std::advance(it, static_cast<long>(prng_.next() % options_.nodes.size()));
    node = it == options_.nodes.end() ? NodeId() : it->first;
  } else {
    node = next_node(op->node);
  }
  if (!node || options_.nodes.count(node) == 0) {
    op->last_error =
        node ? "node " + std::to_string(node.get()) + " has no known port" : "no nodes to ask";
    retry_later(op, kRetryBackoffMs);
    return;
  }
  send_try(op, node);
}

void KvClient::send_try(Operation* op, NodeId node) {
  op->node = node;
  Conn* conn = conn_for(node);
  if (conn == nullptr) {
    op->last_error = "node " + std::to_string(node.get()) + " is not reachable";
    retry_later(op, kRetryBackoffMs);
    return;
  }
  ClientRequest q;
  q.request_id = next_request_id_++;
  q.op = op->op.op;
  q.client = op->client;
  q.seq = op->seq;
  q.key = op->op.key;
  q.value = op->op.value;
  q.expected = op->op.expected;
  q.stale = op->op.stale;
  append_frame(conn->out, q);
  conn->requests.insert(q.request_id);
  requests_[q.request_id] = op->number;
  op->request_ids.push_back(q.request_id);
  op->request_id = q.request_id;
  op->try_deadline_ms = uv_now(loop_) + options_.try_timeout_ms;
  ++op->result.tries;
  flush(conn);
}

KvClient::Conn* KvClient::conn_for(NodeId node) {
  auto it = conns_.find(node);
  if (it != conns_.end()) return it->second->closing ? nullptr : it->second;
  auto port = options_.nodes.find(node);
  if (closed_ || port == options_.nodes.end()) return nullptr;
  auto* c = new Conn;
  c->owner = this;
  c->node = node;
  uv_tcp_init(loop_, &c->tcp);
  c->tcp.data = c;
  c->connect_req.data = c;
  uv_tcp_nodelay(&c->tcp, 1);
  conns_[node] = c;
  append_frame(c->out, encode(Hello{PeerKind::kClient, options_.cluster_id, NodeId()}));
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", port->second, &addr);
  const int rc = uv_tcp_connect(&c->connect_req, &c->tcp, reinterpret_cast<const sockaddr*>(&addr),
                                KvClientCallbacks::connect_cb);
  if (rc != 0) {
    close_conn(c, uv_strerror(rc));
    return nullptr;
  }
  return c;
}

void KvClient::on_connected(Conn* c, int status) {
  if (c->closing) return;
  if (status < 0) {
    close_conn(c, std::string("cannot connect: ") + uv_strerror(status));
    return;
  }
  c->up = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), KvClientCallbacks::alloc_cb,
                KvClientCallbacks::read_cb);
  flush(c);
}

void KvClient::flush(Conn* c) {
  if (!c->up || c->writing || c->closing || c->out.empty()) return;
  auto* w = new WriteReq;
  w->req.data = w;
  w->conn = c;
  w->data.swap(c->out);
  // From here on every request queued on this connection may reach the node.
  c->sent.insert(c->requests.begin(), c->requests.end());
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  c->writing = true;
  const int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
                          KvClientCallbacks::write_cb);
  if (rc != 0) {
    delete w;
    c->writing = false;
    close_conn(c, uv_strerror(rc));
  }
}

void KvClient::on_read(Conn* c, const char* data, size_t size) {
  c->decoder.feed(std::string_view(data, size));
  std::string payload;
  std::string error;
  while (!c->closing) {
    const FrameDecoder::Status st = c->decoder.next(payload, error);
    if (st == FrameDecoder::Status::kNeedMore) return;
    if (st == FrameDecoder::Status::kError) {
      close_conn(c, "bad frame from the node: " + error);
      return;
    }
    Decoded d = decode(payload);
    ClientResponse* a = std::get_if<ClientResponse>(&d.value);
    if (a == nullptr) {
      close_conn(c, "bad message from the node: " + (d.ok() ? "not a response" : d.error));
      return;
    }
    c->requests.erase(a->request_id);
    c->sent.erase(a->request_id);
    on_response(c, std::move(*a));
  }
}

void KvClient::on_response(Conn* c, ClientResponse a) {
  auto r = requests_.find(a.request_id);
  if (r == requests_.end()) return;  // its operation finished already
  auto o = ops_.find(r->second);
  requests_.erase(r);
  if (o == ops_.end()) return;
  Operation* op = o->second.get();
  const bool current = op->request_id == a.request_id;
  if (current) {
    op->request_id = 0;
    op->try_deadline_ms = 0;
  }
  op->result.status = a.status;
  if (a.leader && a.leader_port != 0) options_.nodes[a.leader] = a.leader_port;
  switch (a.status) {
    case ClientStatus::kOk:
    case ClientStatus::kCasMismatch:
      if (is_write(op->op.op)) leader_ = c->node;
      op->result.value = std::move(a.value);
      op->result.node = c->node;
      op->result.index = a.index;
      finish(op, a.status == ClientStatus::kOk ? OpOutcome::kOk : OpOutcome::kFail,
             a.status == ClientStatus::kOk ? "" : "the key did not hold the expected value");
      return;
    case ClientStatus::kInvalid:
      finish(op, OpOutcome::kFail, "invalid request: " + a.error);
      return;
    case ClientStatus::kUnknown:
      if (is_write(op->op.op)) op->maybe_applied = true;
      op->last_error = "node " + std::to_string(c->node.get()) + ": " + a.error;
      if (a.error.find("session expired") != std::string::npos) {
        finish(op, OpOutcome::kUnknown, op->last_error);
        return;
      }
      if (current) retry_later(op, kRetryBackoffMs);
      return;
    case ClientStatus::kNotLeader:
      op->last_error = "node " + std::to_string(c->node.get()) + " is not the leader";
      if (a.leader && a.leader != c->node) {
        leader_ = a.leader;
        if (current) start_try(op);
      } else {
        if (leader_ == c->node) leader_ = NodeId();
        if (current) retry_later(op, kRetryBackoffMs);
      }
      return;
    case ClientStatus::kRetry:
      op->last_error = "node " + std::to_string(c->node.get()) + ": " + a.error;
      if (a.leader) leader_ = a.leader;
      if (current) retry_later(op, kRetryBackoffMs);
      return;
  }
}

void KvClient::retry_later(Operation* op, uint64_t delay_ms) {
  op->request_id = 0;
  op->try_deadline_ms = 0;
  op->retry_at_ms = uv_now(loop_) + delay_ms;
}

void KvClient::lost_try(Operation* op, const std::string& why) {
  op->last_error = "node " + std::to_string(op->node.get()) + ": " + why;
  if (leader_ == op->node) leader_ = NodeId();  // it went silent: look elsewhere
  op->request_id = 0;
  op->try_deadline_ms = 0;
  op->retry_at_ms = uv_now(loop_);  // at once, on the next node
}

void KvClient::close_conn(Conn* c, const std::string& why) {
  if (c->closing) return;
  c->closing = true;
  // Every try on this connection is lost. One handed to uv_write may have reached the node.
  for (uint64_t rid : c->requests) {
    auto r = requests_.find(rid);
    if (r == requests_.end()) continue;
    auto o = ops_.find(r->second);
    if (o == ops_.end()) continue;
    Operation* op = o->second.get();
    if (c->sent.count(rid) != 0 && is_write(op->op.op)) op->maybe_applied = true;
    requests_.erase(r);
    if (op->request_id == rid) lost_try(op, why);
  }
  c->requests.clear();
  c->sent.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), KvClientCallbacks::close_cb);
}

void KvClient::on_conn_closed(Conn* c) {
  auto it = conns_.find(c->node);
  if (it != conns_.end() && it->second == c) conns_.erase(it);
  delete c;
}

void KvClient::finish(Operation* op, OpOutcome outcome, const std::string& error) {
  for (uint64_t rid : op->request_ids) requests_.erase(rid);
  auto s = sessions_.find(op->session);
  if (s != sessions_.end()) s->second.busy = false;
  op->result.outcome = outcome;
  op->result.error = error;
  std::unique_ptr<Operation> owned = std::move(ops_[op->number]);
  ops_.erase(op->number);
  if (ops_.empty() && sweep_timer_ != nullptr && !closed_) {
    uv_unref(reinterpret_cast<uv_handle_t*>(sweep_timer_));
  }
  if (owned->done) owned->done(owned->result);
}

void KvClient::sweep() {
  const uint64_t now = uv_now(loop_);
  std::vector<uint64_t> numbers;
  numbers.reserve(ops_.size());
  for (const auto& [n, op] : ops_) numbers.push_back(n);
  for (uint64_t n : numbers) {
    auto it = ops_.find(n);
    if (it == ops_.end()) continue;  // finished by an earlier callback of this sweep
    Operation* op = it->second.get();
    if (now >= op->deadline_ms) {
      const bool in_flight = op->request_id != 0;
      if (in_flight && is_write(op->op.op)) op->maybe_applied = true;
      std::string why = "no definite answer within " + std::to_string(options_.op_timeout_ms) +
                        " ms" + (op->last_error.empty() ? "" : " (last: " + op->last_error + ")");
      if (!is_write(op->op.op) || op->maybe_applied) {
        finish(op, OpOutcome::kUnknown, why);
      } else {
        finish(op, OpOutcome::kFail, why);
      }
      continue;
    }
    if (op->request_id != 0 && now >= op->try_deadline_ms) {
      // The node went silent. A write it got may still commit: the outcome is open.
      if (is_write(op->op.op)) op->maybe_applied = true;
      lost_try(op, "no answer within " + std::to_string(options_.try_timeout_ms) + " ms");
    }
    if (op->request_id == 0 && op->retry_at_ms != 0 && now >= op->retry_at_ms) start_try(op);
  }
}

void KvClient::close() {
  if (closed_) return;
  closed_ = true;
  while (!ops_.empty()) {
    Operation* op = ops_.begin()->second.get();
    if (op->request_id != 0 && is_write(op->op.op)) op->maybe_applied = true;
    finish(op, is_write(op->op.op) && !op->maybe_applied ? OpOutcome::kFail : OpOutcome::kUnknown,
           "the client closed");
  }
  for (auto& [node, c] : std::map<NodeId, Conn*>(conns_)) close_conn(c, "");
  if (sweep_timer_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(sweep_timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    sweep_timer_ = nullptr;
  }
}

OpResult run_one_op(const KvClientOptions& options, const KvOp& op) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  OpResult out;
  {
    KvClient client(&loop, options);
    const uint64_t s = client.new_session();
    bool done = false;
    client.submit(s, op, [&](const OpResult& r) {
      out = r;
      done = true;
    });
    while (!done && uv_run(&loop, UV_RUN_ONCE) != 0) {
    }
    client.close();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
  return out;
}

}  // namespace raftlab::net
