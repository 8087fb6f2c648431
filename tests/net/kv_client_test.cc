// The KV client (net/kv_client.h) against a stand-in node: a thread with plain sockets that
// answers every request at once from a real KV state machine (node/kv/kv.h), as a leader whose log
// holds only client writes would. What it checks is the client's side of the session contract.
#include <poll.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "net/kv_client.h"
#include "net/wire.h"
#include "node/kv/kv.h"
#include "tests/net/test_sockets.h"

namespace raftlab {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kServeTimeout = std::chrono::seconds(20);  // the stand-in's whole life, at most
constexpr int kPollMs = 20;                               // how often it looks at its stop flag
constexpr uint64_t kOpTimeoutMs = 5000;

class FakeNode {
 public:
  FakeNode() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(::listen(listen_fd_, 8) == 0);
    socklen_t len = sizeof(a);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeNode() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  FakeNode(const FakeNode&) = delete;
  FakeNode& operator=(const FakeNode&) = delete;

  uint16_t port() const { return port_; }
  /// The client id of every write applied, in order.
  std::vector<uint64_t> write_clients() {
    std::lock_guard<std::mutex> lock(mu_);
    return write_clients_;
  }

 private:
  bool alive() const { return !stop_ && Clock::now() < deadline_; }

  // One connection at a time: run_one_op opens one, and closes it once its operation is done.
  void serve() {
    while (alive()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, kPollMs) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      serve_connection(fd);
      ::close(fd);
    }
  }

  void serve_connection(int fd) {
    net::FrameDecoder decoder;
    char buf[4096];
    while (alive()) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, kPollMs) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;  // the client closed the connection
      decoder.feed(std::string_view(buf, static_cast<size_t>(n)));
      std::string payload;
      std::string error;
      std::string out;
      while (decoder.next(payload, error) == net::FrameDecoder::Status::kFrame) {
        net::Decoded d = net::decode(payload);
        if (auto* q = std::get_if<net::ClientRequest>(&d.value)) {
          net::append_frame(out, answer(*q));
        }  // the hello needs no answer
      }
      test::send_all(fd, out);
    }
  }

  net::ClientResponse answer(const net::ClientRequest& q) {
    net::ClientResponse r;
    r.request_id = q.request_id;
    if (q.op == net::ClientOp::kGet) {
      r.value = kv_.get(q.key);
      r.index = kv_.applied();
      return r;
    }
    const kv::Command c{static_cast<kv::Op>(q.op), q.client, q.seq, q.key, q.value, q.expected};
    const Index index = kv_.applied().next();
    const kv::Result result = kv_.apply(index, kv::encode(c));
    {
      std::lock_guard<std::mutex> lock(mu_);
      write_clients_.push_back(q.client);
    }
    r.index = index;
    r.value = result.value;
    if (result.status == kv::Status::kCasMismatch) {
      r.status = net::ClientStatus::kCasMismatch;
    } else if (result.status != kv::Status::kOk) {
      r.status = net::ClientStatus::kUnknown;
      r.error = kv::to_string(result.status);
    }
    return r;
  }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  const Clock::time_point deadline_ = Clock::now() + kServeTimeout;
  kv::StateMachine kv_;  // the serving thread's alone
  std::mutex mu_;
  std::vector<uint64_t> write_clients_;
  std::thread thread_;  // last: started once everything above is set
};

net::KvClientOptions options_for(const FakeNode& node, uint64_t seed) {
  net::KvClientOptions o;
  o.cluster_id = "kv-client-test";
  o.nodes[NodeId(1)] = node.port();
  o.op_timeout_ms = kOpTimeoutMs;
  o.try_timeout_ms = kOpTimeoutMs;
  o.seed = seed;
  return o;
}

net::KvOp write(net::ClientOp op, std::string value, std::string expected = "") {
  net::KvOp w;
  w.op = op;
  w.key = "k";
  w.value = std::move(value);
  w.expected = std::move(expected);
  return w;
}

// The value of "k" ("<absent>" if none).
std::string read_k(const net::KvClientOptions& o) {
  net::KvOp get;
  get.key = "k";
  const net::OpResult r = net::run_one_op(o, get);
  REQUIRE(r.outcome == net::OpOutcome::kOk);
  return r.value.value_or("<absent>");
}

// The cluster keeps a session, and its last result, long after the client that opened it has
// gone. Two runs of `raftlab check --seed S`, or two CLI calls that drew the same seed, must
// still open different sessions: were the ids the same, the second client's first write (seq 1)
// would be taken for a retry of the first client's and answered with its old result, "ok",
// without being applied.
TEST_CASE("clients made with the same seed open different KV sessions", "[kv_client]") {
  FakeNode node;
  const net::KvClientOptions o = options_for(node, 42);

  REQUIRE(net::run_one_op(o, write(net::ClientOp::kPut, "a")).outcome == net::OpOutcome::kOk);
  const net::OpResult second = net::run_one_op(o, write(net::ClientOp::kPut, "b"));
  REQUIRE(second.outcome == net::OpOutcome::kOk);
  CHECK(read_k(o) == "b");

  // A cas from a value already overwritten must not succeed (the case the checker caught).
  const net::OpResult cas = net::run_one_op(o, write(net::ClientOp::kCas, "c", "a"));
  CHECK(cas.outcome == net::OpOutcome::kFail);
  CHECK(read_k(o) == "b");

  const std::vector<uint64_t> clients = node.write_clients();
  REQUIRE(clients.size() == 3);
  CHECK(clients[0] != clients[1]);
  CHECK(clients[1] != clients[2]);
  CHECK(clients[0] != clients[2]);
}

// The same within one process: a new KvClient (as `check` makes one per client) with the seed
// of an earlier one must not reuse the earlier one's sessions, the renewed ones included.
TEST_CASE("a KvClient's renewed sessions differ from an earlier client's", "[kv_client]") {
  FakeNode node;
  constexpr int kSessions = 3;
  int writes_ok = 0;
  for (int run = 0; run < 2; ++run) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
      net::KvClient client(&loop, options_for(node, 7));
      for (int s = 0; s < kSessions; ++s) {
        const uint64_t session = client.new_session();
        bool done = false;
        const std::string value = std::to_string(run) + "-" + std::to_string(s);
        client.submit(session, write(net::ClientOp::kPut, value), [&](const net::OpResult& r) {
          if (r.outcome == net::OpOutcome::kOk) ++writes_ok;
          done = true;
        });
        while (!done && uv_run(&loop, UV_RUN_ONCE) != 0) {
        }
        REQUIRE(done);
      }
      client.close();
      uv_run(&loop, UV_RUN_DEFAULT);
    }
    REQUIRE(uv_loop_close(&loop) == 0);
  }
  CHECK(writes_ok == 2 * kSessions);
  CHECK(read_k(options_for(node, 7)) == "1-2");
  std::vector<uint64_t> clients = node.write_clients();
  REQUIRE(clients.size() == 2 * kSessions);
  std::sort(clients.begin(), clients.end());
  CHECK(std::adjacent_find(clients.begin(), clients.end()) == clients.end());
}

}  // namespace
}  // namespace raftlab
