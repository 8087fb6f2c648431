// Process supervision (see process.h).
#include "cmd/lab/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "cmd/cluster/contract.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/parse.h"

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

}  // namespace raftlab::lab
