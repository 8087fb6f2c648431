// The exit codes of every `raftlab` verb (docs/cli.md), defined once, and the error that carries
// one. Shared by the CLI and the node process (`raftlab node` exits with them too).
#pragma once

#include <stdexcept>
#include <string>

namespace raftlab::lab {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;       // a verdict or answer that is certain: not linearizable,
                                     // key absent, logs differ, cas found another value
constexpr int kExitUsage = 2;        // a bad command line or input file; nothing was changed
constexpr int kExitTimeout = 3;      // a bound ran out, or the outcome is unknown
constexpr int kExitEnvironment = 4;  // no cluster, node down, corrupt WAL, port in use, disk full

/// An error that maps to one of the exit codes above.
class LabError : public std::runtime_error {
 public:
  LabError(int exit_code, const std::string& what)
      : std::runtime_error(what), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace raftlab::lab
