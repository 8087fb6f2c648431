// Shared helpers of the lab CLI (see lab.h).
#include "cmd/lab/lab.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

// g++ 12 false positive inside CLI11 (see main.cc).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "cmd/cluster/contract.h"
#include "net/fault_filter.h"
#include "persist/dump.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t k = 0;
  while (k < s.size() && std::isspace(static_cast<unsigned char>(s[k]))) ++k;
  return s.substr(k);
}

std::optional<uint64_t> parse_u64(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string node_file(const std::string& dir, NodeId id, std::string_view name) {
  return node_dir(dir, id) + "/" + std::string(name);
}

void sleep_ms(uint32_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// ---------------------------------------------------------------------------------------------
// Parsing.

std::optional<uint64_t> parse_duration_ms(const std::string& text) {
  size_t k = 0;
  while (k < text.size() && text[k] >= '0' && text[k] <= '9') ++k;
  const std::optional<uint64_t> n = parse_u64(text.substr(0, k));
  if (!n || *n > (uint64_t{1} << 40)) return std::nullopt;
  const std::string unit = text.substr(k);
  // A bare number is refused: `--duration 5` meaning 5 ms ran a check that injected nothing.
  if (unit == "ms") return *n;
  if (unit == "s") return *n * 1000;
  if (unit == "m") return *n * 60'000;
  return std::nullopt;
}

std::optional<double> parse_ratio(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const bool percent = text.back() == '%';
  const std::string number = percent ? text.substr(0, text.size() - 1) : text;
  if (number.empty() || number.find_first_not_of("0123456789.") != std::string::npos) {
    return std::nullopt;
  }
  double v = 0;
  try {
    size_t used = 0;
    v = std::stod(number, &used);
    if (used != number.size()) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (percent) v /= 100;
  if (!(v >= 0 && v <= 1)) return std::nullopt;
  return v;
}

std::optional<std::pair<uint64_t, uint64_t>> parse_duration_range(const std::string& text) {
  const size_t dash = text.find('-');
  if (dash == std::string::npos) {
    const auto one = parse_duration_ms(text);
    if (!one || *one == 0) return std::nullopt;
    return std::make_pair(*one, *one * 2);
  }
  const auto lo = parse_duration_ms(text.substr(0, dash));
  const auto hi = parse_duration_ms(text.substr(dash + 1));
  if (!lo || !hi || *lo == 0 || *lo > *hi) return std::nullopt;
  return std::make_pair(*lo, *hi);
}

namespace {
std::string bad_duration(const std::string& text) {
  return "bad duration '" + text + "': write a number with a unit: 150ms, 2s or 1m";
}
}  // namespace

const CLI::Validator& duration_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string { return parse_duration_ms(s) ? "" : bad_duration(s); },
      "DURATION");
  return v;
}

const CLI::Validator& positive_duration_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        const auto ms = parse_duration_ms(s);
        if (!ms) return bad_duration(s);
        return *ms == 0 ? "a duration of zero means nothing here: give at least 1ms" : "";
      },
      "DURATION");
  return v;
}

const CLI::Validator& node_id_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        const auto id = parse_u64(s);
        if (id && *id >= 1 && *id <= kNodeIdMax) return "";
        return "bad node id '" + s + "': a whole number from 1 to " + std::to_string(kNodeIdMax);
      },
      "ID");
  return v;
}

const CLI::Validator& duration_range_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        return parse_duration_range(s) ? "" : "bad duration range '" + s + "' (write 150ms-300ms)";
      },
      "MIN-MAX");
  return v;
}

const CLI::Validator& ratio_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        return parse_ratio(s) ? "" : "bad ratio '" + s + "' (write 10% or 0.1, at most 100%)";
      },
      "RATIO");
  return v;
}

const CLI::Validator& selector_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        if (s == "leader" || s == "followers" || s == "all" || s == "random") return "";
        bool ok = !s.empty();
        for (size_t start = 0; ok && start <= s.size();) {
          size_t end = s.find(',', start);
          if (end == std::string::npos) end = s.size();
          const auto id = parse_u64(s.substr(start, end - start));
          ok = id && *id != 0;
          start = end + 1;
        }
        if (ok) return "";
        return "bad node selector '" + s + "' (write 2, 1,3, leader, followers, all or random)";
      },
      "SEL");
  return v;
}

// ---------------------------------------------------------------------------------------------
// Processes.

const char* to_string(ProcessState s) {
  switch (s) {
    case ProcessState::kRunning:
      return "running";
    case ProcessState::kPaused:
      return "paused";
    case ProcessState::kStopped:
      return "stopped";
  }
  return "stopped";
}

std::string absolute_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(std::filesystem::absolute(dir), ec);
  if (ec) p = std::filesystem::absolute(dir).lexically_normal();
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

ProcessState process_state(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return ProcessState::kStopped;
  const char state = stat[paren + 2];
  if (state == 'Z' || state == 'X' || state == 'x') return ProcessState::kStopped;
  if (state == 'T' || state == 't') return ProcessState::kPaused;
  return ProcessState::kRunning;
}

std::optional<pid_t> live_node_pid(const std::string& dir, NodeId id) {
  const auto pid_value = parse_u64(trim(read_file(node_file(dir, id, kPidFile))));
  if (!pid_value || *pid_value == 0 || *pid_value > 4'194'304) return std::nullopt;
  const auto pid = static_cast<pid_t>(*pid_value);
  const std::string proc = "/proc/" + std::to_string(pid);
  // The pid may have been reused since the node wrote it: trust it only if the process is
  // `raftlab node --dir DIR --id ID` for this DIR and ID.
  const std::string cmdline = read_file(proc + "/cmdline");
  std::vector<std::string> argv;
  for (size_t start = 0; start < cmdline.size();) {
    size_t end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    argv.push_back(cmdline.substr(start, end - start));
    start = end + 1;
  }
  std::optional<std::string> arg_dir;
  std::optional<std::string> arg_id;
  bool node_seen = false;
  for (size_t k = 1; k < argv.size(); ++k) {
    const std::string& a = argv[k];
    if (a == "node") node_seen = true;
    if (!node_seen) continue;
    if ((a == "--dir" || a == "--id") && k + 1 < argv.size()) {
      (a == "--dir" ? arg_dir : arg_id) = argv[k + 1];
      ++k;
    } else if (a.rfind("--dir=", 0) == 0) {
      arg_dir = a.substr(6);
    } else if (a.rfind("--id=", 0) == 0) {
      arg_id = a.substr(5);
    }
  }
  if (!node_seen || !arg_dir || !arg_id) return std::nullopt;
  if (parse_u64(*arg_id) != id.get()) return std::nullopt;
  std::string their_dir = *arg_dir;
  if (their_dir.empty() || their_dir[0] != '/') {
    std::error_code ec;
    const auto cwd = std::filesystem::read_symlink(proc + "/cwd", ec);
    if (ec) return std::nullopt;
    their_dir = (cwd / their_dir).string();
  }
  if (absolute_dir(their_dir) != absolute_dir(dir)) return std::nullopt;
  if (process_state(pid) == ProcessState::kStopped) return std::nullopt;
  return pid;
}

ProcessState node_process_state(const std::string& dir, NodeId id) {
  const auto pid = live_node_pid(dir, id);
  return pid ? process_state(*pid) : ProcessState::kStopped;
}

pid_t spawn_node(const std::string& dir, NodeId id) {
  const std::string abs = absolute_dir(dir);
  const std::string ndir = node_dir(abs, id);
  std::filesystem::create_directories(ndir);
  std::error_code ec;
  std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) throw LabError(kExitEnvironment, "cannot find this binary: " + ec.message());
  // A test hook: tests/scenarios/fake_node.py stands in for the node to test the CLI alone.
  if (const char* fake = std::getenv("RAFTLAB_NODE_EXE"); fake != nullptr && *fake != '\0') {
    exe = fake;
  }
  const std::string id_text = std::to_string(id.get());
  // Everything the children need is prepared before fork: after it, only async-signal-safe
  // calls.
  std::vector<const char*> argv = {exe.c_str(), "node",          "--dir", abs.c_str(),
                                   "--id",      id_text.c_str(), nullptr};
  const std::string log_path = ndir + "/" + std::string(kNodeLog);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw LabError(kExitEnvironment, "cannot open " + log_path + ": " + std::strerror(errno));
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int pipe_fds[2];
  if (null_fd < 0 || ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ::close(log_fd);
    throw LabError(kExitEnvironment, std::string("cannot start a node: ") + std::strerror(errno));
  }
  // Double fork: the node is reparented at once (never our zombie) and, after setsid, has its
  // own session, so a Ctrl-C in the user's terminal does not reach it.
  const pid_t child = ::fork();
  if (child == 0) {
    ::setsid();
    const pid_t grandchild = ::fork();
    if (grandchild == 0) {
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::dup2(null_fd, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      if (::chdir("/") != 0) ::_exit(126);
      ::execv(argv[0], const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    const ssize_t n = ::write(pipe_fds[1], &grandchild, sizeof grandchild);
    ::_exit(n == sizeof grandchild && grandchild > 0 ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  ::close(log_fd);
  ::close(null_fd);
  pid_t pid = -1;
  const ssize_t n = child > 0 ? ::read(pipe_fds[0], &pid, sizeof pid) : -1;
  ::close(pipe_fds[0]);
  if (child > 0) {
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (n != sizeof pid || pid <= 0) {
    throw LabError(kExitEnvironment, "cannot start node " + id_text + ": fork failed");
  }
  return pid;
}

std::string node_log_tail(const std::string& dir, NodeId id, size_t lines) {
  std::ifstream in(node_file(dir, id, kNodeLog));
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) out += "\n  | " + l;
  return out;
}

void await_started(const std::string& dir, const std::vector<std::pair<NodeId, pid_t>>& started) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
  std::set<uint64_t> pending;
  for (const auto& [id, pid] : started) pending.insert(id.get());
  while (!pending.empty()) {
    for (const auto& [id, pid] : started) {
      if (!pending.count(id.get())) continue;
      if (process_state(pid) == ProcessState::kStopped) {
        throw LabError(kExitEnvironment, "node " + std::to_string(id.get()) + " (pid " +
                                             std::to_string(pid) + ") exited at start; " +
                                             kNodeLog.data() + ":" + node_log_tail(dir, id, 10));
      }
      if (live_node_pid(dir, id) == pid &&
          admin_request(dir, id, json{{"cmd", "status"}}, 200).has_value()) {
        pending.erase(id.get());
      }
    }
    if (pending.empty()) break;
    if (Clock::now() > deadline) {
      const NodeId id(*pending.begin());
      throw LabError(kExitEnvironment, "node " + std::to_string(id.get()) +
                                           " did not answer within " +
                                           std::to_string(kStartTimeoutMs) +
                                           " ms; node.log:" + node_log_tail(dir, id, 10));
    }
    sleep_ms(10);
  }
}

pid_t start_node(const std::string& dir, NodeId id) {
  const pid_t pid = spawn_node(dir, id);
  await_started(dir, {{id, pid}});
  return pid;
}

bool wait_pid_gone(pid_t pid, uint32_t timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (process_state(pid) != ProcessState::kStopped) {
    if (Clock::now() > deadline) return false;
    sleep_ms(5);
  }
  return true;
}

void stop_pid(pid_t pid, int sig) {
  ::kill(pid, sig);
  if (sig != SIGSTOP) ::kill(pid, SIGCONT);  // a paused process handles SIGTERM only once resumed
  if (sig == SIGKILL) {
    if (wait_pid_gone(pid, kStopKillTimeoutMs)) return;
  } else {
    if (wait_pid_gone(pid, kStopTermTimeoutMs)) return;
    std::cerr << "raftlab: pid " << pid << " ignored SIG" << sigabbrev_np(sig)
              << "; sending SIGKILL\n";
    ::kill(pid, SIGKILL);
    if (wait_pid_gone(pid, kStopKillTimeoutMs)) return;
  }
  throw LabError(kExitEnvironment, "pid " + std::to_string(pid) + " did not exit");
}

// ---------------------------------------------------------------------------------------------
// The admin client.

std::optional<json> admin_request(const std::string& dir, NodeId id, const json& request,
                                  uint32_t timeout_ms) {
  // Connect through /proc/self/fd/<fd of the node directory>/admin.sock: a short path whatever
  // the depth of DIR (sun_path holds 107 bytes), and no chdir.
  const std::string ndir = node_dir(dir, id);
  const int dir_fd = ::open(ndir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return std::nullopt;
  const std::string path =
      "/proc/self/fd/" + std::to_string(dir_fd) + "/" + std::string(kAdminSocket);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  std::optional<json> answer;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto remaining_ms = [&] {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::max<int64_t>(left, 0));
  };
  do {
    if (fd < 0) break;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      if (errno != EINPROGRESS && errno != EAGAIN) break;
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms()) != 1) break;
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) break;
    }
    const std::string line = request.dump() + "\n";
    size_t sent = 0;
    while (sent < line.size()) {
      const ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) break;
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms()) != 1) break;
    }
    if (sent < line.size()) break;
    std::string in;
    while (in.find('\n') == std::string::npos && in.size() < kAdminLineBytesMax) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, remaining_ms()) != 1) break;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    const size_t nl = in.find('\n');
    if (nl == std::string::npos) break;
    try {
      json j = json::parse(in.substr(0, nl));
      if (j.is_object() && j.contains("ok")) answer = std::move(j);
    } catch (const std::exception&) {
    }
  } while (false);
  if (fd >= 0) ::close(fd);
  ::close(dir_fd);
  return answer;
}

std::vector<uint64_t> id_list(const json& answer, const char* field) {
  std::vector<uint64_t> ids;
  if (answer.contains(field) && answer[field].is_array()) {
    for (const json& id : answer[field]) {
      if (id.is_number_unsigned()) ids.push_back(id.get<uint64_t>());
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

namespace {

uint64_t field_u64(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned()) return 0;
  return it->get<uint64_t>();
}

// What a stopped node's files say: term and commit from the newest hard state, the last entry
// index and the newest snapshot.
void read_node_files(const std::string& dir, NodeView& v) {
  try {
    const persist::DumpReport r = persist::dump_wal(node_dir(dir, v.id), Index(0),
                                                    Index(std::numeric_limits<uint64_t>::max()));
    if (r.hard_state) {
      v.term = r.hard_state->term.get();
      v.commit = r.hard_state->commit.get();
    }
    for (const auto& s : r.segments) {
      for (const auto& rec : s.records) {
        if (rec.damage == persist::Damage::kNone && rec.type == persist::RecordType::kEntry) {
          v.last_index = rec.entry.index.get();  // a later record truncates what follows it
        }
      }
    }
    for (const auto& sn : r.snapshots) {
      if (sn.meta) v.snapshot_index = std::max(v.snapshot_index, sn.meta->index.get());
    }
    v.last_index = std::max(v.last_index, v.snapshot_index);
    v.from_files = r.hard_state.has_value() || v.last_index != 0;
  } catch (const std::exception&) {
  }
}

}  // namespace

std::vector<NodeView> collect_views(const std::string& dir, const ClusterSpec& spec,
                                    bool read_files, uint32_t timeout_ms) {
  std::vector<NodeView> views;
  for (const NodeSpec& n : spec.nodes) {
    NodeView v;
    v.id = n.id;
    v.pid = live_node_pid(dir, n.id);
    v.process = v.pid ? process_state(*v.pid) : ProcessState::kStopped;
    if (v.process == ProcessState::kRunning) {
      if (const auto a = admin_request(dir, n.id, json{{"cmd", "status"}}, timeout_ms);
          a && a->value("ok", false)) {
        v.answered = true;
        v.role = a->value("role", std::string("unknown"));
        v.term = field_u64(*a, "term");
        v.leader = field_u64(*a, "leader");
        v.commit = field_u64(*a, "commit");
        v.applied = field_u64(*a, "applied");
        v.last_index = field_u64(*a, "last_index");
        v.snapshot_index = field_u64(*a, "snapshot_index");
        if (a->contains("counters")) v.counters = a->at("counters");
        v.voters = id_list(*a, "voters");
        v.learners = id_list(*a, "learners");
      }
    }
    if (!v.answered && read_files) read_node_files(dir, v);
    views.push_back(std::move(v));
  }
  return views;
}

NodeId agreed_leader(const ClusterSpec& spec, const std::vector<NodeView>& views, uint64_t* term) {
  const size_t majority = spec.voters.size() / 2 + 1;
  for (const NodeView& l : views) {
    if (!l.answered || l.role != "leader") continue;
    size_t agree = 0;
    for (const NodeView& v : views) {
      const bool voter =
          std::find(spec.voters.begin(), spec.voters.end(), v.id) != spec.voters.end();
      if (!voter || !v.answered || v.term != l.term) continue;
      if (v.id == l.id || v.leader == l.id.get()) ++agree;
    }
    if (agree >= majority) {
      if (term != nullptr) *term = l.term;
      return l.id;
    }
  }
  return kNoNode;
}

void push_faults(const std::string& dir, const ClusterSpec& spec) {
  for (const NodeSpec& n : spec.nodes) {
    const ProcessState s = node_process_state(dir, n.id);
    if (s == ProcessState::kStopped) continue;  // it reads cluster.json when it starts
    if (s == ProcessState::kPaused) {           // it could not answer; `resume` pushes them
      std::cerr << "raftlab: node " << n.id.get() << " is paused; it gets the rules on resume\n";
      continue;
    }
    const auto a = admin_request(dir, n.id, json{{"cmd", "reload_faults"}});
    if (!a || !a->value("ok", false)) {
      std::cerr << "raftlab: node " << n.id.get() << " did not take the new fault rules"
                << (a ? ": " + a->value("error", std::string()) : std::string()) << "\n";
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Selectors.

std::vector<NodeId> resolve_selector(const std::string& selector, const std::string& dir,
                                     const ClusterSpec& spec) {
  std::vector<NodeId> all;
  for (const NodeSpec& n : spec.nodes) all.push_back(n.id);
  if (selector == "all") return all;
  if (selector == "leader" || selector == "followers") {
    const std::vector<NodeView> views = collect_views(dir, spec);
    NodeId leader = agreed_leader(spec, views);
    if (!leader) {
      // No majority agrees (a partition, say): the answering leader of the highest term.
      uint64_t best = 0;
      for (const NodeView& v : views) {
        if (v.answered && v.role == "leader" && v.term >= best) {
          best = v.term;
          leader = v.id;
        }
      }
    }
    if (!leader) throw LabError(kExitEnvironment, "no leader: no running node is the leader now");
    if (selector == "leader") return {leader};
    std::erase(all, leader);
    return all;
  }
  if (selector == "random") {
    std::vector<NodeId> running;
    for (NodeId id : all) {
      if (node_process_state(dir, id) == ProcessState::kRunning) running.push_back(id);
    }
    const std::vector<NodeId>& pool = running.empty() ? all : running;
    if (pool.empty()) throw LabError(kExitEnvironment, "the cluster has no nodes");
    std::random_device rd;
    return {pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rd)]};
  }
  std::set<NodeId> chosen;
  std::stringstream in(selector);
  std::string part;
  while (std::getline(in, part, ',')) {
    const auto id = parse_u64(part);
    if (!id || *id == 0) throw LabError(kExitUsage, "bad node selector '" + selector + "'");
    if (spec.node(NodeId(*id)) == nullptr) {
      throw LabError(kExitUsage,
                     "unknown node " + part + " (the cluster has nodes " + ids_text(all) + ")");
    }
    chosen.insert(NodeId(*id));
  }
  return {chosen.begin(), chosen.end()};
}

// ---------------------------------------------------------------------------------------------
// Ports, output, running commands.

namespace {

// A socket bound to 127.0.0.1:port (0: the kernel chooses), or -1.
int bind_loopback(uint16_t port, bool reuse) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  if (reuse) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as libuv binds
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

}  // namespace

uint16_t pick_free_port(std::vector<int>& held) {
  // Below the kernel's ephemeral range when there is room: a port from that range, once its
  // node is killed, can be taken at once by any outgoing connection (a peer reconnecting, say),
  // and the restarted node could not bind it again.
  uint32_t ephemeral_lo = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_lo;
  constexpr uint32_t kLabPortMin = 10000;
  constexpr int kTriesMax = 200;
  if (ephemeral_lo > kLabPortMin + 1000) {
    std::random_device rd;
    std::uniform_int_distribution<uint32_t> pick(kLabPortMin, ephemeral_lo - 1);
    for (int k = 0; k < kTriesMax; ++k) {
      const auto port = static_cast<uint16_t>(pick(rd));
      const int fd = bind_loopback(port, false);
      if (fd >= 0) {
        held.push_back(fd);
        return port;
      }
    }
  }
  const int fd = bind_loopback(0, false);
  if (fd < 0) {
    throw LabError(kExitEnvironment,
                   std::string("cannot find a free port: ") + std::strerror(errno));
  }
  held.push_back(fd);
  return bound_port(fd);
}

void close_held(std::vector<int>& held) {
  for (int fd : held) ::close(fd);
  held.clear();
}

bool port_free(uint16_t port) {
  const int fd = bind_loopback(port, true);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

bool wait_port_free(uint16_t port) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(kPortWaitMs);
  while (!port_free(port)) {
    if (Clock::now() > deadline) return false;
    sleep_ms(kPollIntervalMs);
  }
  return true;
}

json ids_json(const std::vector<NodeId>& ids) {
  json a = json::array();
  for (NodeId id : ids) a.push_back(id.get());
  return a;
}

std::string ids_text(const std::vector<NodeId>& ids) {
  std::string out;
  for (NodeId id : ids) out += (out.empty() ? "" : ",") + std::to_string(id.get());
  return out.empty() ? "-" : out;
}

void print_json(const json& doc) {
  std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << std::endl;
}

namespace {

// The faults touching one node, e.g. "cut off from 3,4,5" or "no send to 3; loss/delay".
std::string faults_text(const ClusterSpec& spec, NodeId id) {
  FaultFilter filter(spec.seed);
  filter.set_rules(spec.faults);
  std::vector<NodeId> no_send;
  std::vector<NodeId> no_recv;
  for (const NodeSpec& n : spec.nodes) {
    if (n.id == id) continue;
    if (!filter.reachable(id, n.id)) no_send.push_back(n.id);
    if (!filter.reachable(n.id, id)) no_recv.push_back(n.id);
  }
  std::string out;
  if (!no_send.empty() && no_send == no_recv) {
    out = "cut off from " + ids_text(no_send);
  } else {
    if (!no_send.empty()) out = "no send to " + ids_text(no_send);
    if (!no_recv.empty()) out += (out.empty() ? "" : "; ") + ("no recv from " + ids_text(no_recv));
  }
  for (const LinkRule& l : spec.faults.links) {
    if (l.from.empty() || l.to.empty() || l.from.count(id) || l.to.count(id)) {
      out += (out.empty() ? "" : "; ") + std::string("link faults");
      break;
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> membership_of(const std::vector<NodeView>& views) {
  // The configuration to judge by: the leader's (the newest term), else any answering node's.
  const NodeView* ref = nullptr;
  for (const NodeView& v : views) {
    if (!v.answered || v.voters.empty()) continue;
    const bool better = ref == nullptr || (v.role == "leader" && ref->role != "leader") ||
                        ((v.role == "leader") == (ref->role == "leader") && v.term > ref->term);
    if (better) ref = &v;
  }
  std::vector<std::string> out;
  for (const NodeView& v : views) {
    if (ref == nullptr) {
      out.push_back("unknown");
    } else if (std::count(ref->voters.begin(), ref->voters.end(), v.id.get())) {
      out.push_back("voter");
    } else if (std::count(ref->learners.begin(), ref->learners.end(), v.id.get())) {
      out.push_back("learner");
    } else {
      out.push_back("removed");
    }
  }
  return out;
}

json status_json(const ClusterSpec& spec, const std::vector<NodeView>& views) {
  json doc = {{"cluster_id", spec.cluster_id}, {"nodes", json::array()}};
  const std::vector<std::string> member = membership_of(views);
  for (const NodeView& v : views) {
    const bool known = v.answered || v.from_files;
    auto num = [&](uint64_t x, bool ok) { return ok ? json(x) : json(nullptr); };
    doc["nodes"].push_back({{"id", v.id.get()},
                            {"pid", v.pid ? json(*v.pid) : json(nullptr)},
                            {"process", to_string(v.process)},
                            {"role", v.answered ? v.role : std::string("unknown")},
                            {"term", num(v.term, known)},
                            {"leader", num(v.leader, v.answered)},
                            {"commit", num(v.commit, known)},
                            {"applied", num(v.applied, v.answered)},
                            {"last_index", num(v.last_index, known)},
                            {"snapshot_index", num(v.snapshot_index, known)},
                            {"member", member[doc["nodes"].size()]},
                            {"faults", faults_text(spec, v.id)},
                            {"counters", v.answered ? v.counters : json(nullptr)}});
  }
  return doc;
}

std::vector<std::vector<std::string>> status_rows(const ClusterSpec& spec,
                                                  const std::vector<NodeView>& views) {
  std::vector<std::vector<std::string>> rows = {{"ID", "PID", "PROCESS", "MEMBER", "ROLE", "TERM",
                                                 "LEADER", "COMMIT", "APPLIED", "LAST", "SNAP",
                                                 "FAULTS"}};
  const std::vector<std::string> member = membership_of(views);
  for (const NodeView& v : views) {
    const bool known = v.answered || v.from_files;
    auto num = [&](uint64_t x, bool ok) { return ok ? std::to_string(x) : std::string("-"); };
    std::string faults = faults_text(spec, v.id);
    rows.push_back({std::to_string(v.id.get()), v.pid ? std::to_string(*v.pid) : "-",
                    to_string(v.process), member[rows.size() - 1], v.answered ? v.role : "-",
                    num(v.term, known),
                    v.answered ? (v.leader ? std::to_string(v.leader) : "none") : "-",
                    num(v.commit, known), num(v.applied, v.answered), num(v.last_index, known),
                    num(v.snapshot_index, known), faults.empty() ? "-" : faults});
  }
  return rows;
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line += std::string(width[c] - r[c].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
  std::cout.flush();
}

void print_status(const ClusterSpec& spec, const std::vector<NodeView>& views, bool as_json) {
  if (as_json) {
    print_json(status_json(spec, views));
    return;
  }
  std::cout << "cluster " << spec.cluster_id << "\n";
  print_table(status_rows(spec, views));
}

void add_dir_option(CLI::App* app, std::string& dir) {
  app->add_option("--dir", dir,
                  "The cluster directory (default: $RAFTLAB_DIR, else ./raftlab-data)");
}

void run_command(const std::function<int()>& body) {
  int code = 0;
  try {
    code = body();
  } catch (const LabError& e) {
    std::cerr << "raftlab: " << e.what() << "\n";
    code = e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "raftlab: " << e.what() << "\n";
    code = kExitEnvironment;
  }
  if (code != 0) throw CLI::RuntimeError(code);
}

}  // namespace raftlab::lab
