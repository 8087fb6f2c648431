// `raftlab timeline [--dir DIR] [--history FILE] [--html OUT | --text | --json] [filters]`: every
// node's trace, the CLI's actions and a run's client operations merged on one clock
// (cmd/timeline/model.h; the formats are docs/trace.md). Exit 0; 2 for a bad flag; 4 when
// the directory or a file cannot be read or a line is malformed (named by file and line).
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "cmd/checker/history.h"
#include "cmd/cluster/cluster_dir.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/command.h"
#include "cmd/timeline/model.h"
#include "cmd/verbs.h"
#include "node/message.h"

namespace raftlab::lab {
namespace {

struct TimelineOptions {
  std::string dir;
  std::string history;
  std::string html;
  bool text = false;
  bool json = false;
  std::string nodes, types, from, to;
  std::optional<double> since_s, until_s;
};

// "1,3" or "n1,n3" as node ids.
std::set<uint32_t> node_set(const std::string& list) {
  std::set<uint32_t> out;
  std::stringstream s(list);
  std::string item;
  while (std::getline(s, item, ',')) {
    if (!item.empty() && item[0] == 'n') item.erase(0, 1);
    if (item.empty()) continue;
    try {
      out.insert(static_cast<uint32_t>(std::stoul(item)));
    } catch (const std::exception&) {
      throw LabError(kExitUsage, "not a node id: " + item);
    }
  }
  return out;
}

// The record kinds of docs/trace.md besides messages, and named groups of types that tell
// one story each (the tutorial's chapters use them).
const std::set<std::string> kRecordKinds = {
    "send",           "recv",      "drop",   "delay",    "dup",      "timeout",    "fired",
    "vote",           "role",      "append", "truncate", "commit",   "apply",      "snap_taken",
    "snap_installed", "snap_sent", "member", "transfer", "stepdown", "heartbeats", "suppressed",
    "trace",          "action",    "hold",   "deliver",  "discard",  "timer"};
const std::map<std::string, std::set<std::string>> kTypeGroups = {
    {"election",
     {"PreVote", "PreVoteResponse", "RequestVote", "RequestVoteResponse", "TimeoutNow", "fired",
      "timer", "vote", "role", "stepdown", "action"}},
    {"replication",
     {"AppendEntries", "AppendEntriesResponse", "InstallSnapshot", "InstallSnapshotResponse",
      "append", "truncate", "commit", "snap_sent", "snap_installed", "role", "action"}},
};

bool is_message_type(const std::string& name) {
  for (int t = 1; t <= kMessageTypeCount; ++t) {
    if (name == to_string(static_cast<MessageType>(t))) return true;
  }
  return false;
}

// "RequestVote,vote" as names; a group expands; an unknown name is a usage error (a typo must
// not filter everything out silently).
std::set<std::string> type_set(const std::string& list) {
  std::set<std::string> out;
  std::stringstream s(list);
  std::string item;
  while (std::getline(s, item, ',')) {
    if (item.empty()) continue;
    if (auto g = kTypeGroups.find(item); g != kTypeGroups.end()) {
      out.insert(g->second.begin(), g->second.end());
    } else if (is_message_type(item) || kRecordKinds.count(item) != 0) {
      out.insert(item);
    } else {
      throw LabError(kExitUsage, "unknown message type or record kind: " + item +
                                     " (see docs/trace.md; groups: election, replication)");
    }
  }
  return out;
}

timeline::Timeline load(const TimelineOptions& o) {
  timeline::Input in;
  try {
    in = timeline::read_dir(resolve_dir(o.dir));
  } catch (const timeline::TraceError& e) {
    throw LabError(kExitEnvironment, e.what());
  }
  if (!o.history.empty()) {
    try {
      in.history = check::load_history(o.history);
    } catch (const check::HistoryError& e) {
      throw LabError(kExitEnvironment, o.history + " " + e.what());
    } catch (const check::HistoryFileError& e) {
      throw LabError(kExitEnvironment, e.what());
    }
  }
  if (in.records.empty() && !in.history) {
    throw LabError(kExitEnvironment, "no trace: no n*/trace.jsonl nor actions.jsonl in " +
                                         resolve_dir(o.dir) + " (raftlab up --trace changes|all)");
  }
  return timeline::build(std::move(in));
}

int run_timeline(const TimelineOptions& o) {
  const timeline::Timeline tl = load(o);
  if (tl.input.torn_lines != 0) {
    std::cerr << "raftlab timeline: skipped " << tl.input.torn_lines
              << " unfinished last line(s) (a node stopped mid-write)\n";
  }
  if (!o.html.empty()) {
    std::ofstream out(o.html, std::ios::binary | std::ios::trunc);
    out << timeline::render_page(tl);
    out.close();
    if (!out) throw LabError(kExitEnvironment, "cannot write " + o.html);
    return kExitOk;
  }
  timeline::Filter f{node_set(o.nodes), type_set(o.types), node_set(o.from),
                     node_set(o.to),    o.since_s,         o.until_s};
  std::cout << (o.json ? timeline::format_json(tl, f) : timeline::format_text(tl, f));
  return kExitOk;
}

}  // namespace

void setup_timeline(CLI::App& app) {
  auto o = std::make_shared<TimelineOptions>();
  CLI::App* cmd = add_verb(app, "timeline",
                           "Merge the nodes' traces, the CLI's actions and a run's operations "
                           "on one clock: text, JSON or an HTML page",
                           o->dir);
  cmd->add_option("--history", o->history, "Also the client operations of this check/bench history")
      ->check(CLI::ExistingFile);
  auto* html = cmd->add_option("--html", o->html, "Write one self-contained HTML page here");
  auto* text = cmd->add_flag("--text", o->text, "One line per event (the default)");
  auto* json = add_json_flag(cmd, o->json);
  html->excludes(text)->excludes(json);
  text->excludes(json);
  cmd->add_option("--node", o->nodes, "Only these nodes' records and messages (1,3)");
  cmd->add_option("--type", o->types,
                  "Only these message types or record kinds (RequestVote,vote,role,action), or "
                  "a group: election, replication");
  cmd->add_option("--from", o->from, "Only messages sent by these nodes");
  cmd->add_option("--to", o->to, "Only messages sent to these nodes");
  cmd->add_option("--since", o->since_s, "From this many seconds after the first record")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--until", o->until_s, "Until this many seconds after the first record")
      ->check(CLI::NonNegativeNumber);
  run_on_parse(cmd, [o] { return run_timeline(*o); });
}

}  // namespace raftlab::lab
