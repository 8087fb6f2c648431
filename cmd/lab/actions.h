// DIR/actions.jsonl (docs/trace.md): what each CLI command did to the cluster, with its time on
// the lab's one clock, so `raftlab timeline` draws a kill, a partition or a heal where it
// happened among the nodes' traces.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "node/types.h"

namespace raftlab::lab {

/// Appends one line {"t", "verb", "nodes", "text"} to DIR/actions.jsonl in one write(2)
/// (O_APPEND: lines of concurrent commands never interleave). Called after the command acted,
/// only when it succeeded. A failure to record is reported on stderr and does not fail the
/// command: what it did is done.
void record_action(const std::string& dir, std::string_view verb, const std::vector<NodeId>& nodes,
                   const std::string& text);

}  // namespace raftlab::lab
