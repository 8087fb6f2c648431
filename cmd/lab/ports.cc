// Ports on 127.0.0.1 (see ports.h).
#include "cmd/lab/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/process.h"

namespace raftlab::lab {
namespace {

using Clock = std::chrono::steady_clock;

// A socket bound to 127.0.0.1:port (0: the kernel chooses), or -1.
int bind_loopback(uint16_t port, bool reuse) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  if (reuse) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as libuv binds
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

}  // namespace

uint16_t pick_free_port(std::vector<int>& held) {
  // Below the kernel's ephemeral range when there is room: a port from that range, once its
  // node is killed, can be taken at once by any outgoing connection (a peer reconnecting, say),
  // and the restarted node could not bind it again.
  uint32_t ephemeral_lo = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_lo;
  constexpr uint32_t kLabPortMin = 10000;
  constexpr int kTriesMax = 200;
  if (ephemeral_lo > kLabPortMin + 1000) {
    std::random_device rd;
    std::uniform_int_distribution<uint32_t> pick(kLabPortMin, ephemeral_lo - 1);
    for (int k = 0; k < kTriesMax; ++k) {
      const auto port = static_cast<uint16_t>(pick(rd));
      const int fd = bind_loopback(port, false);
      if (fd >= 0) {
        held.push_back(fd);
        return port;
      }
    }
  }
  const int fd = bind_loopback(0, false);
  if (fd < 0) {
    throw LabError(kExitEnvironment,
                   std::string("cannot find a free port: ") + std::strerror(errno));
  }
  held.push_back(fd);
  return bound_port(fd);
}

void close_held(std::vector<int>& held) {
  for (int fd : held) ::close(fd);
  held.clear();
}

bool port_free(uint16_t port) {
  const int fd = bind_loopback(port, true);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

bool wait_port_free(uint16_t port) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(kPortWaitMs);
  while (!port_free(port)) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
  }
  return true;
}

}  // namespace raftlab::lab
