// The admin socket server of one node: a Unix stream socket speaking JSON lines
// (cmd/cluster/contract.h). This file knows lines, not JSON: each complete request line goes to
// the handler, whose answer is written back followed by '\n'. The commands themselves live in
// the node host (cmd/node_process/node_host.cc), which owns the state they read and change.
//
// Admin commands are never accepted over TCP: this server binds only a Unix socket, mode 0600
// (the umask is narrowed around bind, so there is no window where the socket is wider).
// A request line longer than line_bytes_max gets an error answer and the connection is closed.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <string_view>

namespace raftlab::net {

constexpr size_t kAdminConnectionsMax = 64;  // admin clients connected at once

class AdminServer {
 public:
  using Handler = std::function<std::string(std::string_view line)>;

  AdminServer(uv_loop_t* loop, size_t line_bytes_max, Handler handler, std::string log_prefix);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// Binds `path` (relative to the working directory: sun_path holds at most 107 bytes, so
  /// the caller chdirs into the node directory first) and listens. A stale socket file left by
  /// a killed node is replaced; one that a live process answers on is not. Returns "" or the
  /// error.
  std::string start(const std::string& path);
  /// Stops accepting; connections are shut down after their pending answers are written.
  void close();

  struct Conn;

 private:
  friend struct AdminCallbacks;
  void on_accept();
  void on_read(Conn* conn, const char* data, size_t size);
  void write_line(Conn* conn, std::string line);
  void finish_conn(Conn* conn);  // shutdown (flushes writes), then close

  uv_loop_t* loop_;
  size_t line_bytes_max_;
  Handler handler_;
  std::string log_prefix_;
  uv_pipe_t* listener_ = nullptr;  // owned; freed in its close callback
  std::set<Conn*> conns_;          // each freed in its close callback
  bool closed_ = false;
};

}  // namespace raftlab::net
