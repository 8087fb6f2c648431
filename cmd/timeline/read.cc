// Reading the trace files, the actions and the history (model.h).
#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "cmd/timeline/model.h"

namespace raftlab::timeline {
namespace {

constexpr const char* kTraceFiles[] = {"trace.1.jsonl", "trace.jsonl"};  // oldest first
constexpr const char* kActionsFile = "actions.jsonl";
constexpr size_t kNodeIdDigitsMax = 9;

// The text of `path`; nullopt when it does not exist.
std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw TraceError(path + ": cannot be read");
  return s.str();
}

// The node ids of DIR's n<ID> subdirectories, ascending.
std::vector<uint32_t> node_dirs(const std::string& dir) {
  std::vector<uint32_t> ids;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) throw TraceError(dir + ": no such directory");
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() < 2 || name.size() > 1 + kNodeIdDigitsMax || name[0] != 'n') continue;
    if (!std::all_of(name.begin() + 1, name.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    ids.push_back(static_cast<uint32_t>(std::stoul(name.substr(1))));
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// One line as a record; throws a message without the file and line.
Record parse_record(const std::string& line, uint32_t node) {
  nlohmann::json j = nlohmann::json::parse(line);  // throws parse_error
  if (!j.is_object()) throw std::invalid_argument("not a JSON object");
  const auto t = j.find("t");
  if (t == j.end() || !t->is_number_integer()) throw std::invalid_argument("no integer \"t\"");
  Record r;
  r.t = t->get<int64_t>();
  r.node = node;
  if (node == 0) {
    r.ev = "action";
  } else {
    const auto ev = j.find("ev");
    if (ev == j.end() || !ev->is_string()) throw std::invalid_argument("no string \"ev\"");
    r.ev = ev->get<std::string>();
    const auto n = j.find("n");
    if (n != j.end() && n->is_number_unsigned()) r.node = n->get<uint32_t>();
  }
  r.j = std::move(j);
  return r;
}

}  // namespace

size_t parse_lines(const std::string& text, const std::string& name, uint32_t node,
                   std::vector<Record>& out) {
  size_t pos = 0;
  size_t line_no = 0;
  size_t torn = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    const bool unfinished = end == std::string::npos;
    if (unfinished) end = text.size();
    ++line_no;
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      out.push_back(parse_record(line, node));
    } catch (const std::exception& e) {
      // A node killed mid-write leaves its last line without a newline: skipped, counted.
      if (unfinished) {
        ++torn;
        continue;
      }
      throw TraceError(name + " line " + std::to_string(line_no) + ": " + e.what());
    }
  }
  return torn;
}

Input read_dir(const std::string& dir) {
  Input in;
  for (uint32_t id : node_dirs(dir)) {
    bool any = false;
    for (const char* file : kTraceFiles) {
      const std::string path = dir + "/n" + std::to_string(id) + "/" + file;
      if (const auto text = slurp(path)) {
        in.torn_lines += parse_lines(*text, path, id, in.records);
        any = true;
      }
    }
    if (any) in.nodes.push_back(id);
  }
  const std::string actions = dir + "/" + kActionsFile;
  if (const auto text = slurp(actions)) in.torn_lines += parse_lines(*text, actions, 0, in.records);
  return in;
}

}  // namespace raftlab::timeline
