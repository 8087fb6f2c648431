// `raftlab log dump` (see log_dump.h).
#include "cmd/log_dump.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
// nlohmann-json rather than hand-written output: entry payloads are arbitrary bytes, and a
// JSON document must escape quotes, backslashes and control characters correctly every time.
#include <nlohmann/json.hpp>

#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/command.h"
#include "cmd/lab/output.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/process.h"
#include "cmd/lab/selectors.h"
#include "cmd/verbs.h"
#include "node/kv/describe.h"
#include "persist/dump.h"
#include "persist/io.h"

namespace raftlab::cmd {
namespace {

constexpr size_t kSummaryBytesMax = 40;  // of an entry's data shown
using nlohmann::json;

// The first bytes of a payload, printable ASCII only (\xNN otherwise), so the text is safe on
// a terminal and valid UTF-8 inside JSON. The form of `--raw` and of "data_summary".
std::string summarize(const std::string& data) {
  return kv::escape_bytes(data, kSummaryBytesMax, /*escape_quote=*/false);
}

// The decoded fields of an entry for --json, beside the raw ones (which stay for scripts that
// read them): "decoded" (the text form), and "command", or "voters"/"learners", or
// "decode_error".
void add_decoded_json(const Entry& e, json& je) {
  const kv::EntryDescription d = kv::describe_entry(e.type, e.data.str());
  je["decoded"] = d.text;
  switch (d.kind) {
    case kv::EntryKind::kCommand: {
      const kv::Command& c = *d.command;
      auto bytes = [](const std::string& b) { return kv::escape_bytes(b, kv::kShownBytesMax); };
      json jc = {{"op", kv::to_string(c.op)},
                 {"client", c.client},
                 {"seq", c.seq},
                 {"key", bytes(c.key)},
                 {"key_bytes", c.key.size()}};
      if (c.op != kv::Op::kDelete) {
        jc["value"] = bytes(c.value);
        jc["value_bytes"] = c.value.size();
      }
      if (c.op == kv::Op::kCas) {
        jc["expected"] = bytes(c.expected);
        jc["expected_bytes"] = c.expected.size();
      }
      je["command"] = std::move(jc);
      break;
    }
    case kv::EntryKind::kConfig:
      je["voters"] = lab::ids_json(d.membership.voters);
      je["learners"] = lab::ids_json(d.membership.learners);
      break;
    case kv::EntryKind::kUndecodable:
      je["decode_error"] = d.problem;
      break;
    case kv::EntryKind::kNoop:
      break;
  }
}

// One entry on a line: decoded (see node/kv/describe.h), or as `--raw` bytes.
std::string entry_text(const Entry& e, bool raw) {
  std::string out =
      "entry " + std::to_string(e.index.get()) + " term " + std::to_string(e.term.get()) + " ";
  if (!raw) return out + kv::describe_entry(e.type, e.data.str()).text;
  return out + to_string(e.type) + " " + std::to_string(e.data.size()) + " B \"" +
         summarize(e.data) + "\"";
}

json hard_state_json(const HardState& hs) {
  return {{"term", hs.term.get()}, {"vote", hs.vote.get()}, {"commit", hs.commit.get()}};
}

// One record of segment `s`; its entry is also listed in doc["entries"] and its damage in
// doc["damage"].
json record_json(const persist::DumpSegment& s, const persist::DumpRecord& rec, bool raw,
                 json& doc) {
  json jr = {{"offset", rec.offset}, {"size_bytes", rec.size_bytes}};
  if (rec.damage != persist::Damage::kNone) {
    jr["kind"] = "damaged";
    jr["problem"] = rec.problem;
    jr["torn_tail"] = rec.torn_tail;
    doc["damage"].push_back({{"file", s.path},
                             {"offset", rec.offset},
                             {"problem", rec.problem},
                             {"torn_tail", rec.torn_tail}});
    return jr;
  }
  jr["kind"] = persist::to_string(rec.type);
  switch (rec.type) {
    case persist::RecordType::kEntry: {
      const Entry& e = rec.entry;
      json je = {{"index", e.index.get()},
                 {"term", e.term.get()},
                 {"type", to_string(e.type)},
                 {"data_bytes", e.data.size()},
                 {"data_summary", summarize(e.data)}};
      if (!raw) add_decoded_json(e, je);
      jr.update(je);
      je["file"] = s.path;
      je["offset"] = rec.offset;
      doc["entries"].push_back(je);
      break;
    }
    case persist::RecordType::kHardState:
      jr.update(hard_state_json(rec.hard_state));
      break;
    case persist::RecordType::kSnapshot:
      jr["index"] = rec.snapshot.index.get();
      jr["term"] = rec.snapshot.term.get();
      break;
    case persist::RecordType::kReserved:
      break;
  }
  if (!rec.problem.empty()) {
    jr["problem"] = rec.problem;
    doc["damage"].push_back({{"file", s.path}, {"offset", rec.offset}, {"problem", rec.problem}});
  }
  return jr;
}

json segment_json(const persist::DumpSegment& s, bool raw, json& doc) {
  json js = {{"name", s.name},
             {"path", s.path},
             {"size_bytes", s.size_bytes},
             {"open", s.open},
             {"records", json::array()}};
  if (s.header_problem.empty()) js["segment_seq"] = s.segment_seq;
  if (!s.header_problem.empty()) {
    js["header_problem"] = s.header_problem;
    doc["damage"].push_back({{"file", s.path}, {"offset", 0}, {"problem", s.header_problem}});
  }
  for (const auto& rec : s.records) js["records"].push_back(record_json(s, rec, raw, doc));
  return js;
}

json snapshot_json(const persist::DumpSnapshot& sn, json& doc) {
  json j = {{"path", sn.path}};
  if (sn.meta) {
    j["index"] = sn.meta->index.get();
    j["term"] = sn.meta->term.get();
    j["voters"] = lab::ids_json(sn.meta->membership.voters);
    j["learners"] = lab::ids_json(sn.meta->membership.learners);
    j["data_bytes"] = sn.data_bytes;
  } else {
    j["problem"] = sn.problem;
    j["damaged"] = sn.damaged;
    if (sn.damaged)
      doc["damage"].push_back({{"file", sn.path}, {"offset", 0}, {"problem", sn.problem}});
  }
  return j;
}

json to_json(const persist::DumpReport& r, bool raw) {
  json doc;
  doc["wal_dir"] = r.wal_dir;
  doc["snap_dir"] = r.snap_dir;
  doc["segments"] = json::array();
  doc["entries"] = json::array();
  doc["damage"] = json::array();
  for (const auto& s : r.segments) doc["segments"].push_back(segment_json(s, raw, doc));
  doc["hard_state"] = r.hard_state ? hard_state_json(*r.hard_state) : json(nullptr);
  if (r.manifest) {
    doc["manifest"] = {{"first_seq", r.manifest->first_seq},
                       {"last_seq", r.manifest->last_seq},
                       {"first_name", r.manifest->first_name}};
  } else {
    doc["manifest"] =
        r.manifest_problem.empty() ? json(nullptr) : json{{"problem", r.manifest_problem}};
  }
  doc["snapshots"] = json::array();
  for (const auto& sn : r.snapshots) doc["snapshots"].push_back(snapshot_json(sn, doc));
  doc["problems"] = r.problems;
  doc["notes"] = r.notes;
  doc["corrupt"] = r.corrupt;
  return doc;
}

void print_text(const persist::DumpReport& r, bool raw) {
  std::cout << "wal " << r.wal_dir << "\n";
  if (r.manifest) {
    std::cout << "manifest: segments " << r.manifest->first_seq << " (" << r.manifest->first_name
              << ") to " << r.manifest->last_seq << "\n";
  }
  for (const auto& s : r.segments) {
    std::cout << "segment " << s.name << " (" << s.size_bytes << " bytes";
    if (s.header_problem.empty()) std::cout << ", seq " << s.segment_seq;
    std::cout << ")\n";
    if (!s.header_problem.empty()) std::cout << "  @0 DAMAGED header: " << s.header_problem << "\n";
    for (const auto& rec : s.records) {
      std::cout << "  @" << rec.offset << " ";
      if (rec.damage != persist::Damage::kNone) {
        std::cout << "DAMAGED " << rec.size_bytes << " bytes: " << rec.problem << "\n";
        continue;
      }
      switch (rec.type) {
        case persist::RecordType::kEntry:
          std::cout << entry_text(rec.entry, raw);
          break;
        case persist::RecordType::kHardState:
          std::cout << "hard_state term " << rec.hard_state.term.get() << " vote "
                    << rec.hard_state.vote.get() << " commit " << rec.hard_state.commit.get();
          break;
        case persist::RecordType::kSnapshot:
          std::cout << "snapshot index " << rec.snapshot.index.get() << " term "
                    << rec.snapshot.term.get();
          break;
        case persist::RecordType::kReserved:
          break;
      }
      if (!rec.problem.empty()) std::cout << "  PROBLEM: " << rec.problem;
      std::cout << "\n";
    }
  }
  if (r.hard_state) {
    std::cout << "hard state: term " << r.hard_state->term.get() << " vote "
              << r.hard_state->vote.get() << " commit " << r.hard_state->commit.get() << "\n";
  }
  for (const auto& sn : r.snapshots) {
    if (sn.meta) {
      std::cout << "snapshot " << sn.path << ": index " << sn.meta->index.get() << " term "
                << sn.meta->term.get() << ", " << sn.meta->membership.voters.size() << " voters, "
                << sn.meta->membership.learners.size() << " learners, " << sn.data_bytes
                << " data bytes\n";
    } else {
      std::cout << "snapshot " << sn.path << ": DAMAGED: " << sn.problem << "\n";
    }
  }
  for (const auto& p : r.problems) std::cout << "PROBLEM: " << p << "\n";
  for (const auto& n : r.notes) std::cout << "note: " << n << "\n";
  std::cout << r.entries_count << " entries shown\n";
}

}  // namespace

void setup_log(CLI::App& app) {
  CLI::App* log = app.add_subcommand("log", "Inspect Raft logs");
  log->require_subcommand(1);
  CLI::App* dump = log->add_subcommand("dump", "Print the entries, hard state and snapshots");
  auto options = std::make_shared<LogDumpOptions>();
  CLI::Option* sel =
      dump->add_option("SEL", options->selector, "Nodes of the cluster at --dir (default all)")
          ->check(lab::selector_validator());
  dump->add_option("--wal", options->wal_path,
                   "A node data directory (with wal/ and snap/) or its wal/ directory")
      ->excludes(sel);
  lab::add_dir_option(dump, options->dir);
  dump->add_option("--from", options->from, "First entry index to show")
      ->check(CLI::NonNegativeNumber);
  dump->add_option("--to", options->to, "Last entry index to show")->check(CLI::NonNegativeNumber);
  dump->add_flag("--json", options->json, "Print one JSON document on stdout");
  dump->add_flag("--raw", options->raw,
                 "Show entry payloads as bytes instead of decoded commands and configurations");
  dump->callback([options] {
    if (options->from > options->to) {
      throw CLI::ValidationError("--from", "--from must not exceed --to");
    }
    lab::run_command([options] { return run_log_dump(*options); });
  });
  lab::setup_log_diff(*log);
}

namespace {

// One WAL: printed (or added to `docs` as JSON); returns 0 or 4 (docs/cli.md).
int dump_one(const std::string& path, const LogDumpOptions& options, json* doc) {
  persist::DumpReport report;
  try {
    report = persist::dump_wal(path, Index(options.from), Index(options.to));
  } catch (const std::exception& e) {
    std::cerr << "raftlab: cannot read " << path << ": " << e.what() << "\n";
    return lab::kExitEnvironment;
  }
  if (doc != nullptr) {
    *doc = to_json(report, options.raw);
  } else {
    print_text(report, options.raw);
  }
  if (report.corrupt) {
    std::cerr << "raftlab: the WAL is corrupt:";
    for (const auto& s : report.segments) {
      if (!s.header_problem.empty())
        std::cerr << "\n  " << s.path << " at offset 0: " << s.header_problem;
      for (const auto& rec : s.records) {
        if (!rec.problem.empty() && !rec.torn_tail) {
          std::cerr << "\n  " << s.path << " at offset " << rec.offset << ": " << rec.problem;
        }
      }
    }
    for (const auto& sn : report.snapshots) {
      if (sn.damaged) std::cerr << "\n  " << sn.path << " at offset 0: " << sn.problem;
    }
    for (const auto& p : report.problems) std::cerr << "\n  " << p;
    std::cerr << "\n";
    return lab::kExitEnvironment;
  }
  return 0;
}

}  // namespace

int run_log_dump(const LogDumpOptions& options) {
  if (!options.wal_path.empty()) {
    json doc;
    const int code = dump_one(options.wal_path, options, options.json ? &doc : nullptr);
    if (options.json && !doc.is_null()) {
      std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    }
    return code;
  }
  // Nodes of a cluster, live or stopped: their WAL files are read directly.
  const std::string dir = lab::absolute_dir(lab::resolve_dir(options.dir));
  const lab::ClusterSpec spec = lab::load_cluster(dir);
  const std::vector<NodeId> ids =
      lab::resolve_selector(options.selector.empty() ? "all" : options.selector, dir, spec);
  json nodes = json::array();
  int code = 0;
  for (NodeId id : ids) {
    const std::string path = lab::node_dir(dir, id);
    json doc;
    if (!options.json) std::cout << "== node " << id.get() << " (" << path << ")\n";
    code = std::max(code, dump_one(path, options, options.json ? &doc : nullptr));
    if (options.json) {
      doc["id"] = id.get();
      nodes.push_back(std::move(doc));
    }
  }
  if (options.json) {
    std::cout << json{{"nodes", nodes}}.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  }
  return code;
}

}  // namespace raftlab::cmd
