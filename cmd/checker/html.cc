// The HTML timeline (see html.h).
#include "cmd/checker/html.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "cmd/checker/report.h"
#include "cmd/checker/timeline_view.h"

namespace raftlab::check {

namespace {

constexpr size_t kValueShownBytes = 60;  // values in the violation table
constexpr size_t kBarLabelChars = 40;    // a bar's label, before the page cuts it to fit
constexpr size_t kBandTextChars = 60;    // a fault band's text

// Codes of the page's data (html.h): outcome and mark of each operation.
constexpr int kDrawOk = 0;
constexpr int kDrawFail = 1;
constexpr int kDrawUnknown = 2;  // info or pending: drawn open-ended, dashed
constexpr int kMarkNone = 0;
constexpr int kMarkBefore = 1;
constexpr int kMarkWindow = 2;
constexpr int kMarkStuck = 3;

int draw_outcome(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return kDrawOk;
    case Outcome::kFail:
      return kDrawFail;
    case Outcome::kInfo:
    case Outcome::kPending:
      return kDrawUnknown;
  }
  return kDrawUnknown;
}

// A short label for a bar: "put 3", "get→3", "cas 1→2".
std::string bar_label(const Operation& op) {
  auto v = [](const std::optional<std::string>& s) { return s ? *s : std::string("∅"); };
  switch (op.f) {
    case Fn::kPut:
      return "put " + v(op.value);
    case Fn::kAppend:
      return "app " + v(op.value);
    case Fn::kGet:
      return op.outcome == Outcome::kOk ? "get→" + v(op.value) : "get";
    case Fn::kCas:
      return "cas " + v(op.expected) + "→" + v(op.value);
    case Fn::kDelete:
      return "del";
  }
  return "?";
}

// Cuts a UTF-8 string to at most `chars` code points, adding "…" when cut.
std::string cut_label(const std::string& s, size_t chars) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (count == chars) return s.substr(0, i) + "…";
    ++count;
  }
  return s;
}

// Nemesis fault families, for bands: "net", "pause", "kill", or "" (a marker only).
std::string family_of(std::string_view f) {
  auto has = [&](std::string_view w) { return f.find(w) != std::string_view::npos; };
  if (has("partition") || has("isolate") || has("cut") || has("loss") || has("delay") ||
      has("net") || has("clog") || has("drop") || has("slow")) {
    return "net";
  }
  if (has("pause") || has("freeze") || has("suspend")) return "pause";
  if (has("kill") || has("crash") || f == "stop") return "kill";
  return "";
}

struct Band {
  int64_t from;
  int64_t to;
  std::string family;
  std::string text;
};

// Classifies nemesis events into bands (fault periods) and markers.
std::vector<Band> nemesis_bands(const History& h) {
  std::vector<Band> bands;
  std::map<std::string, size_t> open;  // family -> index of its open band
  auto close = [&](const std::string& family, int64_t t) {
    const auto it = open.find(family);
    if (it == open.end()) return;
    bands[it->second].to = t;
    open.erase(it);
  };
  for (const NemesisEvent& e : h.nemesis) {
    std::string f = e.f;
    std::transform(f.begin(), f.end(), f.begin(), [](char c) {
      return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    std::string opens;
    if (f.rfind("stop-", 0) == 0 || f.rfind("end-", 0) == 0) {
      close(family_of(f.substr(f.find('-') + 1)), e.time);
      continue;
    }
    if (f.rfind("start-", 0) == 0 || f.rfind("begin-", 0) == 0) {
      opens = family_of(f.substr(f.find('-') + 1));
    } else if (f.find("heal") != std::string::npos) {
      close("net", e.time);
      continue;
    } else if (f == "resume" || f == "unpause" || f == "cont" || f == "continue") {
      close("pause", e.time);
      continue;
    } else if (f == "start" || f == "restart" || f == "revive" || f == "recover") {
      close("kill", e.time);
      continue;
    } else {
      opens = family_of(f);
    }
    if (opens.empty() || open.count(opens)) continue;
    open[opens] = bands.size();
    bands.push_back(Band{e.time, h.last_time, opens, e.f + (e.value.empty() ? "" : " " + e.value)});
  }
  return bands;
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += "\xEF\xBF\xBD";  // U+FFFD: control characters are not allowed in HTML text
        } else {
          out += c;
        }
    }
  }
  return out;
}

namespace {

// The order keys are drawn in (the violating key first) and each key's process rows.
struct Layout {
  std::vector<uint32_t> order;               // key indices, in drawing order
  std::vector<uint32_t> slot;                // key index -> position in `order`
  std::vector<std::vector<uint64_t>> procs;  // per position: processes in order of first invoke
  std::vector<uint32_t> row;                 // per op: its row within its key
  std::vector<size_t> ops;                   // per position: operations of that key
};

Layout make_layout(const History& h, const Violation* v) {
  Layout l;
  if (v) l.order.push_back(v->key);
  for (uint32_t k = 0; k < h.keys.size(); ++k) {
    if (!v || k != v->key) l.order.push_back(k);
  }
  l.slot.assign(h.keys.size(), 0);
  for (uint32_t s = 0; s < l.order.size(); ++s) l.slot[l.order[s]] = s;
  l.procs.resize(l.order.size());
  l.ops.assign(l.order.size(), 0);
  l.row.assign(h.ops.size(), 0);
  std::vector<std::unordered_map<uint64_t, uint32_t>> rows(l.order.size());
  for (size_t i = 0; i < h.ops.size(); ++i) {
    const uint32_t s = l.slot[h.ops[i].key];
    const auto [it, added] =
        rows[s].try_emplace(h.ops[i].process, static_cast<uint32_t>(l.procs[s].size()));
    if (added) l.procs[s].push_back(h.ops[i].process);
    l.row[i] = it->second;
    ++l.ops[s];
  }
  return l;
}

nlohmann::json keys_json(const History& h, const CheckResult& r, const Layout& l) {
  nlohmann::json keys = nlohmann::json::array();
  for (uint32_t s = 0; s < l.order.size(); ++s) {
    const uint32_t k = l.order[s];
    std::string verdict = k < r.keys.size() ? to_string(r.keys[k].verdict) : "unchecked";
    if (k < r.keys.size() && !r.keys[k].unknown_reason.empty()) {
      verdict += " (" + r.keys[k].unknown_reason + ")";
    }
    nlohmann::json procs = nlohmann::json::array();
    for (const uint64_t p : l.procs[s]) procs.push_back("p" + std::to_string(p));
    keys.push_back({{"name", show_value(h.keys[k], kValueShownBytes)},
                    {"ops", l.ops[s]},
                    {"verdict", verdict},
                    {"procs", std::move(procs)}});
  }
  return keys;
}

// Operations as columns (k: key position, r: row, s/e: start and end in ns from the first
// line, o: outcome code, m: mark, l: label, tip: the whole operation), which keeps the file
// about a third the size of one object per operation.
nlohmann::json ops_json(const History& h, const Layout& l, const Violation* v) {
  std::vector<int> mark(h.ops.size(), kMarkNone);
  if (v) {
    for (const size_t i : v->before) mark[i] = kMarkBefore;
    for (const size_t i : v->writers) mark[i] = kMarkBefore;
    for (const size_t i : v->window) mark[i] = i == v->stuck ? kMarkStuck : kMarkWindow;
  }
  const int64_t t0 = h.first_time;
  const int64_t end = std::max(h.last_time, t0 + 1) - t0;
  nlohmann::json k, row, s, e, o, m, label, tip;
  for (size_t i = 0; i < h.ops.size(); ++i) {
    const Operation& op = h.ops[i];
    k.push_back(l.slot[op.key]);
    row.push_back(l.row[i]);
    s.push_back(op.call_time - t0);
    e.push_back(op.unknown() ? end : op.return_time - t0);
    o.push_back(draw_outcome(op.outcome));
    m.push_back(mark[i]);
    label.push_back(cut_label(bar_label(op), kBarLabelChars));
    tip.push_back(show_op(h, i));
  }
  return {{"k", k}, {"r", row}, {"s", s}, {"e", e}, {"o", o}, {"m", m}, {"l", label}, {"tip", tip}};
}

// Fault bands (nemesis_bands) and every nemesis event as a mark.
void add_nemesis(const History& h, nlohmann::json& data) {
  const int64_t t0 = h.first_time;
  nlohmann::json bands = nlohmann::json::array();
  for (const Band& b : nemesis_bands(h)) {
    bands.push_back({{"from", b.from - t0},
                     {"to", b.to - t0},
                     {"family", b.family},
                     {"text", cut_label(b.text, kBandTextChars)}});
  }
  nlohmann::json marks = nlohmann::json::array();
  for (const NemesisEvent& n : h.nemesis) {
    const std::string text = n.f + (n.value.empty() ? "" : " " + n.value);
    marks.push_back({{"t", n.time - t0}, {"text", cut_label(text, kBandTextChars)}});
  }
  data["bands"] = std::move(bands);
  data["marks"] = std::move(marks);
}

// The cluster's lanes, on the page's clock (ns since the history's first line).
nlohmann::json lanes_json(const History& h, const std::vector<Lane>& lanes) {
  nlohmann::json out = nlohmann::json::array();
  for (const Lane& lane : lanes) {
    nlohmann::json bands = nlohmann::json::array();
    for (const LaneBand& b : lane.bands) {
      bands.push_back({{"from", b.from_ns - h.first_time},
                       {"to", b.to_ns - h.first_time},
                       {"role", b.role},
                       {"term", b.term}});
    }
    out.push_back({{"node", lane.node}, {"bands", std::move(bands)}});
  }
  return out;
}

// The violation: its key's position, the window's ops, and the time range a click zooms to:
// the window with the ops before it and the writers of the value it needed, as the table.
nlohmann::json violation_json(const History& h, const Violation* v, const Layout& l) {
  if (!v || v->window.empty()) return nullptr;
  const int64_t t0 = h.first_time;
  int64_t from = INT64_MAX;
  int64_t to = INT64_MIN;
  std::vector<size_t> shown = v->window;
  shown.insert(shown.end(), v->before.begin(), v->before.end());
  shown.insert(shown.end(), v->writers.begin(), v->writers.end());
  for (const size_t i : shown) {
    const Operation& op = h.ops[i];
    from = std::min(from, op.call_time - t0);
    to = std::max(to, (op.return_time == kNoTime ? op.call_time : op.return_time) - t0);
  }
  return {
      {"key", l.slot[v->key]}, {"ops", v->window}, {"stuck", v->stuck}, {"from", from}, {"to", to}};
}

// The page's data as a <script> block: JSON with every '<' escaped, so that no value can
// close the element; bytes that are not UTF-8 are replaced.
std::string data_script(const History& h, const CheckResult& r, const std::vector<Lane>& lanes) {
  const Violation* v = first_violation(r);
  const Layout l = make_layout(h, v);
  nlohmann::json data;
  data["verdict"] = to_string(r.verdict);
  data["t1"] = std::max(h.last_time, h.first_time + 1) - h.first_time;
  data["keys"] = keys_json(h, r, l);
  data["ops"] = ops_json(h, l, v);
  add_nemesis(h, data);
  data["lanes"] = lanes_json(h, lanes);
  data["violation"] = violation_json(h, v, l);
  const std::string json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out = "<script type=\"application/json\" id=\"raftlab-data\">";
  out.reserve(json.size() + 64);
  for (const char c : json) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out + "</script>\n";
}

// One operation of the violation table: "get → "1" (info)".
std::string table_op(const Operation& op) {
  std::string what = to_string(op.f);
  if (op.f == Fn::kGet) {
    what += op.outcome == Outcome::kOk
                ? " → " + (op.value ? show_value(*op.value, kValueShownBytes) : "null")
                : "";
  } else if (op.f == Fn::kCas) {
    what += " " + (op.expected ? show_value(*op.expected, kValueShownBytes) : "absent") + " → " +
            show_value(op.value.value_or(""), kValueShownBytes);
  } else if (op.value) {
    what += " " + show_value(*op.value, kValueShownBytes);
  }
  if (op.outcome != Outcome::kOk) what += std::string(" (") + to_string(op.outcome) + ")";
  return what;
}

void append_table_row(std::string& out, const History& h, size_t i, const char* cls,
                      const char* mark) {
  const Operation& op = h.ops[i];
  const int64_t t0 = h.first_time;
  out += std::string("<tr class=\"") + cls + "\"><td>" + mark + "</td><td>p" +
         std::to_string(op.process) + "</td><td>" + html_escape(table_op(op)) + "</td><td>+" +
         show_duration(op.call_time - t0) + "</td><td>" +
         (op.return_time == kNoTime ? "never" : "+" + show_duration(op.return_time - t0)) +
         "</td><td>" + std::to_string(op.call_line) +
         (op.return_line ? "-" + std::to_string(op.return_line) : "") + "</td></tr>\n";
}

// The violation in words and as a table: the ops before, the window, who wrote the value.
void append_violation(std::string& out, const History& h, const Violation& v) {
  out +=
      "<p>Key <b>" + html_escape(show_value(h.keys[v.key], kValueShownBytes)) + "</b>: " +
      (v.verified ? "no order of the " + std::to_string(v.window.size()) + " operations below works"
                  : std::string("the search stopped at the operations below (not "
                                "checked on their own: out of time)")) +
      ", starting from register <b>" +
      html_escape(v.state ? show_value(*v.state, kValueShownBytes) : "absent") +
      "</b> (left by one valid order of the operations before them; the last ones shown "
      "in grey).</p>\n";
  out +=
      "<table class=\"win\"><tr><th></th><th>process</th><th>operation</th><th>call</th>"
      "<th>return</th><th>lines</th></tr>\n";
  for (const size_t i : v.before) append_table_row(out, h, i, "before", "before");
  for (const size_t i : v.window) {
    append_table_row(out, h, i, i == v.stuck ? "stuck" : "", i == v.stuck ? "stuck" : "");
  }
  for (const size_t i : v.writers) append_table_row(out, h, i, "before", "wrote it");
  out += "</table>\n<p>The stuck operation could not take effect with the register at <b>" +
         html_escape(v.stuck_state ? show_value(*v.stuck_state, kValueShownBytes) : "absent") +
         "</b>.</p>\n";
}

// The run in one line: what the overview below shows.
std::string summary(const History& h) {
  return "<p class=\"sum\">" + std::to_string(h.ops.size()) + " operations on " +
         std::to_string(h.keys.size()) + " keys by " + std::to_string(h.processes) +
         " processes over " + show_duration(std::max<int64_t>(0, h.last_time - h.first_time)) +
         "; " + std::to_string(h.nemesis.size()) + " nemesis events.</p>\n";
}

constexpr const char* kControls = R"(<h2>Overview of the whole run</h2>
<p class="hint">One row per key (darker: more operations), fault bands across, the violation in
red; above the keys, when the cluster's directory was known, one lane per node: its role in
colour and its term. Drag across the overview to zoom to a range; click a fault or the red marker to jump to
it. Below: wheel to zoom, drag to pan, shift+wheel to scroll the keys, hover a bar for details.
</p>
<div id="controls"><button id="zoom-in" title="zoom in">zoom in +</button>
<button id="zoom-out" title="zoom out">zoom out −</button>
<button id="zoom-all">whole run</button><button id="go-violation">show the violation</button>
<span id="range"></span></div>
<div id="faults"></div>
<canvas id="overview"></canvas>
<div id="legend"></div>
<div id="mainBox"><canvas id="main"></canvas><div id="spacer"></div></div>
<div id="tip"></div>
<noscript><p>The timeline is drawn by JavaScript; the report above is complete without it.</p>
</noscript>
)";

}  // namespace

std::string render_html(const History& h, const CheckResult& r, const std::vector<Lane>& lanes) {
  const std::string verdict = to_string(r.verdict);
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  out += "<title>raftlab check: " + verdict + "</title>\n<style>";
  out += kTimelineViewCss;
  out += "</style></head><body>\n<h1>raftlab check: <span class=\"v-" + verdict + "\">" + verdict +
         "</span></h1>\n";
  out += summary(h);
  if (const Violation* v = first_violation(r)) append_violation(out, h, *v);
  out += "<details><summary>report</summary><pre>" + html_escape(report_text(h, r)) +
         "</pre></details>\n";
  out += kControls;
  out += data_script(h, r, lanes);
  out += "<script>";
  out += kTimelineViewJs;
  out += "</script>\n</body></html>\n";
  return out;
}

}  // namespace raftlab::check
