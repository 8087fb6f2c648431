// A compact way to write small histories in tests, one operation per string:
//   "<process> <f> <key> <value> <call> <return> <outcome>"
// value: "-" for none/null, "" (two quote characters) for the empty string; cas values are
// "old:new" ("-:new" for an absent old); return "-" for pending (then outcome "pending"); outcome
// ok, fail, info or pending. Examples: "1 put x a 0 10 ok", "2 get x - 20 30 ok" (read null), "3
// cas x a:b 5 9 ok".
#pragma once

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "cmd/checker/history.h"

namespace raftlab::check::testing {

inline std::string dsl_to_jsonl(const std::vector<std::string>& ops) {
  struct Line {
    int64_t time;
    int order;  // completions first at the same time (a process may invoke again then)
    size_t seq;
    std::string text;
  };
  std::vector<Line> lines;
  for (size_t i = 0; i < ops.size(); ++i) {
    std::istringstream in(ops[i]);
    uint64_t process = 0;
    std::string f, key, value, call, ret, outcome;
    in >> process >> f >> key >> value >> call >> ret >> outcome;
    const bool empty = value == "\"\"";
    if (empty) value.clear();
    ClientEvent e;
    e.process = process;
    e.f = *parse_fn(f);
    e.key = key;
    std::string old_value, new_value;
    if (e.f == Fn::kCas) {
      const size_t colon = value.find(':');
      old_value = value.substr(0, colon);
      new_value = value.substr(colon + 1);
      if (old_value != "-") e.expected = old_value;
      e.value = new_value;
    } else if (e.f != Fn::kGet && (empty || value != "-")) {
      e.value = value;
    }
    e.type = EventType::kInvoke;
    e.time = std::stoll(call);
    lines.push_back({e.time, 1, i, format_event(e)});
    if (outcome == "pending") continue;
    e.type = outcome == "ok"     ? EventType::kOk
             : outcome == "fail" ? EventType::kFail
                                 : EventType::kInfo;
    e.expected.reset();
    e.value.reset();
    if (e.f == Fn::kGet && outcome == "ok" && (empty || value != "-")) e.value = value;
    e.time = std::stoll(ret);
    // A zero-length op's completion follows its own invoke.
    lines.push_back({e.time, e.time == std::stoll(call) ? 2 : 0, i, format_event(e)});
  }
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    return a.time != b.time ? a.time < b.time : a.order < b.order;
  });
  std::string out;
  for (const Line& l : lines) out += l.text;
  return out;
}

inline History dsl(const std::vector<std::string>& ops) { return parse_history(dsl_to_jsonl(ops)); }

}  // namespace raftlab::check::testing
