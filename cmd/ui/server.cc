// `raftlab ui`'s HTTP server (see server.h). cpp-httplib serves each connection on a thread of
// its pool (kUiThreadsMax); an SSE client keeps its thread, so their number is capped below the
// pool's. SIGINT and SIGTERM are blocked in every thread and taken by one thread with
// sigtimedwait, which stops the server from outside any signal handler.
#include "cmd/ui/server.h"

#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cmd/cluster/exit_codes.h"
#include "cmd/drive/raftlab_child.h"
#include "cmd/timeline/model.h"
#include "cmd/ui/actions.h"
#include "cmd/ui/live.h"
#include "cmd/ui/page.h"

extern char** environ;

namespace raftlab::ui {
namespace {

using nlohmann::json;

constexpr uint32_t kSseWaitMs = 250;         // an SSE thread's wait for a frame, then it re-checks
constexpr long kSignalPollNs = 200'000'000;  // the signal thread's wait, then it re-checks
// httplib answers 413 past this; up to it, a body over kUiBodyBytesMax gets our 400.
constexpr size_t kUiPayloadBytesMax = 16 * kUiBodyBytesMax;
constexpr const char* kPaths[] = {"/", "/api/state", "/api/events", "/api/timeline", "/api/action"};

void send_json(httplib::Response& res, int status, const json& doc) {
  res.status = status;
  res.set_content(doc.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& error) {
  send_json(res, status, {{"ok", false}, {"error", error}});
}

class UiServer {
 public:
  UiServer(const UiOptions& o, Live& live) : o_(o), live_(live) {
    std::error_code ec;
    exe_ = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  }

  httplib::Server& http() { return svr_; }
  void set_port(int port) { port_ = port; }

  void routes() {
    svr_.new_task_queue = [] { return new httplib::ThreadPool(kUiThreadsMax); };
    svr_.set_payload_max_length(kUiPayloadBytesMax);
    // httplib's default sets SO_REUSEPORT, which lets a second ui bind a port in use and share
    // it silently; SO_REUSEADDR alone still allows a port in TIME_WAIT.
    svr_.set_socket_options([](int sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    svr_.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return guard(req, res); });
    svr_.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kUiPage, "text/html; charset=utf-8");
    });
    svr_.Get("/api/state", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(live_.state(), "application/json");
    });
    svr_.Get("/api/events",
             [this](const httplib::Request&, httplib::Response& res) { events(res); });
    svr_.Get("/api/timeline",
             [this](const httplib::Request&, httplib::Response& res) { timeline(res); });
    svr_.Post("/api/action",
              [this](const httplib::Request& req, httplib::Response& res) { action(req, res); });
    const auto not_allowed = [](const httplib::Request& req, httplib::Response& res) {
      send_error(res, 405, req.method + " is not allowed on " + req.path);
    };
    for (const char* path : kPaths) {
      if (std::string(path) != "/api/action") svr_.Post(path, not_allowed);
      if (std::string(path) == "/api/action") svr_.Get(path, not_allowed);
      svr_.Put(path, not_allowed);
      svr_.Patch(path, not_allowed);
      svr_.Delete(path, not_allowed);
      svr_.Options(path, not_allowed);
    }
  }

 private:
  // Only this machine, through the address the ui printed: a peer that is not 127.0.0.1, a
  // Host header naming another name (DNS rebinding) or a POST from another page's origin
  // (a cross-site form) gets 403.
  httplib::Server::HandlerResponse guard(const httplib::Request& req, httplib::Response& res) {
    const std::string self = "127.0.0.1:" + std::to_string(port_);
    const std::string host = req.get_header_value("Host");
    const std::string origin = req.get_header_value("Origin");
    std::string why;
    if (req.remote_addr != "127.0.0.1") {
      why = "only 127.0.0.1 may connect";
    } else if (!host.empty() && host != self && host != "localhost:" + std::to_string(port_)) {
      why = "Host must be " + self;
    } else if (!origin.empty() && origin != "http://" + self &&
               origin != "http://localhost:" + std::to_string(port_)) {
      why = "requests from " + origin + " are not accepted";
    }
    if (why.empty()) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, 403, why);
    return httplib::Server::HandlerResponse::Handled;
  }

  // Server-sent events: a state event at once, then per frame the trace batch (if any) and the
  // state. The provider returns false (ending the response) when the client is gone.
  void events(httplib::Response& res) {
    if (clients_.fetch_add(1) >= kUiClientsMax) {
      clients_.fetch_sub(1);
      send_error(res, 503, "more than " + std::to_string(kUiClientsMax) + " event clients");
      return;
    }
    auto cursor = std::make_shared<Cursor>(live_.cursor());
    auto first = std::make_shared<bool>(true);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, cursor, first](size_t, httplib::DataSink& sink) {
          std::string state, trace;
          if (*first) {
            *first = false;
            state = live_.state();
          } else if (!live_.next(*cursor, state, trace, kSseWaitMs)) {
            if (live_.stopping()) sink.done();
            return true;
          }
          std::string out;
          if (!trace.empty()) out += "event: trace\ndata: " + trace + "\n\n";
          out += "event: state\ndata: " + state + "\n\n";
          return sink.write(out.data(), out.size());
        },
        [this](bool) { clients_.fetch_sub(1); });
  }

  void timeline(httplib::Response& res) {
    try {
      res.set_content(timeline::page_json(timeline::build(timeline::read_dir(o_.dir))).dump(),
                      "application/json");
    } catch (const std::exception& e) {
      send_error(res, 500, e.what());
    }
  }

  // The verb's own command, run as `raftlab VERB ... --dir DIR` (never a shell), bounded.
  void action(const httplib::Request& req, httplib::Response& res) {
    const ActionArgs a = action_args(req.body, live_.node_ids(), o_.dir);
    if (!a.ok()) {
      send_error(res, 400, a.error);
      return;
    }
    const lab::CommandResult r = lab::run_raftlab_argv(exe_, a.args, kUiActionTimeoutMs);
    live_.poke();  // the page sees the change in the next state event
    std::string output = r.out + r.err;
    if (r.timed_out) output += "killed after " + std::to_string(kUiActionTimeoutMs) + " ms\n";
    send_json(res, 200, {{"ok", r.ok()}, {"exit", r.rc}, {"output", output}});
  }

  const UiOptions& o_;
  Live& live_;
  std::string exe_;
  int port_ = 0;
  httplib::Server svr_;
  std::atomic<size_t> clients_{0};
};

// `xdg-open URL` when it is on PATH (not waited for: the signal thread reaps nothing, the
// child is reparented to init when the ui exits).
void open_browser(const std::string& url) {
  const char* path = std::getenv("PATH");
  bool found = false;
  std::string dirs = path ? path : "";
  for (size_t start = 0; start <= dirs.size();) {
    const size_t colon = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, colon - start) + "/xdg-open";
    if (colon > start && ::access(candidate.c_str(), X_OK) == 0) found = true;
    start = colon + 1;
  }
  if (!found) {
    std::cout << "raftlab ui: no xdg-open on PATH; open " << url << " in a browser\n";
    return;
  }
  std::string prog = "xdg-open";
  std::string arg = url;
  char* argv[] = {prog.data(), arg.data(), nullptr};
  pid_t pid = 0;
  if (::posix_spawnp(&pid, "xdg-open", nullptr, nullptr, argv, environ) != 0) {
    std::cout << "raftlab ui: xdg-open did not start; open " << url << " in a browser\n";
  }
}

}  // namespace

int run_ui_server(const UiOptions& o) {
  // Blocked before any thread starts, so every thread inherits the mask and only the signal
  // thread below takes them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an error return, not a death

  Live live(o.dir);  // LabError(4): no cluster.json
  UiServer ui(o, live);
  ui.routes();
  int port = o.port;
  if (port == 0) {
    port = ui.http().bind_to_any_port("127.0.0.1");
  } else if (!ui.http().bind_to_port("127.0.0.1", port)) {
    port = -1;
  }
  if (port <= 0) {
    throw lab::LabError(lab::kExitEnvironment,
                        "cannot listen on 127.0.0.1:" + std::to_string(o.port) +
                            " (in use?); --port 0 picks a free one");
  }
  ui.set_port(port);
  live.start();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  std::cout << "raftlab ui: " << url << std::endl;
  if (o.open) open_browser(url);

  std::atomic<bool> done{false};
  std::thread signals([&] {
    while (!done.load()) {
      const timespec wait{0, kSignalPollNs};
      const int sig = ::sigtimedwait(&stop_signals, nullptr, &wait);
      if (sig == SIGINT || sig == SIGTERM) {
        ui.http().stop();
        return;
      }
    }
  });
  ui.http().listen_after_bind();
  done.store(true);
  signals.join();
  live.stop();
  return lab::kExitOk;
}

}  // namespace raftlab::ui
