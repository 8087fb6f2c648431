// Parsing the command line's values and their CLI11 validators (see parse.h).
#include "cmd/lab/parse.h"

#include <CLI/CLI.hpp>
#include <exception>

namespace raftlab::lab {

std::optional<uint64_t> parse_u64(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::optional<uint64_t> parse_duration_ms(const std::string& text) {
  size_t k = 0;
  while (k < text.size() && text[k] >= '0' && text[k] <= '9') ++k;
  const std::optional<uint64_t> n = parse_u64(text.substr(0, k));
  if (!n || *n > (uint64_t{1} << 40)) return std::nullopt;
  const std::string unit = text.substr(k);
  // A bare number is refused: `--duration 5` meaning 5 ms ran a check that injected nothing.
  if (unit == "ms") return *n;
  if (unit == "s") return *n * 1000;
  if (unit == "m") return *n * 60'000;
  return std::nullopt;
}

std::optional<double> parse_ratio(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const bool percent = text.back() == '%';
  const std::string number = percent ? text.substr(0, text.size() - 1) : text;
  if (number.empty() || number.find_first_not_of("0123456789.") != std::string::npos) {
    return std::nullopt;
  }
  double v = 0;
  try {
    size_t used = 0;
    v = std::stod(number, &used);
    if (used != number.size()) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (percent) v /= 100;
  if (!(v >= 0 && v <= 1)) return std::nullopt;
  return v;
}

std::optional<std::pair<uint64_t, uint64_t>> parse_duration_range(const std::string& text) {
  const size_t dash = text.find('-');
  if (dash == std::string::npos) {
    const auto one = parse_duration_ms(text);
    if (!one || *one == 0) return std::nullopt;
    return std::make_pair(*one, *one * 2);
  }
  const auto lo = parse_duration_ms(text.substr(0, dash));
  const auto hi = parse_duration_ms(text.substr(dash + 1));
  if (!lo || !hi || *lo == 0 || *lo > *hi) return std::nullopt;
  return std::make_pair(*lo, *hi);
}

namespace {
std::string bad_duration(const std::string& text) {
  return "bad duration '" + text + "': write a number with a unit: 150ms, 2s or 1m";
}
}  // namespace

const CLI::Validator& duration_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string { return parse_duration_ms(s) ? "" : bad_duration(s); },
      "DURATION");
  return v;
}

const CLI::Validator& positive_duration_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        const auto ms = parse_duration_ms(s);
        if (!ms) return bad_duration(s);
        return *ms == 0 ? "a duration of zero means nothing here: give at least 1ms" : "";
      },
      "DURATION");
  return v;
}

const CLI::Validator& node_id_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        const auto id = parse_u64(s);
        if (id && *id >= 1 && *id <= kNodeIdMax) return "";
        return "bad node id '" + s + "': a whole number from 1 to " + std::to_string(kNodeIdMax);
      },
      "ID");
  return v;
}

const CLI::Validator& duration_range_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        return parse_duration_range(s) ? "" : "bad duration range '" + s + "' (write 150ms-300ms)";
      },
      "MIN-MAX");
  return v;
}

const CLI::Validator& ratio_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        return parse_ratio(s) ? "" : "bad ratio '" + s + "' (write 10% or 0.1, at most 100%)";
      },
      "RATIO");
  return v;
}

const CLI::Validator& selector_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        if (s == "leader" || s == "followers" || s == "all" || s == "random") return "";
        bool ok = !s.empty();
        for (size_t start = 0; ok && start <= s.size();) {
          size_t end = s.find(',', start);
          if (end == std::string::npos) end = s.size();
          const auto id = parse_u64(s.substr(start, end - start));
          ok = id && *id != 0;
          start = end + 1;
        }
        if (ok) return "";
        return "bad node selector '" + s + "' (write 2, 1,3, leader, followers, all or random)";
      },
      "SEL");
  return v;
}

}  // namespace raftlab::lab
