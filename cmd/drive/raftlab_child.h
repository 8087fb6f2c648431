// Running this very binary as a child (`raftlab partition ... --dir DIR --json`) with its
// output captured and a bound on its run: how the nemesis acts on a cluster, only through the
// public command line.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cmd/cluster/exit_codes.h"

namespace raftlab::lab {

struct CommandResult {
  int rc = -1;             // the exit code; 128+N when killed by signal N; -1 if not started
  bool timed_out = false;  // killed after the bound
  std::string out;
  std::string err;
  nlohmann::json doc;  // stdout parsed (null if it is not JSON)

  bool ok() const { return rc == 0 && !timed_out; }
  // A usage error or a refusal before anything was done: the fault is certainly not in force.
  bool certainly_nothing() const { return !timed_out && (rc == kExitUsage || rc < 0); }
};

/// Runs `exe ARGS --dir DIR --json` with stdin from /dev/null and stdout and stderr captured,
/// killed (SIGKILL, by its pid) and reaped if it runs past timeout_ms. posix_spawn: safe in a
/// process with other threads (the check runner's clients).
CommandResult run_raftlab(const std::string& exe, const std::string& dir,
                          const std::vector<std::string>& args, uint64_t timeout_ms);
/// The same with the whole argument list given (no --dir or --json added): `raftlab ui`'s
/// actions, whose argv puts `--` before values that may start with '-'.
CommandResult run_raftlab_argv(const std::string& exe, const std::vector<std::string>& args,
                               uint64_t timeout_ms);

/// The last line of a command's output, for a one-line message.
std::string last_line(std::string text);
/// "raftlab ARGS".
std::string command_text(const std::vector<std::string>& args);
/// What went wrong, for a message: "`raftlab ARGS` exited 4: <last line of stderr>".
std::string failure_text(const std::vector<std::string>& args, const CommandResult& r);

}  // namespace raftlab::lab
