// The parts of the timeline page's data that come from decisions, actions and the history
// (html.cc writes the messages): see page_view.h for how the page reads them.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>

#include "cmd/timeline/model.h"

namespace raftlab::timeline {

/// Microseconds since the timeline's first record: the page's time unit.
inline int64_t us(const Timeline& tl, int64_t t) { return (t - tl.t0) / 1000; }

/// Per lane (node): "r" role bands [start, end, role code, term]..., "g" log steps
/// [time delta, kind, first, last - first, term]... and "e" decision marks {"t", "x"}.
nlohmann::json page_lanes(const Timeline& tl, const std::map<uint32_t, int>& lane);
/// {"bands": [{from, to, fam, text, lanes}], "marks": [{t, text}]} from the CLI's actions.
nlohmann::json page_faults(const Timeline& tl, const std::map<uint32_t, int>& lane);
/// The history's client operations: {"p", "s", "e", "o", "l"} (empty without --history).
nlohmann::json page_ops(const Timeline& tl);

}  // namespace raftlab::timeline
