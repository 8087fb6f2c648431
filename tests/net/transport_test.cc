// The transport in one process: two Transports on one loop, messages through real loopback
// TCP, bad input from a plain socket, fault-filter verdicts. Each test counts what arrived,
// closes everything and checks the loop closes cleanly (no handle leaked).
#include <uv.h>

#include <catch2/catch.hpp>
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

  ~Pair() {
    a->close();
    b->close();
    uv_run(&loop, UV_RUN_DEFAULT);  // every close callback runs; nothing else keeps it alive
    a.reset();
    b.reset();
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

}  // namespace
}  // namespace raftlab::net
