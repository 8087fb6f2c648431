// The transport in one process: two Transports on one loop, messages through real loopback
// TCP, bad input from a plain socket, fault-filter verdicts. Each test counts what arrived,
// closes everything and checks the loop closes cleanly (no handle leaked). The bounds on
// inbound connections (pending pool, hello deadline, peer and client pools, buffered bytes)
// are driven from plain sockets, as an attacker would.
#include <uv.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <functional>
#include <vector>

#include "net/transport.h"
#include "net/wire.h"
#include "tests/net/test_sockets.h"

namespace raftlab::net {
namespace {

constexpr uint64_t kWaitMs = 5000;  // bound on any wait for the loop

struct Pair {
  uv_loop_t loop{};
  std::vector<Message> received;  // by node 2
  std::vector<std::string> events2;
  std::unique_ptr<Transport> a;
  std::unique_ptr<Transport> b;

  Pair() {
    // As in the node process: a write to a connection the other side closed (tests close
    // them on purpose) must fail with EPIPE, not kill the test binary.
    ::signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&loop);
    TransportOptions oa{"lab-test", NodeId(1), 0, {}, 1, "test n1"};
    TransportOptions ob{"lab-test", NodeId(2), 0, {}, 2, "test n2"};
    a = std::make_unique<Transport>(&loop, oa, Transport::Callbacks{});
    Transport::Callbacks cb;
    cb.on_message = [this](Message m) { received.push_back(std::move(m)); };
    cb.on_event = [this](std::string_view e, NodeId, const std::string&) {
      events2.emplace_back(e);
    };
    b = std::make_unique<Transport>(&loop, ob, cb);
    REQUIRE(a->start().empty());
    REQUIRE(b->start().empty());
    a->add_peer(NodeId(2), b->port());
    b->add_peer(NodeId(1), a->port());
  }

  // Runs the loop until `done` holds or kWaitMs pass; returns done().
  bool run_until(const std::function<bool()>& done, uint64_t bound_ms = kWaitMs) {
    const uint64_t start = uv_now(&loop);
    while (!done()) {
      uv_update_time(&loop);
      if (uv_now(&loop) - start > bound_ms) return false;
      uv_run(&loop, UV_RUN_NOWAIT);
      usleep(1000);
    }
    return true;
  }

  void run_for(uint64_t ms) {
    run_until([] { return false; }, ms);
  }

  /// A third node on the same loop, closed with the pair.
  Transport* add_node(NodeId id, std::map<NodeId, uint16_t> peers) {
    more.push_back(std::make_unique<Transport>(
        &loop, TransportOptions{"lab-test", id, 0, std::move(peers), id.get(), "test n3"},
        Transport::Callbacks{}));
    REQUIRE(more.back()->start().empty());
    return more.back().get();
  }
  std::vector<std::unique_ptr<Transport>> more;

  ~Pair() {
    a->close();
    b->close();
    for (auto& t : more) t->close();
    uv_run(&loop, UV_RUN_DEFAULT);  // every close callback runs; nothing else keeps it alive
    a.reset();
    b.reset();
    more.clear();
    CHECK(uv_loop_close(&loop) == 0);
  }
};

Message heartbeat(uint64_t term) {
  Message m;
  m.type = MessageType::kHeartbeat;
  m.from = NodeId(1);
  m.to = NodeId(2);
  m.term = Term(term);
  return m;
}

// Plain sockets closed when the test ends, pass or fail.
struct Sockets {
  std::vector<int> fds;
  ~Sockets() {
    for (int fd : fds) ::close(fd);
  }
  int connect(uint16_t port) {
    const int fd = test::tcp_connect(port);
    REQUIRE(fd >= 0);
    fds.push_back(fd);
    return fd;
  }
};

std::string hello_frame(PeerKind kind, NodeId node) {
  std::string frame;
  append_frame(frame, encode(Hello{kind, "lab-test", node}));
  return frame;
}

TEST_CASE("messages cross a real connection, in order", "[transport]") {
  Pair p;
  for (uint64_t t = 1; t <= 100; ++t) p.a->send(heartbeat(t));
  REQUIRE(p.run_until([&] { return p.received.size() == 100; }));
  for (uint64_t t = 1; t <= 100; ++t) CHECK(p.received[t - 1] == heartbeat(t));
  CHECK(p.a->counters().messages_sent == 100);
  CHECK(p.b->counters().messages_received == 100);
  CHECK(p.a->connected_peers() == std::set<NodeId>{NodeId(2)});
}

TEST_CASE("bad input closes only that connection and is counted", "[transport]") {
  Pair p;
  p.a->send(heartbeat(1));
  REQUIRE(p.run_until([&] { return p.received.size() == 1; }));
  const uint16_t port = p.b->port();
  const std::string good_hello = encode(Hello{PeerKind::kPeer, "lab-test", NodeId(3)});

  // An oversize length.
  int fd = test::tcp_connect(port);
  test::send_all(fd, test::raw_frame(0xffffffffu, "x"));
  REQUIRE(p.run_until([&] { return p.b->counters().frames_bad == 1; }));
  ::close(fd);
  // Garbage that is not msgpack, in a plausible frame.
  fd = test::tcp_connect(port);
  test::send_all(fd, test::raw_frame(5, "\xc1\xc1\xc1\xc1\xc1"));
  REQUIRE(p.run_until([&] { return p.b->counters().messages_bad == 1; }));
  ::close(fd);
  // A hello from another cluster.
  fd = test::tcp_connect(port);
  std::string frame;
  append_frame(frame, encode(Hello{PeerKind::kPeer, "lab-other", NodeId(3)}));
  test::send_all(fd, frame);
  REQUIRE(p.run_until([&] { return p.b->counters().hello_refused == 1; }));
  ::close(fd);
  // A message before any hello.
  fd = test::tcp_connect(port);
  frame.clear();
  append_frame(frame, encode(heartbeat(1)));
  test::send_all(fd, frame);
  REQUIRE(p.run_until([&] { return p.b->counters().hello_refused == 2; }));
  ::close(fd);
  // A long "hello" that never completes.
  fd = test::tcp_connect(port);
  test::send_all(fd, test::raw_frame(1u << 20, std::string(kHelloBytesMax + 10, 'a')));
  REQUIRE(p.run_until([&] { return p.b->counters().frames_bad == 2; }));
  ::close(fd);
  // A good hello from node 3, then a message claiming to be from node 1.
  fd = test::tcp_connect(port);
  frame.clear();
  append_frame(frame, good_hello);
  append_frame(frame, encode(heartbeat(9)));
  test::send_all(fd, frame);
  REQUIRE(p.run_until([&] { return p.b->counters().messages_bad == 2; }));
  ::close(fd);
  // A client hello is accepted and kept.
  fd = test::tcp_connect(port);
  frame.clear();
  append_frame(frame, encode(Hello{PeerKind::kClient, "lab-test", NodeId()}));
  test::send_all(fd, frame);
  REQUIRE(p.run_until([&] { return p.b->counters().clients_connected == 1; }));
  ::close(fd);

  // The real peer was never disturbed.
  p.a->send(heartbeat(2));
  REQUIRE(p.run_until([&] { return p.received.size() == 2; }));
  CHECK(p.received.back() == heartbeat(2));
  CHECK(p.b->counters().messages_received == 2);
  CHECK(std::count(p.events2.begin(), p.events2.end(), "hello_refused") == 2);
}

TEST_CASE("the fault filter drops and delays on the send side", "[transport]") {
  Pair p;
  FaultRules cut;
  cut.cuts.insert({NodeId(1), NodeId(2)});
  p.a->set_fault_rules(cut);
  p.a->send(heartbeat(1));
  p.run_for(100);
  CHECK(p.received.empty());
  CHECK(p.a->counters().fault_dropped == 1);

  FaultRules slow;
  slow.links.push_back(LinkRule{{}, {}, LinkFault{0, 150, 0, 0, 0, 0}});
  p.a->set_fault_rules(slow);
  const uint64_t start = uv_now(&p.loop);
  p.a->send(heartbeat(2));
  REQUIRE(p.run_until([&] { return p.received.size() == 1; }));
  CHECK(uv_now(&p.loop) - start >= 140);
  CHECK(p.a->counters().fault_delayed == 1);

  // A delayed message still pending at close is freed by its close callback (ASan checks).
  p.a->send(heartbeat(3));
}

TEST_CASE("a peer that is down is retried with backoff until it listens", "[transport]") {
  uv_loop_t loop{};
  uv_loop_init(&loop);
  const uint16_t port = test::free_ports(1).front();
  Transport a(&loop, {"lab-test", NodeId(1), 0, {{NodeId(2), port}}, 1, "test n1"}, {});
  REQUIRE(a.start().empty());
  a.send(heartbeat(1));
  const uint64_t until = uv_now(&loop) + 300;
  while (uv_now(&loop) < until) {
    uv_run(&loop, UV_RUN_NOWAIT);
    usleep(1000);
    uv_update_time(&loop);
  }
  // Backoff doubling from kReconnectBackoffMinMs: a handful of tries in 300 ms, not hundreds.
  CHECK(a.counters().connects_failed >= 2);
  CHECK(a.counters().connects_failed <= 8);
  a.close();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("a connection without a hello is closed at the hello deadline", "[transport]") {
  Pair p;
  p.a->send(heartbeat(1));
  REQUIRE(p.run_until([&] { return p.received.size() == 1; }));
  Sockets s;
  const int idle = s.connect(p.b->port());
  const int client = s.connect(p.b->port());
  test::send_all(client, hello_frame(PeerKind::kClient, NodeId()));
  test::set_nonblocking(idle);
  test::set_nonblocking(client);
  REQUIRE(p.run_until([&] { return p.b->inbound().pending == 1 && p.b->inbound().clients == 1; }));
  const uint64_t start = uv_now(&p.loop);
  REQUIRE(p.run_until([&] { return test::peer_closed(idle); }, kHelloDeadlineMs + 2000));
  // Not early: the idle socket was accepted just before `start`.
  CHECK(uv_now(&p.loop) - start + 100 >= kHelloDeadlineMs);
  CHECK(p.b->counters().hello_timeouts == 1);
  CHECK(p.b->inbound().pending == 0);
  // Those past their hello are not on the clock.
  p.run_for(200);
  CHECK_FALSE(test::peer_closed(client));
  CHECK(p.b->inbound().clients == 1);
  p.a->send(heartbeat(2));
  REQUIRE(p.run_until([&] { return p.received.size() == 2; }));
  CHECK(p.b->counters().hello_timeouts == 1);
}

TEST_CASE("idle connections cannot lock out peers or clients: the oldest pending one is closed",
          "[transport]") {
  Pair p;
  p.a->send(heartbeat(1));
  REQUIRE(p.run_until([&] { return p.received.size() == 1; }));
  constexpr size_t kIdle = 400;  // more than the pending pool and than the old limit, 256
  constexpr size_t kBatch = 50;  // connects between loop runs: the listen backlog is 128
  Sockets s;
  while (s.fds.size() < kIdle) {
    for (size_t i = 0; i < kBatch; ++i) test::set_nonblocking(s.connect(p.b->port()));
    REQUIRE(p.run_until([&] { return p.b->counters().connections_accepted == 1 + s.fds.size(); }));
  }

  // A peer connecting now gets through at once (node 3, configured on b), and so does a
  // client: not only after the hello deadline has emptied the pool.
  constexpr uint64_t kPromptlyMs = kHelloDeadlineMs / 2;
  Transport* c = p.add_node(NodeId(3), {{NodeId(2), p.b->port()}});
  p.b->add_peer(NodeId(3), c->port());
  Message m = heartbeat(5);
  m.from = NodeId(3);
  c->send(m);
  REQUIRE(p.run_until([&] { return p.received.size() == 2; }, kPromptlyMs));
  CHECK(p.received.back() == m);
  const int client = s.connect(p.b->port());
  test::send_all(client, hello_frame(PeerKind::kClient, NodeId()));
  REQUIRE(p.run_until([&] { return p.b->counters().clients_connected == 1; }, kPromptlyMs));
  CHECK(p.b->counters().connections_refused == 0);
  // All of this took well under the hello deadline: the pool was full and shed its oldest.
  CHECK(p.b->counters().hello_timeouts == 0);
  // (Node 3's connection pushed out one more idle one; the client's found room.)
  CHECK(p.b->counters().pending_evicted == kIdle + 1 - kPendingConnectionsMax);
  CHECK(p.b->inbound().pending == kPendingConnectionsMax - 1);
  CHECK(test::peer_closed(s.fds.front()));
  CHECK_FALSE(test::peer_closed(s.fds[kIdle - 1]));
}

TEST_CASE(
    "peer pools: one connection per node id; strangers bounded; configured ids always admitted",
    "[transport]") {
  Pair p;
  p.a->send(heartbeat(1));
  REQUIRE(p.run_until([&] { return p.received.size() == 1; }));
  Sockets s;
  // Peer hellos from ids b does not know fill the strangers' pool; one more is refused.
  for (uint64_t id = 10; id < 10 + kStrangerPeerConnectionsMax + 1; ++id) {
    test::send_all(s.connect(p.b->port()), hello_frame(PeerKind::kPeer, NodeId(id)));
  }
  REQUIRE(p.run_until([&] { return p.b->counters().connections_refused == 1; }));
  REQUIRE(p.run_until([&] { return p.b->inbound().peers == 1 + kStrangerPeerConnectionsMax; }));
  // A connection naming a configured id is admitted anyway and replaces the older one from
  // that id (node 1's own); node 1 then reconnects and replaces it back.
  const int impostor = s.connect(p.b->port());
  test::set_nonblocking(impostor);
  test::send_all(impostor, hello_frame(PeerKind::kPeer, NodeId(1)));
  REQUIRE(p.run_until([&] { return test::peer_closed(impostor); }));
  CHECK(p.b->counters().peers_replaced == 2);
  CHECK(p.b->counters().connections_refused == 1);
  p.a->send(heartbeat(2));
  REQUIRE(p.run_until([&] { return p.received.size() == 2; }));
  CHECK(p.b->inbound().peers == 1 + kStrangerPeerConnectionsMax);
  CHECK(std::count(p.events2.begin(), p.events2.end(), "peer_connected") >= 3);
}

TEST_CASE("partial frames are bounded across connections: the largest reader is closed",
          "[transport]") {
  Pair p;
  p.a->send(heartbeat(1));
  REQUIRE(p.run_until([&] { return p.received.size() == 1; }));
  // Six clients each send 15 MiB of a frame declared at kFrameBytesMax: 90 MiB in all.
  // Closing the largest whenever the total passes 64 MiB closes exactly two (after that the
  // four left hold at most 60 MiB).
  constexpr size_t kSenders = 6;
  constexpr size_t kPartialBytes = 15u << 20;
  static_assert(4 * (kPartialBytes + kFrameHeaderBytes) <= kInboundBufferedBytesMax);
  static_assert(5 * kPartialBytes > kInboundBufferedBytesMax);
  const std::string stream = hello_frame(PeerKind::kClient, NodeId()) +
                             test::raw_frame(kFrameBytesMax, std::string(kPartialBytes, 'x'));
  Sockets s;
  std::vector<size_t> sent(kSenders, 0);
  for (size_t i = 0; i < kSenders; ++i) test::set_nonblocking(s.connect(p.b->port()));
  size_t buffered_max = 0;
  const bool settled = p.run_until(
      [&] {
        for (size_t i = 0; i < kSenders; ++i) test::send_some(s.fds[i], stream, sent[i]);
        buffered_max = std::max(buffered_max, p.b->inbound().buffered_bytes);
        return p.b->inbound().buffered_bytes == 4 * (kFrameHeaderBytes + kPartialBytes);
      },
      20000);
  CHECK(buffered_max <= kInboundBufferedBytesMax);
  REQUIRE(settled);
  CHECK(p.b->counters().buffer_evicted == 2);
  CHECK(p.b->inbound().clients == 4);
  // The peer's traffic is untouched.
  p.a->send(heartbeat(2));
  REQUIRE(p.run_until([&] { return p.received.size() == 2; }));
  CHECK(p.b->counters().buffer_evicted == 2);
}

}  // namespace
}  // namespace raftlab::net
