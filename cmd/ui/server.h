// `raftlab ui`'s HTTP server (cpp-httplib) on 127.0.0.1: the page, /api/state, /api/events
// (server-sent events), /api/timeline and POST /api/action. The endpoints and their documents
// are docs/cli.md's `ui` row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace raftlab::ui {

constexpr size_t kUiClientsMax = 16;                 // SSE clients at once; beyond: 503
constexpr size_t kUiThreadsMax = kUiClientsMax + 8;  // each SSE client holds a thread
constexpr uint64_t kUiActionTimeoutMs = 10000;       // one action's command, then SIGKILL

struct UiOptions {
  std::string dir;  // absolute
  int port = 0;     // 0: a free one
  bool open = false;
};

/// Serves until SIGINT or SIGTERM: 0; 4 when the port is in use or DIR has no cluster.
int run_ui_server(const UiOptions& o);

}  // namespace raftlab::ui
