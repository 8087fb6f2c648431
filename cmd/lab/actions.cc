// DIR/actions.jsonl (see actions.h).
#include "cmd/lab/actions.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cmd/cluster/clock.h"
#include "cmd/cluster/contract.h"

namespace raftlab::lab {

void record_action(const std::string& dir, std::string_view verb, const std::vector<NodeId>& nodes,
                   const std::string& text) {
  nlohmann::json ids = nlohmann::json::array();
  for (NodeId id : nodes) ids.push_back(id.get());
  const nlohmann::json line = {
      {"t", monotonic_ns()}, {"verb", std::string(verb)}, {"nodes", ids}, {"text", text}};
  const std::string bytes =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const std::string path = dir + "/" + std::string(kActionsFile);
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  ssize_t n = -1;
  int err = errno;
  if (fd >= 0) {
    do {
      n = ::write(fd, bytes.data(), bytes.size());
    } while (n < 0 && errno == EINTR);
    err = errno;
    ::close(fd);
  }
  if (n != static_cast<ssize_t>(bytes.size())) {
    std::cerr << "raftlab: warning: cannot record the action in " << path << ": "
              << (n < 0 ? std::strerror(err) : "short write") << "\n";
  }
}

}  // namespace raftlab::lab
