// Test helper for the `log diff` scenario: writes a node's WAL with entries of given terms,
// so logs that diverge (as after a deposed leader appended alone) can be made without a
// cluster. Usage: make_wal NODE_DIR TERM[,TERM...]   (entry i has the i-th term, data "e<i>t<T>")
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "persist/wal.h"

int main(int argc, char** argv) {
  using namespace raftlab;
  if (argc != 3) {
    std::cerr << "usage: make_wal NODE_DIR TERM[,TERM...]\n";
    return 2;
  }
  persist::WalOptions options;
  options.fsync = false;
  persist::Recovered recovered;
  auto wal = persist::Wal::open(std::string(argv[1]) + "/wal", options, std::nullopt, &recovered);
  std::vector<Entry> entries;
  std::stringstream terms(argv[2]);
  std::string t;
  uint64_t last_term = 0;
  while (std::getline(terms, t, ',')) {
    const uint64_t i = entries.size() + 1;
    last_term = std::strtoull(t.c_str(), nullptr, 10);
    entries.push_back(Entry{.term = Term(last_term),
                            .index = Index(i),
                            .type = EntryType::kNormal,
                            .data = "e" + std::to_string(i) + "t" + t});
  }
  wal->write(HardState{Term(last_term), NodeId(), Index(0)}, entries);
  wal->sync();
  return 0;
}
