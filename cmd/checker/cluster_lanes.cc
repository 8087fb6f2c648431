// The cluster's lanes (see cluster_lanes.h).
#include "cmd/checker/cluster_lanes.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

namespace raftlab::check {
namespace {

constexpr std::string_view kEventsFile = "events.jsonl";  // cmd/cluster/contract.h
constexpr uint64_t kEventsBytesMax = 256ull << 20;        // a file beyond this is read up to it
constexpr size_t kLinesMax = 10'000'000;                  // lines read from one file

// What a node was doing at some moment: a role (empty: not known yet) and a term.
struct State {
  std::string role;
  uint64_t term = 0;
  friend bool operator==(const State&, const State&) = default;
};

// One moment where the state may change: an event line or a nemesis kill.
struct Change {
  int64_t t_ns = 0;
  std::string event;  // events.jsonl's "event", or "kill"
  std::string role;
  std::optional<uint64_t> term;
};

// The event names that move a lane; other lines are skipped before parsing.
bool lane_event(std::string_view name) {
  return name == "started" || name == "role" || name == "term" || name == "shutdown" ||
         name == "crash";
}

// The "event" of a line as written by EventLog (compact JSON), without parsing the line.
std::string_view event_name(std::string_view line) {
  constexpr std::string_view kKey = "\"event\":\"";
  const size_t at = line.find(kKey);
  if (at == std::string_view::npos) return {};
  const size_t start = at + kKey.size();
  const size_t end = line.find('"', start);
  return end == std::string_view::npos ? std::string_view{} : line.substr(start, end - start);
}

std::optional<Change> parse_change(std::string_view line) {
  if (!lane_event(event_name(line))) return std::nullopt;
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("t_ns") || !j["t_ns"].is_number_unsigned()) {
    return std::nullopt;
  }
  Change c;
  c.t_ns = static_cast<int64_t>(j["t_ns"].get<uint64_t>());
  c.event = j.value("event", "");
  if (j.contains("role") && j["role"].is_string()) c.role = j["role"].get<std::string>();
  if (j.contains("term") && j["term"].is_number_unsigned()) c.term = j["term"].get<uint64_t>();
  return c;
}

// The state after `c`. A dead node stays dead until it is "started" again.
State apply(const State& s, const Change& c) {
  State next = s;
  if (c.event == "kill" || c.event == "shutdown" || c.event == "crash") {
    next.role = kRoleDead;
    return next;
  }
  if (c.event == "started") {
    next.role = "follower";
  } else if (s.role == kRoleDead) {
    return s;
  } else if (c.event == "role" && !c.role.empty()) {
    next.role = c.role;
  }
  if (c.term) next.term = *c.term;
  return next;
}

std::vector<Change> changes_of(std::string_view text, const std::vector<int64_t>& kills_ns) {
  std::vector<Change> changes;
  size_t lines = 0;
  while (!text.empty() && lines++ < kLinesMax) {
    const size_t nl = text.find('\n');
    if (auto c = parse_change(text.substr(0, nl))) changes.push_back(std::move(*c));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  for (const int64_t t : kills_ns) changes.push_back(Change{t, "kill", "", std::nullopt});
  // Events are in time order per file; a kill sorts after an event of the same time.
  std::stable_sort(changes.begin(), changes.end(),
                   [](const Change& a, const Change& b) { return a.t_ns < b.t_ns; });
  return changes;
}

// The file, or its first kEventsBytesMax bytes; "" when it cannot be read (no lane then).
std::string read_prefix(const std::filesystem::path& path) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  std::string text;
  if (ec || !in) return text;
  text.resize(std::min(size, kEventsBytesMax));
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

// "n12" -> 12; anything else -> nullopt.
std::optional<uint64_t> node_id_of(const std::string& name) {
  if (name.size() < 2 || name[0] != 'n') return std::nullopt;
  uint64_t id = 0;
  const auto [end, ec] = std::from_chars(name.data() + 1, name.data() + name.size(), id);
  if (ec != std::errc() || end != name.data() + name.size() || id == 0) return std::nullopt;
  return id;
}

}  // namespace

Lane lane_from_events(uint64_t node, std::string_view events_jsonl,
                      const std::vector<int64_t>& kills_ns, int64_t from_ns, int64_t to_ns) {
  Lane lane;
  lane.node = node;
  State s;
  int64_t start = from_ns;
  auto close = [&](int64_t t) {
    if (!s.role.empty() && t > start) lane.bands.push_back(LaneBand{start, t, s.role, s.term});
  };
  for (const Change& c : changes_of(events_jsonl, kills_ns)) {
    if (c.t_ns > to_ns) break;
    const State next = apply(s, c);
    if (next == s) continue;
    if (c.t_ns > from_ns) {
      close(c.t_ns);
      start = c.t_ns;
    }
    s = next;
  }
  close(to_ns);
  return lane;
}

std::vector<uint64_t> killed_nodes(std::string_view value) {
  constexpr std::string_view kNode = "node ";
  const size_t at = value.rfind(kNode);
  if (at != std::string_view::npos) value = value.substr(at + kNode.size());
  std::vector<uint64_t> ids;
  while (!value.empty()) {
    uint64_t id = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), id);
    if (ec != std::errc() || id == 0) break;
    ids.push_back(id);
    value.remove_prefix(static_cast<size_t>(end - value.data()));
    // "2,3" names two nodes; "2 (leader)" stops after the first.
    if (value.empty() || value[0] != ',') break;
    value.remove_prefix(1);
  }
  return ids;
}

std::vector<Lane> load_lanes(const std::string& dir, const History& history) {
  std::map<uint64_t, std::vector<int64_t>> kills;
  for (const NemesisEvent& e : history.nemesis) {
    std::string f = e.f;
    std::transform(f.begin(), f.end(), f.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (f != "kill" && f != "crash") continue;
    for (const uint64_t id : killed_nodes(e.value)) kills[id].push_back(e.time);
  }
  std::map<uint64_t, std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::optional<uint64_t> id = node_id_of(entry.path().filename().string());
    const std::filesystem::path file = entry.path() / kEventsFile;
    if (id && std::filesystem::is_regular_file(file)) files[*id] = file;
  }
  if (ec) throw HistoryFileError("cannot list " + dir + ": " + ec.message());
  std::vector<Lane> lanes;
  for (const auto& [id, file] : files) {
    lanes.push_back(
        lane_from_events(id, read_prefix(file), kills[id], history.first_time, history.last_time));
  }
  return lanes;
}

}  // namespace raftlab::check
