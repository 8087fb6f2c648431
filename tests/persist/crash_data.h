// The entries the crash child writes: contents derived from the index, so a reader can check
// every recovered entry without knowing what the child did.
#pragma once

#include <string>

#include "node/types.h"

namespace raftlab::persist::test {

inline Entry expected_entry(uint64_t index) {
  Entry e;
  e.index = Index(index);
  e.term = Term(1);
  std::string data = "entry " + std::to_string(index) + " \"quoted\" \\ ";
  data.append(index * 7 % 300, static_cast<char>('a' + index % 26));
  if (index % 5 == 0) data.push_back('\x01');  // a byte JSON must escape
  e.data = std::move(data);
  return e;
}

}  // namespace raftlab::persist::test
