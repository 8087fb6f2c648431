// `raftlab log diff`: compares the nodes' logs, read from their WAL files (so stopped nodes
// count too): for each node, the first index where its term differs from the reference (the
// leader, else the longest log of the highest last term) and the suffix the leader will
// overwrite (Log Matching, §5.3), or the entries it lacks. Prints nothing when every log is the
// same.

#include <CLI/CLI.hpp>

#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>

#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/command.h"
#include "cmd/lab/output.h"
#include "cmd/lab/process.h"
#include "cmd/verbs.h"
#include "persist/dump.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;

constexpr const char* kLogDiffHelp =
    "Compare the nodes' logs: where they differ and what the leader will overwrite. Exit 0 "
    "when every log agrees with the leader's, 1 when one diverges or lags (as diff)";

struct LogDiffOptions {
  std::string dir;
  bool json = false;
};

struct NodeLog {
  NodeId id;
  std::map<uint64_t, std::pair<uint64_t, std::string>> entries;  // index -> term, data
  uint64_t commit = 0;  // the commit index in its newest hard state record
  uint64_t first() const { return entries.empty() ? 0 : entries.begin()->first; }
  uint64_t last() const { return entries.empty() ? 0 : entries.rbegin()->first; }
  uint64_t last_term() const { return entries.empty() ? 0 : entries.rbegin()->second.first; }
};

// The log a node would recover: records in WAL order, an entry at index i truncating what
// followed it.
NodeLog read_log(const std::string& dir, NodeId id) {
  NodeLog log{id, {}};
  persist::DumpReport r;
  try {
    r = persist::dump_wal(node_dir(dir, id), Index(0), Index(std::numeric_limits<uint64_t>::max()));
  } catch (const std::exception& e) {
    throw LabError(kExitEnvironment,
                   "cannot read the WAL of node " + std::to_string(id.get()) + ": " + e.what());
  }
  if (r.hard_state) log.commit = r.hard_state->commit.get();
  for (const auto& s : r.segments) {
    for (const auto& rec : s.records) {
      if (rec.damage != persist::Damage::kNone || rec.type != persist::RecordType::kEntry) continue;
      const uint64_t i = rec.entry.index.get();
      log.entries.erase(log.entries.lower_bound(i), log.entries.end());
      log.entries[i] = {rec.entry.term.get(), rec.entry.data.str()};
    }
  }
  return log;
}

// The first index both logs hold with different entries; *same_term when their terms agree
// there (the data differs: Log Matching is broken).
std::optional<uint64_t> first_difference(const NodeLog& l, const NodeLog& ref, bool* same_term) {
  const uint64_t lo = std::max(l.first(), ref.first());
  const uint64_t hi = std::min(l.last(), ref.last());
  for (uint64_t i = lo; i <= hi && i != 0; ++i) {
    const auto a = l.entries.find(i);
    const auto b = ref.entries.find(i);
    if (a == l.entries.end() || b == ref.entries.end()) continue;
    if (a->second != b->second) {
      *same_term = a->second.first == b->second.first;
      return i;
    }
  }
  return std::nullopt;
}

// When node `l` recorded index `first` of the suffix to be overwritten as committed: an entry
// it may have applied, and a client may have been told of, is to be replaced (Leader
// Completeness is broken: Figure 8's danger).
void flag_committed(const NodeLog& l, uint64_t first, json* row, std::string* text) {
  if (l.commit < first) return;
  (*row)["overwrites_committed"] = true;
  *text += " -- COMMITTED ENTRY: node " + std::to_string(l.id.get()) + " committed up to " +
           std::to_string(l.commit) + ": Leader Completeness is broken";
}

// Node `l` against the reference: its JSON row, and in *text what differs ("" if nothing).
json compare(const NodeLog& l, const NodeLog& ref, std::string* text) {
  json row = {{"id", l.id.get()},
              {"last_index", l.last()},
              {"diverges_at", nullptr},
              {"overwrite", nullptr},
              {"missing", nullptr}};
  bool same_term_other_data = false;
  const std::optional<uint64_t> diverge = first_difference(l, ref, &same_term_other_data);
  const std::string name = "node " + std::to_string(l.id.get());
  if (diverge) {
    const uint64_t i = *diverge;
    row["diverges_at"] = i;
    row["overwrite"] = {i, l.last()};
    row["term"] = l.entries.at(i).first;
    row["reference_term"] = ref.entries.at(i).first;
    *text = name + ": differs from node " + std::to_string(ref.id.get()) + " at index " +
            std::to_string(i) + " (term " + std::to_string(l.entries.at(i).first) + " vs " +
            std::to_string(ref.entries.at(i).first) + "); entries " + std::to_string(i) + ".." +
            std::to_string(l.last()) + " will be overwritten";
    if (same_term_other_data) {
      row["same_term_different_data"] = true;
      *text += " -- SAME TERM, DIFFERENT DATA: Log Matching is broken";
    }
    flag_committed(l, i, &row, text);
  } else if (l.last() > ref.last()) {
    row["overwrite"] = {ref.last() + 1, l.last()};
    *text = name + ": entries " + std::to_string(ref.last() + 1) + ".." + std::to_string(l.last()) +
            " beyond node " + std::to_string(ref.id.get()) + "'s log will be overwritten";
    flag_committed(l, ref.last() + 1, &row, text);
  } else if (l.last() < ref.last()) {
    row["missing"] = {l.last() + 1, ref.last()};
    *text = name + ": behind, lacks entries " + std::to_string(l.last() + 1) + ".." +
            std::to_string(ref.last());
  }
  return row;
}

int run_log_diff(const LogDiffOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  std::vector<NodeLog> logs;
  for (const NodeSpec& n : spec.nodes) logs.push_back(read_log(dir, n.id));
  const NodeId leader = agreed_leader(spec, collect_views(dir, spec));
  // The reference: the leader's log, else the longest log of the highest last term.
  const NodeLog* ref = nullptr;
  for (const NodeLog& l : logs) {
    if (leader ? l.id == leader
               : ref == nullptr || std::make_pair(l.last_term(), l.last()) >
                                       std::make_pair(ref->last_term(), ref->last())) {
      ref = &l;
    }
  }
  json nodes = json::array();
  bool identical = true;
  for (const NodeLog& l : logs) {
    if (ref == nullptr || l.id == ref->id) continue;
    std::string text;
    nodes.push_back(compare(l, *ref, &text));
    if (!text.empty()) {
      identical = false;
      if (!o.json) std::cout << text << "\n";
    }
  }
  if (o.json) {
    print_json({{"reference", ref ? json(ref->id.get()) : json(nullptr)},
                {"reference_is_leader", static_cast<bool>(leader)},
                {"reference_last_index", ref ? ref->last() : 0},
                {"identical", identical},
                {"nodes", nodes}});
  }
  return identical ? kExitOk : kExitFailed;  // as diff(1): 0 the logs agree, 1 they differ
}

}  // namespace

void setup_log_diff(CLI::App& log) {
  auto o = std::make_shared<LogDiffOptions>();
  CLI::App* cmd = add_verb(log, "diff", kLogDiffHelp, o->dir);
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o] { return run_log_diff(*o); });
}

}  // namespace raftlab::lab
