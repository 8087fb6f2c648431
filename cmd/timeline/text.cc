// The text and JSON outputs of `raftlab timeline` (docs/trace.md): one line per event, the
// same input giving the same output byte for byte, so that two runs' timelines diff in CI.
#include <cinttypes>
#include <cstdio>

#include "cmd/timeline/model.h"

namespace raftlab::timeline {
namespace {

using nlohmann::json;

std::string num(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return "?";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

bool flag(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

bool has(const json& j, const char* key) { return j.find(key) != j.end(); }

// [a, b] as "a/b" (an index and its term).
std::string pair_of(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->size() < 2) return "?";
  return (*it)[0].dump() + "/" + (*it)[1].dump();
}

// "ents": [first, last, first term, last term] as "6..9 t3..t4" (one term: "6..9 t4").
std::string entries_of(const json& e) {
  if (!e.is_array() || e.size() < 4) return "?";
  std::string s = e[0].dump() + ".." + e[1].dump() + " t" + e[2].dump();
  if (e[2] != e[3]) s += "..t" + e[3].dump();
  return s;
}

std::string vote_answer(const json& j) {
  return flag(j, "granted") ? "granted" : "refused (" + num(j, "why") + ")";
}

std::string ctx_of(const json& j) { return has(j, "ctx") ? " ctx=" + num(j, "ctx") : ""; }

std::string append_entries(const json& j) {
  std::string s = "prev=" + pair_of(j, "prev");
  if (has(j, "ents")) s += " ents=" + entries_of(j["ents"]);
  return s + " commit=" + num(j, "commit");
}

std::string append_answer(const json& j) {
  if (flag(j, "ok")) return "ok match=" + num(j, "match");
  std::string s = "rejected prev=" + num(j, "rejected");
  if (has(j, "hint")) s += " hint=t" + pair_of(j, "hint");
  return s + " last=" + num(j, "last");
}

std::string snapshot_chunk(const std::string& type, const json& j) {
  std::string s = "snap=" + pair_of(j, "snap") + " offset=" + num(j, "offset");
  if (type == "InstallSnapshot") s += " bytes=" + num(j, "bytes");
  if (has(j, "match")) s += " match=" + num(j, "match");
  return s + (flag(j, "done") ? " done" : "");
}

std::string seconds(const Timeline& tl, int64_t t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%11.6f", static_cast<double>(t - tl.t0) / 1e9);
  return buf;
}

// "  (0.412ms)"; "  LOST" when a fault rule dropped it; "  (no receipt)" when the receiver
// traced none (it may have died, or been killed before its last records were written); and the
// fault that acted on it.
std::string delivery(const Message& m) {
  std::string s;
  if (m.recv != kNoTime && m.sent != kNoTime) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "  (%.3fms)", static_cast<double>(m.recv - m.sent) / 1e6);
    s = buf;
  } else if (m.fault.rfind("drop", 0) == 0) {
    s = "  LOST";
  } else if (m.recv == kNoTime) {
    s = "  (no receipt)";
  }
  if (!m.fault.empty()) s += "  [" + m.fault + "]";
  return s;
}

// What a message event says, or "" when the event is shown on another line (a paired receipt,
// a fault record: both are on their send's line).
std::string message_line(const Event& e, const Message& m) {
  if (!shows_message(e, m)) return "";
  // A fault record alone (its send not written: a heartbeat counted at `changes`) is the
  // sender's, like the send it stands for; the model keeps its time in `recv`.
  const bool outgoing = m.sent != kNoTime || !m.fault.empty();
  std::string s = outgoing ? " -> n" + std::to_string(m.to) : " <- n" + std::to_string(m.from);
  s += " " + m.type;
  if (m.term != e.term) s += " term=" + std::to_string(m.term);
  const std::string fields = message_fields(m.type, *m.fields);
  if (!fields.empty()) s += " " + fields;
  return s + delivery(m);
}

}  // namespace

std::string message_fields(const std::string& type, const json& j) {
  if (type == "RequestVote" || type == "PreVote") {
    return "lli=" + num(j, "lli") + " llt=" + num(j, "llt") +
           (flag(j, "transfer") ? " transfer" : "");
  }
  if (type == "RequestVoteResponse" || type == "PreVoteResponse") return vote_answer(j);
  if (type == "AppendEntries") return append_entries(j);
  if (type == "AppendEntriesResponse") return append_answer(j);
  if (type == "Heartbeat") return "commit=" + num(j, "commit") + ctx_of(j);
  if (type == "HeartbeatResponse") return "last=" + num(j, "last") + ctx_of(j);
  if (type == "InstallSnapshot" || type == "InstallSnapshotResponse")
    return snapshot_chunk(type, j);
  if (type == "ReadIndex") return "ctx=" + num(j, "ctx");
  if (type == "ReadIndexResponse") {
    return "ctx=" + num(j, "ctx") + " read=" + num(j, "read") + (flag(j, "ok") ? " ok" : " failed");
  }
  return "";  // TimeoutNow, and types this reader does not know
}

namespace {

// `net hold` (docs/trace.md): "holds 1.5 -> n2 AppendEntries prev=4/1 commit=4",
// "delivers 1.5 -> n2 AppendEntries (by hand)", "discards 1.5 -> n2 Heartbeat (cap)".
std::string held_text(const json& j, const std::string& ev) {
  const std::string what = num(j, "id") + " -> n" + num(j, "to") + " " + num(j, "type");
  if (ev == "hold") {
    const std::string fields = message_fields(num(j, "type"), j);
    return "holds " + what + (fields.empty() ? "" : " " + fields);
  }
  const std::string why = num(j, "why");  // hand, released (its rule), cap
  const std::string words = why == "hand" ? "by hand" : why == "released" ? "rule released" : why;
  return (ev == "deliver" ? "delivers " : "discards ") + what + " (" + words + ")";
}

}  // namespace

std::string decision_text(const Record& r) {
  const json& j = r.j;
  const std::string& ev = r.ev;
  if (ev == "timeout")
    return "timeout drawn " + num(j, "ms") + "ms (" + num(j, "ticks") + " ticks)";
  if (ev == "fired") return "election timer fired (" + num(j, "ticks") + " ticks)";
  if (ev == "vote") {
    const std::string what = flag(j, "prevote") ? "pre-vote" : "vote";
    if (flag(j, "granted"))
      return "grants " + what + " to n" + num(j, "cand") + " t" + num(j, "term");
    return "refuses " + what + " to n" + num(j, "cand") + " t" + num(j, "term") + ": " +
           num(j, "why");
  }
  if (ev == "role") {
    std::string s = "becomes " + num(j, "role");
    const bool names_leader = has(j, "leader") && num(j, "role") != "leader";
    return names_leader ? s + " (leader n" + num(j, "leader") + ")" : s;
  }
  if (ev == "append") {
    std::string s = "appends " + num(j, "first") + ".." + num(j, "last") + " t" + num(j, "term");
    return has(j, "leader") ? s + " from n" + num(j, "leader") : s;
  }
  if (ev == "truncate") {
    return "truncates " + num(j, "first") + ".." + num(j, "last") + " t" + num(j, "term") +
           " (leader has t" + num(j, "by") + " at " + num(j, "first") + ")";
  }
  if (ev == "commit") return "commit " + num(j, "from") + " -> " + num(j, "to");
  if (ev == "apply") return "applied to " + num(j, "to");
  if (ev == "snap_taken") return "snapshot taken at " + num(j, "index") + " t" + num(j, "term");
  if (ev == "snap_installed") {
    return "installs snapshot " + num(j, "index") + " t" + num(j, "term") + " from n" +
           num(j, "leader");
  }
  if (ev == "snap_sent") {
    return "sends snapshot " + num(j, "index") + " t" + num(j, "term") + " to n" + num(j, "to") +
           " (" + num(j, "bytes") + " bytes)";
  }
  if (ev == "member") return "membership at " + num(j, "index") + ": " + num(j, "text");
  if (ev == "transfer") return "transfer to n" + num(j, "to") + ": " + num(j, "text");
  if (ev == "stepdown") return "steps down: " + num(j, "text");
  if (ev == "timer") {
    return "election timer: " + num(j, "text") + " by hand (" + num(j, "ticks") +
           " ticks since reset)";
  }
  if (ev == "heartbeats") {
    const std::string peer = has(j, "to") ? "-> n" + num(j, "to") : "<- n" + num(j, "from");
    return peer + " " + num(j, "count") + " unchanged heartbeats";
  }
  if (ev == "suppressed") return num(j, "count") + " records suppressed (rate cap)";
  if (ev == "trace")
    return "tracing starts (level " + num(j, "level") + ", pid " + num(j, "pid") + ")";
  if (ev == "action") return num(j, "text");
  if (ev == "hold" || ev == "deliver" || ev == "discard") return held_text(j, ev);
  return ev + " " + j.dump();  // a record kind this reader does not know: shown whole
}

std::string format_text(const Timeline& tl, const Filter& f) {
  std::string out;
  for (const Event& e : tl.events) {
    if (!keep_event(tl, e, f)) continue;
    std::string what;
    if (e.message >= 0) {
      what = message_line(e, tl.messages[static_cast<size_t>(e.message)]);
      if (what.empty()) continue;
    } else {
      what = " " + decision_text(*e.record);
    }
    char head[48];
    if (e.node == 0) {
      std::snprintf(head, sizeof head, " %-3s %-6s", "cli", "");
    } else {
      const std::string term = e.role != '-' ? "t" + std::to_string(e.term) : "t-";
      std::snprintf(head, sizeof head, " n%-2" PRIu32 " %c %-4s", e.node, e.role, term.c_str());
    }
    out += seconds(tl, e.t) + head + what + "\n";
  }
  return out;
}

}  // namespace raftlab::timeline
