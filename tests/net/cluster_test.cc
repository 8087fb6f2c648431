// Real node processes: the built raftlab binary (RAFTLAB_BINARY) started with fork/exec in a
// temporary cluster directory, driven through the admin socket and signals. Every wait is
// bounded; every child is killed by pid and the directory removed, even when a check fails.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "cmd/cluster/cluster_dir.h"
#include "net/wire.h"
#include "tests/net/test_sockets.h"

namespace raftlab {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr auto kLeaderWait = std::chrono::seconds(10);
constexpr auto kExitWait = std::chrono::seconds(10);
constexpr int kAdminTimeoutS = 2;

// A temporary cluster of node processes. The destructor SIGKILLs every child still running
// (by pid, never by name) and removes the directory.
class Cluster {
 public:
  explicit Cluster(size_t n) {
    char tmpl[] = "/tmp/rlnetXXXXXX";  // short: the admin socket path must fit sun_path
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    lab::ClusterSpec spec;
    spec.cluster_id = "lab-test-" + std::to_string(::getpid());
    spec.seed = 7;
    const std::vector<uint16_t> ports = test::free_ports(n);
    for (size_t i = 0; i < n; ++i) {
      spec.nodes.push_back({NodeId(i + 1), ports[i]});
      spec.voters.push_back(NodeId(i + 1));
    }
    spec.fsync = false;  // a test of processes and sockets, not of the disk
    lab::save_cluster(dir_, spec);
    for (const lab::NodeSpec& node : spec.nodes) {  // as `up` does: each node's starting voters
      const std::string nd = lab::node_dir(dir_, node.id);
      std::filesystem::create_directories(nd);
      lab::write_bootstrap(nd, spec.voters);
    }
    spec_ = spec;
  }
  ~Cluster() {
    for (auto& [id, pid] : pids_) {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& dir() const { return dir_; }
  const lab::ClusterSpec& spec() const { return spec_; }
  std::string node_dir(uint64_t id) const { return dir_ + "/n" + std::to_string(id); }

  void start(uint64_t id) {
    std::filesystem::create_directories(node_dir(id));
    const std::string log = node_dir(id) + "/node.log";
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      const std::string ids = std::to_string(id);
      ::execl(RAFTLAB_BINARY, "raftlab", "node", "--dir", dir_.c_str(), "--id", ids.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    pids_[id] = pid;
  }
  pid_t pid(uint64_t id) const { return pids_.at(id); }

  void signal(uint64_t id, int sig) { ::kill(pids_.at(id), sig); }

  /// Waits (bounded) for the child to exit; returns its wait status, or nullopt.
  std::optional<int> wait_exit(uint64_t id) {
    const auto deadline = Clock::now() + kExitWait;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pids_.at(id), &status, WNOHANG) == pids_.at(id)) {
        pids_[id] = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

  /// One admin request; nullopt if the node does not answer in time.
  std::optional<json> admin(uint64_t id, const std::string& line) const {
    const std::string path = node_dir(id) + "/admin.sock";
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
    timeval tv{kAdminTimeoutS, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      ::close(fd);
      return std::nullopt;
    }
    test::send_all(fd, line + "\n");
    std::string in;
    char buf[4096];
    while (in.find('\n') == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    if (in.find('\n') == std::string::npos) return std::nullopt;
    const json j = json::parse(in.substr(0, in.find('\n')), nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
  }
  std::optional<json> status(uint64_t id) const { return admin(id, R"({"cmd":"status"})"); }

  /// The leader that a majority of `alive` agrees on and that says it leads, with a term
  /// above `min_term`; 0 if none within kLeaderWait.
  uint64_t wait_leader(const std::vector<uint64_t>& alive, uint64_t min_term = 0) const {
    const auto deadline = Clock::now() + kLeaderWait;
    while (Clock::now() < deadline) {
      std::map<uint64_t, size_t> votes;
      std::map<uint64_t, bool> says_leader;
      for (uint64_t id : alive) {
        const std::optional<json> s = status(id);
        if (!s || !(*s)["ok"].get<bool>()) continue;
        if ((*s)["term"].get<uint64_t>() <= min_term) continue;
        const uint64_t l = (*s)["leader"].get<uint64_t>();
        if (l != 0) ++votes[l];
        if ((*s)["role"] == "leader") says_leader[id] = true;
      }
      for (const auto& [l, count] : votes) {
        if (count * 2 > spec_.nodes.size() && says_leader[l]) return l;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
  }

 private:
  std::string dir_;
  lab::ClusterSpec spec_;
  std::map<uint64_t, pid_t> pids_;
};

void wait_for_socket(const Cluster& c, uint64_t id) {
  const auto deadline = Clock::now() + kLeaderWait;
  while (Clock::now() < deadline && !c.status(id)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TEST_CASE("three node processes elect, survive a leader kill, stop cleanly", "[cluster]") {
  Cluster c(3);
  for (uint64_t id = 1; id <= 3; ++id) c.start(id);
  const uint64_t leader = c.wait_leader({1, 2, 3});
  REQUIRE(leader != 0);

  uint64_t term = 0;
  for (uint64_t id = 1; id <= 3; ++id) {
    const std::optional<json> s = c.status(id);
    REQUIRE(s);
    CHECK((*s)["ok"] == true);
    CHECK((*s)["id"] == id);
    CHECK((*s)["pid"] == c.pid(id));
    CHECK((*s)["cluster_id"] == c.spec().cluster_id);
    CHECK((*s)["voters"] == json::array({1, 2, 3}));
    CHECK((*s)["port"] == c.spec().nodes[id - 1].port);
    term = std::max(term, (*s)["term"].get<uint64_t>());
    // The pid file is written once the node listens, and names the node.
    std::ifstream pid_file(c.node_dir(id) + "/pid");
    long pid = 0;
    pid_file >> pid;
    CHECK(pid == c.pid(id));
    struct stat st {};
    REQUIRE(::stat((c.node_dir(id) + "/admin.sock").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }

  // Crash the leader: the other two elect a new one in a later term.
  c.signal(leader, SIGKILL);
  REQUIRE(c.wait_exit(leader));
  std::vector<uint64_t> rest;
  for (uint64_t id = 1; id <= 3; ++id) {
    if (id != leader) rest.push_back(id);
  }
  const uint64_t second = c.wait_leader(rest, term);
  REQUIRE(second != 0);
  CHECK(second != leader);

  // The crashed node restarts on its data and follows the new leader.
  c.start(leader);
  wait_for_socket(c, leader);
  CHECK(c.wait_leader({1, 2, 3}, term) == second);

  // A snapshot on request, then a clean stop of everyone: exit 0 (loop closed, WAL synced).
  const std::optional<json> snap = c.admin(second, R"({"cmd":"snapshot"})");
  REQUIRE(snap);
  CHECK((*snap)["ok"] == true);
  CHECK((*snap)["snapshot_index"].get<uint64_t>() >= 1);
  for (uint64_t id = 1; id <= 3; ++id) c.signal(id, SIGTERM);
  for (uint64_t id = 1; id <= 3; ++id) {
    const std::optional<int> status = c.wait_exit(id);
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
  }
  // events.jsonl tells the story: started, elected, shutdown.
  std::ifstream events(c.node_dir(second) + "/events.jsonl");
  std::string text((std::istreambuf_iterator<char>(events)), std::istreambuf_iterator<char>());
  CHECK(text.find("\"event\":\"started\"") != std::string::npos);
  CHECK(text.find("\"event\":\"elected\"") != std::string::npos);
  CHECK(text.find("\"event\":\"shutdown\"") != std::string::npos);
}

TEST_CASE("a node fed garbage frames and bad admin lines keeps serving", "[cluster]") {
  Cluster c(1);
  c.start(1);
  REQUIRE(c.wait_leader({1}) == 1);
  const uint16_t port = c.spec().nodes[0].port;

  std::vector<std::string> attacks;
  attacks.push_back(test::raw_frame(0xfffffff0u, "zz"));              // oversize length
  attacks.push_back(test::raw_frame(7, "\xc1garbage"));               // not msgpack
  attacks.push_back(std::string("\x00\x00\x00\x03\x93\x00\x01", 7));  // wrong shape
  std::string wrong_cluster;
  net::append_frame(wrong_cluster,
                    net::encode(net::Hello{net::PeerKind::kPeer, "lab-x", NodeId(2)}));
  attacks.push_back(wrong_cluster);
  attacks.push_back(test::raw_frame(100, "truncated"));  // then the connection closes
  std::string random_bytes;
  for (int k = 0; k < 100000; ++k)
    random_bytes.push_back(static_cast<char>((k * 2654435761u) >> 13));
  attacks.push_back(random_bytes);
  for (const std::string& bytes : attacks) {
    const int fd = test::tcp_connect(port);
    REQUIRE(fd >= 0);
    test::send_all(fd, bytes);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::close(fd);
  }
  // Bad admin input: not JSON, not an object, an unknown command, a line over the maximum.
  std::optional<json> a = c.admin(1, "{not json");
  REQUIRE(a);
  CHECK((*a)["ok"] == false);
  a = c.admin(1, "[1,2]");
  REQUIRE(a);
  CHECK((*a)["ok"] == false);
  a = c.admin(1, R"({"cmd":"fly"})");
  REQUIRE(a);
  CHECK((*a)["ok"] == false);
  a = c.admin(1, std::string(2u << 20, 'x'));
  REQUIRE(a);
  CHECK((*a)["ok"] == false);

  std::optional<json> s;
  const auto deadline = Clock::now() + kLeaderWait;
  while (Clock::now() < deadline) {
    s = c.status(1);
    if (s && (*s)["counters"]["frames_bad"].get<uint64_t>() >= 1 &&
        (*s)["counters"]["messages_bad"].get<uint64_t>() >= 2 &&
        (*s)["counters"]["hello_refused"].get<uint64_t>() >= 1) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(s);
  INFO(s->dump());
  CHECK((*s)["role"] == "leader");
  CHECK((*s)["counters"]["frames_bad"].get<uint64_t>() >= 1);
  CHECK((*s)["counters"]["messages_bad"].get<uint64_t>() >= 2);
  CHECK((*s)["counters"]["hello_refused"].get<uint64_t>() >= 1);

  c.signal(1, SIGTERM);
  const std::optional<int> status = c.wait_exit(1);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE("a node refuses to start on a corrupt WAL, naming file and offset", "[cluster]") {
  Cluster c(1);
  c.start(1);
  REQUIRE(c.wait_leader({1}) == 1);
  c.signal(1, SIGTERM);
  REQUIRE(c.wait_exit(1));
  // Damage the first record of the segment; valid records follow it, so this is not a torn
  // tail but corruption (persist/wal.h).
  std::string segment;
  for (const auto& e : std::filesystem::directory_iterator(c.node_dir(1) + "/wal")) {
    if (e.path().filename().string().rfind("MANIFEST", 0) == 0) continue;  // not a segment
    segment = e.path();
  }
  REQUIRE(!segment.empty());
  std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t at = 0;  // the first non-zero byte after the 64 bytes of header and head records
  for (size_t k = 64; k < bytes.size(); ++k) {
    if (bytes[k] != 0) {
      at = k;
      break;
    }
  }
  REQUIRE(at != 0);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(bytes[at] ^ 0x40));
  f.close();

  c.start(1);
  const std::optional<int> status = c.wait_exit(1);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 4);
  std::ifstream log(c.node_dir(1) + "/node.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  INFO(text);
  CHECK(text.find("corrupt WAL") != std::string::npos);
  CHECK(text.find("offset") != std::string::npos);
}

}  // namespace
}  // namespace raftlab
