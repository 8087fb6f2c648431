// Ports on 127.0.0.1: a free one for a new node, and whether a node's port is free again.
#pragma once

#include <cstdint>
#include <vector>

namespace raftlab::lab {

constexpr uint32_t kPortWaitMs = 2000;  // a just-killed node's port may linger this long

/// A port on 127.0.0.1 that is free now (bind to port 0). `held` keeps the sockets open so
/// several calls never return the same port; close them with close_held().
uint16_t pick_free_port(std::vector<int>& held);
void close_held(std::vector<int>& held);
/// True if 127.0.0.1:port can be bound now.
bool port_free(uint16_t port);
/// port_free, retried for up to kPortWaitMs (a just-killed node's port may linger briefly).
bool wait_port_free(uint16_t port);

}  // namespace raftlab::lab
