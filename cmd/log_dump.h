// `raftlab log dump`: the entries, hard state and snapshots in a node's data directory, read
// straight from the files (works on stopped nodes and copied directories).
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace CLI {
class App;
}

namespace raftlab::cmd {

struct LogDumpOptions {
  std::string wal_path;  // --wal: a node data directory or its wal/ directory
  std::string selector;  // SEL: nodes of the cluster at --dir (default all, without --wal)
  std::string dir;       // --dir, else $RAFTLAB_DIR, else ./raftlab-data
  uint64_t from = 0;
  uint64_t to = std::numeric_limits<uint64_t>::max();
  bool json = false;
  bool raw = false;  // --raw: payloads as bytes (the form before commands were decoded)
};

/// Adds `log` and its `dump` subcommand.
void setup_log(CLI::App& app);
/// Returns the exit code: 0, or 4 when the WAL is corrupt or unreadable (docs/cli.md).
int run_log_dump(const LogDumpOptions& options);

}  // namespace raftlab::cmd
