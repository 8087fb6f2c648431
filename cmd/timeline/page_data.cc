// The lanes, faults and client operations of the timeline page (page_data.h).
#include "cmd/timeline/page_data.h"

#include <algorithm>
#include <set>

namespace raftlab::timeline {
namespace {

using nlohmann::json;

enum LogStep { kStepAppend = 0, kStepTruncate = 1, kStepSnapshot = 2, kStepCommit = 3 };
enum RoleCode { kFollower = 0, kPrecandidate, kCandidate, kLeader, kLearner };

int64_t num(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

int role_code(char letter) {
  switch (letter) {
    case 'P':
      return kPrecandidate;
    case 'C':
      return kCandidate;
    case 'L':
      return kLeader;
    case 'l':
      return kLearner;
    default:
      return kFollower;
  }
}

// Decisions drawn as marks on a lane (the frequent ones are drawn as the index lines instead).
bool is_mark(const std::string& ev) {
  static const std::set<std::string> kMarks = {
      "fired",     "vote",   "role",     "truncate", "snap_taken", "snap_installed",
      "snap_sent", "member", "transfer", "stepdown", "suppressed", "trace"};
  return kMarks.count(ev) != 0;
}

// One lane being built: its role bands, log steps and marks so far.
struct LaneBuild {
  json r = json::array(), g = json::array();
  json et = json::array(), ex = json::array();
  int64_t band_start = -1;
  int band_role = 0;
  uint64_t band_term = 0;
  int64_t step_t = 0;  // the time of the last log step (steps store time deltas)

  void close_band(int64_t t) {
    if (band_start >= 0) r.insert(r.end(), {band_start, t, band_role, band_term});
    band_start = -1;
  }
  void step(int64_t t, LogStep kind, int64_t first, int64_t last, int64_t term) {
    g.insert(g.end(), {t - step_t, kind, first, last - first, term});
    step_t = t;
  }
};

// A log step: [time delta, kind, first, last - first, term] (a commit: first is the new commit
// index; a snapshot: its index). The page replays them for the logs and the index lines.
void log_step(LaneBuild& b, const Record& r, int64_t t) {
  const json& j = r.j;
  if (r.ev == "append") {
    b.step(t, kStepAppend, num(j, "first"), num(j, "last"), num(j, "term"));
  } else if (r.ev == "truncate") {
    b.step(t, kStepTruncate, num(j, "first"), num(j, "last"), num(j, "term"));
  } else if (r.ev == "snap_installed") {
    b.step(t, kStepSnapshot, num(j, "index"), num(j, "index"), num(j, "term"));
  } else if (r.ev == "commit") {
    b.step(t, kStepCommit, num(j, "to"), num(j, "to"), 0);
  }
}

void lane_event(LaneBuild& b, const Event& e, int64_t t) {
  const Record& r = *e.record;
  if (r.ev == "role") {
    b.close_band(t);
    b.band_start = t;
    b.band_role = role_code(e.role);
    b.band_term = e.term;
  } else if (r.ev == "trace") {
    b.close_band(t);  // a new process: no role until its first role record
  }
  log_step(b, r, t);
  if (is_mark(r.ev)) {
    b.et.push_back(t);
    b.ex.push_back(decision_text(r));
  }
}

}  // namespace

json page_lanes(const Timeline& tl, const std::map<uint32_t, int>& lane) {
  std::vector<LaneBuild> lanes(lane.size());
  for (const Event& e : tl.events) {
    const int64_t t = us(tl, e.t);
    if (e.node == 0) {
      const std::string verb = str_field(e.record->j, "verb");
      if (verb != "kill" && verb != "down" && verb != "restart") continue;
      for (uint32_t n : action_nodes(*e.record)) {
        if (lane.count(n)) lanes[static_cast<size_t>(lane.at(n))].close_band(t);
      }
      continue;
    }
    if (e.message >= 0 || !lane.count(e.node)) continue;
    lane_event(lanes[static_cast<size_t>(lane.at(e.node))], e, t);
  }
  json out = json::array();
  for (LaneBuild& b : lanes) {
    b.close_band(us(tl, tl.t1));
    out.push_back({{"r", b.r}, {"g", b.g}, {"e", {{"t", b.et}, {"x", b.ex}}}});
  }
  return out;
}

namespace {

// A fault band still open: from its action to the one that ends it.
struct OpenBand {
  int64_t from = 0;
  std::string fam;
  std::string text;
  int lane = -1;  // -1: the whole cluster (a network fault)
};

json band_json(const OpenBand& b, int64_t to) {
  json lanes = json::array();
  if (b.lane >= 0) lanes.push_back(b.lane);
  return {{"from", b.from}, {"to", to}, {"fam", b.fam}, {"text", b.text}, {"lanes", lanes}};
}

bool is_net_fault(const std::string& verb) {
  return verb == "partition" || verb == "isolate" || verb == "cut" || verb == "net";
}

// Closes the open bands that `verb` ends: heal ends network faults, start/restart/up a kill,
// resume a pause (of the nodes named; none named: all).
void close_bands(std::vector<OpenBand>& open, const std::string& verb,
                 const std::vector<int>& lanes, int64_t t, json& bands) {
  const char* fam = verb == "heal"                                         ? "net"
                    : verb == "start" || verb == "restart" || verb == "up" ? "kill"
                    : verb == "resume"                                     ? "pause"
                                                                           : nullptr;
  if (fam == nullptr) return;
  std::vector<OpenBand> kept;
  for (OpenBand& b : open) {
    const bool named =
        lanes.empty() || b.lane < 0 || std::find(lanes.begin(), lanes.end(), b.lane) != lanes.end();
    if (b.fam == fam && named) {
      bands.push_back(band_json(b, t));
    } else {
      kept.push_back(std::move(b));
    }
  }
  open = std::move(kept);
}

}  // namespace

json page_faults(const Timeline& tl, const std::map<uint32_t, int>& lane) {
  json bands = json::array();
  json marks = json::array();
  std::vector<OpenBand> open;
  for (const Event& e : tl.events) {
    if (e.node != 0) continue;
    const int64_t t = us(tl, e.t);
    const std::string verb = str_field(e.record->j, "verb");
    const std::string text = str_field(e.record->j, "text");
    marks.push_back({{"t", t}, {"text", text.empty() ? verb : text}});
    std::vector<int> lanes;
    for (uint32_t n : action_nodes(*e.record)) {
      if (lane.count(n)) lanes.push_back(lane.at(n));
    }
    close_bands(open, verb, lanes, t, bands);
    if (is_net_fault(verb)) open.push_back(OpenBand{t, "net", text, -1});
    const char* fam = verb == "kill" || verb == "down" ? "kill"
                      : verb == "pause"                ? "pause"
                                                       : nullptr;
    if (fam == nullptr) continue;
    for (int l : lanes) open.push_back(OpenBand{t, fam, text, l});
  }
  for (const OpenBand& b : open) bands.push_back(band_json(b, us(tl, tl.t1)));
  return {{"bands", bands}, {"marks", marks}};
}

json page_ops(const Timeline& tl) {
  json p = json::array(), s = json::array(), e = json::array(), o = json::array();
  json l = json::array();
  if (tl.input.history) {
    const check::History& h = *tl.input.history;
    for (const check::Operation& op : h.ops) {
      p.push_back(op.process);
      s.push_back(us(tl, op.call_time));
      e.push_back(op.return_time == check::kNoTime ? us(tl, tl.t1) : us(tl, op.return_time));
      o.push_back(op.outcome == check::Outcome::kOk     ? 0
                  : op.outcome == check::Outcome::kFail ? 1
                                                        : 2);
      std::string label = std::string(check::to_string(op.f)) + " " + h.keys[op.key];
      if (op.value) label += " " + *op.value;
      l.push_back(label);
    }
  }
  return {{"p", p}, {"s", s}, {"e", e}, {"o", o}, {"l", l}};
}

}  // namespace raftlab::timeline
