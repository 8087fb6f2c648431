// Running this binary as a child with a bound (see raftlab_child.h).
#include "cmd/drive/raftlab_child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

extern char** environ;

namespace raftlab::lab {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kOutputBytesMax = 1 << 20;         // stdout or stderr of one command
constexpr uint64_t kExitGraceMs = 200;              // pipes held open by a grandchild after exit
constexpr uint64_t kCommandRoundsMax = 10'000'000;  // with the deadline: one command's loop
constexpr int kPollMs = 50;                         // one wait for output
constexpr uint32_t kClosedPipesSleepMs = 5;         // once both pipes are closed
constexpr int kReadsPerRoundMax = 64;

// A spawned child and the read ends of its stdout and stderr pipes (-1 once closed).
struct Child {
  pid_t pid = -1;
  int fds[2] = {-1, -1};
};

// posix_spawn with stdin from /dev/null, stdout and stderr into two pipes, the signal mask
// cleared and the signals a shell resets back to their defaults. nullopt with *error if not.
std::optional<Child> spawn_captured(const std::string& exe, std::vector<char*>& argv,
                                    std::string* error) {
  int out_fds[2];
  int err_fds[2];
  if (::pipe2(out_fds, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return std::nullopt;
  }
  if (::pipe2(err_fds, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    ::close(out_fds[0]);
    ::close(out_fds[1]);
    return std::nullopt;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_fds[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  Child child;
  const int spawn_error =
      ::posix_spawn(&child.pid, exe.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_fds[1]);
  ::close(err_fds[1]);
  if (spawn_error != 0) {
    ::close(out_fds[0]);
    ::close(err_fds[0]);
    *error = std::string("cannot run ") + exe + ": " + std::strerror(spawn_error);
    return std::nullopt;
  }
  for (int fd : {out_fds[0], err_fds[0]}) ::fcntl(fd, F_SETFL, O_NONBLOCK);
  child.fds[0] = out_fds[0];
  child.fds[1] = err_fds[0];
  return child;
}

// Waits up to kPollMs for output on the open pipes and appends what is there; closes a pipe
// at its end (or on an error).
void read_pipes(Child& child, std::string* bufs[2]) {
  pollfd p[2];
  nfds_t n = 0;
  int which[2];
  for (int k = 0; k < 2; ++k) {
    if (child.fds[k] >= 0) {
      p[n] = pollfd{child.fds[k], POLLIN, 0};
      which[n++] = k;
    }
  }
  if (n > 0) {
    ::poll(p, n, kPollMs);
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(kClosedPipesSleepMs));
  }
  for (nfds_t i = 0; i < n; ++i) {
    if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    const int k = which[i];
    char buf[4096];
    for (int reads = 0; reads < kReadsPerRoundMax; ++reads) {
      const ssize_t got = ::read(child.fds[k], buf, sizeof buf);
      if (got > 0) {
        if (bufs[k]->size() < kOutputBytesMax) bufs[k]->append(buf, static_cast<size_t>(got));
        continue;
      }
      if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(child.fds[k]);
        child.fds[k] = -1;
      }
      break;
    }
  }
}

void kill_and_reap(pid_t pid, int* status) {
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
}

// Collects the child's output until it has exited and closed its pipes (or a grace after its
// exit), killing it at the deadline. Returns its wait status; -1 if someone else reaped it.
int collect(Child& child, uint64_t timeout_ms, CommandResult& r) {
  std::string* bufs[2] = {&r.out, &r.err};
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::optional<Clock::time_point> exited_at;
  int status = 0;
  // Bounded by the deadline (and the grace after exit), and by kCommandRoundsMax.
  for (uint64_t round = 0; round < kCommandRoundsMax; ++round) {
    read_pipes(child, bufs);
    if (!exited_at) {
      const pid_t w = ::waitpid(child.pid, &status, WNOHANG);
      if (w == child.pid || (w < 0 && errno == ECHILD)) {
        exited_at = Clock::now();
        if (w < 0) status = -1;
      }
    }
    if (exited_at) {
      if (child.fds[0] < 0 && child.fds[1] < 0) break;
      if (Clock::now() - *exited_at > std::chrono::milliseconds(kExitGraceMs)) break;
    } else if (Clock::now() > deadline) {
      kill_and_reap(child.pid, &status);
      r.timed_out = true;
      break;
    }
  }
  if (!exited_at && !r.timed_out) {  // the round bound ran out first (should not happen)
    kill_and_reap(child.pid, &status);
    r.timed_out = true;
  }
  for (int fd : child.fds) {
    if (fd >= 0) ::close(fd);
  }
  return status;
}

}  // namespace

CommandResult run_raftlab(const std::string& exe, const std::string& dir,
                          const std::vector<std::string>& args, uint64_t timeout_ms) {
  std::vector<std::string> all = args;
  all.insert(all.end(), {"--dir", dir, "--json"});
  return run_raftlab_argv(exe, all, timeout_ms);
}

CommandResult run_raftlab_argv(const std::string& exe, const std::vector<std::string>& args,
                               uint64_t timeout_ms) {
  CommandResult r;
  std::vector<std::string> all = {exe};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::optional<Child> child = spawn_captured(exe, argv, &r.err);
  if (!child) return r;
  const int status = collect(*child, timeout_ms, r);
  if (r.timed_out) {
    r.rc = 128 + SIGKILL;
  } else if (status == -1) {
    r.rc = 0;  // reaped by someone else (SIGCHLD ignored): judge by the output
    if (r.out.empty()) r.rc = 1;
  } else if (WIFEXITED(status)) {
    r.rc = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.rc = 128 + WTERMSIG(status);
  }
  try {
    if (!r.out.empty()) r.doc = nlohmann::json::parse(r.out);
  } catch (const std::exception&) {
    r.doc = nullptr;
  }
  return r;
}

std::string last_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

std::string command_text(const std::vector<std::string>& args) {
  std::string out = "raftlab";
  for (const std::string& a : args) out += " " + a;
  return out;
}

std::string failure_text(const std::vector<std::string>& args, const CommandResult& r) {
  return "`" + command_text(args) + "` " +
         (r.timed_out ? "timed out" : "exited " + std::to_string(r.rc)) + ": " + last_line(r.err);
}

}  // namespace raftlab::lab
