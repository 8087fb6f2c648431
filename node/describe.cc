// Stable, one-line text forms of the core's types, for transcripts and log lines.
#include <algorithm>
#include <charconv>
#include <sstream>
#include <string>
#include <string_view>

#include "node/core.h"
#include "node/message.h"
#include "node/progress.h"
#include "node/trace.h"
#include "node/types.h"

namespace raftlab {

const char* to_string(EntryType type) {
  switch (type) {
    case EntryType::kNormal:
      return "normal";
    case EntryType::kNoop:
      return "noop";
    case EntryType::kConfig:
      return "config";
  }
  return "?";
}

namespace {

std::string join(const std::vector<NodeId>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(ids[i].get());
  }
  return out;
}

bool parse_ids(std::string_view text, std::vector<NodeId>& out) {
  out.clear();
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view part = text.substr(0, comma);
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc() || end != part.data() + part.size() || v == 0) return false;
    out.push_back(NodeId(v));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return false;  // a trailing comma
  }
  return true;
}

}  // namespace

std::string encode_membership(const Membership& m) {
  return "voters=" + join(m.voters) + ";learners=" + join(m.learners);
}

bool decode_membership(std::string_view text, Membership& out) {
  constexpr std::string_view kVoters = "voters=";
  constexpr std::string_view kLearners = ";learners=";
  if (text.substr(0, kVoters.size()) != kVoters) return false;
  const size_t split = text.find(kLearners);
  if (split == std::string_view::npos) return false;
  Membership m;
  if (!parse_ids(text.substr(kVoters.size(), split - kVoters.size()), m.voters)) return false;
  if (!parse_ids(text.substr(split + kLearners.size()), m.learners)) return false;
  out = std::move(m);
  return true;
}

bool is_voter(const Membership& m, NodeId id) {
  return std::find(m.voters.begin(), m.voters.end(), id) != m.voters.end();
}

bool is_member(const Membership& m, NodeId id) {
  return is_voter(m, id) || std::find(m.learners.begin(), m.learners.end(), id) != m.learners.end();
}

std::string describe(const Membership& m) {
  std::string out = "voters " + join(m.voters);
  if (!m.learners.empty()) out += " learners " + join(m.learners);
  return out;
}

const char* to_string(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNone:
      return "none";
    case Refusal::kNotLeader:
      return "not the leader";
    case Refusal::kTransferring:
      return "leadership transfer in progress";
    case Refusal::kChangeInProgress:
      return "a membership change is in progress";
    case Refusal::kNoCommitInTerm:
      return "the new leader has not committed an entry of its term yet";
    case Refusal::kInvalid:
      return "invalid request";
    case Refusal::kTimedOut:
      return "timed out";
    case Refusal::kLeadershipLost:
      return "leadership lost";
  }
  return "?";
}

const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::kAppendEntries:
      return "AppendEntries";
    case MessageType::kAppendEntriesResponse:
      return "AppendEntriesResponse";
    case MessageType::kRequestVote:
      return "RequestVote";
    case MessageType::kRequestVoteResponse:
      return "RequestVoteResponse";
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResponse:
      return "PreVoteResponse";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResponse:
      return "HeartbeatResponse";
    case MessageType::kInstallSnapshot:
      return "InstallSnapshot";
    case MessageType::kInstallSnapshotResponse:
      return "InstallSnapshotResponse";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResponse:
      return "ReadIndexResponse";
  }
  return "?";
}

bool is_request(MessageType type) {
  switch (type) {
    case MessageType::kAppendEntries:
    case MessageType::kRequestVote:
    case MessageType::kPreVote:
    case MessageType::kHeartbeat:
    case MessageType::kInstallSnapshot:
    case MessageType::kTimeoutNow:
    case MessageType::kReadIndex:
      return true;
    case MessageType::kAppendEntriesResponse:
    case MessageType::kRequestVoteResponse:
    case MessageType::kPreVoteResponse:
    case MessageType::kHeartbeatResponse:
    case MessageType::kInstallSnapshotResponse:
    case MessageType::kReadIndexResponse:
      return false;
  }
  return false;
}

const char* to_string(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "precandidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "?";
}

// The `ev` names of docs/trace.md.
const char* to_string(TraceKind kind) {
  switch (kind) {
    case TraceKind::kTimeoutDrawn:
      return "timeout";
    case TraceKind::kTimeoutFired:
      return "fired";
    case TraceKind::kVote:
      return "vote";
    case TraceKind::kRole:
      return "role";
    case TraceKind::kAppended:
      return "append";
    case TraceKind::kTruncated:
      return "truncate";
    case TraceKind::kCommit:
      return "commit";
    case TraceKind::kSnapshotTaken:
      return "snap_taken";
    case TraceKind::kSnapshotInstalled:
      return "snap_installed";
    case TraceKind::kSnapshotSent:
      return "snap_sent";
    case TraceKind::kMembership:
      return "member";
    case TraceKind::kTransfer:
      return "transfer";
    case TraceKind::kStepDown:
      return "stepdown";
    case TraceKind::kTimer:
      return "timer";
  }
  return "?";
}

// The words of docs/trace.md's `why`.
const char* to_string(VoteWhy why) {
  switch (why) {
    case VoteWhy::kNone:
      return "none";
    case VoteWhy::kStaleTerm:
      return "stale term";
    case VoteWhy::kLogBehind:
      return "log behind";
    case VoteWhy::kLease:
      return "lease";
    case VoteWhy::kAlreadyVoted:
      return "already voted";
  }
  return "?";
}

const char* to_string(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "?";
}

std::string describe(const Entry& e) {
  std::ostringstream out;
  out << e.index.get() << "/" << e.term.get() << " " << to_string(e.type);
  if (e.type == EntryType::kNormal) out << " \"" << e.data << "\"";
  if (e.type == EntryType::kConfig) out << " " << e.data;
  return out.str();
}

std::string describe(const Message& m) {
  std::ostringstream out;
  out << m.from.get() << "->" << m.to.get() << " " << to_string(m.type) << " t" << m.term.get();
  switch (m.type) {
    case MessageType::kAppendEntries:
      out << " prev=" << m.prev_log_index.get() << "/" << m.prev_log_term.get()
          << " commit=" << m.commit.get();
      if (!m.entries.empty()) {
        out << " entries=[";
        for (size_t i = 0; i < m.entries.size(); ++i) {
          out << (i ? ", " : "") << describe(m.entries[i]);
        }
        out << "]";
      }
      break;
    case MessageType::kAppendEntriesResponse:
      if (m.reject) {
        out << " reject conflict=" << m.conflict_index.get() << "/" << m.conflict_term.get()
            << " last=" << m.last_index.get();
      } else {
        out << " match=" << m.match_index.get();
      }
      break;
    case MessageType::kRequestVote:
    case MessageType::kPreVote:
      out << " last=" << m.last_log_index.get() << "/" << m.last_log_term.get();
      if (m.transfer) out << " transfer";
      break;
    case MessageType::kRequestVoteResponse:
    case MessageType::kPreVoteResponse:
      out << (m.reject ? " reject" : " grant");
      break;
    case MessageType::kHeartbeat:
      out << " commit=" << m.commit.get();
      if (m.context) out << " round=" << m.context;
      break;
    case MessageType::kHeartbeatResponse:
      out << " last=" << m.last_index.get();
      if (m.context) out << " round=" << m.context;
      break;
    case MessageType::kInstallSnapshot:
      out << " snapshot=" << m.snapshot.index.get() << "/" << m.snapshot.term.get()
          << " offset=" << m.offset << " bytes=" << m.chunk.size() << (m.done ? " done" : "");
      break;
    case MessageType::kInstallSnapshotResponse:
      out << " snapshot=" << m.snapshot.index.get() << "/" << m.snapshot.term.get();
      if (m.done) {
        out << " installed match=" << m.match_index.get();
      } else {
        out << " offset=" << m.offset;
      }
      break;
    case MessageType::kTimeoutNow:
      break;
    case MessageType::kReadIndex:
      out << " id=" << m.context;
      break;
    case MessageType::kReadIndexResponse:
      out << " id=" << m.context;
      if (m.reject) {
        out << " reject";
      } else {
        out << " index=" << m.read_index.get();
      }
      break;
  }
  return out.str();
}

}  // namespace raftlab
