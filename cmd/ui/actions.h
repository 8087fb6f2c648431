// `raftlab ui`'s POST /api/action: a JSON request checked field by field and turned into the
// argv of the CLI verb that does it (`{"verb": "kill", "node": 3}` -> `raftlab kill 3 --dir
// DIR`), so an action from the page runs the same code, locks, exit codes and actions.jsonl
// records as the command line. A request that fails a check gets a message and runs nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace raftlab::ui {

constexpr size_t kUiBodyBytesMax = 64 * 1024;     // a bigger request body is refused (400)
constexpr size_t kUiActionIdsMax = 1024;          // deliver/drop: message ids per request
constexpr size_t kUiActionStringBytesMax = 4096;  // any one string field (key, value, type)

/// A checked request: the argv after the program name (`kill 3 --dir DIR`), or why not.
struct ActionArgs {
  std::vector<std::string> args;  // empty when `error` is set
  std::string error;              // "" when the request is good
  bool ok() const { return error.empty(); }
};

/// Checks `body` (a JSON object with "verb" and that verb's fields, as docs/cli.md's `ui` row
/// lists them) against the cluster's node ids and builds the verb's argv for cluster `dir`.
ActionArgs action_args(std::string_view body, const std::vector<uint64_t>& node_ids,
                       const std::string& dir);

}  // namespace raftlab::ui
