// `raftlab check --history FILE`: load a history, check it, report, and map the outcome to the
// exit code of docs/cli.md: 0 linearizable, 1 not linearizable, 2 malformed history, 3 unknown
// (the checker's time or memory bound), 4 file missing or unreadable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "cmd/checker/history.h"
#include "cmd/checker/linearize.h"
#include "cmd/cluster/exit_codes.h"

namespace raftlab::check {

// The verdicts' names for the CLI's exit codes (cmd/cluster/exit_codes.h, header-only, so the
// checker library still depends on nothing of node/ or net/).
constexpr int kExitLinearizable = lab::kExitOk;
constexpr int kExitNotLinearizable = lab::kExitFailed;
constexpr int kExitMalformed = lab::kExitUsage;
constexpr int kExitUnknown = lab::kExitTimeout;
constexpr int kExitFile = lab::kExitEnvironment;

struct CheckFileOptions {
  std::string history_path;
  std::string html_path;  // written when set, whatever the verdict
  std::string lanes_dir;  // a cluster directory: the page draws its nodes' lanes (may be "")
  bool json = false;      // exactly one JSON document (report_json) on stdout
  uint64_t time_limit_ms = 60000;
  size_t memory_limit_bytes = 1ull << 30;
};

/// Checks the file at options.history_path. The report goes to stdout, errors to stderr
/// ("raftlab check: FILE line N: ..."). Returns the exit code.
int check_history_file(const CheckFileOptions& options);

/// Checks a history already in memory (options.history_path only names it in messages).
int check_history(const History& history, const CheckFileOptions& options);

/// The exit code for a verdict.
int exit_code(Verdict verdict);

}  // namespace raftlab::check
