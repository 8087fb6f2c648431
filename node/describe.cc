// Stable, one-line text forms of the core's types, for transcripts and log lines.
#include <sstream>
#include <string>

#include "node/core.h"
#include "node/message.h"
#include "node/progress.h"
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
  }
  return "?";
}

bool is_request(MessageType type) {
  switch (type) {
    case MessageType::kAppendEntries:
    case MessageType::kRequestVote:
    case MessageType::kPreVote:
    case MessageType::kHeartbeat:
      return true;
    case MessageType::kAppendEntriesResponse:
    case MessageType::kRequestVoteResponse:
    case MessageType::kPreVoteResponse:
    case MessageType::kHeartbeatResponse:
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

const char* to_string(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
  }
  return "?";
}

std::string describe(const Entry& e) {
  std::ostringstream out;
  out << e.index.get() << "/" << e.term.get() << " " << to_string(e.type);
  if (e.type == EntryType::kNormal) out << " \"" << e.data << "\"";
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
      break;
    case MessageType::kRequestVoteResponse:
    case MessageType::kPreVoteResponse:
      out << (m.reject ? " reject" : " grant");
      break;
    case MessageType::kHeartbeat:
      out << " commit=" << m.commit.get();
      break;
    case MessageType::kHeartbeatResponse:
      out << " last=" << m.last_index.get();
      break;
  }
  return out.str();
}

}  // namespace raftlab
