// The nemesis of `raftlab check` (see nemesis.h) and its hidden test hook `raftlab nemesis-run`.
#include "cmd/drive/nemesis.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
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
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "cmd/lab/lab.h"

extern char** environ;

namespace raftlab::lab {

const std::vector<std::string> kNemesisKinds = {
    "partition", "ring", "bridge", "isolate-leader", "cut",    "kill",
    "pause",     "loss", "delay",  "transfer",       "member",
};

std::vector<std::string> parse_nemesis_kinds(const std::string& text) {
  std::vector<std::string> kinds;
  std::stringstream in(text);
  std::string part;
  auto add = [&](const std::string& kind) {
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
  };
  while (std::getline(in, part, ',')) {
    part.erase(0, part.find_first_not_of(" \t"));
    part.erase(part.find_last_not_of(" \t") + 1);
    if (part.empty() || part == "none") continue;
    if (part == "majority-ring") part = "ring";  // partition --random's name for it
    if (part == "all") {
      for (const std::string& k : kNemesisKinds) add(k);
    } else if (std::find(kNemesisKinds.begin(), kNemesisKinds.end(), part) != kNemesisKinds.end()) {
      add(part);
    } else {
      std::string known;
      for (const std::string& k : kNemesisKinds) known += (known.empty() ? "" : ", ") + k;
      throw LabError(kExitUsage,
                     "unknown nemesis kind '" + part + "' (kinds: " + known + ", all, none)");
    }
  }
  return kinds;
}

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Bounds on the commands the nemesis runs (each CLI command bounds its own waits below these).
constexpr uint64_t kFaultCommandTimeoutMs = 10'000;  // partition, cut, net, heal, kill, pause
constexpr uint64_t kStartCommandTimeoutMs = 20'000;  // start: port wait and start-up wait
constexpr uint64_t kTransferCommandTimeoutMs = 8'000;
constexpr const char* kTransferTimeout = "3s";
constexpr uint64_t kRemoveCommandTimeoutMs = 12'000;
constexpr const char* kRemoveTimeout = "5s";
constexpr uint64_t kAddCommandTimeoutMs = 20'000;
constexpr const char* kAddTimeout = "12s";
constexpr size_t kOutputBytesMax = 1 << 20;         // stdout or stderr of one command
constexpr uint64_t kExitGraceMs = 200;              // pipes held open by a grandchild after exit
constexpr uint64_t kCommandRoundsMax = 10'000'000;  // with the deadline: one command's loop
constexpr uint64_t kTicksMax = 1'000'000;           // with the stop flag: the schedule is bounded
constexpr uint64_t kConvergePollsMax = 100'000;     // with the deadline
constexpr uint32_t kConvergeAdminTimeoutMs = 200;
constexpr uint32_t kConvergePollMs = 50;

struct CommandResult {
  int rc = -1;             // the exit code; 128+N when killed by signal N; -1 if not started
  bool timed_out = false;  // killed after the bound
  std::string out;
  std::string err;
  json doc;  // stdout parsed (null if it is not JSON)

  bool ok() const { return rc == 0 && !timed_out; }
  // A usage error or a refusal before anything was done: the fault is certainly not in force.
  bool certainly_nothing() const { return !timed_out && (rc == kExitUsage || rc < 0); }
};

std::string command_text(const std::vector<std::string>& args) {
  std::string out = "raftlab";
  for (const std::string& a : args) out += " " + a;
  return out;
}

std::string last_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

// Runs `exe ARGS --dir DIR --json` with stdin from /dev/null and stdout and stderr captured,
// killed (SIGKILL, by its pid) and reaped if it runs past timeout_ms. posix_spawn: safe in a
// process with other threads (the check runner's clients).
CommandResult run_raftlab(const std::string& exe, const std::string& dir,
                          const std::vector<std::string>& args, uint64_t timeout_ms) {
  CommandResult r;
  std::vector<std::string> all = {exe};
  all.insert(all.end(), args.begin(), args.end());
  all.insert(all.end(), {"--dir", dir, "--json"});
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out_fds[2];
  int err_fds[2];
  if (::pipe2(out_fds, O_CLOEXEC) != 0) {
    r.err = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  if (::pipe2(err_fds, O_CLOEXEC) != 0) {
    r.err = std::string("pipe: ") + std::strerror(errno);
    ::close(out_fds[0]);
    ::close(out_fds[1]);
    return r;
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
  pid_t pid = -1;
  const int spawn_error = ::posix_spawn(&pid, exe.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_fds[1]);
  ::close(err_fds[1]);
  if (spawn_error != 0) {
    ::close(out_fds[0]);
    ::close(err_fds[0]);
    r.err = std::string("cannot run ") + exe + ": " + std::strerror(spawn_error);
    return r;
  }
  for (int fd : {out_fds[0], err_fds[0]}) ::fcntl(fd, F_SETFL, O_NONBLOCK);
  int fds[2] = {out_fds[0], err_fds[0]};
  std::string* bufs[2] = {&r.out, &r.err};
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::optional<Clock::time_point> exited_at;
  int status = 0;
  // Bounded by the deadline (and the grace after exit); each round waits up to 50 ms for
  // output, or sleeps 5 ms once both pipes are closed.
  for (uint64_t round = 0; round < kCommandRoundsMax; ++round) {
    pollfd p[2];
    nfds_t n = 0;
    int which[2];
    for (int k = 0; k < 2; ++k) {
      if (fds[k] >= 0) {
        p[n] = pollfd{fds[k], POLLIN, 0};
        which[n++] = k;
      }
    }
    if (n > 0) {
      ::poll(p, n, 50);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (nfds_t i = 0; i < n; ++i) {
      if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const int k = which[i];
      char buf[4096];
      for (int reads = 0; reads < 64; ++reads) {
        const ssize_t got = ::read(fds[k], buf, sizeof buf);
        if (got > 0) {
          if (bufs[k]->size() < kOutputBytesMax) bufs[k]->append(buf, static_cast<size_t>(got));
          continue;
        }
        if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          ::close(fds[k]);
          fds[k] = -1;
        }
        break;
      }
    }
    if (!exited_at) {
      const pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid || (w < 0 && errno == ECHILD)) {
        exited_at = Clock::now();
        if (w < 0) status = -1;
      }
    }
    if (exited_at) {
      if (fds[0] < 0 && fds[1] < 0) break;
      if (Clock::now() - *exited_at > std::chrono::milliseconds(kExitGraceMs)) break;
    } else if (Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      r.timed_out = true;
      break;
    }
  }
  if (!exited_at && !r.timed_out) {  // the round bound ran out first (should not happen)
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.timed_out = true;
  }
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
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
    if (!r.out.empty()) r.doc = json::parse(r.out);
  } catch (const std::exception&) {
    r.doc = nullptr;
  }
  return r;
}

// What `raftlab status --json` says now.
struct Observed {
  std::vector<uint64_t> all;
  std::vector<uint64_t> running;  // process running and answering
  std::vector<uint64_t> paused;
  std::vector<uint64_t> stopped;
  uint64_t leader = 0;              // the answering leader of the highest term (0: none)
  std::vector<uint64_t> followers;  // running, answering, role follower (voters, not learners)
  bool healthy = false;             // every node running and answering, a leader
};

std::optional<Observed> parse_status(const json& doc) {
  if (!doc.is_object() || !doc.contains("nodes") || !doc["nodes"].is_array()) return std::nullopt;
  Observed o;
  uint64_t best_term = 0;
  for (const json& n : doc["nodes"]) {
    if (!n.is_object() || !n.contains("id") || !n["id"].is_number_unsigned()) continue;
    const uint64_t id = n["id"].get<uint64_t>();
    o.all.push_back(id);
    const std::string process = n.value("process", "");
    const std::string role =
        n.contains("role") && n["role"].is_string() ? n["role"].get<std::string>() : "unknown";
    if (process == "paused") o.paused.push_back(id);
    if (process == "stopped") o.stopped.push_back(id);
    if (process != "running" || role == "unknown") continue;
    o.running.push_back(id);
    const uint64_t term =
        n.contains("term") && n["term"].is_number_unsigned() ? n["term"].get<uint64_t>() : 0;
    if (role == "leader" && term >= best_term) {
      best_term = term;
      o.leader = id;
    }
    if (role == "follower") o.followers.push_back(id);
  }
  o.healthy = o.leader != 0 && o.running.size() == o.all.size();
  return o;
}

std::string list_text(const std::vector<uint64_t>& ids) {
  std::string out;
  for (uint64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Nemesis.

Nemesis::Nemesis(NemesisOptions options, std::function<void(const NemesisEvent&)> record)
    : options_(std::move(options)), record_(std::move(record)), prng_(options_.seed) {
  std::error_code ec;
  exe_ = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) throw LabError(kExitEnvironment, "cannot find this binary: " + ec.message());
}

Nemesis::~Nemesis() { stop_thread(); }

void Nemesis::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

size_t Nemesis::injected() const { return injected_.load(); }

void Nemesis::stop_thread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Nemesis::emit(const std::string& f, const std::string& value) {
  if (!record_) return;
  try {
    record_(NemesisEvent{monotonic_ns(), f, value});
  } catch (const std::exception& e) {
    std::cerr << "raftlab nemesis: recording " << f << " failed: " << e.what() << "\n";
  }
}

void Nemesis::run() {
  for (uint64_t tick = 0; tick < kTicksMax; ++tick) {
    const uint64_t base = std::max<uint64_t>(options_.interval_ms, 1);
    const uint64_t wait_ms = base * prng_.uniform(75, 126) / 100;  // +-25%
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stopping_; });
      if (stopping_) return;
    }
    // One fault at a time: the previous one is undone first; one that cannot be undone now
    // stays in force and nothing new is injected until it is.
    if (in_force_) {
      // A recorded fault is retried until undone; an unrecorded one (an injection that failed
      // but may have taken effect) gets one try, and stop_and_heal's heal covers the rest.
      if (!undo(*in_force_) && !in_force_->undo_f.empty()) continue;
      in_force_.reset();
    }
    if (options_.kinds.empty()) continue;
    const std::string& kind = options_.kinds[prng_.uniform(0, options_.kinds.size())];
    try {
      in_force_ = inject(kind);
    } catch (const std::exception& e) {
      std::cerr << "raftlab nemesis: " << kind << ": " << e.what() << "\n";
    }
  }
}

std::optional<Nemesis::Fault> Nemesis::inject(const std::string& kind) {
  const std::string& dir = options_.dir;
  auto run = [&](const std::vector<std::string>& args, uint64_t timeout_ms) {
    CommandResult r = run_raftlab(exe_, dir, args, timeout_ms);
    if (!r.ok()) {
      std::cerr << "raftlab nemesis: " << kind << ": `" << command_text(args) << "` "
                << (r.timed_out ? "timed out" : "exited " + std::to_string(r.rc)) << ": "
                << last_line(r.err) << "\n";
    }
    return r;
  };
  const CommandResult status = run({"status"}, kFaultCommandTimeoutMs);
  const std::optional<Observed> now = status.ok() ? parse_status(status.doc) : std::nullopt;
  if (!now) return std::nullopt;
  std::vector<uint64_t> nodes = now->all;
  const size_t n = nodes.size();
  for (size_t k = n; k > 1; --k) std::swap(nodes[k - 1], nodes[prng_.uniform(0, k)]);
  auto pick = [&](const std::vector<uint64_t>& from) {
    return from[prng_.uniform(0, from.size())];
  };
  auto skip = [&](const std::string& why) {
    std::cerr << "raftlab nemesis: " << kind << " skipped: " << why << "\n";
    return std::nullopt;
  };

  Fault fault;
  fault.kind = kind;
  fault.undo_args = {"heal"};  // partitions and cuts; link faults need --all
  fault.undo_timeout_ms = kFaultCommandTimeoutMs;
  fault.undo_f = "heal";
  std::string value;
  std::vector<std::string> args;
  uint64_t timeout_ms = kFaultCommandTimeoutMs;

  if (kind == "partition") {
    if (n < 2) return skip("fewer than 2 nodes");
    const std::vector<uint64_t> a(nodes.begin(), nodes.begin() + static_cast<long>(n / 2));
    const std::vector<uint64_t> b(nodes.begin() + static_cast<long>(n / 2), nodes.end());
    std::vector<uint64_t> sa = a, sb = b;
    std::sort(sa.begin(), sa.end());
    std::sort(sb.begin(), sb.end());
    args = {"partition", list_text(sa), list_text(sb)};
    value = list_text(sa) + " | " + list_text(sb);
  } else if (kind == "ring") {
    args = {"partition", "--random", "majority-ring"};
  } else if (kind == "bridge") {
    if (n < 3) return skip("fewer than 3 nodes");
    const size_t half = n / 2;
    std::vector<uint64_t> a(nodes.begin(), nodes.begin() + static_cast<long>(half));
    std::vector<uint64_t> b(nodes.begin() + static_cast<long>(half) + 1, nodes.end());
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    args = {"cut", list_text(a), list_text(b)};  // both ways; the bridge node hears both sides
    value = "bridge " + list_text(a) + " | " + list_text(b) + ", node " +
            std::to_string(nodes[half]) + " hears both";
  } else if (kind == "isolate-leader") {
    if (now->leader == 0) return skip("no leader");
    args = {"isolate", std::to_string(now->leader)};
    value = "isolate node " + std::to_string(now->leader) + " (leader)";
  } else if (kind == "cut") {
    if (n < 2) return skip("fewer than 2 nodes");
    // A few one-way cuts between random ordered pairs, one command each.
    const size_t pairs = prng_.uniform(1, std::max<size_t>(1, n / 2) + 1);
    std::set<std::pair<uint64_t, uint64_t>> chosen;
    for (size_t k = 0; k < pairs * 4 && chosen.size() < pairs; ++k) {
      const uint64_t from = pick(now->all);
      const uint64_t to = pick(now->all);
      if (from != to) chosen.insert({from, to});
    }
    std::string done;
    for (const auto& [from, to] : chosen) {
      const CommandResult r = run({"cut", std::to_string(from), std::to_string(to), "--one-way"},
                                  kFaultCommandTimeoutMs);
      if (!r.ok()) {
        if (done.empty()) {
          if (r.certainly_nothing()) return std::nullopt;
          fault.undo_f.clear();  // maybe in force: undone, but silently
          return fault;
        }
        break;
      }
      done += (done.empty() ? "" : ", ") + std::to_string(from) + "->" + std::to_string(to);
    }
    value = "one-way " + done;
  } else if (kind == "kill" || kind == "pause") {
    const bool leader = now->leader != 0 && prng_.chance(0.5);
    if (now->running.empty()) return skip("no node running");
    const uint64_t id = leader ? now->leader : pick(now->running);
    const std::string suffix = id == now->leader ? " (leader)" : "";
    const std::string node = std::to_string(id);
    args = {kind, node};
    if (kind == "kill") {
      value = "kill -9 node " + node + suffix;
      fault.undo_args = {"start", node};
      fault.undo_timeout_ms = kStartCommandTimeoutMs;
      fault.undo_f = "restart";
      fault.undo_value = "start node " + node;
    } else {
      value = "pause node " + node + suffix;
      fault.undo_args = {"resume", node};
      fault.undo_f = "resume";
      fault.undo_value = "resume node " + node;
    }
  } else if (kind == "loss") {
    args = {"net", "--loss", "20%"};
    value = "loss 20% all links";
    fault.undo_args = {"heal", "--all"};
  } else if (kind == "delay") {
    args = {"net", "--delay", "30ms", "--jitter", "10ms"};
    value = "delay 30ms jitter 10ms all links";
    fault.undo_args = {"heal", "--all"};
  } else if (kind == "transfer") {
    if (now->leader == 0) return skip("no leader");
    if (now->followers.empty()) return skip("no follower");
    const uint64_t target = pick(now->followers);
    args = {"transfer", std::to_string(target), "--timeout", kTransferTimeout};
    timeout_ms = kTransferCommandTimeoutMs;
    value = "transfer " + std::to_string(now->leader) + " -> " + std::to_string(target);
    fault.undo_args.clear();  // nothing to undo: the event marks the end of the window
    fault.undo_f = "transfer-done";
    fault.undo_value = value;
  } else if (kind == "member") {
    // Only on a whole cluster: never remove a member while another node is down.
    if (!now->healthy) return skip("not every node is running, or no leader");
    if (n < 3) return skip("fewer than 3 nodes");
    if (now->followers.empty()) return skip("no follower");
    const std::string node = std::to_string(pick(now->followers));
    args = {"member", "remove", node, "--timeout", kRemoveTimeout};
    timeout_ms = kRemoveCommandTimeoutMs;
    value = "member remove " + node;
    fault.undo_args = {"member", "add", node, "--timeout", kAddTimeout};
    fault.undo_timeout_ms = kAddCommandTimeoutMs;
    fault.undo_f = "member-add";
    fault.undo_value = "member add " + node;
    removed_.push_back(std::stoull(node));
  } else {
    return skip("unknown kind");
  }

  if (!args.empty()) {
    const CommandResult r = run(args, timeout_ms);
    if (!r.ok()) {
      if (r.certainly_nothing() || kind == "transfer") {
        if (kind == "member") removed_.pop_back();
        return std::nullopt;
      }
      // It may have taken effect (a timeout, a change made but not confirmed): undo it at the
      // next tick, without events, since no injection was recorded.
      fault.undo_f.clear();
      return fault;
    }
    if (kind == "ring") {
      std::string cuts;
      if (r.doc.is_object() && r.doc.contains("cuts") && r.doc["cuts"].is_array()) {
        for (const json& c : r.doc["cuts"]) {
          if (!c.is_array() || c.size() != 2 || !c[0].is_number_unsigned() ||
              !c[1].is_number_unsigned()) {
            continue;
          }
          const uint64_t a = c[0].get<uint64_t>(), b = c[1].get<uint64_t>();
          if (a < b)
            cuts += (cuts.empty() ? "" : " ") + std::to_string(a) + "-" + std::to_string(b);
        }
      }
      value = "majority-ring, cut " + (cuts.empty() ? std::string("nothing") : cuts);
    } else if (kind == "isolate-leader" && r.doc.is_object() && r.doc.contains("groups") &&
               r.doc["groups"].is_array()) {
      std::string groups;
      for (const json& g : r.doc["groups"]) {
        std::vector<uint64_t> ids;
        if (!g.is_array()) continue;
        for (const json& id : g) {
          if (id.is_number_unsigned()) ids.push_back(id.get<uint64_t>());
        }
        groups += (groups.empty() ? "" : " | ") + list_text(ids);
      }
      value += ": " + groups;
    }
  }
  if (fault.undo_value.empty()) {
    fault.undo_value = kind == "partition" || kind == "cut" ? kind + " " + value : value;
  }
  ++injected_;
  emit(kind, value);
  return fault;
}

bool Nemesis::undo(const Fault& fault) {
  if (!fault.undo_args.empty()) {
    const CommandResult r = run_raftlab(exe_, options_.dir, fault.undo_args, fault.undo_timeout_ms);
    if (!r.ok()) {
      std::cerr << "raftlab nemesis: undo of " << fault.kind << ": `"
                << command_text(fault.undo_args) << "` "
                << (r.timed_out ? "timed out" : "exited " + std::to_string(r.rc)) << ": "
                << last_line(r.err) << "\n";
      return false;
    }
  }
  if (fault.kind == "member" && fault.undo_args.size() > 2) {
    std::erase(removed_, std::stoull(fault.undo_args[2]));
  }
  if (!fault.undo_f.empty()) emit(fault.undo_f, fault.undo_value);
  return true;
}

bool Nemesis::stop_and_heal(uint64_t converge_timeout_ms, std::string* why) {
  stop_thread();
  const auto deadline = Clock::now() + std::chrono::milliseconds(converge_timeout_ms);
  std::vector<std::string> problems;
  if (in_force_) {
    if (undo(*in_force_)) in_force_.reset();
  }
  // Whatever is left, whoever left it: every node resumed and started, every rule gone, every
  // member the nemesis removed added back.
  auto run = [&](const std::vector<std::string>& args, uint64_t timeout_ms) {
    const CommandResult r = run_raftlab(exe_, options_.dir, args, timeout_ms);
    if (!r.ok()) {
      problems.push_back("`" + command_text(args) + "` " +
                         (r.timed_out ? "timed out" : "exited " + std::to_string(r.rc)) + ": " +
                         last_line(r.err));
    }
    return r.ok();
  };
  const CommandResult status = run_raftlab(exe_, options_.dir, {"status"}, kFaultCommandTimeoutMs);
  if (const std::optional<Observed> now = status.ok() ? parse_status(status.doc) : std::nullopt) {
    for (uint64_t id : now->paused) run({"resume", std::to_string(id)}, kFaultCommandTimeoutMs);
    for (uint64_t id : now->stopped) run({"start", std::to_string(id)}, kStartCommandTimeoutMs);
  } else {
    problems.push_back("`raftlab status` failed: " + last_line(status.err));
  }
  run({"heal", "--all"}, kFaultCommandTimeoutMs);
  for (uint64_t id : std::vector<uint64_t>(removed_)) {
    if (run({"member", "add", std::to_string(id), "--timeout", kAddTimeout},
            kAddCommandTimeoutMs)) {
      std::erase(removed_, id);
    }
  }
  in_force_.reset();
  emit("heal", "heal --all; every node resumed and started; removed members added back");

  // Converged: a leader a majority agrees on, every node running and answering, and each one's
  // applied index at least the leader's commit as first seen after the heal (clients may keep
  // writing: the commit moves on, and a node a few entries behind it has still caught up).
  std::string seen = "not polled";
  bool converged = false;
  uint64_t target = 0;
  for (uint64_t k = 0; k < kConvergePollsMax; ++k) {
    try {
      const ClusterSpec spec = load_cluster(options_.dir);
      const std::vector<NodeView> views =
          collect_views(options_.dir, spec, false, kConvergeAdminTimeoutMs);
      uint64_t term = 0;
      const NodeId leader = agreed_leader(spec, views, &term);
      uint64_t commit = 0;
      for (const NodeView& v : views) {
        if (v.id == leader) commit = v.commit;
      }
      if (target == 0) target = commit;
      commit = target;
      seen.clear();
      bool all = static_cast<bool>(leader);
      for (const NodeView& v : views) {
        const bool ok = v.answered && v.applied >= commit;
        all = all && ok;
        seen += "\n  node " + std::to_string(v.id.get()) + ": " + to_string(v.process) +
                (v.answered ? ", " + v.role + " term " + std::to_string(v.term) + " applied " +
                                  std::to_string(v.applied) + " commit " + std::to_string(v.commit)
                            : std::string(", not answering"));
      }
      if (!leader) seen = "no leader agreed by a majority" + seen;
      if (all) {
        converged = true;
        break;
      }
    } catch (const std::exception& e) {
      seen = e.what();
    }
    if (Clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kConvergePollMs));
  }
  if (converged && problems.empty()) return true;
  if (why != nullptr) {
    std::string text;
    for (const std::string& p : problems) text += (text.empty() ? "" : "; ") + p;
    if (!converged) {
      text += (text.empty() ? "" : "; ") + std::string("not converged within ") +
              std::to_string(converge_timeout_ms) + " ms; last seen: " + seen;
    }
    *why = text;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// `raftlab nemesis-run`: the nemesis alone, for tests.

namespace {

struct NemesisRunOptions {
  std::string dir;
  std::string kinds = "all";
  std::string interval = "300ms";
  std::string duration = "5s";
  std::string converge_timeout = "30s";
  uint64_t seed = 1;
};

int run_nemesis_run(const NemesisRunOptions& o) {
  NemesisOptions options;
  options.dir = absolute_dir(resolve_dir(o.dir));
  options.kinds = parse_nemesis_kinds(o.kinds);  // a usage error first, as the parser's are
  load_cluster(options.dir);                     // exit 4 without a cluster
  options.interval_ms = *parse_duration_ms(o.interval);
  options.seed = o.seed;
  std::mutex out_mutex;
  Nemesis nemesis(options, [&out_mutex](const NemesisEvent& e) {
    const json line = {{"process", "nemesis"},
                       {"type", "info"},
                       {"f", e.f},
                       {"value", e.value},
                       {"time", e.time_ns}};
    std::lock_guard<std::mutex> lock(out_mutex);
    std::cout << line.dump() << std::endl;
  });
  nemesis.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(*parse_duration_ms(o.duration)));
  std::string why;
  const bool ok = nemesis.stop_and_heal(*parse_duration_ms(o.converge_timeout), &why);
  std::cerr << "raftlab nemesis-run: " << nemesis.injected() << " faults injected; "
            << (ok ? "converged" : "NOT converged: " + why) << "\n";
  return ok ? kExitOk : 1;
}

}  // namespace

void setup_nemesis_run(CLI::App& app) {
  auto o = std::make_shared<NemesisRunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "nemesis-run",
      "raftlab nemesis-run (internal, for tests): run the nemesis of `check` alone against a "
      "cluster; one JSON line per event; exit 0 if it converged after the final heal");
  cmd->group("");  // hidden from `raftlab --help`
  add_dir_option(cmd, o->dir);
  cmd->add_option("--kinds", o->kinds, "partition,kill,... or all or none (default all)");
  cmd->add_option("--interval", o->interval, "A new fault every (default 300ms)")
      ->check(duration_validator());
  cmd->add_option("--duration", o->duration, "Faults for this long (default 5s)")
      ->check(duration_validator());
  cmd->add_option("--converge-timeout", o->converge_timeout, "Bound after the heal (default 30s)")
      ->check(duration_validator());
  cmd->add_option("--seed", o->seed, "The nemesis' seed (default 1)");
  cmd->callback([o] { run_command([o] { return run_nemesis_run(*o); }); });
}

}  // namespace raftlab::lab
