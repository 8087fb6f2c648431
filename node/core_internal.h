// Helpers shared by the files that implement Core (core.cc, core_election.cc, ...). Private to
// them: nothing outside node/core*.cc includes this header.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace raftlab::core_internal {

inline std::string str(uint64_t v) { return std::to_string(v); }

// A broken invariant is a bug in the core or its host: throw, so tests and the simulator stop
// at the first one.
[[noreturn]] inline void fail(const std::string& what) {
  throw std::logic_error("invariant: " + what);
}

}  // namespace raftlab::core_internal
