// The summary `raftlab check` prints: as text for people, as one JSON document for scripts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cmd/checker/history.h"
#include "cmd/checker/linearize.h"

namespace raftlab::check {

/// The text report: verdict, ops ok/fail/info per f, nemesis events, per-key verdicts (one
/// line when all are linearizable), checker time, and the violation window if any.
std::string report_text(const History& history, const CheckResult& result);

/// The same as JSON, snake_case and stable:
///   {"verdict": "linearizable|not_linearizable|unknown",
///    "ops": {"total": 12, "by_f": {"put": {"ok": 5, "fail": 1, "info": 0, "pending": 0}}},
///    "processes": 4, "lines": 24,
///    "nemesis": {"events": 2, "by_f": {"partition": 1, "heal": 1}},
///    "keys": [{"key": "x", "verdict": "...", "ops_checked": 10, "ops_failed": 1,
///              "ops_dropped": 1, "states_explored": 42, "checker_ms": 0.1,
///              "unknown_reason": null}],
///    "checker_ms": 0.4, "states_explored": 42, "memory_peak_bytes": 65536,
///    "violation": null | {"key": "x", "state": "2" | null, "before": [op...],
///                         "window": [op...], "stuck": op, "stuck_state": "2" | null,
///                         "writers": [op...] (who wrote the value `stuck` needed),
///                         "deepest": 3, "shrunk": true, "verified": true}}
/// where op is {"index": 7, "process": 2, "f": "get", "type": "ok|fail|info|pending",
/// "value": "1" | null, "expected": (cas only), "call_time": 40, "return_time": 50 | null,
/// "call_line": 5, "return_line": 6 | null}. Strings hold the history's bytes: dump with
/// nlohmann::json::error_handler_t::replace if they may not be UTF-8.
nlohmann::json report_json(const History& history, const CheckResult& result);

/// The violation the reports show: the first key's that has one (nullptr: none).
const Violation* first_violation(const CheckResult& result);

/// A readable, bounded rendering of a value for reports: quoted, escaped, cut after
/// `max_bytes` ("null" for nullopt is the caller's business).
std::string show_value(std::string_view value, size_t max_bytes = 40);
/// A duration in ns as "850ns", "12.3us", "4.56ms", "1.234s".
std::string show_duration(int64_t ns);
/// One operation on one line: "p2 get -> \"1\"  +40ns..+50ns  lines 5-6".
std::string show_op(const History& history, size_t op_index);

}  // namespace raftlab::check
