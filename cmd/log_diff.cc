// `raftlab log diff`: compares the nodes' logs, read from their WAL files (so stopped nodes
// count too): for each node, the first index where its term differs from the reference (the
// leader, else the longest log of the highest last term) and the suffix the leader will
// overwrite (Log Matching, §5.3), or the entries it lacks. Prints nothing when every log is the
// same.

// g++ 12 false positive inside CLI11 (see main.cc).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <iostream>
#include <limits>
#include <map>
#include <memory>

#include "cmd/lab/lab.h"
#include "persist/dump.h"

namespace raftlab::lab {
namespace {

constexpr int kExitDiffer = 1;

using nlohmann::json;

struct LogDiffOptions {
  std::string dir;
  bool json = false;
};

struct NodeLog {
  NodeId id;
  std::map<uint64_t, std::pair<uint64_t, std::string>> entries;  // index -> term, data
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

int run_log_diff(const LogDiffOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  std::vector<NodeLog> logs;
  for (const NodeSpec& n : spec.nodes) logs.push_back(read_log(dir, n.id));
  const NodeId leader = agreed_leader(spec, collect_views(dir, spec));
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
    json row = {{"id", l.id.get()},
                {"last_index", l.last()},
                {"diverges_at", nullptr},
                {"overwrite", nullptr},
                {"missing", nullptr}};
    const uint64_t lo = std::max(l.first(), ref->first());
    const uint64_t hi = std::min(l.last(), ref->last());
    std::optional<uint64_t> diverge;
    bool same_term_other_data = false;
    for (uint64_t i = lo; i <= hi && i != 0; ++i) {
      const auto a = l.entries.find(i);
      const auto b = ref->entries.find(i);
      if (a == l.entries.end() || b == ref->entries.end()) continue;
      if (a->second != b->second) {
        diverge = i;
        same_term_other_data = a->second.first == b->second.first;
        break;
      }
    }
    std::string text;
    const std::string name = "node " + std::to_string(l.id.get());
    if (diverge) {
      const uint64_t i = *diverge;
      row["diverges_at"] = i;
      row["overwrite"] = {i, l.last()};
      row["term"] = l.entries.at(i).first;
      row["reference_term"] = ref->entries.at(i).first;
      text = name + ": differs from node " + std::to_string(ref->id.get()) + " at index " +
             std::to_string(i) + " (term " + std::to_string(l.entries.at(i).first) + " vs " +
             std::to_string(ref->entries.at(i).first) + "); entries " + std::to_string(i) + ".." +
             std::to_string(l.last()) + " will be overwritten";
      if (same_term_other_data) {
        row["same_term_different_data"] = true;
        text += " -- SAME TERM, DIFFERENT DATA: Log Matching is broken";
      }
    } else if (l.last() > ref->last()) {
      row["overwrite"] = {ref->last() + 1, l.last()};
      text = name + ": entries " + std::to_string(ref->last() + 1) + ".." +
             std::to_string(l.last()) + " beyond node " + std::to_string(ref->id.get()) +
             "'s log will be overwritten";
    } else if (l.last() < ref->last()) {
      row["missing"] = {l.last() + 1, ref->last()};
      text = name + ": behind, lacks entries " + std::to_string(l.last() + 1) + ".." +
             std::to_string(ref->last());
    }
    if (!text.empty()) {
      identical = false;
      if (!o.json) std::cout << text << "\n";
    }
    nodes.push_back(std::move(row));
  }
  if (o.json) {
    print_json({{"reference", ref ? json(ref->id.get()) : json(nullptr)},
                {"reference_is_leader", static_cast<bool>(leader)},
                {"reference_last_index", ref ? ref->last() : 0},
                {"identical", identical},
                {"nodes", nodes}});
  }
  return identical ? kExitOk : kExitDiffer;  // as diff(1): 0 the logs agree, 1 they differ
}

}  // namespace

void setup_log_diff(CLI::App& log) {
  auto o = std::make_shared<LogDiffOptions>();
  CLI::App* cmd = log.add_subcommand(
      "diff",
      "Compare the nodes' logs: where they differ and what the leader will overwrite. Exit 0 "
      "when every log agrees with the leader's, 1 when one diverges or lags (as diff)");
  add_dir_option(cmd, o->dir);
  cmd->add_flag("--json", o->json, "Print one JSON document");
  cmd->callback([o] { run_command([o] { return run_log_diff(*o); }); });
}

}  // namespace raftlab::lab
