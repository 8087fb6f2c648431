// The HTML timeline of a checked history: one self-contained file (inline CSS and JavaScript,
// no external resources), which opens on an overview of the whole run.
//
// The page: the verdict, the violation in words and as a table, the text report, then the
// timeline drawn by timeline_view.h from one JSON document the C++ writes here (data, not
// drawing: the page draws only the visible range, so a 20,000-operation history stays fluid):
//   {"verdict": "...", "t1": span in ns (times are ns since the first line),
//    "keys": [{"name", "ops", "verdict", "procs": ["p3", ...]}]   (violating key first),
//    "ops": {"k": [key position], "r": [row in its key], "s": [call], "e": [return; the end of
//            the run for info/pending], "o": [0 ok, 1 fail, 2 info/pending],
//            "m": [0, 1 before the window or a writer, 2 in the window, 3 stuck], "l": [label],
//            "tip": [..]},
//    "bands": [{"from", "to", "family": "net|pause|kill", "text"}]   (fault periods),
//    "marks": [{"t", "text"}]   (every nemesis event),
//    "lanes": [{"node", "bands": [{"from", "to", "role", "term"}]}]   (cluster_lanes.h; empty
//            without a cluster directory),
//    "violation": null | {"key": position, "ops": [window], "stuck", "from", "to"}}
//   (from..to spans the window, the ops before it and the writers: what a click frames)
// A fault (partition, pause, kill, ...) is a band from its event to the event that ends it
// (heal, resume, start/restart). All text is HTML-escaped, and '<' in the JSON is \u003c.
#pragma once

#include <string>
#include <string_view>

#include <vector>

#include "cmd/checker/cluster_lanes.h"
#include "cmd/checker/history.h"
#include "cmd/checker/linearize.h"

namespace raftlab::check {

/// The page; `lanes` (load_lanes) are drawn above the client operations when given.
std::string render_html(const History& history, const CheckResult& result,
                        const std::vector<Lane>& lanes = {});

/// Escapes &, <, >, " and ' (and replaces control characters) for HTML text and attributes.
std::string html_escape(std::string_view text);

}  // namespace raftlab::check
