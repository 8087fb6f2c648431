// The HTML timeline of a checked history: one self-contained file (inline CSS, SVG and a few
// lines of JavaScript, no external resources).
//
// Layout: one group per key (a select box shows one key or all; the violating key first),
// one row per process within it, each operation a bar from its invoke to its completion,
// colored by outcome (ok green, fail grey, info orange; info and pending operations are drawn
// open-ended to the end of the history, dashed, since they may take effect at any time).
// Labels (f and value) are drawn only where the bar is wide enough; every bar has a tooltip
// with the whole operation. Nemesis events are vertical markers across all rows with their
// text; a fault (partition, pause, kill, ...) is a shaded band from its event to the event
// that ends it (heal, resume, start/restart). The violation window's operations are outlined
// in red and listed at the top. All text is HTML-escaped.
#pragma once

#include <string>
#include <string_view>

#include "cmd/checker/history.h"
#include "cmd/checker/linearize.h"

namespace raftlab::check {

std::string render_html(const History& history, const CheckResult& result);

/// Escapes &, <, >, " and ' (and replaces control characters) for HTML text and attributes.
std::string html_escape(std::string_view text);

}  // namespace raftlab::check
