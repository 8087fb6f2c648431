// The HTML timeline (see html.h).
#include "cmd/checker/html.h"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cmd/checker/report.h"

namespace raftlab::check {

namespace {

constexpr double kLabelWidthPx = 120;   // the process label column at the left of each row
constexpr double kRightMarginPx = 240;  // room for the labels of the last events
constexpr double kAxisHeightPx = 46;    // the time axis and nemesis labels at the top
constexpr double kRowHeightPx = 18;
constexpr double kBarHeightPx = 13;
constexpr double kGroupHeaderPx = 24;
constexpr double kWidthMinPx = 1000;
constexpr double kWidthMaxPx = 60000;  // browsers draw wider SVGs, but slowly
constexpr double kMedianBarPx = 28;    // the scale aims at this width for a median operation
constexpr double kCharPx = 6.6;        // average label glyph width at 11px
constexpr double kLabelMinPx = 24;     // bars narrower than this get no label
constexpr size_t kValueShownBytes = 60;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

const char* outcome_class(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kFail:
      return "fail";
    case Outcome::kInfo:
    case Outcome::kPending:
      return "info";
  }
  return "info";
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

std::string render_html(const History& h, const CheckResult& r) {
  const int64_t t0 = h.first_time;
  const int64_t t1 = std::max(h.last_time, t0 + 1);

  // Scale: a median operation about kMedianBarPx wide, within the width bounds.
  std::vector<int64_t> durations;
  durations.reserve(h.ops.size());
  for (const Operation& op : h.ops) {
    if (op.return_time != kNoTime)
      durations.push_back(std::max<int64_t>(1, op.return_time - op.call_time));
  }
  double median = static_cast<double>(t1 - t0) / 50;
  if (!durations.empty()) {
    std::nth_element(durations.begin(),
                     durations.begin() + static_cast<std::ptrdiff_t>(durations.size() / 2),
                     durations.end());
    median = static_cast<double>(durations[durations.size() / 2]);
  }
  const double span = static_cast<double>(t1 - t0);
  const double plot = std::clamp(span / median * kMedianBarPx, kWidthMinPx, kWidthMaxPx);
  const double scale = plot / span;
  const double width = kLabelWidthPx + plot + kRightMarginPx;
  auto x_of = [&](int64_t t) { return kLabelWidthPx + static_cast<double>(t - t0) * scale; };

  // The violation's ops, and the key shown first.
  std::unordered_set<size_t> window;
  std::unordered_set<size_t> before;
  size_t stuck = SIZE_MAX;
  int64_t bad_key = -1;
  for (const KeyResult& k : r.keys) {
    if (k.violation) {
      for (const size_t i : k.violation->window) window.insert(i);
      for (const size_t i : k.violation->before) before.insert(i);
      stuck = k.violation->stuck;
      bad_key = k.key;
      break;
    }
  }
  std::vector<uint32_t> key_order;
  if (bad_key >= 0) key_order.push_back(static_cast<uint32_t>(bad_key));
  for (uint32_t k = 0; k < h.keys.size(); ++k) {
    if (static_cast<int64_t>(k) != bad_key) key_order.push_back(k);
  }
  std::vector<std::vector<size_t>> ops_by_key(h.keys.size());
  for (size_t i = 0; i < h.ops.size(); ++i) ops_by_key[h.ops[i].key].push_back(i);
  std::unordered_map<uint32_t, const KeyResult*> key_result;
  for (const KeyResult& k : r.keys) key_result[k.key] = &k;

  std::string out;
  out.reserve(4096 + h.ops.size() * 320);
  out += R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>raftlab check: )";
  out += to_string(r.verdict);
  out += R"(</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:12px;color:#222}
h1{font-size:18px;margin:0 0 6px} .v-linearizable{color:#17803d} .v-not_linearizable{color:#c0262d}
.v-unknown{color:#b86e00} pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:260px}
table.win{border-collapse:collapse;margin:6px 0} table.win td,table.win th{border:1px solid #ccc;
padding:2px 6px;font-family:ui-monospace,monospace;font-size:12px;text-align:left}
tr.stuck td{background:#fde2e2;font-weight:bold} tr.before td{color:#666}
#scroll{overflow-x:auto;border:1px solid #ddd;position:relative}
svg text{font:11px ui-monospace,monospace;pointer-events:none}
rect.ok{fill:#bfe8c8;stroke:#3c9a54} rect.fail{fill:#e3e3e3;stroke:#999}
rect.info{fill:#ffe2b3;stroke:#e08a00;stroke-dasharray:4 3}
rect.before{stroke:#555;stroke-width:2}
rect.win{stroke:#d00;stroke-width:2.5} rect.stuck{fill:#ff9d9d;stroke:#d00;stroke-width:3}
.lab rect{fill:#fff;stroke:none} .lab text{fill:#333} .hdr{font-weight:bold;fill:#000}
.band-net{fill:#4d7cff;opacity:.10} .band-pause{fill:#9b4dff;opacity:.10}
.band-kill{fill:#ff4d4d;opacity:.10} .nem{pointer-events:none}
.nem line{stroke:#8a8a8a;stroke-dasharray:2 2}
.nem text{fill:#555} .tick line{stroke:#eee} .tick text{fill:#888}
</style></head><body>
)";
  out += "<h1>raftlab check: <span class=\"v-";
  out += to_string(r.verdict);
  out += "\">";
  out += to_string(r.verdict);
  out += "</span></h1>\n";

  // The violation window, listed first.
  for (const KeyResult& k : r.keys) {
    if (!k.violation) continue;
    const Violation& v = *k.violation;
    out += "<p>Key <b>" + html_escape(show_value(h.keys[v.key], kValueShownBytes)) + "</b>: " +
           (v.verified
                ? "no order of the " + std::to_string(v.window.size()) + " operations below works"
                : std::string("the search stopped at the operations below (not "
                              "checked on their own: out of time)")) +
           ", starting from register <b>" +
           html_escape(v.state ? show_value(*v.state, kValueShownBytes) : "absent") +
           "</b> (left by one valid order of the operations before them; the last ones shown "
           "in grey).</p>\n";
    out +=
        "<table class=\"win\"><tr><th></th><th>process</th><th>operation</th><th>call</th>"
        "<th>return</th><th>lines</th></tr>\n";
    auto row = [&](size_t i, const char* cls, const char* mark) {
      const Operation& op = h.ops[i];
      out += std::string("<tr class=\"") + cls + "\"><td>" + mark + "</td><td>p" +
             std::to_string(op.process) + "</td><td>";
      std::string what = std::string(to_string(op.f));
      if (op.f == Fn::kGet) {
        what += op.outcome == Outcome::kOk
                    ? " → " + (op.value ? show_value(*op.value, kValueShownBytes) : "null")
                    : "";
      } else if (op.f == Fn::kCas) {
        what += " " + (op.expected ? show_value(*op.expected, kValueShownBytes) : "absent") +
                " → " + show_value(op.value.value_or(""), kValueShownBytes);
      } else if (op.value) {
        what += " " + show_value(*op.value, kValueShownBytes);
      }
      if (op.outcome != Outcome::kOk) what += std::string(" (") + to_string(op.outcome) + ")";
      out += html_escape(what) + "</td><td>+" + show_duration(op.call_time - t0) + "</td><td>" +
             (op.return_time == kNoTime ? "never" : "+" + show_duration(op.return_time - t0)) +
             "</td><td>" + std::to_string(op.call_line) +
             (op.return_line ? "-" + std::to_string(op.return_line) : "") + "</td></tr>\n";
    };
    for (const size_t i : v.before) row(i, "before", "before");
    for (const size_t i : v.window) {
      row(i, i == v.stuck ? "stuck" : "", i == v.stuck ? "stuck" : "");
    }
    // Who wrote the value the stuck operation needed.
    for (const size_t i : v.writers) row(i, "before", "wrote it");
    out += "</table>\n<p>The stuck operation could not take effect with the register at <b>" +
           html_escape(v.stuck_state ? show_value(*v.stuck_state, kValueShownBytes) : "absent") +
           "</b>.</p>\n";
    break;
  }
  out += "<details><summary>report</summary><pre>" + html_escape(report_text(h, r)) +
         "</pre></details>\n";

  out += "<p><label>key: <select id=\"key\"><option value=\"all\">all keys</option>";
  for (const uint32_t k : key_order) {
    out += "<option value=\"" + std::to_string(k) + "\"" +
           (static_cast<int64_t>(k) == bad_key ? " selected" : "") + ">" +
           html_escape(show_value(h.keys[k], kValueShownBytes)) + "</option>";
  }
  out +=
      "</select></label> &nbsp; bars: green ok, grey fail, orange dashed info/pending "
      "(open-ended); red outline: the violation window. Hover a bar for details.</p>\n";

  // Rows: one per process of each key, in order of first invoke. The layout is drawn for
  // "all keys" (so the file reads right without scripts); the script redoes it on a filter.
  std::vector<std::vector<uint64_t>> procs_by_key(h.keys.size());
  double total = kAxisHeightPx;
  for (const uint32_t k : key_order) {
    std::unordered_set<uint64_t> seen;
    for (const size_t i : ops_by_key[k]) {
      if (seen.insert(h.ops[i].process).second) procs_by_key[k].push_back(h.ops[i].process);
    }
    total += kGroupHeaderPx + static_cast<double>(procs_by_key[k].size()) * kRowHeightPx + 6;
  }
  const std::string full = fmt(total);
  out += "<div id=\"scroll\"><svg id=\"main\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
         fmt(width) + "\" height=\"" + full + "\">\n";

  // Time axis.
  {
    const double target = 150 / scale;  // ns per tick, roughly
    const double power = std::pow(10.0, std::floor(std::log10(std::max(target, 1.0))));
    double step = power * 10;
    for (const double m : {1.0, 2.0, 5.0}) {
      if (power * m >= target) {
        step = power * m;
        break;
      }
    }
    const auto step_ns = static_cast<int64_t>(std::max(step, 1.0));
    out += "<g class=\"tick\">";
    for (int64_t t = 0; t <= t1 - t0; t += step_ns) {
      const double x = x_of(t0 + t);
      out += "<line class=\"full\" x1=\"" + fmt(x) + "\" x2=\"" + fmt(x) + "\" y1=\"14\" y2=\"" +
             full + "\"/><text x=\"" + fmt(x + 2) + "\" y=\"11\">+" +
             html_escape(show_duration(t)) + "</text>";
    }
    out += "</g>\n";
  }

  // Nemesis fault periods: bands under the bars.
  out += "<g class=\"bands\">";
  for (const Band& b : nemesis_bands(h)) {
    out += "<rect class=\"band band-" + b.family + "\" x=\"" + fmt(x_of(b.from)) + "\" y=\"" +
           fmt(kAxisHeightPx) + "\" width=\"" + fmt(std::max(1.0, x_of(b.to) - x_of(b.from))) +
           "\" height=\"" + fmt(total - kAxisHeightPx) + "\"><title>" + html_escape(b.text) +
           "</title></rect>";
  }
  out += "</g>\n";

  // Groups: one per key, one row per process.
  double group_y = kAxisHeightPx;
  for (const uint32_t k : key_order) {
    const std::vector<size_t>& ops = ops_by_key[k];
    const std::vector<uint64_t>& procs = procs_by_key[k];
    std::unordered_map<uint64_t, size_t> row_of;
    for (size_t row = 0; row < procs.size(); ++row) row_of[procs[row]] = row;
    const double height = kGroupHeaderPx + static_cast<double>(procs.size()) * kRowHeightPx + 6;
    out += "<g class=\"grp\" data-key=\"" + std::to_string(k) + "\" data-h=\"" + fmt(height) +
           "\" transform=\"translate(0," + fmt(group_y) + ")\">\n";
    group_y += height;
    const auto it = key_result.find(k);
    std::string header = "key " + show_value(h.keys[k], kValueShownBytes) + " — " +
                         std::to_string(ops.size()) + " ops";
    if (it != key_result.end()) {
      header += ", " + std::string(to_string(it->second->verdict));
      if (!it->second->unknown_reason.empty()) header += " (" + it->second->unknown_reason + ")";
    }
    out += "<line x1=\"0\" x2=\"" + fmt(width) + "\" y1=\"0.5\" y2=\"0.5\" stroke=\"#bbb\"/>";
    for (const size_t i : ops) {
      const Operation& op = h.ops[i];
      const double y = kGroupHeaderPx + static_cast<double>(row_of[op.process]) * kRowHeightPx + 2;
      const double x = x_of(op.call_time);
      const int64_t end = op.unknown() ? t1 : op.return_time;
      const double w = std::max(2.0, x_of(end) - x);
      std::string cls = outcome_class(op.outcome);
      if (before.count(i)) cls += " before";
      if (window.count(i)) cls += i == stuck ? " stuck" : " win";
      out += "<rect class=\"" + cls + "\" x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" width=\"" +
             fmt(w) + "\" height=\"" + fmt(kBarHeightPx) + "\"><title>" +
             html_escape(show_op(h, i)) + "</title></rect>";
      const double label_w = op.unknown() && op.return_time != kNoTime
                                 ? std::max(x_of(op.return_time) - x, kLabelMinPx * 3)
                                 : w;
      if (label_w >= kLabelMinPx) {
        const auto chars = static_cast<size_t>((label_w - 4) / kCharPx);
        out += "<text x=\"" + fmt(x + 2) + "\" y=\"" + fmt(y + 10) + "\">" +
               html_escape(cut_label(bar_label(op), chars)) + "</text>";
      }
      out += "\n";
    }
    // The label column, kept in view by the script when scrolling.
    out += "<g class=\"lab\"><rect x=\"0\" y=\"1\" width=\"" + fmt(kLabelWidthPx - 4) +
           "\" height=\"" + fmt(height - 1) + "\"/><text class=\"hdr\" x=\"4\" y=\"16\">" +
           html_escape(header) + "</text>";
    for (size_t p = 0; p < procs.size(); ++p) {
      out += "<text x=\"8\" y=\"" +
             fmt(kGroupHeaderPx + static_cast<double>(p) * kRowHeightPx + 12) + "\">p" +
             std::to_string(procs[p]) + "</text>";
    }
    out += "</g></g>\n";
  }

  // Nemesis markers, on top (they let the pointer through to the bars).
  out += "<g class=\"nem\">";
  for (size_t e = 0; e < h.nemesis.size(); ++e) {
    const NemesisEvent& n = h.nemesis[e];
    const double x = x_of(n.time);
    const std::string text = n.f + (n.value.empty() ? "" : " " + n.value);
    out += "<line class=\"full\" x1=\"" + fmt(x) + "\" x2=\"" + fmt(x) + "\" y1=\"" +
           fmt(e % 2 ? 36 : 26) + "\" y2=\"" + full + "\"/><text x=\"" + fmt(x + 2) + "\" y=\"" +
           fmt(e % 2 ? 40 : 28) + "\">" + html_escape(cut_label(text, 40)) + "</text>";
  }
  out += "</g>\n</svg></div>\n";

  out += "<script>\n(function(){\nconst AXIS=" + fmt(kAxisHeightPx) + ";\n";
  out += R"(const sel=document.getElementById('key'),svg=document.getElementById('main'),
scroll=document.getElementById('scroll');
const groups=[...svg.querySelectorAll('g.grp')],labs=[...svg.querySelectorAll('g.lab')];
function layout(){let y=AXIS;for(const g of groups){const show=sel.value==='all'||
g.dataset.key===sel.value;g.style.display=show?'':'none';if(show){g.setAttribute('transform',
'translate(0,'+y+')');y+=+g.dataset.h;}}svg.setAttribute('height',y);
for(const b of svg.querySelectorAll('rect.band'))b.setAttribute('height',Math.max(0,y-AXIS));
for(const l of svg.querySelectorAll('line.full'))l.setAttribute('y2',y);}
scroll.addEventListener('scroll',()=>{for(const l of labs)l.setAttribute('transform',
'translate('+scroll.scrollLeft+',0)');});
sel.addEventListener('change',layout);layout();
const stuck=svg.querySelector('rect.stuck');if(stuck)scroll.scrollLeft=Math.max(0,
+stuck.getAttribute('x')-300);
})();
</script>
</body></html>
)";
  return out;
}

}  // namespace raftlab::check
