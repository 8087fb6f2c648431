// events.jsonl and the node's log (see event_log.h).
#include "cmd/node_process/event_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "cmd/cluster/clock.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;

constexpr uint64_t kCommitEventIntervalMs = 100;    // at most one commit line per
constexpr size_t kEventsFlushBytes = 64u << 10;     // buffered events are written at this size
constexpr size_t kEventsBufferBytesMax = 4u << 20;  // beyond this events are dropped and counted

}  // namespace

bool EventLog::open(const std::string& path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  return fd_ >= 0;
}

void EventLog::emit(const std::string& event, json fields) {
  json line = {{"t_ns", monotonic_ns()}, {"event", event}};
  for (auto& [k, v] : fields.items()) line[k] = v;
  std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace);
  text.push_back('\n');
  if (buffer_.size() + text.size() > kEventsBufferBytesMax) {
    ++dropped_;
    return;
  }
  buffer_ += text;
  if (buffer_.size() >= kEventsFlushBytes) flush();
}

void EventLog::flush() {
  size_t done = 0;
  while (fd_ >= 0 && done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      dropped_ += 1;  // a full disk must not stop the node; the count tells
      break;
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
}

void EventLog::close() {
  flush();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

const char* role_name(const Core& core) {
  if (core.role() == Role::kFollower && !is_voter(core.membership(), core.config().id) &&
      is_member(core.membership(), core.config().id)) {
    return "learner";
  }
  return to_string(core.role());
}

void log_line(NodeId id, const std::string& line) {
  const uint64_t ns = monotonic_ns();
  std::fprintf(stderr, "[%llu.%06llu] node %llu: %s\n",
               static_cast<unsigned long long>(ns / 1'000'000'000),
               static_cast<unsigned long long>(ns % 1'000'000'000 / 1000),
               static_cast<unsigned long long>(id.get()), line.c_str());
  std::fflush(stderr);
}

CoreEvents::CoreEvents(EventLog& events, const Core& core, NodeId id)
    : events_(events), core_(core), id_(id), last_term_(core.term()), last_commit_(core.commit()) {}

void CoreEvents::note(uint64_t now_ms, Index applied) {
  const Role role = core_.role();
  const Term term = core_.term();
  const NodeId leader = core_.leader();
  if (term != last_term_) {
    events_.emit("term", {{"term", term.get()}, {"from", last_term_.get()}});
    last_term_ = term;
  }
  if (role != last_role_) {
    events_.emit(
        "role",
        {{"role", role_name(core_)}, {"from", to_string(last_role_)}, {"term", term.get()}});
    log_line(id_, std::string("role ") + to_string(last_role_) + " -> " + role_name(core_) +
                      " in term " + std::to_string(term.get()));
    if (role == Role::kLeader) events_.emit("elected", {{"term", term.get()}});
    if (role == Role::kCandidate || role == Role::kPreCandidate) {
      events_.emit("election", {{"term", term.get()}, {"prevote", role == Role::kPreCandidate}});
    }
    last_role_ = role;
  }
  // Commit lines are throttled: at most one per kCommitEventIntervalMs, but a new leader's
  // first commit is always written (the flush timer writes a commit held back).
  if (core_.commit() != last_commit_ &&
      (now_ms - commit_event_ms_ >= kCommitEventIntervalMs || leader != commit_event_leader_)) {
    emit_commit(now_ms, applied);
  }
}

void CoreEvents::flush_commit(uint64_t now_ms, Index applied) {
  if (core_.commit() != last_commit_) emit_commit(now_ms, applied);
}

void CoreEvents::emit_commit(uint64_t now_ms, Index applied) {
  last_commit_ = core_.commit();
  commit_event_leader_ = core_.leader();
  commit_event_ms_ = now_ms;
  events_.emit("commit", {{"commit", last_commit_.get()},
                          {"applied", applied.get()},
                          {"leader", commit_event_leader_.get()},
                          {"term", core_.term().get()}});
}

void CoreEvents::note_votes(const std::vector<Message>& messages) {
  for (const Message& m : messages) {
    if (m.type != MessageType::kRequestVoteResponse && m.type != MessageType::kPreVoteResponse) {
      continue;
    }
    events_.emit("vote", {{"candidate", m.to.get()},
                          {"term", m.term.get()},
                          {"granted", !m.reject},
                          {"prevote", m.type == MessageType::kPreVoteResponse}});
  }
}

}  // namespace raftlab::lab
