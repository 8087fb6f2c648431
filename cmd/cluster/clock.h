// The one clock of the lab: CLOCK_MONOTONIC in nanoseconds. Histories, events.jsonl, node.log
// stamps and latencies all use it, so lines from different processes merge in time order, and
// no fault or NTP step can move it.
#pragma once

#include <time.h>

#include <cstdint>

namespace raftlab::lab {

inline uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace raftlab::lab
