// Parsing the command line's values: durations (`150ms`, `2s`, `1m`), ratios (`10%`, `0.1`),
// node ids and selectors, and the CLI11 validators built on them, so a bad value is a usage
// error (exit 2) naming the flag.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace CLI {
class Validator;
}  // namespace CLI

namespace raftlab::lab {

constexpr uint64_t kNodeIdMax = 4'294'967'295;  // ids are 32-bit on the command line

/// A whole decimal number of at most 19 digits; nullopt otherwise (signs, spaces, empty).
std::optional<uint64_t> parse_u64(const std::string& text);
/// Milliseconds in "150ms", "2s", "1m"; nullopt if malformed or without a unit ("5" is
/// refused: is it 5 ms or 5 s?).
std::optional<uint64_t> parse_duration_ms(const std::string& text);
/// "10%" -> 0.1, "0.1" -> 0.1; nullopt if malformed or outside [0, 1].
std::optional<double> parse_ratio(const std::string& text);
/// "150ms-300ms" -> {150, 300}; nullopt if malformed or min > max.
std::optional<std::pair<uint64_t, uint64_t>> parse_duration_range(const std::string& text);

/// CLI11 validators, so a bad value is a usage error (exit 2) naming the flag.
const CLI::Validator& duration_validator();
/// As duration_validator, and more than zero (timeouts, intervals).
const CLI::Validator& positive_duration_validator();
const CLI::Validator& duration_range_validator();
/// A node id: 1 to kNodeIdMax.
const CLI::Validator& node_id_validator();
const CLI::Validator& ratio_validator();
/// Syntax of a selector: an id, a list `1,3`, `leader`, `followers`, `all`, `random`.
const CLI::Validator& selector_validator();

}  // namespace raftlab::lab
