// `raftlab timeline --html`: the data of the page as compact columnar JSON (times in µs from
// the first record, send times as deltas), drawn by page_view.h. Every message is kept up to
// kPageMessagesMax; past it, every message that is not steady replication (an accepted
// AppendEntries and its answer) is kept and steady ones are thinned evenly, and the page says
// how many it shows of how many.
#include <algorithm>
#include <map>

#include "cmd/checker/html.h"
#include "cmd/timeline/model.h"
#include "cmd/timeline/page_data.h"
#include "cmd/timeline/page_view.h"

namespace raftlab::timeline {
namespace {

using nlohmann::json;

constexpr size_t kPageMessagesMax = 120000;

bool steady(const Message& m) {
  if (!m.fault.empty() || m.sent == kNoTime || m.recv == kNoTime) return false;
  if (m.type == "AppendEntries") return true;
  const auto ok = m.fields->find("ok");
  return m.type == "AppendEntriesResponse" && ok != m.fields->end() && *ok == true;
}

// The messages the page shows, in send order: every one, or thinned past the cap.
std::vector<const Message*> chosen_messages(const Timeline& tl) {
  size_t steady_count = 0;
  for (const Message& m : tl.messages) steady_count += steady(m) ? 1 : 0;
  const size_t others = tl.messages.size() - steady_count;
  size_t every = 1;
  if (tl.messages.size() > kPageMessagesMax) {
    const size_t room = kPageMessagesMax > others ? kPageMessagesMax - others : 1;
    every = (steady_count + room - 1) / room;
  }
  std::vector<const Message*> out;
  size_t k = 0;
  for (const Message& m : tl.messages) {
    if (!steady(m) || k++ % every == 0) out.push_back(&m);
  }
  std::stable_sort(out.begin(), out.end(), [](const Message* a, const Message* b) {
    return (a->sent != kNoTime ? a->sent : a->recv) < (b->sent != kNoTime ? b->sent : b->recv);
  });
  return out;
}

json messages_json(const Timeline& tl, const std::map<uint32_t, int>& lane) {
  json s = json::array(), d = json::array(), a = json::array(), b = json::array();
  json y = json::array(), x = json::array(), f = json::array();
  std::map<std::string, int> types;
  json type_names = json::array();
  int64_t prev = 0;
  const std::vector<const Message*> chosen = chosen_messages(tl);
  for (const Message* m : chosen) {
    const int64_t t = us(tl, m->sent != kNoTime ? m->sent : m->recv);
    s.push_back(t - prev);
    prev = t;
    // d: receipt - send; -1: never received; -2: only the receipt is traced (t is the receipt).
    d.push_back(m->sent == kNoTime ? -2 : m->recv == kNoTime ? -1 : us(tl, m->recv) - t);
    a.push_back(lane.count(m->from) ? lane.at(m->from) : -1);
    b.push_back(lane.count(m->to) ? lane.at(m->to) : -1);
    auto [it, added] = types.emplace(m->type, static_cast<int>(types.size()));
    if (added) type_names.push_back(m->type);
    y.push_back(it->second);
    std::string text = "t" + std::to_string(m->term) + " " + message_fields(m->type, *m->fields);
    if (!m->fault.empty()) text += " [" + m->fault + "]";
    x.push_back(text);
    f.push_back(m->fault.empty() ? 0 : 1);
  }
  return {{"s", s},
          {"d", d},
          {"a", a},
          {"b", b},
          {"y", y},
          {"x", x},
          {"f", f},
          {"types", type_names},
          {"total", tl.messages.size()},
          {"shown", chosen.size()}};
}

}  // namespace

json page_json(const Timeline& tl) {
  std::map<uint32_t, int> lane;
  for (uint32_t n : tl.input.nodes) lane.emplace(n, static_cast<int>(lane.size()));
  json data = {{"t1", us(tl, tl.t1)}, {"nodes", tl.input.nodes}, {"torn", tl.input.torn_lines}};
  data["m"] = messages_json(tl, lane);
  data["lanes"] = page_lanes(tl, lane);
  data["faults"] = page_faults(tl, lane);
  data["ops"] = page_ops(tl);
  return data;
}

std::string render_page(const Timeline& tl) {
  std::string text = page_json(tl).dump();
  std::string safe;
  safe.reserve(text.size());
  for (char c : text) {
    if (c == '<') {
      safe += "\\u003c";  // no "</script>" can close the data early
    } else {
      safe += c;
    }
  }
  std::string page =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>raftlab "
      "timeline</title>\n<style>";
  page += kPageCss;
  page += "</style></head><body>\n";
  page += kPageBody;
  page += "<script id=\"raftlab-timeline\" type=\"application/json\">" + safe + "</script>\n";
  page += "<script>" + std::string(kPageJs) + "</script>\n</body></html>\n";
  return page;
}

}  // namespace raftlab::timeline
