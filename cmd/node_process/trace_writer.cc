// The node's trace file (see trace_writer.h and docs/trace.md).
#include "cmd/node_process/trace_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

#include "cmd/cluster/clock.h"
#include "cmd/cluster/contract.h"

namespace raftlab::lab {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr size_t kNumberCharsMax = 24;  // the longest uint64_t, with room to spare

// ---- hand-formatted JSON: each helper appends `,"key":value` -------------------------------

void put_key(std::string& out, std::string_view key) {
  out += ",\"";
  out += key;
  out += "\":";
}

void put_raw(std::string& out, uint64_t v) {
  char buf[kNumberCharsMax];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

void put_num(std::string& out, std::string_view key, uint64_t v) {
  put_key(out, key);
  put_raw(out, v);
}

void put_bool(std::string& out, std::string_view key, bool v) {
  put_key(out, key);
  out += v ? "true" : "false";
}

void put_pair(std::string& out, std::string_view key, uint64_t a, uint64_t b) {
  put_key(out, key);
  out += '[';
  put_raw(out, a);
  out += ',';
  put_raw(out, b);
  out += ']';
}

// Text fields (a rule, a membership step) are short and ours, but may hold any byte.
void put_str(std::string& out, std::string_view key, std::string_view text) {
  put_key(out, key);
  out += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

// The start of every record: t, n, ev. The caller appends fields and closes it.
void begin_record(std::string& out, uint64_t t_ns, NodeId n, std::string_view ev) {
  out += "{\"t\":";
  put_raw(out, t_ns);
  put_num(out, "n", n.get());
  put_str(out, "ev", ev);
}

bool is_heartbeat(MessageType type) {
  return type == MessageType::kHeartbeat || type == MessageType::kHeartbeatResponse;
}

// Messages of an election or a transfer: rare, and what a timeline is read for.
bool is_vote_message(MessageType type) {
  return type == MessageType::kRequestVote || type == MessageType::kRequestVoteResponse ||
         type == MessageType::kPreVote || type == MessageType::kPreVoteResponse ||
         type == MessageType::kTimeoutNow;
}

void vote_fields(std::string& out, const Message& m) {
  if (is_request(m.type)) {
    put_num(out, "lli", m.last_log_index.get());
    put_num(out, "llt", m.last_log_term.get());
    if (m.transfer) put_bool(out, "transfer", true);
    return;
  }
  put_bool(out, "granted", !m.reject);
  if (m.reject && m.vote_why != 0) put_str(out, "why", to_string(static_cast<VoteWhy>(m.vote_why)));
}

void append_fields(std::string& out, const Message& m) {
  if (m.type == MessageType::kAppendEntries) {
    put_pair(out, "prev", m.prev_log_index.get(), m.prev_log_term.get());
    if (!m.entries.empty()) {
      put_key(out, "ents");
      out += '[';
      for (const uint64_t v : {m.entries.front().index.get(), m.entries.back().index.get(),
                               m.entries.front().term.get(), m.entries.back().term.get()}) {
        if (out.back() != '[') out += ',';
        put_raw(out, v);
      }
      out += ']';
    }
    put_num(out, "commit", m.commit.get());
    return;
  }
  put_bool(out, "ok", !m.reject);
  if (!m.reject) {
    put_num(out, "match", m.match_index.get());
    return;
  }
  put_num(out, "rejected", m.rejected_index.get());
  put_pair(out, "hint", m.conflict_term.get(), m.conflict_index.get());
  put_num(out, "last", m.last_index.get());
}

// What every record about one message starts with (after t, n, ev).
void put_message_head(std::string& out, const Message& m) {
  put_str(out, "type", to_string(m.type));
  put_num(out, "from", m.from.get());
  put_num(out, "to", m.to.get());
  put_num(out, "term", m.term.get());
  put_num(out, "seq", m.trace_seq);
}

// By type, only the fields that explain the message (docs/trace.md's table).
void message_fields(std::string& out, const Message& m) {
  switch (m.type) {
    case MessageType::kRequestVote:
    case MessageType::kPreVote:
    case MessageType::kRequestVoteResponse:
    case MessageType::kPreVoteResponse:
      vote_fields(out, m);
      return;
    case MessageType::kAppendEntries:
    case MessageType::kAppendEntriesResponse:
      append_fields(out, m);
      return;
    case MessageType::kHeartbeat:
    case MessageType::kHeartbeatResponse:
      if (m.type == MessageType::kHeartbeat) put_num(out, "commit", m.commit.get());
      if (m.type == MessageType::kHeartbeatResponse) put_num(out, "last", m.last_index.get());
      if (m.context != 0) put_num(out, "ctx", m.context);
      return;
    case MessageType::kInstallSnapshot:
    case MessageType::kInstallSnapshotResponse:
      put_pair(out, "snap", m.snapshot.index.get(), m.snapshot.term.get());
      put_num(out, "offset", m.offset);
      if (m.type == MessageType::kInstallSnapshot) put_num(out, "bytes", m.chunk.size());
      put_bool(out, "done", m.done);
      if (m.type == MessageType::kInstallSnapshotResponse)
        put_num(out, "match", m.match_index.get());
      return;
    case MessageType::kTimeoutNow:
      return;
    case MessageType::kReadIndex:
    case MessageType::kReadIndexResponse:
      put_num(out, "ctx", m.context);
      if (m.type == MessageType::kReadIndex) return;
      put_num(out, "read", m.read_index.get());
      put_bool(out, "ok", !m.reject);
      return;
  }
}

// Decisions that come in floods under load; every other kind is always written.
bool suppressible(TraceKind kind) {
  return kind == TraceKind::kTimeoutDrawn || kind == TraceKind::kAppended ||
         kind == TraceKind::kCommit;
}

// The fields of the rarer decisions: snapshots, membership and transfer steps.
void snapshot_or_step_fields(std::string& out, const TraceEvent& e) {
  switch (e.kind) {
    case TraceKind::kSnapshotTaken:
    case TraceKind::kSnapshotInstalled:
    case TraceKind::kSnapshotSent:
      if (e.kind == TraceKind::kSnapshotSent) put_num(out, "to", e.peer.get());
      put_num(out, "index", e.last.get());
      put_num(out, "term", e.term.get());
      if (e.kind == TraceKind::kSnapshotInstalled) put_num(out, "leader", e.peer.get());
      if (e.kind == TraceKind::kSnapshotSent) put_num(out, "bytes", e.value);
      break;
    case TraceKind::kMembership:
      put_num(out, "index", e.last.get());
      put_str(out, "text", e.text);
      break;
    case TraceKind::kTransfer:
      put_num(out, "to", e.peer.get());
      put_str(out, "text", e.text);
      break;
    case TraceKind::kStepDown:
      put_str(out, "text", e.text);
      break;
    case TraceKind::kTimer:
      put_str(out, "text", e.text);
      put_num(out, "ticks", e.value);
      break;
    default:
      break;
  }
}

}  // namespace

TraceWriter::TraceWriter(NodeId id, TraceLevel level, uint32_t tick_ms,
                         std::function<bool()> is_learner)
    : id_(id), level_(level), tick_ms_(tick_ms), is_learner_(std::move(is_learner)) {}

bool TraceWriter::open(const std::string& node_dir) {
  if (level_ == TraceLevel::kOff) return true;
  path_ = node_dir + "/" + std::string(kTraceFile);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return false;
  struct stat st {};
  if (::fstat(fd_, &st) == 0) file_bytes_ = static_cast<uint64_t>(st.st_size);
  const uint64_t now = monotonic_ns();
  window_second_ = now / kNsPerSecond;
  summary_ns_ = now;
  const size_t start = buffer_.size();
  begin_record(buffer_, now, id_, "trace");
  put_str(buffer_, "level", to_string(level_));
  put_num(buffer_, "pid", static_cast<uint64_t>(::getpid()));
  end_record(start);
  return true;
}

void TraceWriter::sent(Message& m) {
  m.trace_seq = next_seq_++;
  message(m, Dir::kSent);
}

void TraceWriter::received(const Message& m) { message(m, Dir::kReceived); }

void TraceWriter::message(const Message& m, Dir dir) {
  if (fd_ < 0) return;
  if (is_heartbeat(m.type) && level_ == TraceLevel::kChanges && !heartbeat_worth_writing(m, dir)) {
    return;
  }
  const uint64_t now = monotonic_ns();
  if (!admit(now, is_vote_message(m.type))) return;
  const size_t start = buffer_.size();
  begin_record(buffer_, now, id_, dir == Dir::kSent ? "send" : "recv");
  put_message_head(buffer_, m);
  message_fields(buffer_, m);
  end_record(start);
}

bool TraceWriter::heartbeat_worth_writing(const Message& m, Dir dir) {
  const uint64_t peer = (dir == Dir::kSent ? m.to : m.from).get();
  const uint64_t value = m.type == MessageType::kHeartbeat ? m.commit.get() : m.last_index.get();
  Beat& last = beats_last_[BeatKey{peer, dir, m.type}];
  // A read round (ctx) is worth seeing too: it is what confirms a ReadIndex.
  if (!last.written || last.term != m.term.get() || last.value != value || m.context != 0) {
    last = Beat{m.term.get(), value, true};
    return true;
  }
  ++beats_counted_[LinkKey{peer, dir}];
  return false;
}

void TraceWriter::decided(const TraceEvent& e) {
  if (fd_ < 0) return;
  // A follower redraws its timeout at every message from its leader: at `changes` that is
  // implied by the message, and written it would be a fifth of the trace under load.
  if (e.kind == TraceKind::kTimeoutDrawn && e.peer && level_ != TraceLevel::kAll) return;
  const uint64_t now = monotonic_ns();
  if (!admit(now, !suppressible(e.kind))) return;
  const size_t start = buffer_.size();
  std::string& out = buffer_;
  begin_record(out, now, id_, to_string(e.kind));
  switch (e.kind) {
    case TraceKind::kTimeoutDrawn:
      put_num(out, "ticks", e.value);
      put_num(out, "ms", e.value * tick_ms_);
      if (e.peer) put_num(out, "leader", e.peer.get());
      break;
    case TraceKind::kTimeoutFired:
      put_num(out, "ticks", e.value);
      break;
    case TraceKind::kVote:
      put_num(out, "cand", e.peer.get());
      put_num(out, "term", e.term.get());
      put_bool(out, "granted", e.granted);
      put_bool(out, "prevote", e.prevote);
      if (!e.granted && e.why != VoteWhy::kNone) put_str(out, "why", to_string(e.why));
      break;
    case TraceKind::kRole: {
      const bool learner = e.role == Role::kFollower && is_learner_ && is_learner_();
      put_str(out, "role", learner ? "learner" : to_string(e.role));
      put_num(out, "term", e.term.get());
      if (e.peer.get() != 0) put_num(out, "leader", e.peer.get());
      break;
    }
    case TraceKind::kAppended:
      put_num(out, "first", e.first.get());
      put_num(out, "last", e.last.get());
      put_num(out, "term", e.term.get());
      if (e.peer.get() != 0) put_num(out, "leader", e.peer.get());
      break;
    case TraceKind::kTruncated:
      put_num(out, "first", e.first.get());
      put_num(out, "last", e.last.get());
      put_num(out, "term", e.term.get());
      put_num(out, "by", e.value);
      break;
    case TraceKind::kCommit:
      put_num(out, "from", e.first.get());
      put_num(out, "to", e.last.get());
      break;
    default:
      snapshot_or_step_fields(out, e);
      break;
  }
  end_record(start);
}

void TraceWriter::applied(Index index) {
  if (fd_ < 0) return;
  const uint64_t now = monotonic_ns();
  if (!admit(now, false)) return;
  const size_t start = buffer_.size();
  begin_record(buffer_, now, id_, "apply");
  put_num(buffer_, "to", index.get());
  end_record(start);
}

size_t TraceWriter::begin_message_record(uint64_t now_ns, const char* ev, const Message& m) {
  const size_t start = buffer_.size();
  begin_record(buffer_, now_ns, id_, ev);
  put_message_head(buffer_, m);
  return start;
}

void TraceWriter::fault(net::FaultAct act, const Message& m, const std::string& rule,
                        uint32_t delay_ms) {
  if (fd_ < 0) return;
  const uint64_t now = monotonic_ns();
  if (!admit(now, false)) return;
  const char* ev = act == net::FaultAct::kDrop    ? "drop"
                   : act == net::FaultAct::kDelay ? "delay"
                                                  : "dup";
  const size_t start = begin_message_record(now, ev, m);
  put_str(buffer_, "rule", rule);
  if (act == net::FaultAct::kDelay) put_num(buffer_, "ms", delay_ms);
  end_record(start);
}

void TraceWriter::hold(net::HoldAct act, const Message& m, const char* why) {
  if (fd_ < 0) return;
  const uint64_t now = monotonic_ns();
  // Held by a rule: as many as the core sends, so counted like messages. Delivered or dropped:
  // one record per message a person (or a released rule) moved, which a timeline must show.
  if (!admit(now, act != net::HoldAct::kHold || is_vote_message(m.type))) return;
  const char* ev = act == net::HoldAct::kHold      ? "hold"
                   : act == net::HoldAct::kDeliver ? "deliver"
                                                   : "discard";
  const size_t start = begin_message_record(now, ev, m);
  put_str(buffer_, "id", net::held_id(m));
  if (act == net::HoldAct::kHold) {
    message_fields(buffer_, m);
  } else {
    put_str(buffer_, "why", why);
  }
  end_record(start);
}

std::string trace_fields_json(const Message& m) {
  std::string out;
  message_fields(out, m);
  if (out.empty()) return "{}";
  out[0] = '{';  // every field starts with a comma
  return out + "}";
}

bool TraceWriter::admit(uint64_t now_ns, bool always) {
  const uint64_t second = now_ns / kNsPerSecond;
  if (second != window_second_) {
    window_second_ = second;
    window_bytes_ = 0;
    write_suppressed(now_ns);
  }
  if (always || window_bytes_ < kTraceBytesPerSecondMax) return true;
  ++suppressed_;
  ++suppressed_total_;
  return false;
}

void TraceWriter::write_suppressed(uint64_t now_ns) {
  if (suppressed_ == 0) return;
  const size_t start = buffer_.size();
  begin_record(buffer_, now_ns, id_, "suppressed");
  put_num(buffer_, "count", suppressed_);
  suppressed_ = 0;
  end_record(start);
}

void TraceWriter::end_record(size_t start) {
  buffer_ += "}\n";
  window_bytes_ += buffer_.size() - start;
  if (buffer_.size() >= kTraceFlushBytes) write_out();
}

void TraceWriter::write_summaries(uint64_t now_ns, bool force) {
  if (!force && now_ns - summary_ns_ < kTraceSummaryIntervalNs) return;
  summary_ns_ = now_ns;
  for (const auto& [link, count] : beats_counted_) {
    if (count == 0) continue;
    const size_t start = buffer_.size();
    begin_record(buffer_, now_ns, id_, "heartbeats");
    put_num(buffer_, link.second == Dir::kSent ? "to" : "from", link.first);
    put_num(buffer_, "count", count);
    end_record(start);
  }
  beats_counted_.clear();
}

void TraceWriter::flush() {
  if (fd_ < 0) return;
  const uint64_t now = monotonic_ns();
  admit(now, true);  // a second that ended says what it suppressed
  write_summaries(now, false);
  write_out();
}

void TraceWriter::write_if_due() {
  if (buffer_.empty()) return;
  const uint64_t now = monotonic_ns();
  if (now - last_write_ns_ >= kTraceWriteIntervalNs) write_out();
}

void TraceWriter::write_out() {
  if (fd_ < 0 || buffer_.empty()) return;
  last_write_ns_ = monotonic_ns();
  if (file_bytes_ > 0 && file_bytes_ + buffer_.size() > kTraceFileBytesMax) rotate();
  size_t done = 0;
  while (fd_ >= 0 && done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ++write_errors_;  // a full disk must not stop the node; the count tells
      break;
    }
    done += static_cast<size_t>(n);
  }
  file_bytes_ += done;
  buffer_.clear();
}

// trace.jsonl -> trace.1.jsonl (replacing the older one), and a new trace.jsonl.
void TraceWriter::rotate() {
  const std::string old_path =
      path_.substr(0, path_.size() - kTraceFile.size()) + std::string(kTraceOldFile);
  ::close(fd_);
  if (std::rename(path_.c_str(), old_path.c_str()) != 0) ++write_errors_;
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  file_bytes_ = 0;
}

// A clean stop writes what the summaries still hold: the counts are not lost with the process.
void TraceWriter::close() {
  if (fd_ >= 0) {
    const uint64_t now = monotonic_ns();
    write_suppressed(now);
    write_summaries(now, true);
  }
  write_out();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace raftlab::lab
