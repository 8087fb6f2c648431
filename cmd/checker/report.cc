// The text and JSON reports (see report.h).
#include "cmd/checker/report.h"

#include <array>
#include <cinttypes>
#include <cstdio>
#include <map>

namespace raftlab::check {

namespace {

constexpr size_t kKeysListedMax = 10;  // keys named one per line in the text report
constexpr size_t kFnCount = 5;

struct Counts {
  std::array<size_t, 4> by_outcome{};  // indexed by Outcome
};

std::string op_args(const Operation& op) {
  switch (op.f) {
    case Fn::kPut:
    case Fn::kAppend:
      return std::string(to_string(op.f)) + " " + show_value(op.value.value_or(""));
    case Fn::kGet:
      if (op.outcome != Outcome::kOk) return "get";
      return std::string("get -> ") + (op.value ? show_value(*op.value) : "null");
    case Fn::kCas:
      return std::string("cas ") + (op.expected ? show_value(*op.expected) : "absent") + " -> " +
             show_value(op.value.value_or(""));
    case Fn::kDelete:
      return "delete";
  }
  return "?";
}

std::string show_state(const std::optional<std::string>& state) {
  return state ? show_value(*state) : "absent";
}

nlohmann::json op_json(const History& h, size_t index) {
  const Operation& op = h.ops[index];
  nlohmann::json j;
  j["index"] = index;
  j["process"] = op.process;
  j["f"] = to_string(op.f);
  j["type"] = to_string(op.outcome);
  j["value"] = op.value ? nlohmann::json(*op.value) : nlohmann::json(nullptr);
  if (op.f == Fn::kCas) {
    j["expected"] = op.expected ? nlohmann::json(*op.expected) : nlohmann::json(nullptr);
  }
  j["call_time"] = op.call_time;
  j["return_time"] =
      op.return_time == kNoTime ? nlohmann::json(nullptr) : nlohmann::json(op.return_time);
  j["call_line"] = op.call_line;
  j["return_line"] = op.return_line == 0 ? nlohmann::json(nullptr) : nlohmann::json(op.return_line);
  return j;
}

nlohmann::json optional_string(const std::optional<std::string>& s) {
  return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}

const char* verdict_words(Verdict v) {
  switch (v) {
    case Verdict::kLinearizable:
      return "LINEARIZABLE";
    case Verdict::kNotLinearizable:
      return "NOT LINEARIZABLE";
    case Verdict::kUnknown:
      return "UNKNOWN";
  }
  return "?";
}

std::string show_bytes(size_t bytes) {
  char buf[32];
  if (bytes < (1u << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  }
  return buf;
}

}  // namespace

const Violation* first_violation(const CheckResult& r) {
  for (const KeyResult& k : r.keys) {
    if (k.violation) return &*k.violation;
  }
  return nullptr;
}

std::string show_value(std::string_view value, size_t max_bytes) {
  std::string out = "\"";
  size_t shown = 0;
  for (char c : value) {
    if (shown == max_bytes) {
      out += "\"...(" + std::to_string(value.size()) + " bytes)";
      return out;
    }
    ++shown;
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string show_duration(int64_t ns) {
  char buf[48];
  const double v = static_cast<double>(ns);
  if (ns < 0) return "-" + show_duration(-ns);
  if (ns < 1000) {
    std::snprintf(buf, sizeof buf, "%" PRId64 "ns", ns);
  } else if (ns < 1000000) {
    std::snprintf(buf, sizeof buf, "%.1fus", v / 1e3);
  } else if (ns < 1000000000) {
    std::snprintf(buf, sizeof buf, "%.2fms", v / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.3fs", v / 1e9);
  }
  return buf;
}

std::string show_op(const History& h, size_t op_index) {
  const Operation& op = h.ops[op_index];
  std::string out = "p" + std::to_string(op.process) + " " + op_args(op);
  if (op.outcome != Outcome::kOk) out += std::string(" (") + to_string(op.outcome) + ")";
  if (out.size() < 36) out.resize(36, ' ');
  out += "  +" + show_duration(op.call_time - h.first_time) + " .. ";
  out += op.return_time == kNoTime ? "never" : "+" + show_duration(op.return_time - h.first_time);
  out += "  line " + std::to_string(op.call_line);
  if (op.return_line != 0) out += "-" + std::to_string(op.return_line);
  return out;
}

namespace {

std::array<Counts, kFnCount> count_ops(const History& h) {
  std::array<Counts, kFnCount> counts{};
  for (const Operation& op : h.ops) {
    ++counts[static_cast<size_t>(op.f)].by_outcome[static_cast<size_t>(op.outcome)];
  }
  return counts;
}

// "history: ..." and one line per operation kind.
void text_ops(std::string& out, const History& h) {
  const std::array<Counts, kFnCount> counts = count_ops(h);
  out += "history: " + std::to_string(h.ops.size()) + " ops by " + std::to_string(h.processes) +
         " processes on " + std::to_string(h.keys.size()) + " keys\n";
  for (size_t f = 0; f < kFnCount; ++f) {
    const auto& c = counts[f].by_outcome;
    if (c[0] + c[1] + c[2] + c[3] == 0) continue;
    char buf[160];
    std::snprintf(
        buf, sizeof buf, "  %-7s ok %zu  fail %zu  info %zu", to_string(Fn(f)),
        c[static_cast<size_t>(Outcome::kOk)], c[static_cast<size_t>(Outcome::kFail)],
        c[static_cast<size_t>(Outcome::kInfo)] + c[static_cast<size_t>(Outcome::kPending)]);
    out += buf;
    if (c[static_cast<size_t>(Outcome::kPending)] != 0) {
      out += " (" + std::to_string(c[static_cast<size_t>(Outcome::kPending)]) + " pending at end)";
    }
    out += "\n";
  }
}

// "nemesis: N events (f n, ...)".
void text_nemesis(std::string& out, const History& h) {
  std::map<std::string, size_t> nemesis;
  for (const NemesisEvent& e : h.nemesis) ++nemesis[e.f];
  out += "nemesis: " + std::to_string(h.nemesis.size()) + " events";
  if (!nemesis.empty()) {
    out += " (";
    bool first = true;
    for (const auto& [f, n] : nemesis) {
      out += (first ? "" : ", ") + f + " " + std::to_string(n);
      first = false;
    }
    out += ")";
  }
  out += "\n";
}

// "keys: ...", the keys not linearizable or unknown, and the checker's cost.
void text_keys(std::string& out, const History& h, const CheckResult& r) {
  size_t ok = 0;
  size_t bad = 0;
  size_t unknown = 0;
  uint64_t states = 0;
  for (const KeyResult& k : r.keys) {
    ok += k.verdict == Verdict::kLinearizable;
    bad += k.verdict == Verdict::kNotLinearizable;
    unknown += k.verdict == Verdict::kUnknown;
    states += k.states_explored;
  }
  if (bad + unknown == 0) {
    out += "keys: " + std::to_string(r.keys.size()) + " checked, all linearizable\n";
  } else {
    out += "keys: " + std::to_string(r.keys.size()) + " checked: " + std::to_string(ok) +
           " linearizable, " + std::to_string(bad) + " not linearizable, " +
           std::to_string(unknown) + " unknown\n";
    // Every undecided key is named with the bound that stopped it (a person re-runs with
    // that bound raised); violations are listed up to kKeysListedMax, the first one explained.
    size_t listed = 0;
    for (const KeyResult& k : r.keys) {
      if (k.verdict != Verdict::kNotLinearizable) continue;
      if (listed++ == kKeysListedMax) {
        out += "  ...\n";
        break;
      }
      out += "  key " + show_value(h.keys[k.key]) + ": " + verdict_words(k.verdict) + " (" +
             std::to_string(k.ops_checked) + " ops, " + std::to_string(k.states_explored) +
             " states)\n";
    }
    for (const KeyResult& k : r.keys) {
      if (k.verdict != Verdict::kUnknown) continue;
      out += "  key " + show_value(h.keys[k.key]) + ": " + verdict_words(k.verdict) + " (" +
             k.unknown_reason + (k.unknown_bound.empty() ? "" : ": " + k.unknown_bound) + "; " +
             std::to_string(k.ops_checked) + " ops, " + std::to_string(k.states_explored) +
             " states)\n";
    }
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "checker: %.1f ms, %" PRIu64 " states explored, memory peak %s\n",
                r.checker_ms, states, show_bytes(r.memory_peak_bytes).c_str());
  out += buf;
}

// The violation window, the ops before it and who wrote the value the stuck op needed.
void text_violation(std::string& out, const History& h, const Violation& v) {
  out += "\nviolation on key " + show_value(h.keys[v.key]) + ": ";
  out += (v.verified ? "no order of these " : "the search stopped at these ") +
         std::to_string(v.window.size()) + " ops" + (v.verified ? " works" : "") +
         ", starting from register " + show_state(v.state) + "\n";
  if (!v.before.empty()) {
    out += "  before them (one valid order; register " + show_state(v.state) + " after it):\n";
    for (const size_t i : v.before) out += "      " + show_op(h, i) + "\n";
  }
  out += "  window:\n";
  for (const size_t i : v.window) {
    out += (i == v.stuck ? "    * " : "      ") + show_op(h, i);
    if (i == v.stuck) out += "   <- cannot take effect, register " + show_state(v.stuck_state);
    out += "\n";
  }
  if (!v.writers.empty()) {
    out += "  the value " +
           show_value(h.ops[v.stuck].f == Fn::kGet ? h.ops[v.stuck].value.value_or("")
                                                   : h.ops[v.stuck].expected.value_or("")) +
           " was written by:\n";
    for (const size_t i : v.writers) out += "      " + show_op(h, i) + "\n";
  } else if (h.ops[v.stuck].f == Fn::kGet && h.ops[v.stuck].value) {
    out += "  no operation wrote the value " + show_value(*h.ops[v.stuck].value) + "\n";
  }
  if (!v.verified) {
    out +=
        "  (where the search stopped; the explaining searches ran out of time before this "
        "window could be checked on its own)\n";
  } else if (!v.shrunk) {
    out += "  (not shrunk: the search for a smaller window ran out of time)\n";
  }
}

}  // namespace

std::string report_text(const History& h, const CheckResult& r) {
  std::string out;
  out += std::string("raftlab check: ") + verdict_words(r.verdict) + "\n";
  text_ops(out, h);
  text_nemesis(out, h);
  text_keys(out, h, r);
  if (const Violation* v = first_violation(r)) text_violation(out, h, *v);
  return out;
}

nlohmann::json report_json(const History& h, const CheckResult& r) {
  nlohmann::json j;
  j["verdict"] = to_string(r.verdict);
  nlohmann::json by_f = nlohmann::json::object();
  const std::array<Counts, kFnCount> counts = count_ops(h);
  for (size_t f = 0; f < kFnCount; ++f) {
    const auto& c = counts[f].by_outcome;
    if (c[0] + c[1] + c[2] + c[3] == 0) continue;
    by_f[to_string(Fn(f))] = {{"ok", c[0]}, {"fail", c[1]}, {"info", c[2]}, {"pending", c[3]}};
  }
  j["ops"] = {{"total", h.ops.size()}, {"by_f", by_f}};
  j["processes"] = h.processes;
  j["lines"] = h.lines;
  std::map<std::string, size_t> nemesis;
  for (const NemesisEvent& e : h.nemesis) ++nemesis[e.f];
  j["nemesis"] = {{"events", h.nemesis.size()}, {"by_f", nemesis}};
  nlohmann::json keys = nlohmann::json::array();
  uint64_t states = 0;
  for (const KeyResult& k : r.keys) {
    states += k.states_explored;
    keys.push_back({{"key", h.keys[k.key]},
                    {"verdict", to_string(k.verdict)},
                    {"ops_checked", k.ops_checked},
                    {"ops_failed", k.ops_failed},
                    {"ops_dropped", k.ops_dropped},
                    {"states_explored", k.states_explored},
                    {"checker_ms", k.ms},
                    {"unknown_reason", k.unknown_reason.empty() ? nlohmann::json(nullptr)
                                                                : nlohmann::json(k.unknown_reason)},
                    {"unknown_bound", k.unknown_bound.empty() ? nlohmann::json(nullptr)
                                                              : nlohmann::json(k.unknown_bound)}});
  }
  j["keys"] = keys;
  j["checker_ms"] = r.checker_ms;
  j["states_explored"] = states;
  j["memory_peak_bytes"] = r.memory_peak_bytes;
  if (const Violation* v = first_violation(r)) {
    nlohmann::json jv;
    jv["key"] = h.keys[v->key];
    jv["state"] = optional_string(v->state);
    jv["before"] = nlohmann::json::array();
    for (const size_t i : v->before) jv["before"].push_back(op_json(h, i));
    jv["window"] = nlohmann::json::array();
    for (const size_t i : v->window) jv["window"].push_back(op_json(h, i));
    jv["stuck"] = op_json(h, v->stuck);
    jv["stuck_state"] = optional_string(v->stuck_state);
    jv["writers"] = nlohmann::json::array();
    for (const size_t i : v->writers) jv["writers"].push_back(op_json(h, i));
    jv["deepest"] = v->deepest;
    jv["shrunk"] = v->shrunk;
    jv["verified"] = v->verified;
    j["violation"] = jv;
  } else {
    j["violation"] = nullptr;
  }
  return j;
}

}  // namespace raftlab::check
