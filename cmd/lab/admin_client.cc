// The admin client (see admin_client.h).
#include "cmd/lab/admin_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <limits>

#include "cmd/cluster/contract.h"
#include "persist/dump.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

}  // namespace

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
        v.timers_frozen = a->value("timers_frozen", false);
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

}  // namespace raftlab::lab
