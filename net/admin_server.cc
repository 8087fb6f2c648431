// The admin socket server (see admin_server.h).
#include "net/admin_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace raftlab::net {

constexpr size_t kAdminReadChunkBytes = 16u << 10;

struct AdminServer::Conn {
  uv_pipe_t pipe{};
  uv_shutdown_t shutdown_req{};
  AdminServer* owner = nullptr;
  std::string in;        // bytes of the request line not yet complete
  bool closing = false;  // shutdown or close started: ignore further input
  char read_buf[kAdminReadChunkBytes];
};

namespace {

struct AdminWrite {
  uv_write_t req{};  // req.data points to this
  std::string data;
};

// True if a process accepts connections on the socket at `path` (a live node owns it).
bool socket_is_live(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  const bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return live;
}

}  // namespace

struct AdminCallbacks {
  static void conn_close_cb(uv_handle_t* h) {
    auto* conn = static_cast<AdminServer::Conn*>(h->data);
    conn->owner->conns_.erase(conn);
    delete conn;
  }
  static void listener_close_cb(uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); }
  static void alloc_cb(uv_handle_t* h, size_t /*suggested*/, uv_buf_t* buf) {
    auto* conn = static_cast<AdminServer::Conn*>(h->data);
    *buf = uv_buf_init(conn->read_buf, sizeof(conn->read_buf));
  }
  static void read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* conn = static_cast<AdminServer::Conn*>(s->data);
    if (nread > 0) {
      conn->owner->on_read(conn, buf->base, static_cast<size_t>(nread));
    } else if (nread < 0) {
      conn->owner->finish_conn(conn);
    }
  }
  static void write_cb(uv_write_t* req, int /*status*/) {
    // A client that went away before reading its answer is its own business.
    delete static_cast<AdminWrite*>(req->data);
  }
  static void shutdown_cb(uv_shutdown_t* req, int /*status*/) {
    auto* conn = static_cast<AdminServer::Conn*>(req->data);
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->pipe), conn_close_cb);
  }
  static void connection_cb(uv_stream_t* server, int status) {
    auto* self = static_cast<AdminServer*>(server->data);
    if (status == 0) self->on_accept();
  }
};

AdminServer::AdminServer(uv_loop_t* loop, size_t line_bytes_max, Handler handler,
                         std::string log_prefix)
    : loop_(loop),
      line_bytes_max_(line_bytes_max),
      handler_(std::move(handler)),
      log_prefix_(std::move(log_prefix)) {}

AdminServer::~AdminServer() {
  if (!closed_ && listener_ != nullptr) {
    std::fprintf(stderr, "%s: admin server destroyed without close()\n", log_prefix_.c_str());
  }
}

std::string AdminServer::start(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return "admin socket path '" + path + "' is longer than sun_path allows";
  }
  if (socket_is_live(path)) return "another process is serving " + path;
  ::unlink(path.c_str());  // a stale socket left by a node that was killed
  listener_ = new uv_pipe_t;
  uv_pipe_init(loop_, listener_, 0);
  listener_->data = this;
  // 0600 from the moment the socket exists: narrow the umask around bind.
  const mode_t old_mask = ::umask(0177);
  int rc = uv_pipe_bind(listener_, path.c_str());
  ::umask(old_mask);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 16, AdminCallbacks::connection_cb);
  }
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_), AdminCallbacks::listener_close_cb);
    listener_ = nullptr;
    return "cannot listen on " + path + ": " + uv_strerror(rc);
  }
  ::chmod(path.c_str(), 0600);  // belt and braces: the mode is the access control
  return {};
}

void AdminServer::close() {
  if (closed_) return;
  closed_ = true;
  if (listener_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_), AdminCallbacks::listener_close_cb);
    listener_ = nullptr;
  }
  for (Conn* c : std::set<Conn*>(conns_)) finish_conn(c);
}

void AdminServer::on_accept() {
  auto* conn = new Conn;
  conn->owner = this;
  uv_pipe_init(loop_, &conn->pipe, 0);
  conn->pipe.data = conn;
  conn->shutdown_req.data = conn;
  conns_.insert(conn);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_),
                reinterpret_cast<uv_stream_t*>(&conn->pipe)) != 0 ||
      conns_.size() > kAdminConnectionsMax) {
    conn->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->pipe), AdminCallbacks::conn_close_cb);
    return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&conn->pipe), AdminCallbacks::alloc_cb,
                AdminCallbacks::read_cb);
}

void AdminServer::on_read(Conn* conn, const char* data, size_t size) {
  if (conn->closing) return;
  conn->in.append(data, size);
  size_t start = 0;
  for (;;) {
    const size_t nl = conn->in.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(conn->in.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = nl + 1;
    if (line.empty()) continue;
    // The handler may close this server (the "shutdown" command); the answer still goes out
    // because finish_conn shuts the stream down only after pending writes.
    std::string answer = handler_(line);
    write_line(conn, std::move(answer));
    if (conn->closing) return;
  }
  conn->in.erase(0, start);
  if (conn->in.size() > line_bytes_max_) {
    write_line(conn, "{\"ok\":false,\"error\":\"request line exceeds " +
                         std::to_string(line_bytes_max_) + " bytes\"}");
    std::fprintf(stderr, "%s: admin request line over %zu bytes; connection closed\n",
                 log_prefix_.c_str(), line_bytes_max_);
    finish_conn(conn);
  }
}

void AdminServer::write_line(Conn* conn, std::string line) {
  auto* w = new AdminWrite;
  w->req.data = w;
  w->data = std::move(line);
  w->data.push_back('\n');
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&conn->pipe), &buf, 1,
               AdminCallbacks::write_cb) != 0) {
    delete w;
    finish_conn(conn);
  }
}

void AdminServer::finish_conn(Conn* conn) {
  if (conn->closing) return;
  conn->closing = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&conn->pipe));
  // uv_shutdown waits for queued writes, so an answer is never cut off by the close.
  if (uv_shutdown(&conn->shutdown_req, reinterpret_cast<uv_stream_t*>(&conn->pipe),
                  AdminCallbacks::shutdown_cb) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->pipe), AdminCallbacks::conn_close_cb);
  }
}

}  // namespace raftlab::net
